"""The bytes of an outbox e-mail: the fast writer and the plain-greeting shortcut in the HTML.

A broadcast's copies differ only in their greeting ("Dear <name>,"); that block is written
without a Markdown parse. These tests hold the shortcut to exactly what the Markdown pass
renders, and the fast MIME writer to the parts ``build_email`` builds.
"""

from __future__ import annotations

import base64
import email
import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.domain.hr_records import MessageKind, OutboxMessage
from handlers.email import message_bytes, render
from handlers.email.message_bytes import email_bytes
from handlers.email.render import build_email

NOW = datetime(2003, 7, 10, 16, tzinfo=UTC)
BODY = (
    "Dear {name},\n\nThe offer is extended — to 5:00 p.m. Pacific Time.\n\n"
    "> Deadline: Thursday, August 7, 2003\n\n- Grant G1: 1,000 shares\n- Grant G2\n\n1. one\n"
)
NAMES = [
    "Rosalind Ashcombe",
    "Mary-Jane O'Brien",
    "Zoë Ådahl",
    "A. B. Smith",
    "渡辺 健",
    # not plain: each goes through the Markdown pass, as before
    "Ann_Lee",
    "1. Bob",
    "X <y> & z",
    "Tom `code`",
    "- dash",
    "Ends with a space ",
]


def _markdown_html(block: str) -> str:
    return render._block_html(block)


@pytest.mark.parametrize("name", NAMES)
def test_a_greeting_renders_as_the_markdown_pass_renders_it(name: str) -> None:
    greeting = f"Dear {name},"
    assert render._block_or_plain_html(greeting) == _markdown_html(greeting)


def test_every_block_the_shortcut_takes_renders_as_markdown_would() -> None:
    rng = random.Random(15)
    alphabet = "abXYé渡 ,.09-*_>#`'\"&<\t:!()[]\\\n"
    taken = 0
    for _ in range(20_000):
        block = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        if render._PLAIN_BLOCK.fullmatch(block):
            taken += 1
            assert render._block_or_plain_html(block) == _markdown_html(block), block
    assert taken > 100  # the shortcut was exercised, not only refused


@pytest.mark.parametrize("kind", [MessageKind.EXTENSION_ANNOUNCEMENT, MessageKind.REMINDER])
@pytest.mark.parametrize("name", NAMES[:6])
def test_the_fast_bytes_carry_the_parts_build_email_builds(kind: MessageKind, name: str) -> None:
    message = OutboxMessage(
        idempotency_key="k",
        channel="email",
        recipient="p@example.com",
        kind=kind,
        subject="Capstone option exchange: the offer is extended",
        body_text=BODY.format(name=name),
        created_at=NOW,
        due_at=NOW,
        message_id="<a.1@offerbot.test>",
    )
    sender = "Offer <offer@capstone.example>"
    fast = email_bytes(
        message,
        sender=sender,
        recipient=message.recipient,
        company="Capstone",
        now=NOW,
    )
    slow = build_email(
        message, sender=sender, recipient=message.recipient, company="Capstone", now=NOW
    )
    ours, theirs = email.message_from_bytes(fast), email.message_from_bytes(slow.as_bytes())
    for header in ("From", "To", "Subject", "Message-ID", "Auto-Submitted"):
        assert ours[header] == theirs[header]
    parts = [(p.get_content_type(), p.get_payload(decode=True)) for p in ours.walk()]
    assert parts == [(p.get_content_type(), p.get_payload(decode=True)) for p in theirs.walk()]
    html = dict(parts)["text/html"]
    assert f"Dear {name},".encode() in html.replace(b"&#x27;", b"'")


# --- the cached path writes the bytes the plain path writes ---------------------------------

