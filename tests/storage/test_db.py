"""Engine settings and the UTC instant column, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.records import OfferState
from storage.db import create_engine, session_factory
from storage.models import OfferStateRow, UTCDateTime
from storage.uow import UnitOfWork

PACIFIC = ZoneInfo("America/Los_Angeles")


async def test_sqlite_file_gets_its_folder_and_durable_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert path.exists()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 30_000,
    }


async def test_every_transaction_takes_the_write_lock_at_begin(tmp_path: Path) -> None:
    """A unit that reads first and writes later must never meet a stale snapshot, so on SQLite
    the lock is taken at BEGIN: a second transaction waits (here: gives up after the timeout)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
    try:
        async with engine.connect() as first, engine.connect() as second:
            await second.exec_driver_sql("PRAGMA busy_timeout=50")  # fail fast for the test
            await second.rollback()
            await first.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: holds the write lock
            with pytest.raises(OperationalError, match="database is locked"):
                await second.exec_driver_sql("SELECT 1")
            await first.rollback()
            await second.rollback()
            assert (await second.exec_driver_sql("SELECT 1")).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_every_pooled_sqlite_connection_has_the_pragmas(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}")
    try:
        async with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                synchronous = await connection.exec_driver_sql("PRAGMA synchronous")
                assert synchronous.scalar_one() == 2
                await connection.rollback()  # each transaction holds the write lock (IMMEDIATE)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_naive_datetime_is_refused_before_any_sql(dialect: object) -> None:
    with pytest.raises(ValueError, match="naive datetime 2003-07-24T17:00:00 refused"):
        UTCDateTime().process_bind_param(datetime(2003, 7, 24, 17), dialect)  # type: ignore[arg-type]


async def test_naive_datetime_is_refused_on_write(db_engine: AsyncEngine) -> None:
    aware = datetime(2003, 7, 24, 17, tzinfo=PACIFIC)
    uow = UnitOfWork(session_factory(db_engine))
    async with uow:
        uow.session.add(
            OfferStateRow(
                offer_id="x",
                expiration=datetime(2003, 7, 24, 17),  # naive
                original_expiration=aware,
                terms_digest="d",
                updated_at=aware,
            )
        )
        with pytest.raises(StatementError, match="naive datetime") as caught:
            await uow.session.flush()
    assert isinstance(caught.value.orig, ValueError)


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2003, 7, 24, 17, 0, 0, 123456, tzinfo=PACIFIC),  # PDT, crosses midnight UTC
        datetime(2003, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2003, 1, 1, tzinfo=UTC),
    ],
    ids=["pacific", "plus-0530", "utc"],
)
async def test_aware_datetime_round_trips_as_utc(db_engine: AsyncEngine, instant: datetime) -> None:
    sessions = session_factory(db_engine)
    uow = UnitOfWork(sessions)
    state = OfferState("o", instant, instant, "digest", instant)
    async with uow:
        await uow.offers.save(state)
        await uow.commit()
    async with sessions() as session:  # a new session: nothing from the identity map
        row = (await session.scalars(select(OfferStateRow))).one()
    for value in (row.expiration, row.original_expiration, row.updated_at):
        assert value == instant
        assert value.tzinfo is UTC or value.utcoffset() == timedelta(0)
        assert value.tzinfo is not None


async def test_sqlite_stores_the_utc_wall_time(tmp_path: Path) -> None:
    from storage.migrate import upgrade

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'utc.db'}")
    try:
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        instant = datetime(2003, 7, 24, 17, tzinfo=PACIFIC)
        async with uow:
            await uow.offers.save(OfferState("o", instant, instant, "d", instant))
            await uow.commit()
        async with engine.connect() as connection:
            stored = await connection.exec_driver_sql("SELECT expiration FROM offer_state")
            assert stored.scalar_one().startswith("2003-07-25 00:00:00")
    finally:
        await engine.dispose()
