"""Copies of a stored communication keep its text once (migration 0016): each copy reads back
as the text the person gets — through the sender's claim, the repository and the reports — the
same as a message queued with its whole text; a key is queued once; and 0016 goes down with
every copy's text written out, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.communications import Communication, PersonalCopy, personal_text
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from storage.db import session_factory
from storage.migrate import alembic_config, upgrade
from storage.uow import UnitOfWork

AT = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
TEMPLATE = "Dear {name},\n\nYour grants:\n{grants}\n\nReply {name!r} or 'help'. 100% {x}"
COPIES = [
    PersonalCopy("r:E1:email", "email", "e1@example.com", "E1", "Ann", "- Grant 7"),
    PersonalCopy("r:E1:slack", "slack", "U1", "E1", "Ann", "- Grant 7"),
    # a name or list holding a placeholder, quotes, % and _: filled as personal_text does
    PersonalCopy("r:E2:email", "email", "e2@example.com", "E2", "{grants} O'Neil", "50%_\n{name}"),
    PersonalCopy("r:E3:email", "email", "e3@example.com", "E3", "Zoë", None),
]


def _expected() -> dict[str, str]:
    return {
        c.idempotency_key: personal_text(TEMPLATE, name=c.name, grants=c.grants) for c in COPIES
    }


async def _queue(uow: UnitOfWork) -> Communication:
    async with uow:
        kept = await uow.communications.record(
            Communication(
                key="reminder:t", kind="reminder", subject="Reminder", body=TEMPLATE, created_at=AT
            )
        )
        added = await uow.outbox.enqueue_copies(kept, COPIES, kind=MessageKind.REMINDER, at=AT)
        again = await uow.outbox.enqueue_copies(kept, COPIES[:2], kind=MessageKind.REMINDER, at=AT)
        whole = OutboxMessage(
            idempotency_key="receipt:E1",
            channel="email",
            recipient="e1@example.com",
            kind=MessageKind.RECEIPT_CONFIRMATION,
            subject="Received",
            body_text="Dear {name}, we received your form.",  # not a copy: kept as written
            created_at=AT,
            due_at=AT,
            employee_id="E1",
        )
        assert await uow.outbox.enqueue(whole)
        await uow.commit()
    assert (added, again) == (4, 0)
    return kept


def test_personal_text_fills_the_grants_then_the_name() -> None:
    # the grants go in first, then every {name} (theirs too); the name is not searched again
    filled = personal_text("{name}: {grants}", name="{grants}", grants="{name}")
    assert filled == "{grants}: {grants}"
    assert personal_text("{name}: {grants}", name="Ann", grants=None) == "Ann: {grants}"


async def test_copies_read_back_as_their_whole_text_everywhere(db_engine: AsyncEngine) -> None:
    uow = UnitOfWork(session_factory(db_engine))
    kept = await _queue(uow)
    expected = _expected()
    async with uow:
        pending = await uow.deliveries.in_state(DeliveryState.PENDING)
        for_e1 = await uow.outbox.for_employee("E1")
        reminders = await uow.outbox.by_kind(MessageKind.REMINDER)
        claimed = await uow.deliveries.claim_due(
            now=AT + timedelta(seconds=1),
            owner="s",
            lease=timedelta(minutes=5),
            limit=10,
            channels=["email", "slack"],
            message_id_for=lambda _m: "<fresh@offerbot.test>",
        )
        await uow.commit()
    assert {m.idempotency_key: m.body_text for m in reminders} == expected
    assert {m.idempotency_key: m.body_text for m in claimed} == {
        **expected,
        "receipt:E1": "Dear {name}, we received your form.",
    }
    assert {m.idempotency_key: m.body_text for m in pending} == {
        **expected,
        "receipt:E1": "Dear {name}, we received your form.",
    }
    assert [m.idempotency_key for m in for_e1] == ["r:E1:email", "r:E1:slack", "receipt:E1"]
    copy = next(m for m in claimed if m.idempotency_key == "r:E1:slack")
    assert (copy.recipient, copy.subject, copy.reference, copy.kind) == (
        "U1",
        "Reminder",
        kept.reference,
        MessageKind.REMINDER,
    )
    assert copy.due_at == copy.created_at == AT and copy.attempts == 1
    async with uow:
        stats = await uow.communications.stats([kept.reference])
    assert stats[kept.reference].queued == 4
    assert stats[kept.reference].queued_by_channel == {"email": 3, "slack": 1}


async def test_0016_down_writes_each_copys_text_and_up_again_reads_it(
    db_engine: AsyncEngine,
) -> None:
    uow = UnitOfWork(session_factory(db_engine))
    await _queue(uow)
    expected = _expected()

    def down_to_0015(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "0015")

    async with db_engine.begin() as connection:
        await connection.run_sync(down_to_0015)
        stored = dict(
            (await connection.execute(text("SELECT idempotency_key, body_text FROM outbox"))).all()
        )
    assert stored == {**expected, "receipt:E1": "Dear {name}, we received your form."}
    await upgrade(db_engine)
    async with uow:
        reminders = await uow.outbox.by_kind(MessageKind.REMINDER)
    assert {m.idempotency_key: m.body_text for m in reminders} == expected
