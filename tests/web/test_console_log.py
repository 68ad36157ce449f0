"""The communications log's aggregation and downloads, and the question-bank suggestions, on
both backends (SQLite and PostgreSQL) through the services the console's pages call."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import parse_instant
from bot.domain.communications import Communication
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.domain.records import UnansweredQuestion
from bot.services.errors import InvalidRequestError, NotFoundError
from bot.services.hr.communications_log import (
    communications_csv,
    communications_page,
    delivery_log_csv,
)
from bot.services.hr.question_replies import (
    citable_entries,
    decide_suggestion,
    list_suggestions,
    suggest_for_bank,
    suggestions_bank_text,
)
from bot.services.identity import Identity
from knowledge.bank import parse_bank_text
from knowledge.offer_terms import bundled_offer_dir
from storage.uow import UnitOfWork

NOW = parse_instant("2003-07-10T09:00:00-07:00")
HR = Identity(channel="web-hr", actor="web:hr@example.com")
PACIFIC = ZoneInfo("America/Los_Angeles")
OFFER = bundled_offer_dir()


def _message(key: str, **values: object) -> OutboxMessage:
    base: dict[str, object] = {
        "idempotency_key": key,
        "channel": "email",
        "recipient": f"{key}@example.com",
        "kind": MessageKind.REMINDER,
        "subject": "Reminder",
        "body_text": "The offer expires soon.",
        "created_at": NOW,
        "due_at": NOW,
    }
    return OutboxMessage(**{**base, **values})


async def _seed(uow: UnitOfWork) -> Communication:
    """A reminder round of four copies (2 delivered, 1 failed, 1 pending; e-mail and Slack)
    and two receipt confirmations a day later (one delivered)."""
    async with uow:
        reminder = await uow.communications.record(
            Communication(
                key="reminder:1",
                kind="reminder",
                subject='=HYPERLINK("x") two weeks left',
                body="Hello {name}, the offer expires on July 24.",
                created_at=NOW,
            )
        )
        copies = [
            _message(f"r{n}", employee_id=f"E100{n}", reference=reminder.reference)
            for n in range(1, 4)
        ]
        copies.append(
            _message("r4", channel="slack", recipient="U4", employee_id="E1004",
                     reference=reminder.reference)
        )  # fmt: skip
        later = NOW + timedelta(days=1)
        receipts = [
            _message(
                f"c{n}", kind=MessageKind.RECEIPT_CONFIRMATION, employee_id=f"E200{n}",
                created_at=later, due_at=later,
            )
            for n in (1, 2)
        ]  # fmt: skip
        assert await uow.outbox.enqueue_many([*copies, *receipts]) == 6
        stored = {k: await uow.deliveries.get(k) for k in ("r1", "r2", "r3", "c1")}
        ids = {k: m.id for k, m in stored.items() if m is not None and m.id is not None}
        sent_at = NOW + timedelta(minutes=5)
        await uow.deliveries.delivered_many(
            [(ids["r1"], "<1@x>"), (ids["r2"], "<2@x>")], at=sent_at
        )
        await uow.deliveries.delivered_many([(ids["c1"], "<3@x>")], at=later)
        await uow.deliveries.give_up(ids["r3"], state=DeliveryState.FAILED, error="550")
        await uow.commit()
    return reminder


async def test_groups_are_counted_in_sql_newest_first(uow: UnitOfWork) -> None:
    reminder = await _seed(uow)
    page = await communications_page(uow=uow, identity=HR)
    assert page.total == 2
    (receipts, none), (round_, comm) = page.groups
    assert none is None and receipts.key == "receipt_confirmation"
    assert (receipts.messages, receipts.sent, receipts.pending) == (2, 1, 1)
    assert comm is not None and comm.key == "reminder:1"
    assert round_.key == reminder.reference and round_.kinds == "reminder"
    assert round_.messages == 4
    assert (round_.sent, round_.failed, round_.ambiguous, round_.pending) == (2, 1, 0, 1)
    assert round_.by_channel == {"email": 3, "slack": 1}
    assert round_.first_sent_at == NOW + timedelta(minutes=5)
    # paged: the second page holds the older group, the total stays
    second = await communications_page(uow=uow, identity=HR, offset=1, limit=1)
    assert [g.key for g, _ in second.groups] == [reminder.reference] and second.total == 2
    beyond = await communications_page(uow=uow, identity=HR, offset=5, limit=1)
    assert beyond.groups == [] and beyond.total == 2


async def test_delivery_log_csv_one_row_per_message_pacific_and_formula_safe(
    uow: UnitOfWork,
) -> None:
    reminder = await _seed(uow)
    chunks = await delivery_log_csv(uow=uow, identity=HR, zone=PACIFIC, now=NOW)
    rows = list(csv.DictReader(io.StringIO("".join([c async for c in chunks]))))
    assert len(rows) == 6
    first = rows[0]
    assert first["sent_at"] == "2003-07-10 09:05:00 PDT" and first["queued_at"].endswith("PDT")
    assert (first["channel"], first["kind"], first["group"]) == ("email", "reminder", "comm:1")
    assert first["recipient"] == "E1001" and first["status"] == "sent"
    assert [r["status"] for r in rows] == ["sent", "sent", "failed", "pending", "sent", "pending"]
    assert "body" not in first and "subject" not in first  # no texts per message
    only = await delivery_log_csv(
        uow=uow, identity=HR, zone=PACIFIC, now=NOW, group=reminder.reference
    )
    assert len(list(csv.DictReader(io.StringIO("".join([c async for c in only]))))) == 4
    texts = list(
        csv.DictReader(
            io.StringIO(await communications_csv(uow=uow, identity=HR, zone=PACIFIC, now=NOW))
        )
    )
    assert len(texts) == 1
    assert texts[0]["subject"].startswith("'=HYPERLINK")  # formula-safe
    assert texts[0]["body"] == "Hello {name}, the offer expires on July 24."
    assert (texts[0]["messages"], texts[0]["delivered"], texts[0]["failed"]) == ("4", "2", "1")
    async with uow:
        audited = await uow.audit.with_action("hr_console.communications.delivery_log")
    assert [a.actor for a in audited] == ["web:hr@example.com"] * 2


async def test_suggestions_reviewed_then_exported_in_the_bank_format(uow: UnitOfWork) -> None:
    entries = citable_entries(OFFER)
    assert entries["Q21"].label().startswith("Q21 · ")
    async with uow:
        qid = await uow.questions.record_unanswered(
            UnansweredQuestion(
                asked_at=NOW, channel="slack", actor="U1", employee_id="E1001",
                question="can my spouse sign the election form for me", confidence=0.2,
            )
        )  # fmt: skip
        await uow.commit()
    kept = await suggest_for_bank(
        uow=uow, identity=HR, text="  can my spouse sign\nthe election form for me ",
        label="Q21", entries=entries, offer_dir=OFFER, now=NOW, question_id=qid,
    )  # fmt: skip
    assert kept.text == "can my spouse sign the election form for me" and kept.status == "pending"
    dropped = await suggest_for_bank(
        uow=uow, identity=HR, text="is the cafeteria open on saturday", label="out_of_scope",
        entries=entries, offer_dir=OFFER, now=NOW,
    )  # fmt: skip
    for text, label, message in (
        ("CAN MY SPOUSE SIGN the election form for me", "Q21", "already suggested"),
        ("# a comment", "Q21", "cannot start with '#'"),
        ("[Q3]", "Q21", "be a \\[LABEL\\]"),
        ("what about my options", "Q999", "Choose a knowledge entry"),
        ("should i tender my options?", "advice", "bank already has this question"),
    ):
        with pytest.raises(InvalidRequestError, match=message):
            await suggest_for_bank(
                uow=uow, identity=HR, text=text, label=label, entries=entries,
                offer_dir=OFFER, now=NOW,
            )  # fmt: skip
    assert kept.id is not None and dropped.id is not None
    await decide_suggestion(uow=uow, identity=HR, suggestion_id=kept.id, accept=True, now=NOW)
    await decide_suggestion(uow=uow, identity=HR, suggestion_id=dropped.id, accept=False, now=NOW)
    with pytest.raises(NotFoundError):  # decided already
        await decide_suggestion(uow=uow, identity=HR, suggestion_id=kept.id, accept=False, now=NOW)
    assert [s.status for s in await list_suggestions(uow=uow, identity=HR)] == [
        "rejected",
        "accepted",
    ]
    text = await suggestions_bank_text(uow=uow, identity=HR, entries=entries)
    examples = parse_bank_text(text, file="hr-suggestions.txt")
    assert [(e.label, e.text) for e in examples] == [
        ("Q21", "can my spouse sign the election form for me")
    ]
    assert f"# Q21: {entries['Q21'].title}" in text
    assert text == await suggestions_bank_text(uow=uow, identity=HR, entries=entries)


def test_the_bundled_offer_has_the_entries_a_reply_cites() -> None:
    entries = citable_entries(Path(OFFER))
    assert {"Q1", "Q30", "S1", "RISK-1", "COVER"} <= entries.keys()
    assert "RISKS" not in entries  # the group heading is not an answer
