"""Render a :class:`FormDocument` to PDF with fpdf2 (pure Python, no system libraries).

The built-in PDF fonts cover Latin-1 only, so typographic punctuation is mapped to its ASCII
look-alike first; anything else outside Latin-1 is refused rather than silently dropped.
The creation date is taken from the document, so one document always gives the same bytes.

Speed: ``hr close`` renders one Promise to Grant per accepted tender (20,000 in a large
offer), and fpdf's ``multi_cell`` line breaking was 68% of the time. Text is therefore broken
into lines once per (text, font, width) and kept in a bounded cache (:func:`_lines`): the fixed
paragraphs every letter shares are laid out once per process, then each letter only places
ready lines (:func:`_put`, a bare ``text`` call: fpdf's ``cell`` re-measures every line).
Measured on one letter: 19 ms before, 1.2-1.8 ms of CPU after.

Pages: every page carries "Page x of y", and a table that runs onto a
new page repeats its header row under the document's running head, so a page that comes loose
from a fax still says whose form it is.
"""

from __future__ import annotations

from datetime import UTC
from functools import lru_cache

from fpdf import FPDF
from fpdf.enums import MethodReturnValue

from bot.forms.document import FormBox, FormDocument, FormSection, FormTable, Signature

__all__ = [
    "FormBox",
    "FormDocument",
    "FormSection",
    "FormTable",
    "Signature",
    "render_pdf",
]

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
_ROW = 5.5
_MARGIN = 18.0
_BOTTOM = 18.0


def _text(value: str) -> str:
    mapped = value.translate(_ASCII)
    try:
        mapped.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"cannot print {value!r} with the built-in PDF fonts") from exc
    return mapped


@lru_cache(maxsize=1)
def _measure() -> FPDF:
    """A scratch document that only measures text (never output)."""
    pdf = FPDF(orientation="P", unit="mm", format="Letter")
    pdf.add_page()
    return pdf


@lru_cache(maxsize=4096)
def _lines(text: str, style: str, size: float, width: float) -> tuple[str, ...]:
    """``text`` (already Latin-1) broken into lines that fit ``width`` mm in this font."""
    if not text:
        return ("",)
    if "\n" not in text and _width(text, style, size) <= width - 2 * _measure().c_margin:
        return (text,)  # fits on one line: no line breaking (names, ids, dates)
    pdf = _measure()
    pdf.set_font(_FONT, style, size)
    lines = pdf.multi_cell(width, _LINE, text, dry_run=True, output=MethodReturnValue.LINES)
    if not isinstance(lines, list):
        raise TypeError(f"fpdf returned {type(lines).__name__} for its lines")
    return tuple(str(line) for line in lines)


@lru_cache(maxsize=8192)
def _width(text: str, style: str, size_pt: float) -> float:
    """Width of ``text`` in mm (table cells repeat: dates, prices, share counts)."""
    pdf = _measure()
    pdf.set_font(_FONT, style, size_pt)
    return float(pdf.get_string_width(text))


class _Page(FPDF):
    """Letter-size page with a running head on continuation pages and "Page x of y"."""

    running_head = ""

    def header(self) -> None:
        if self.page_no() > 1 and self.running_head:
            self.set_font(_FONT, "I", 8)
            _put(self, self.running_head, self.epw, 4, breakable=False)
            self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, "", 8)
        # ``cell`` (not the cheaper ``_put``): only it replaces "{nb}" with the page count
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="C")


def _put(
    pdf: FPDF,
    text: str,
    width: float,
    height: float,
    *,
    align: str = "L",
    border: bool = False,
    advance: bool = True,
    breakable: bool = True,
) -> None:
    """Place one ready line at the cursor, like ``cell`` but several times cheaper: fpdf's
    ``cell`` re-measures and re-shapes each line (a third of a letter's time). Breaks the
    page first when the line would not fit (never in a page's header or footer: ``breakable``
    off); ``advance`` moves down a line, else right."""
    if breakable and pdf.will_page_break(height):
        pdf.add_page()
    x, y = pdf.get_x(), pdf.get_y()
    if border:
        pdf.rect(x, y, width, height)
    if text:
        if align == "L":
            left = x + pdf.c_margin
        else:
            free = width - _width(text, pdf.font_style, pdf.font_size_pt)
            left = x + (free / 2 if align == "C" else free - pdf.c_margin)
        pdf.text(left, y + 0.5 * height + 0.3 * pdf.font_size, text)
    if advance:
        pdf.set_xy(pdf.l_margin, y + height)
    else:
        pdf.set_x(x + width)


def _paragraph(
    pdf: FPDF, text: str, *, style: str = "", size: float = 10, height: float = _LINE
) -> None:
    pdf.set_font(_FONT, style, size)
    for line in _lines(text, style, size, pdf.epw):
        _put(pdf, line, pdf.epw, height)


