"""Election storage on both backends: round trips, the outbox's idempotency, and the write race
that the unique (employee_id, version) constraint and SQLite's lock turn into WriteConflictError."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.domain.elections import (
    Delivery,
    ElectionIntent,
    FormKind,
    FormReceipt,
    IntentKind,
    IntentLine,
    Transition,
)
from bot.domain.hr_records import (
    AcceptedTender,
    Attachment,
    HrTask,
    MessageKind,
    OutboxMessage,
    TaskStatus,
)
from storage.errors import WriteConflictError
from storage.uow import UnitOfWork
from tests.storage.examples import employee

AT = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
LINE = IntentLine(
    grant_number="G1",
    grant_date=date(2001, 11, 1),
    option_type="ISO",
    exercise_price=Decimal("3.3300"),
    unexercised_shares=1000,
    split_group="S1",
)


def intent(version: int, employee_id: str = "E1") -> ElectionIntent:
    return ElectionIntent(
        employee_id=employee_id,
        version=version,
        kind=IntentKind.TENDER,
        transition=Transition.TENDER if version == 1 else Transition.CHANGE,
        lines=(LINE,),
        recorded_at=AT + timedelta(minutes=version),
        actor="U1",
        channel="slack",
    )


def message(key: str, **changes: object) -> OutboxMessage:
    base = {
        "idempotency_key": key,
        "channel": "email",
        "recipient": "e1@example.com",
        "kind": MessageKind.INTENT_CONFIRMATION,
        "subject": "s",
        "body_text": "b",
        "created_at": AT,
        "due_at": AT,
        "employee_id": "E1",
        "reference": "v1",
        "attachments": (Attachment("f.pdf", "application/pdf", b"%PDF-1.4\x00\xff"),),
    }
    base.update(changes)
    return OutboxMessage(**base)  # type: ignore[arg-type]


@pytest.fixture
async def with_employee(uow: UnitOfWork) -> UnitOfWork:
    async with uow:
        await uow.employees.upsert_many([employee("E1"), employee("E2")])
        await uow.commit()
    return uow


async def test_intents_and_receipts_round_trip(with_employee: UnitOfWork) -> None:
    uow = with_employee
    receipt = FormReceipt(
        employee_id="E1",
        version=1,
        form=FormKind.ELECTION,
        received_at=AT + timedelta(hours=1),
        via=Delivery.FAX,
        recorded_at=AT + timedelta(hours=2),
        actor="cli:hr",
        channel="cli",
    )
    async with uow:
        await uow.elections.add_intent(intent(1))
        await uow.elections.add_intent(intent(2))
        await uow.elections.add_intent(intent(1, "E2"))
        await uow.elections.add_receipt(receipt)
        await uow.commit()
    async with uow:
        assert await uow.elections.intents_for("E1") == [intent(1), intent(2)]
        assert await uow.elections.receipts_for("E1") == [receipt]
        assert len(await uow.elections.all_intents()) == 3
        assert await uow.elections.all_receipts() == [receipt]


async def test_the_same_version_twice_is_a_write_conflict(with_employee: UnitOfWork) -> None:
    uow = with_employee
    with pytest.raises(WriteConflictError):
        async with uow:
            await uow.elections.add_intent(intent(1))
            await uow.elections.add_intent(intent(1))


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_two_writers_racing_for_one_version(with_employee: UnitOfWork, db_url: str) -> None:
    """Both read "no versions", then both write version 1: exactly one wins, the other gets
    WriteConflictError (the unique constraint). Only on PostgreSQL can both read at once:
    SQLite's transactions take the write lock at BEGIN, so there they take turns (below)."""
    uow = with_employee
    both_read = asyncio.Barrier(2)

    async def writer() -> str:
        try:
            async with uow:
                assert await uow.elections.intents_for("E1") == []
                await both_read.wait()
                await uow.elections.add_intent(intent(1))
                await uow.commit()
                return "won"
        except WriteConflictError:
            return "conflict"

    outcomes = await asyncio.gather(writer(), writer())
    assert sorted(outcomes) == ["conflict", "won"]
    async with uow:
        assert [i.version for i in await uow.elections.intents_for("E1")] == [1]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_on_sqlite_two_writers_take_turns(with_employee: UnitOfWork, db_url: str) -> None:
    """Each reads the versions and writes the next: the second waits at BEGIN for the first to
    commit, so it reads version 1 and writes version 2 — no conflict, nothing lost."""
    uow = with_employee

    async def writer() -> int:
        async with uow:
            version = len(await uow.elections.intents_for("E1")) + 1
            await asyncio.sleep(0)  # let the other writer try to start meanwhile
            await uow.elections.add_intent(intent(version))
            await uow.commit()
            return version

    assert sorted(await asyncio.gather(writer(), writer())) == [1, 2]


