"""The bytes of an outbox e-mail: the fast writer and the plain-greeting shortcut in the HTML.

A broadcast's copies differ only in their greeting ("Dear <name>,"); that block is written
without a Markdown parse. These tests hold the shortcut to exactly what the Markdown pass
renders, and the fast MIME writer to the parts ``build_email`` builds.
"""

from __future__ import annotations

import email
import random
from datetime import UTC, datetime

import pytest

from bot.domain.hr_records import MessageKind, OutboxMessage
from handlers.email import render
from handlers.email.message_bytes import LayoutCache, email_bytes
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
        layouts=LayoutCache(),
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
