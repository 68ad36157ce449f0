"""The outbox's delivery state apart from its messages (migration 0014): claims by concurrent
senders never share a message, marks leave the message as written, and the migration keeps
queued, sent and failed rows (and their attachments) both ways — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import column, insert, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.services.retry import retry_on_conflict
from storage.db import create_engine, session_factory
from storage.migrate import alembic_config, current_revision, upgrade
from storage.models import UTCDateTime
from storage.uow import UnitOfWork

AT = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def _copy(n: int) -> OutboxMessage:
    return OutboxMessage(
        idempotency_key=f"reminder:t:E{n:04d}:email",
        channel="email",
        recipient=f"e{n}@example.com",
        kind=MessageKind.REMINDER,
        subject="Reminder",
        body_text=f"Dear person {n},\n" + "the offer expires soon. " * 40,
        created_at=AT,
        due_at=AT,
        employee_id=f"E{n:04d}",
    )


async def _claims(uow: UnitOfWork, owner: str) -> list[int]:
    """Claim 7 at a time until nothing is left; the ids this sender got."""
    got: list[int] = []
    while True:

        async def claim() -> list[OutboxMessage]:
            async with uow:
                claimed: list[OutboxMessage] = await uow.deliveries.claim_due(
                    now=AT,
                    owner=owner,
                    lease=LEASE,
                    limit=7,
                    channels=["email"],
                    message_id_for=lambda _m: f"<{owner}@offerbot.test>",
                )
                await uow.commit()
            return claimed

        claimed = await retry_on_conflict(claim)
        if not claimed:
            return got
        got += [m.id for m in claimed if m.id is not None]
        await asyncio.sleep(0)  # let the other senders in between claims


async def test_concurrent_claims_never_hand_one_message_to_two_senders(
    db_engine: AsyncEngine,
) -> None:
    uow = UnitOfWork(session_factory(db_engine))
    async with uow:
        assert await uow.outbox.enqueue_many([_copy(n) for n in range(120)]) == 120
        await uow.commit()
    senders = [UnitOfWork(session_factory(db_engine)) for _ in range(4)]
    got = await asyncio.gather(*(_claims(s, f"s{i}") for i, s in enumerate(senders)))
    every = [row_id for ids in got for row_id in ids]
    assert len(every) == len(set(every)) == 120  # each message claimed once, none left out

    async with uow:  # claims wrote the lease and the Message-ID, once per message
        claimed = await uow.deliveries.in_state(DeliveryState.PENDING)
        await uow.deliveries.delivered_many([(m.id, None) for m in claimed if m.id], at=AT)
        await uow.commit()
    assert {m.attempts for m in claimed} == {1}
    owners = {row_id: f"s{i}" for i, ids in enumerate(got) for row_id in ids}
    assert all(m.message_id == f"<{owners[m.id or 0]}.{m.id}@offerbot.test>" for m in claimed)
    async with uow:
        sent = await uow.deliveries.in_state(DeliveryState.SENT)
    assert len(sent) == 120 and {m.sent_at for m in sent} == {AT}
    # the marks left each message as it was queued
    assert sorted((m.idempotency_key, m.body_text) for m in sent) == sorted(
        (c.idempotency_key, c.body_text) for c in map(_copy, range(120))
    )


async def test_enqueue_many_skips_keys_queued_before_and_twice_in_one_call(
    db_engine: AsyncEngine,
) -> None:
    uow = UnitOfWork(session_factory(db_engine))
    async with uow:
        assert await uow.outbox.enqueue_many([_copy(1), _copy(2)]) == 2
        assert await uow.outbox.enqueue_many([_copy(2), _copy(3), _copy(3)]) == 1
        await uow.commit()
    async with uow:
        pending = await uow.deliveries.in_state(DeliveryState.PENDING)
    assert [m.employee_id for m in pending] == ["E0001", "E0002", "E0003"]
    assert all(m.state is DeliveryState.PENDING and m.attempts == 0 for m in pending)


# --- migration 0014: from the one-table outbox of 0011, with data -----------------------------

_OLD_OUTBOX = table(
    "outbox",
    *(column(n) for n in ("id", "idempotency_key", "channel", "recipient", "kind", "subject")),
    *(column(n) for n in ("body_text", "employee_id", "reference", "attempts", "last_error")),
    *(column(n) for n in ("state", "priority", "lease_owner", "message_id", "delivery_id")),
    *(column(n) for n in ("body_html", "in_reply_to", "thread_references", "requeues")),
    *(column(n, UTCDateTime()) for n in ("created_at", "due_at", "sent_at", "next_attempt_at")),
    column("lease_until", UTCDateTime()),
)
_ATTACHMENTS = table(
    "outbox_attachments", *(column(n) for n in ("message_id", "filename", "content_type")),
    column("content"),
)  # fmt: skip


def _old_row(row_id: int, state: str, **extra: object) -> dict[str, object]:
    values: dict[str, object] = {
        "id": row_id,
        "idempotency_key": f"k{row_id}",
        "channel": "email",
        "recipient": f"e{row_id}@example.com",
        "kind": "hr_notice",
        "subject": f"subject {row_id}",
        "body_text": f"body {row_id}",
        "employee_id": "E1",
        "reference": None,
        "created_at": AT,
        "due_at": AT,
        "sent_at": None,
        "attempts": 0,
        "last_error": None,
        "state": state,
        "priority": 0,
        "next_attempt_at": AT,
        "lease_until": None,
        "lease_owner": None,
        "message_id": None,
        "delivery_id": None,
        "body_html": f"<p>body {row_id}</p>",
        "in_reply_to": None,
        "thread_references": None,
        "requeues": 0,
    }
    return values | extra


OLD_ROWS = [
    _old_row(7, "pending"),
    _old_row(
        8, "sent", attempts=1, sent_at=AT + timedelta(minutes=1),
        message_id="<m8@offerbot.test>", delivery_id="<m8@offerbot.test>",
    ),
    _old_row(
        9, "failed", attempts=3, last_error="550 no such user", requeues=1,
        message_id="<m9@offerbot.test>",
    ),
]  # fmt: skip


async def _old_outbox(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with engine.connect() as c:
        rows = await c.execute(select(_OLD_OUTBOX).order_by(_OLD_OUTBOX.c.id))
        return [tuple(r._mapping[k] for k in OLD_ROWS[0]) for r in rows]


async def test_0014_keeps_queued_sent_and_failed_rows_both_ways(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine, "0011")
        async with engine.begin() as c:
            await c.execute(insert(_OLD_OUTBOX), OLD_ROWS)
            await c.execute(
                insert(_ATTACHMENTS).values(
                    message_id=7, filename="f.pdf", content_type="application/pdf",
                    content=b"%PDF-1.4",
                )
            )  # fmt: skip
        before = await _old_outbox(engine)
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        async with uow:
            found = {k: await uow.deliveries.get(k) for k in ("k7", "k8", "k9")}
        queued, sent, failed = found["k7"], found["k8"], found["k9"]
        assert queued is not None and sent is not None and failed is not None
        assert queued.state is DeliveryState.PENDING and queued.attempts == 0
        assert [(a.filename, a.content) for a in queued.attachments] == [("f.pdf", b"%PDF-1.4")]
        assert queued.body_html == "<p>body 7</p>"
        assert sent.state is DeliveryState.SENT and sent.sent_at == AT + timedelta(minutes=1)
        assert sent.message_id == "<m8@offerbot.test>"
        assert failed.state is DeliveryState.FAILED and failed.attempts == 3
        assert failed.last_error == "550 no such user" and failed.requeues == 1

        async with uow:  # the sender claims only the queued one; the failed one can be requeued
            claimed = await uow.deliveries.claim_due(
                now=AT, owner="s", lease=LEASE, limit=10, channels=["email"],
                message_id_for=lambda _m: None,
            )  # fmt: skip
            assert [m.idempotency_key for m in claimed] == ["k7"]
            assert await uow.deliveries.requeue([9], at=AT + timedelta(hours=1)) == 1
            await uow.rollback()

        def down_to_0011(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0011")

        async with engine.begin() as c:
            await c.run_sync(down_to_0011)
        assert await current_revision(engine) == "0011"
        assert await _old_outbox(engine) == before
        async with engine.connect() as c:
            kept = (
                await c.execute(select(_ATTACHMENTS.c.message_id, _ATTACHMENTS.c.content))
            ).all()
        assert [(m, bytes(b)) for m, b in kept] == [(7, b"%PDF-1.4")]
        await upgrade(engine)
        async with uow:
            again = await uow.deliveries.get("k9")
        assert again is not None and again.state is DeliveryState.FAILED and again.requeues == 1
    finally:
        await engine.dispose()


def test_no_bulk_statement_targets_the_joined_outbox_mapping() -> None:
    """``OutboxRow`` maps the join of ``outbox`` and ``outbox_delivery``: loading rows and
    changing attributes works, but a bulk ``update(OutboxRow)``, ``delete(OutboxRow)`` or
    ``insert(OutboxRow)`` compiles to invalid SQL (``UPDATE outbox JOIN …``) on both databases.
    Such statements must name ``OutboxDeliveryRow`` / ``OutboxMessageRow`` (or use
    ``storage.outbox_writes``); a bench script fell into this after the split."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    bulk = re.compile(r"\b(update|delete|insert)\(\s*OutboxRow\b")
    found = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("bot", "handlers", "storage", "knowledge", "bench", "tests")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bulk.search(line) and path != Path(__file__).resolve()
    ]
    assert not found, f"bulk statements on the joined OutboxRow: {found}"
