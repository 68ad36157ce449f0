"""The bytes of an outbox e-mail, fast: what :func:`handlers.email.render.build_email` builds,
without the stdlib's ``EmailMessage`` on the hot path.

Why: ``EmailMessage`` parses and re-folds every header through ``email.headerregistry`` —
about 4 ms a message here, which alone would cap a broadcast at ~200 e-mails/s, below what ten
reused SMTP connections carry. Here the MIME tree of a message without attachments (``From``,
``To``, ``Subject``, ``Date``, ``Message-ID``, threading, ``Auto-Submitted``, then
multipart/alternative text + HTML) is written directly, with the stdlib's own encoders for the
parts that need care (RFC 2047 words, base64), in about 30 µs. Messages with attachments, and
anything unusual (a line break in a header, a non-ASCII address), go through ``build_email``.

The text and HTML parts come from :func:`handlers.email.render.render_message_pieces`, which renders
each kind's templates once per (kind, subject, company) and only each body per message.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import logging
import os
from collections.abc import Sequence
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache

from bot.domain.hr_records import MessageKind, OutboxMessage
from handlers.email.render import build_email, render_message_pieces

__all__ = ["email_bytes"]

logger = logging.getLogger(__name__)

_MAX_LINE = 998  # RFC 5322: longer lines need an encoding
# MIME boundaries: unique per message and never in a body (7bit bodies are checked)
_BOUNDARY_PREFIX = f"=_offerbot_{os.urandom(8).hex()}_"
_BOUNDARY_NUMBERS = itertools.count()


def email_bytes(
    message: OutboxMessage,
    *,
    sender: str,
    recipient: str,
    company: str,
    now: datetime,
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
    text, pieces = render_message_pieces(message, company=company)
    html = "".join(pieces)
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
        f"--{boundary}\n{_part('plain', text)}\n--{boundary}\n"
        f"{_part('html', html, pieces if message.body_html is None else None)}\n"
        f"--{boundary}--\n"
    ).encode()


def _part(subtype: str, content: str, pieces: Sequence[str] | None = None) -> str:
    """One text part: 7bit when it is ASCII with short lines, else base64 (UTF-8). ``pieces``:
    what ``content`` is joined from, when its long pieces recur in other messages (a template's
    head and tail, a broadcast's shared paragraphs): their base64 is then mostly cached."""
    if "\r" in content:
        content = content.replace("\r\n", "\n").replace("\r", "\n")
        pieces = None
    if not content.endswith("\n"):  # as EmailMessage.set_content does
        content += "\n"
        if pieces is not None:
            pieces = [*pieces, "\n"]
    head = f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding:'
    if content.isascii() and max(map(len, content.split("\n"))) <= _MAX_LINE:
        return f"{head} 7bit\n\n{content}"
    if pieces is None:
        encoded = base64.encodebytes(content.encode("utf-8")).decode("ascii")
    else:
        encoded = _base64(pieces)
    return f"{head} base64\n\n{encoded}"


_LINE = 57  # input bytes per line of base64.encodebytes (76 characters and a "\n")
_CACHED_PIECE = (3 * _LINE, 16_384)  # the lengths of a piece whose encoding is cached
# (piece, bytes already on its first line) → (bytes completing that line, the base64 lines of
# the whole lines after it, the bytes left over for the next line)
_ALIGNED: dict[tuple[str, int], tuple[bytes, str, bytes]] = {}


def _base64(pieces: Sequence[str]) -> str:
    """``base64.encodebytes("".join(pieces).encode())``, decoded — the same characters, with
    the whole lines inside a long piece taken from a cache.

    base64 writes each 57 input bytes as one line, so a piece's lines depend only on the
    piece and on where it starts within a line (one of 57 phases): a broadcast's copies, whose
    greetings differ in length, share the lines of every other piece, and each copy encodes
    only its greeting and the two lines either side of it."""
    out: list[str] = []
    carry = b""  # the bytes of the line begun, not yet written (fewer than _LINE)
    low, high = _CACHED_PIECE
    for piece in pieces:
        if not low <= len(piece) <= high:
            data = carry + piece.encode("utf-8")
            whole = len(data) - len(data) % _LINE
            if whole:
                out.append(base64.encodebytes(data[:whole]).decode("ascii"))
            carry = data[whole:]
            continue
        phase = len(carry)
        found = _ALIGNED.get((piece, phase))
        if found is None:
            data = piece.encode("utf-8")
            start = (_LINE - phase) % _LINE
            whole = start + (len(data) - start) // _LINE * _LINE
            found = (
                data[:start],
                base64.encodebytes(data[start:whole]).decode("ascii"),
                data[whole:],
            )
            if len(_ALIGNED) >= 1024:  # bounded: a new wording starts afresh
                _ALIGNED.clear()
            _ALIGNED[(piece, phase)] = found
        completing, lines, rest = found
        if phase:  # the line begun before the piece, completed by its first bytes
            out.append(binascii.b2a_base64(carry + completing).decode("ascii"))
        out.append(lines)
        carry = rest
    if carry:
        out.append(binascii.b2a_base64(carry).decode("ascii"))
    return "".join(out)


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
