"""What a printed form says, as plain data: a :class:`FormDocument` of sections, tables, a box
and signature lines. The services build these (every word of policy comes from them);
:mod:`bot.forms.pdf` lays them out with fpdf2.

Its own module, without fpdf, so the services that build documents can be imported — by every
question's path, ``offerbot ask`` — without loading the PDF library (a third of a second).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["FormBox", "FormDocument", "FormSection", "FormTable", "Signature"]


@dataclass(frozen=True, slots=True)
class FormTable:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] = ()  # relative column widths; equal when empty


@dataclass(frozen=True, slots=True)
class FormSection:
    heading: str = ""
    paragraphs: tuple[str, ...] = ()
    table: FormTable | None = None
    after_table: tuple[str, ...] = ()  # paragraphs under the table
    # Start a new page rather than split this section and everything after it (signatures,
    # box, footer) when that would fit on one: signature lines belong with what is signed.
    keep_with_end: bool = False


@dataclass(frozen=True, slots=True)
class FormBox:
    """A ruled box with a heading and "label: ________" lines (e.g. "HR use only")."""

    heading: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Signature:
    """A signature line: ``signed`` (a conformed signature such as "/s/ Name") printed on the
    line when the document is issued signed, ``caption`` under it."""

    caption: str
    signed: str = ""
    detail: tuple[str, ...] = ()  # more lines under the caption (name, title)
    beside: str = ""  # caption of a short second line on the same row (e.g. "Date")


@dataclass(frozen=True, slots=True)
class FormDocument:
    title: str
    created_at: datetime  # written into the PDF's metadata
    subtitle: str = ""
    fields: tuple[tuple[str, str], ...] = ()  # "label: value" lines under the title
    sections: tuple[FormSection, ...] = ()
    signature_lines: tuple[str, ...] = ()  # a ruled line with this caption under it, each
    signatures: tuple[Signature, ...] = ()  # after signature_lines
    box: FormBox | None = None  # printed last, above the footer
    footer: str = ""
    running_head: str = ""  # top of pages 2 and on (whose document it is)
    author: str = ""
    keywords: dict[str, str] = field(default_factory=dict)  # machine-readable, in metadata
