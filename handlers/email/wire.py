"""The bytes of an outbox e-mail, fast: what :func:`handlers.email.render.build_email` builds,
without the stdlib's ``EmailMessage`` on the hot path.

Why: ``EmailMessage`` parses and re-folds every header through ``email.headerregistry`` —
about 4 ms a message here, which alone would cap a broadcast at ~200 e-mails/s, below what ten
reused SMTP connections carry. Here the MIME tree of a message without attachments (``From``,
``To``, ``Subject``, ``Date``, ``Message-ID``, threading, ``Auto-Submitted``, then
multipart/alternative text + HTML) is written directly, with the stdlib's own encoders for the
parts that need care (RFC 2047 words, base64), in about 30 µs. Messages with attachments, and
anything unusual (a line break in a header, a non-ASCII address), go through ``build_email``.

Templates are rendered once per (kind, subject, company) — the *layout* — with marker
paragraphs; each message then only fills in its own body (escaped for HTML, exactly as
Jinja's autoescape does). The first message of each layout is also rendered the slow way and
compared: if a template is not a plain "layout around the body" the two differ and that layout
always takes the slow path.
"""

from __future__ import annotations

import base64
import itertools
import logging
import os
from dataclasses import dataclass, replace
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache

from markupsafe import escape

from bot.domain.hr_records import MessageKind, OutboxMessage
from handlers.email.render import build_email, render_message

__all__ = ["LayoutCache", "email_bytes"]

logger = logging.getLogger(__name__)

_MARKS = ("OFFERBOTMARKa9f3e1", "OFFERBOTMARKb7c1d2", "OFFERBOTMARKc2d8f3")
_MAX_LINE = 998  # RFC 5322: longer lines need an encoding
# MIME boundaries: unique per message and never in a body (7bit bodies are checked)
_BOUNDARY_PREFIX = f"=_offerbot_{os.urandom(8).hex()}_"
_BOUNDARY_NUMBERS = itertools.count()


@dataclass(frozen=True, slots=True)
class _Layout:
    text_head: str
    text_tail: str
    html_head: str
    html_joint: str
    html_tail: str


class LayoutCache:
    """(kind, subject, company) → the rendered layout, or None when it must not be used."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._layouts: dict[tuple[str, str, str], _Layout | None] = {}
        self._checked: set[tuple[str, str, str]] = set()

    def render(self, message: OutboxMessage, *, company: str) -> tuple[str, str]:
        """(text, HTML) of ``message``, equal to :func:`render_message`'s."""
        if message.body_html is not None or not isinstance(message.kind, MessageKind):
            return render_message(message, company=company)
        key = (message.kind.value, message.subject, company)
        if key not in self._layouts:
            if len(self._layouts) >= self._size:
                self._layouts.clear()
                self._checked.clear()
            self._layouts[key] = _derive(message, company)
        layout = self._layouts[key]
        # escaping leaves line breaks and blanks alone: escape once, then cut into paragraphs
        paragraphs = [p for p in str(escape(message.body_text)).split("\n") if p.strip()]
        if layout is None or not paragraphs:
            return render_message(message, company=company)
        text = _tidy(layout.text_head + message.body_text + layout.text_tail)
        html = layout.html_head + layout.html_joint.join(paragraphs) + layout.html_tail
        if key not in self._checked:  # the first message of a layout: compare with Jinja's
            self._checked.add(key)
            if (text, html) != render_message(message, company=company):
                logger.warning("template %s is not a plain layout: rendering each message", key)
                self._layouts[key] = None
                return render_message(message, company=company)
        return text, html


def _derive(message: OutboxMessage, company: str) -> _Layout | None:
    """Render the kind's templates around marker paragraphs and cut them into a layout."""
    one, two, three = _MARKS

    def rendered(body: str) -> tuple[str, str]:
        return render_message(replace(message, body_text=body, body_html=None), company=company)

    try:
        text1, html1 = rendered(one)
        _, html2 = rendered(f"{one}\n{two}")
        _, html3 = rendered(f"{one}\n{two}\n{three}")
    except Exception:  # a template that needs more than a body: always the slow path
        logger.exception("cannot derive the layout of %s", message.kind)
        return None
    if text1.count(one) != 1 or html1.count(one) != 1:
        return None
    t = text1.index(one)
    h = html1.index(one)
    html_head, html_tail = html1[:h], html1[h + len(one) :]
    start, end = len(html_head) + len(one), len(html2) - len(html_tail) - len(two)
    if not (html2.startswith(html_head + one) and html2.endswith(two + html_tail)) or end < start:
        return None
    joint = html2[start:end]
    if html3 != html_head + one + joint + two + joint + three + html_tail:
        return None
    return _Layout(text1[:t], text1[t + len(one) :], html_head, joint, html_tail)


