"""Render a :class:`FormDocument` to PDF with fpdf2 (pure Python, no system libraries).

The built-in PDF fonts cover Latin-1 only, so typographic punctuation is mapped to its ASCII
look-alike first; anything else outside Latin-1 is refused rather than silently dropped.
The creation date is taken from the document, so one document always gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

__all__ = ["FormDocument", "FormSection", "FormTable", "render_pdf"]

_ASCII = str.maketrans(
    {
        "\u2014": "-",  # em dash
        "\u2013": "-",  # en dash
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2022": "-",  # bullet
        "\u2026": "...",
        "\u00a0": " ",
        "\u2192": "->",
    }
)

_FONT = "Helvetica"
_LINE = 5.0


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


@dataclass(frozen=True, slots=True)
class FormDocument:
    title: str
    created_at: datetime  # written into the PDF's metadata
    subtitle: str = ""
    fields: tuple[tuple[str, str], ...] = ()  # "label: value" lines under the title
    sections: tuple[FormSection, ...] = ()
    signature_lines: tuple[str, ...] = ()  # a ruled line with this caption under it, each
    footer: str = ""
    author: str = ""
    keywords: dict[str, str] = field(default_factory=dict)  # machine-readable, in metadata


def _text(value: str) -> str:
    mapped = value.translate(_ASCII)
    try:
        mapped.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"cannot print {value!r} with the built-in PDF fonts") from exc
    return mapped


def render_pdf(doc: FormDocument) -> bytes:
    """The document as PDF bytes (A4 portrait would cut US forms: US Letter)."""
    pdf = FPDF(orientation="P", unit="mm", format="Letter")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 16, 18)
    created = doc.created_at.astimezone(UTC)
    pdf.set_creation_date(created)
    pdf.set_title(_text(doc.title))
    if doc.author:
        pdf.set_author(_text(doc.author))
    if doc.keywords:
        pdf.set_keywords(_text("; ".join(f"{k}={v}" for k, v in doc.keywords.items())))
    footer = _text(doc.footer)

    pdf.add_page()
    width = pdf.epw
    pdf.set_font(_FONT, "B", 15)
    pdf.multi_cell(width, 7, _text(doc.title), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if doc.subtitle:
        pdf.set_font(_FONT, "", 10)
        pdf.multi_cell(
            width, _LINE, _text(doc.subtitle), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.ln(3)
    for label, value in doc.fields:
        pdf.set_font(_FONT, "B", 10)
        label_text = _text(label) + ": "
        pdf.cell(pdf.get_string_width(label_text) + 1, _LINE, label_text)
        pdf.set_font(_FONT, "", 10)
        pdf.multi_cell(0, _LINE, _text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for section in doc.sections:
        pdf.ln(3)
        if section.heading:
            pdf.set_font(_FONT, "B", 11)
            pdf.multi_cell(width, 6, _text(section.heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_FONT, "", 10)
        for paragraph in section.paragraphs:
            pdf.multi_cell(width, _LINE, _text(paragraph), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        if section.table is not None:
            _table(pdf, section.table, width)
    for caption in doc.signature_lines:
        pdf.ln(10)
        y = pdf.get_y()
        pdf.line(pdf.l_margin, y, pdf.l_margin + width * 0.6, y)
        pdf.set_font(_FONT, "", 9)
        pdf.cell(width, _LINE, _text(caption), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if footer:
        pdf.ln(6)
        pdf.set_font(_FONT, "I", 8)
        pdf.multi_cell(width, 4, footer, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _table(pdf: FPDF, table: FormTable, width: float) -> None:
    weights = table.widths or tuple(1.0 for _ in table.headers)
    total = sum(weights)
    widths = [width * w / total for w in weights]
    pdf.set_font(_FONT, "B", 9)
    for header, w in zip(table.headers, widths, strict=True):
        pdf.cell(w, 6, _text(header), border=1, align="C")
    pdf.ln(6)
    pdf.set_font(_FONT, "", 9)
    for row in table.rows:
        for cell, w in zip(row, widths, strict=True):
            pdf.cell(w, 6, _text(cell), border=1, align="C")
        pdf.ln(6)