def render_pdf(doc: FormDocument) -> bytes:
    """The document as PDF bytes (A4 portrait would cut US forms: US Letter)."""
    pdf = _Page(orientation="P", unit="mm", format="Letter")
    pdf.running_head = _text(doc.running_head)
    pdf.set_auto_page_break(auto=True, margin=_BOTTOM)
    pdf.set_margins(_MARGIN, 16, _MARGIN)
    created = doc.created_at.astimezone(UTC)
    pdf.set_creation_date(created)
    pdf.set_title(_text(doc.title))
    if doc.author:
        pdf.set_author(_text(doc.author))
    if doc.keywords:
        pdf.set_keywords(_text("; ".join(f"{k}={v}" for k, v in doc.keywords.items())))

    pdf.add_page()
    width = pdf.epw
    pdf.set_font(_FONT, "B", 15)
    _put(pdf, _text(doc.title), width, 7, align="C")
    if doc.subtitle:
        pdf.set_font(_FONT, "", 10)
        for line in _lines(_text(doc.subtitle), "", 10, width):
            _put(pdf, line, width, _LINE, align="C")
    pdf.ln(3)
    for label, value in doc.fields:
        pdf.set_font(_FONT, "B", 10)
        label_text = _text(label) + ": "
        label_width = pdf.get_string_width(label_text) + 1
        _put(pdf, label_text, label_width, _LINE, advance=False)
        pdf.set_font(_FONT, "", 10)
        for i, line in enumerate(_lines(_text(value), "", 10, width - label_width)):
            if i:
                pdf.set_x(pdf.l_margin + label_width)
            _put(pdf, line, width - label_width, _LINE)
    for index, section in enumerate(doc.sections):
        if section.keep_with_end:
            _keep_with_next(pdf, _end_height(pdf, doc, index))
        pdf.ln(3)
        if section.heading:
            _keep_with_next(pdf, 6 + 2 * _LINE)
            _paragraph(pdf, _text(section.heading), style="B", size=11, height=6)
        for paragraph in section.paragraphs:
            _paragraph(pdf, _text(paragraph))
            pdf.ln(1)
        if section.table is not None:
            pdf.ln(1)
            _table(pdf, section.table, width)
        for paragraph in section.after_table:
            pdf.ln(1)
            _paragraph(pdf, _text(paragraph))
    for caption in doc.signature_lines:
        _signature(pdf, Signature(caption=caption), width)
    for signature in doc.signatures:
        _signature(pdf, signature, width)
    if doc.box is not None:
        _box(pdf, doc.box, width)
    if doc.footer:
        pdf.ln(4)
        _paragraph(pdf, _text(doc.footer), style="I", size=8, height=4)
    return bytes(pdf.output())


def _end_height(pdf: FPDF, doc: FormDocument, first: int) -> float:
    """Height in mm of sections ``first`` and on, the signatures, the box and the footer
    (tables not counted: a section kept with the end has none)."""
    width = pdf.epw
    height = 0.0
    for section in doc.sections[first:]:
        height += 3 + (6 if section.heading else 0)
        for paragraph in (*section.paragraphs, *section.after_table):
            height += 1 + _LINE * len(_lines(_text(paragraph), "", 10, width))
    for _ in doc.signature_lines:
        height += 8 + _LINE
    for signature in doc.signatures:
        height += (9 if signature.signed else 8) + _LINE * (1 + len(signature.detail))
    if doc.box is not None:
        height += 6 + 7 + 7 * len(doc.box.lines) + 2
    if doc.footer:
        height += 4 + 4 * len(_lines(_text(doc.footer), "I", 8, width))
    return height


def _keep_with_next(pdf: FPDF, height: float) -> None:
    """Start a new page now if ``height`` mm would not fit (no heading alone at a foot)."""
    if pdf.will_page_break(height):
        pdf.add_page()


def _signature(pdf: FPDF, signature: Signature, width: float) -> None:
    _keep_with_next(pdf, 14 + _LINE * (1 + len(signature.detail)))
    pdf.ln(8 if not signature.signed else 3)
    if signature.signed:
        pdf.set_font(_FONT, "I", 11)
        _put(pdf, _text(signature.signed), width, 6)
    y = pdf.get_y()
    main = width * 0.6
    pdf.line(pdf.l_margin, y, pdf.l_margin + main, y)
    pdf.set_font(_FONT, "", 9)
    if signature.beside:
        start = pdf.l_margin + width * 0.66
        pdf.line(start, y, pdf.l_margin + width, y)
        pdf.set_x(start)
        _put(pdf, _text(signature.beside), width * 0.34, _LINE)
        pdf.set_y(y)
    _put(pdf, _text(signature.caption), main, _LINE)
    for line in signature.detail:
        _put(pdf, _text(line), width, _LINE)


def _box(pdf: FPDF, box: FormBox, width: float) -> None:
    height = 7 + 7 * len(box.lines) + 2
    _keep_with_next(pdf, height + 6)
    pdf.ln(6)
    top = pdf.get_y()
    pdf.set_draw_color(90, 90, 90)
    pdf.rect(pdf.l_margin, top, width, height)
    pdf.set_xy(pdf.l_margin + 3, top + 2)
    pdf.set_font(_FONT, "B", 9)
    _put(pdf, _text(box.heading), width - 6, _LINE)
    pdf.set_font(_FONT, "", 9)
    for line in box.lines:
        pdf.set_x(pdf.l_margin + 3)
        _put(pdf, _text(line), width - 6, 7)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_y(top + height)


def _table(pdf: FPDF, table: FormTable, width: float) -> None:
    weights = table.widths or tuple(1.0 for _ in table.headers)
    total = sum(weights)
    widths = [width * w / total for w in weights]
    headers = [_text(h) for h in table.headers]

    def header_row() -> None:
        pdf.set_font(_FONT, "B", 9)
        for header, w in zip(headers, widths, strict=True):
            _put(pdf, header, w, _ROW, align="C", border=True, advance=False)
        pdf.ln(_ROW)
        pdf.set_font(_FONT, "", 9)

    _keep_with_next(pdf, 2 * _ROW)
    header_row()
    for row in table.rows:
        if pdf.will_page_break(_ROW):
            pdf.add_page()
            header_row()
        for cell, w in zip(row, widths, strict=True):
            _put(pdf, _text(cell), w, _ROW, align="C", border=True, advance=False)
        pdf.ln(_ROW)
