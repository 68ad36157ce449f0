"""Pure rendering: a :class:`~bot.replies.Reply` or an outbox row → text + HTML → a MIME message.

Templates live in ``templates/`` (one ``KIND.txt.j2`` / ``KIND.html.j2`` pair per message
kind, over ``base``). HTML is autoescaped; nothing here does I/O beyond loading templates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.replies import Reply

__all__ = ["build_email", "new_message_id", "render_message", "render_reply", "reply_renderer"]

# What a person types back to get each follow-up (a Slack button, an e-mail reply word).
_REPLY_WORDS = {
    "grants": "grants",
    "deadline": "deadline",
    "status": "status",
    "help": "help",
    "talk_to_hr": "contacts",
}


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("handlers.email", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def _render(name: str, **context: object) -> str:
    return _environment().get_template(name).render(**context)


def render_reply(reply: Reply, *, company: str, subject: str) -> tuple[str, str]:
    """The e-mail body (text, HTML) of an answer: text, tables, notes, sources, reply words."""
    actions = [_REPLY_WORDS[a.action_id] for a in reply.actions if a.action_id in _REPLY_WORDS]
    context = {"reply": reply, "actions": actions, "company": company, "subject": subject}
    text = _render("answer.txt.j2", **context)
    html = _render("answer.html.j2", **context)
    return _tidy(text), html


def reply_renderer(company: str) -> Callable[[Reply, str], tuple[str, str]]:
    """``render_reply`` bound to the company: how services that queue e-mailed answers (the
    deadline follow-ups) get the same look without importing this adapter."""
    return lambda reply, subject: render_reply(reply, company=company, subject=subject)


def render_message(message: OutboxMessage, *, company: str) -> tuple[str, str]:
    """Text and HTML of an outbox row: as stored (answers), else its kind's template."""
    if message.body_html is not None:
        return message.body_text, message.body_html
    kind = message.kind.value if isinstance(message.kind, MessageKind) else str(message.kind)
    paragraphs = [p for p in message.body_text.split("\n") if p.strip()]
    context = {
        "body": message.body_text,
        "paragraphs": paragraphs,
        "company": company,
        "subject": message.subject,
    }
    return _tidy(_render(f"{kind}.txt.j2", **context)), _render(f"{kind}.html.j2", **context)


def new_message_id(hostname: str) -> str:
    """A fresh ``<…@hostname>``, fixed on the outbox row before its first attempt."""
    return make_msgid(idstring="offerbot", domain=hostname)


def build_email(
    message: OutboxMessage, *, sender: str, recipient: str, company: str, now: datetime
) -> EmailMessage:
    """multipart/alternative (text + HTML), inside multipart/mixed when files are attached."""
    text, html = render_message(message, company=company)
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now)
    if message.message_id:
        mail["Message-ID"] = message.message_id
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
    if message.references:
        mail["References"] = message.references
    # RFC 3834: answers are auto-replied, everything else auto-generated; either way other
    # robots (and our own inbox) must not answer it.
    replied = message.kind is MessageKind.ANSWER
    mail["Auto-Submitted"] = "auto-replied" if replied else "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return mail


def _tidy(text: str) -> str:
    """Collapse the blank lines template blocks leave behind."""
    lines: list[str] = []
    for line in text.splitlines():
        if not line.strip() and lines and not lines[-1].strip():
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
