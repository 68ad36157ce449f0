"""Printable documents (Election Form, Notice to Withdraw, Promise to Grant) as PDF bytes.

Pure rendering: a :class:`~bot.forms.document.FormDocument` in, bytes out. Every word of policy
on a form comes from the service that builds the document; nothing here decides wording.
"""

from __future__ import annotations

from bot.forms.document import FormBox, FormDocument, FormSection, FormTable, Signature


def render_pdf(doc: FormDocument) -> bytes:
    """The PDF of ``doc`` (:func:`bot.forms.pdf.render_pdf`). fpdf2 is imported on the first
    call, not with this package: the services import it on every question's path."""
    from bot.forms.pdf import render_pdf as render

    return render(doc)


__all__ = ["FormBox", "FormDocument", "FormSection", "FormTable", "Signature", "render_pdf"]
