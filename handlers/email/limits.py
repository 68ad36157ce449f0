"""Limits an inbound e-mail must pass before its headers are parsed.

Why: the standard library's header parser (``email.policy.default``) is quadratic in the
tokens of one header field — 20,000 ``=?utf-8?q?a?=`` words in a 280 KB subject took
``offerbot worker --once`` to 2.9 GB; a 1.4 MB subject was OOM-killed — and a worker killed by
a message never marks it processed, so it read it again on every restart. Splitting the
message into its parts is cheap when header values are kept as raw strings (``compat32``: the
default policy parses each part's Content-Type while splitting); what costs is reading a
structured header, which :mod:`handlers.email.parse` does only after :func:`check_raw` and
:func:`check_parts` passed on that cheap split.

Every check is linear in the message's size. A message over a limit raises
:class:`MailRejected` with a short reason (``size``, ``header-size``, ``header-field``,
``encoded-words``, ``mime-parts``) that becomes the inbound record's outcome ``rejected:<reason>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

__all__ = ["MailLimits", "MailRejected", "UnreadableMail", "check_parts", "check_raw"]

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


class UnreadableMail(Exception):
    """The bytes are not a message we can read."""


class MailRejected(UnreadableMail):
    """The message is over one of the :class:`MailLimits`; ``reason`` names which."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MailLimits:
    """``OFFERBOT_MAIL_MAX_*``. The defaults pass any real question (a scanned form of a few
    MB, the 10–30 KB of headers that relays and spam filters add) and keep one message's
    parsing under ~100 MB and well under a second."""

    max_bytes: int = 10 * 1024 * 1024  # the whole message, as the server stores it
    max_header_bytes: int = 64 * 1024  # all header fields: the message's and its MIME parts'
    max_header_field_bytes: int = 16 * 1024  # one field, folded lines together
    max_encoded_words: int = 500  # "=?" in all header fields together (RFC 2047 words)
    # Lines starting "--" (an upper bound on MIME delimiters): splitting a message into parts
    # costs ~0.5 ms each — 250,000 one-line parts in 10 MB took 290 s. Not a setting.
    max_parts: int = 1000


def check_raw(raw: bytes, limits: MailLimits) -> None:
    """Before anything is parsed: the size, the top header block, the number of parts."""
    if len(raw) > limits.max_bytes:
        raise MailRejected("size", f"{len(raw)} bytes > {limits.max_bytes}")
    if raw.count(b"\n--") > limits.max_parts:
        raise MailRejected("mime-parts", f"over {limits.max_parts} MIME delimiter lines")
    end = _BLANK_LINE.search(raw, 0, limits.max_header_bytes + 4)
    head = len(raw) if end is None else end.start()
    if head > limits.max_header_bytes:
        raise MailRejected("header-size", f"header block over {limits.max_header_bytes} bytes")


def check_parts(message: Message, limits: MailLimits) -> None:
    """After the split into parts, before any header is parsed: every part's raw fields."""
    total = words = 0
    for part in message.walk():
        for name, value in part.raw_items():
            size = len(name) + len(value) + 2
            if size > limits.max_header_field_bytes:
                raise MailRejected(
                    "header-field", f"a {name[:40]!r} field over {limits.max_header_field_bytes}"
                )
            total += size
            words += value.count("=?")
        if total > limits.max_header_bytes:
            raise MailRejected("header-size", f"header fields over {limits.max_header_bytes}")
        if words > limits.max_encoded_words:
            raise MailRejected("encoded-words", f"over {limits.max_encoded_words} encoded words")