def _tidy(text: str) -> str:
    """As :mod:`handlers.email.render` does: collapse blank lines, strip line ends."""
    lines: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if line or not lines or lines[-1]:
            lines.append(line)
    return "\n".join(lines).strip() + "\n"


def email_bytes(
    message: OutboxMessage,
    *,
    sender: str,
    recipient: str,
    company: str,
    now: datetime,
    layouts: LayoutCache,
) -> bytes:
    """The message as sent: ``build_email``'s MIME tree, written directly when it can be."""
    message_id = message.message_id or ""
    headers = (
        f"{message.subject}{recipient}{message_id}{sender}"
        f"{message.in_reply_to or ''}{message.references or ''}"
    )
    if (
        message.attachments
        or "\r" in headers
        or "\n" in headers
        or not f"{recipient}{message_id}".isascii()
    ):
        return build_email(
            message, sender=sender, recipient=recipient, company=company, now=now
        ).as_bytes()
    text, html = layouts.render(message, company=company)
    boundary = f"{_BOUNDARY_PREFIX}{next(_BOUNDARY_NUMBERS)}"
    if boundary in text or boundary in html:  # a body quoting one of ours: a fresh one
        boundary = f"=_offerbot_{os.urandom(16).hex()}"
    lines = [
        f"From: {_address(sender)}",
        f"To: {recipient}",
        _subject(message.subject),
        f"Date: {_date(now.replace(microsecond=0))}",
    ]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    if message.in_reply_to:
        lines.append(_folded("In-Reply-To", message.in_reply_to))
    if message.references:
        lines.append(_folded("References", message.references))
    replied = message.kind is MessageKind.ANSWER  # RFC 3834, as build_email does
    lines.append(f"Auto-Submitted: {'auto-replied' if replied else 'auto-generated'}")
    head = "\n".join(lines)
    # "\n" line ends, as as_bytes() writes them: aiosmtplib sends CRLF on the wire
    return (
        f"{head}\nX-Auto-Response-Suppress: All\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
        f"--{boundary}\n{_part('plain', text)}\n--{boundary}\n{_part('html', html)}\n"
        f"--{boundary}--\n"
    ).encode()


def _part(subtype: str, content: str) -> str:
    """One text part: 7bit when it is ASCII with short lines, else base64 (UTF-8)."""
    if "\r" in content:
        content = content.replace("\r\n", "\n").replace("\r", "\n")
    if not content.endswith("\n"):  # as EmailMessage.set_content does
        content += "\n"
    head = f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding:'
    if content.isascii() and max(map(len, content.split("\n"))) <= _MAX_LINE:
        return f"{head} 7bit\n\n{content}"
    encoded = base64.encodebytes(content.encode("utf-8")).decode("ascii")
    return f"{head} base64\n\n{encoded}"


@lru_cache(maxsize=4)
def _date(second: datetime) -> str:
    """The Date header, formatted once per second, not once per message."""
    return format_datetime(second)


@lru_cache(maxsize=64)
def _address(value: str) -> str:
    """A From value with a non-ASCII display name as RFC 2047 words."""
    if value.isascii():
        return value
    name, address = parseaddr(value)
    return formataddr((name, address), charset="utf-8")


@lru_cache(maxsize=1024)
def _subject(subject: str) -> str:
    """``Subject: …``, folded (and RFC 2047-encoded when not ASCII) as mail needs."""
    if subject.isascii() and len(subject) <= 68:
        return f"Subject: {subject}"
    charset = "us-ascii" if subject.isascii() else "utf-8"
    return "Subject: " + Header(subject, charset, header_name="Subject").encode()


def _folded(name: str, value: str) -> str:
    """Message-ID lists folded at spaces below 78 columns."""
    out, line = [], f"{name}:"
    for token in value.split():
        if len(line) + 1 + len(token) > 78 and line != f"{name}:":
            out.append(line)
            line = ""
        line += f" {token}"
    out.append(line)
    return "\n".join(out)
