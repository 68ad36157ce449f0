"""Printable documents (Election Form, Notice to Withdraw, Promise to Grant) as PDF bytes.

Pure rendering: a :class:`~bot.forms.pdf.FormDocument` in, bytes out. Every word of policy on
a form comes from the service that builds the document; nothing here decides wording.
"""

from __future__ import annotations

from bot.forms.pdf import FormDocument, FormSection, FormTable, render_pdf

__all__ = ["FormDocument", "FormSection", "FormTable", "render_pdf"]