async def test_outbox_is_idempotent_and_keeps_attachments(with_employee: UnitOfWork) -> None:
    uow = with_employee
    async with uow:
        assert await uow.outbox.enqueue(message("k1")) is True
        assert await uow.outbox.enqueue(message("k1", subject="other")) is False
        assert await uow.outbox.enqueue(
            message("k2", kind=MessageKind.RECEIPT_CONFIRMATION, attachments=())
        )
        await uow.commit()
    async with uow:
        stored = await uow.outbox.for_employee("E1")
        assert [m.idempotency_key for m in stored] == ["k1", "k2"]
        assert stored[0].subject == "s"
        assert stored[0].attachments == message("k1").attachments
        assert stored[0].sent_at is None and stored[0].attempts == 0
        await uow.outbox.mark_sent("k1", at=AT + timedelta(minutes=1))
        await uow.commit()
    async with uow:
        (sent,) = [m for m in await uow.outbox.for_employee("E1") if m.idempotency_key == "k1"]
        assert sent.sent_at == AT + timedelta(minutes=1) and sent.attempts == 1
        assert [
            m.idempotency_key for m in await uow.outbox.by_kind(MessageKind.RECEIPT_CONFIRMATION)
        ] == ["k2"]
        assert await uow.outbox.count() == 2


async def test_hr_tasks_close_by_status(with_employee: UnitOfWork) -> None:
    uow = with_employee
    async with uow:
        await uow.hr_tasks.add(HrTask("E1", 1, AT))
        await uow.hr_tasks.add(HrTask("E1", 2, AT))
        assert await uow.hr_tasks.close(
            "E1", versions=[1], status=TaskStatus.SUPERSEDED, at=AT
        ) == [1]
        # Only open tasks move unless told otherwise.
        assert await uow.hr_tasks.close("E1", versions=[1], status=TaskStatus.DONE, at=AT) == []
        assert await uow.hr_tasks.close(
            "E1",
            versions=[1],
            status=TaskStatus.DONE,
            at=AT,
            only=(TaskStatus.OPEN, TaskStatus.SUPERSEDED),
        ) == [1]
        await uow.commit()
    async with uow:
        tasks = await uow.hr_tasks.for_employee("E1")
        assert [(t.version, t.status) for t in tasks] == [
            (1, TaskStatus.DONE),
            (2, TaskStatus.OPEN),
        ]
        assert [t.version for t in await uow.hr_tasks.open_tasks()] == [2]


async def test_accepted_tenders_are_added_once(with_employee: UnitOfWork) -> None:
    uow = with_employee
    tender = AcceptedTender(employee_id="E1", version=1, line=LINE, accepted_at=AT)
    async with uow:
        assert await uow.accepted.add_missing([tender]) == 1
        assert await uow.accepted.add_missing([tender]) == 0
        await uow.commit()
    async with uow:
        assert await uow.accepted.list_all() == [tender]
        assert await uow.accepted.for_employee("E1") == [tender]