LONG_LINE = "A line longer than SMTP allows: " + "x" * 1200
VARIED_BODIES = [
    BODY,
    "Dear {name},\n\n" + LONG_LINE + "\n\nThe rest, shared by every copy.\n",
    "Dear {name},\r\n\r\nA body written with CRLF line ends.\r\n\r\n> Next step: reply.\r\n",
    "Hello {name} — ünïcödé all through: 渡辺, Zoë, Ådahl.\n\n" + "é" * 400 + "\n",
    "{name}\n\n- one\n- two\n\n> Deadline: Thursday\n\n" + "plain ascii " * 60 + "\n",
    "No greeting at all, one block only for {name}.",
]
SUBJECTS = [
    "Capstone option exchange: the offer is extended",
    "Capstone option exchange: a much longer subject that needs folding over two lines, or more",
    "Capstone option exchange: échéance — 渡辺",
]


def _copies() -> list[OutboxMessage]:
    """A broadcast's worth of varied copies: every greeting length puts the shared blocks at
    another offset within a base64 line."""
    copies = []
    for i in range(120):
        name = NAMES[i % len(NAMES)] + " " + "Ø" * (i % 7) + "q" * (i % 59)
        copies.append(
            OutboxMessage(
                idempotency_key=f"k{i}",
                channel="email",
                recipient=f"p{i}@example.com",
                kind=[MessageKind.EXTENSION_ANNOUNCEMENT, MessageKind.REMINDER][i % 2],
                subject=SUBJECTS[i % len(SUBJECTS)],
                body_text=VARIED_BODIES[i % len(VARIED_BODIES)].format(name=name),
                created_at=NOW,
                due_at=NOW,
                message_id=f"<a.{i}@offerbot.test>",
                in_reply_to="<q.1@example.com>" if i % 5 == 0 else None,
            )
        )
    return copies


def test_the_cached_parts_give_the_bytes_of_the_plain_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each copy, built twice (the caches cold, then warm), is byte for byte the message built
    from its parts rendered beforehand — which takes the plain path: the whole HTML part
    encoded in one go, no piece cached."""

    def built(message: OutboxMessage) -> bytes:
        monkeypatch.setattr(message_bytes, "_BOUNDARY_NUMBERS", itertools.count(1))
        return email_bytes(
            message,
            sender="Offer Bøt <offer@capstone.example>",
            recipient=message.recipient,
            company="Capstone",
            now=NOW,
        )

    message_bytes._ALIGNED.clear()
    copies = _copies()
    for message in copies + copies:
        text, html = render.render_message(message, company="Capstone")
        plain = built(replace(message, body_text=text, body_html=html))
        assert built(message) == plain, message.idempotency_key
    assert message_bytes._ALIGNED  # the cache was used, not bypassed
    assert any(b"base64" in built(m) for m in copies)


def test_the_base64_of_pieces_is_that_of_their_join() -> None:
    rng = random.Random(57)
    alphabet = "abé渡😀 \n<"
    shared = ["".join(rng.choice(alphabet) for _ in range(rng.randint(150, 900))) for _ in range(5)]
    for _ in range(3000):
        pieces = [
            rng.choice(shared)
            if rng.random() < 0.6
            else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
            for _ in range(rng.randint(0, 7))
        ]
        joined = base64.encodebytes("".join(pieces).encode()).decode()
        assert message_bytes._base64(pieces) == joined


def _tidy_as_written_first(text: str) -> str:
    lines: list[str] = []
    for line in text.splitlines():
        if not line.strip() and lines and not lines[-1].strip():
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"


def _body_text_as_written_first(text: str) -> str:
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(">"):
            line = stripped[1:].removeprefix(" ")
        lines.append(line)
    return "\n".join(lines)


def test_the_text_part_helpers_match_their_line_by_line_versions() -> None:
    """``_tidy`` and ``body_text`` run for every copy; their C-level rewrites give what the
    line-by-line loops gave, for any mix of blanks, tabs, quote marks and line breaks."""
    rng = random.Random(998)
    alphabet = ["a", "b", " ", "\t", "\n", "\n\n", "\n \n", ">", "> ", " >", "\r", "\r\n",
                "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000", "é"]  # fmt: skip
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert render._tidy(text) == _tidy_as_written_first(text), repr(text)
        assert render.body_text(text) == _body_text_as_written_first(text), repr(text)
