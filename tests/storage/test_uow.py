"""The unit of work: one transaction per block, nothing kept without commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.records import AuditEntry
from storage.db import session_factory
from storage.errors import UnitOfWorkError
from storage.uow import UnitOfWork
from tests.storage.examples import employee, grant


class Boom(Exception):
    pass


async def test_an_exception_rolls_everything_back(uow: UnitOfWork) -> None:
    with pytest.raises(Boom):
        async with uow:
            await uow.employees.upsert_many([employee("E1")])
            await uow.grants.upsert_many([grant("G1", "E1")])
            raise Boom
    async with uow:
        assert await uow.employees.count() == 0
        assert await uow.grants.count() == 0


async def test_leaving_without_commit_rolls_back(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1")])
    async with uow:
        assert await uow.employees.get("E1") is None


async def test_work_after_a_commit_is_lost_without_another(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1")])
        await uow.commit()
        await uow.employees.upsert_many([employee("E2")])
    async with uow:
        assert [e.employee_id for e in await uow.employees.list_all()] == ["E1"]


async def test_a_failed_write_loses_the_whole_transaction(uow: UnitOfWork) -> None:
    with pytest.raises(ValueError):  # ConstraintViolationError is a ValueError
        async with uow:
            await uow.employees.upsert_many([employee("E1")])
            await uow.grants.upsert_many([grant("G1", "NOBODY")])
            await uow.commit()
    async with uow:
        assert await uow.employees.count() == 0


async def test_repositories_exist_only_inside_the_block(uow: UnitOfWork) -> None:
    with pytest.raises(UnitOfWorkError, match="async with"):
        _ = uow.employees
    async with uow:
        pass
    with pytest.raises(UnitOfWorkError):
        await uow.commit()


async def test_entering_twice_in_one_task_is_refused(uow: UnitOfWork) -> None:
    async with uow:
        with pytest.raises(UnitOfWorkError, match="already open"):
            async with uow:
                pass
        assert await uow.employees.count() == 0  # the outer block still works


async def test_concurrent_tasks_sharing_one_object_get_their_own_sessions(
    uow: UnitOfWork,
) -> None:
    both_open = asyncio.Barrier(2)

    async def session_id() -> int:
        async with uow:
            await both_open.wait()
            await uow.employees.count()
            return id(uow.session)

    first, second = await asyncio.gather(session_id(), session_id())
    assert first != second


async def test_async_with_returns_the_unit_of_work(uow: UnitOfWork) -> None:
    async with uow as opened:
        assert opened is uow


async def test_a_unit_that_reads_then_writes_survives_a_concurrent_writer(
    db_engine: AsyncEngine,
) -> None:
    """Showing grants reads first and audits the display afterwards. On SQLite a deferred
    transaction whose snapshot went stale would fail that late write at once ("database is
    locked"); units must instead wait their turn, and neither write may be lost."""
    sessions = session_factory(db_engine)
    reader, writer = UnitOfWork(sessions), UnitOfWork(sessions)
    at = datetime(2003, 7, 10, 9, tzinfo=UTC)

    async def other_write() -> None:
        async with writer:
            await writer.audit.record(AuditEntry(at=at, actor="hr:a", action="x", channel="cli"))
            await writer.commit()

    async with reader:
        assert await reader.audit.recent(subject="E1001") == []  # the read opens the snapshot
        other = asyncio.create_task(other_write())
        # Give the other writer every chance to commit first (it may instead wait for us).
        await asyncio.wait([other], timeout=0.5)
        await reader.audit.record(
            AuditEntry(at=at, actor="E1001", action="grants.view", channel="slack", subject="E1001")
        )
        await reader.commit()
    await other

    async with reader:
        actions = sorted(entry.action for entry in await reader.audit.recent())
    assert actions == ["grants.view", "x"]


async def test_reads_beside_writes_only_on_postgresql(db_engine: AsyncEngine) -> None:
    """A reminder round reads its next page in another task while it writes (PostgreSQL);
    on SQLite that task would only queue for the write lock every block takes at BEGIN."""
    uow = UnitOfWork(session_factory(db_engine))
    assert uow.reads_beside_writes() is (db_engine.dialect.name == "postgresql")
