"""The unit of work made on first use (storage/deferred.py): its stdlib read of a SQLite file
returns exactly what SQLAlchemy's does and refuses what it cannot read now (busy, no table, no
file), leaving it to the real unit of work — on real SQLite files. In this process SQLAlchemy is
loaded, so the deferred unit of work itself reads through the real one, as a server does; the
stdlib path of a process without SQLAlchemy is run by tests/cli/test_console_script.py."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.records import OfferState
from knowledge.offer_terms import load_offer_terms
from storage.db import create_engine, session_factory
from storage.deferred import (
    DeferredUnitOfWork,
    FileReadUnavailableError,
    read_offer_state_file,
    sqlite_file_of,
)
from storage.migrate import upgrade
from storage.uow import UnitOfWork

TERMS = load_offer_terms()
# microseconds and a non-UTC zone on the way in: both reads must give the same aware UTC instant
UPDATED = datetime(2003, 7, 10, 9, 0, 1, 653149, tzinfo=TERMS.deadline_zone)


class _Counted:
    """Makes the real unit of work and counts how often it was asked to."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.made = 0

    def __call__(self) -> UnitOfWork:
        self.made += 1
        return UnitOfWork(session_factory(self.engine))


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[tuple[Path, AsyncEngine]]:
    path = tmp_path / "offerbot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        yield path, engine
    finally:
        await engine.dispose()


async def _save(engine: AsyncEngine, expiration: datetime) -> None:
    uow = UnitOfWork(session_factory(engine))
    async with uow:
        await uow.offers.save(
            OfferState(
                offer_id=TERMS.offer_id,
                expiration=expiration,
                original_expiration=TERMS.original_expiration,
                terms_digest="digest",
                updated_at=UPDATED,
            )
        )
        await uow.commit()


async def test_the_stdlib_read_equals_sqlalchemys(
    sqlite_file: tuple[Path, AsyncEngine],
) -> None:
    path, engine = sqlite_file
    assert read_offer_state_file(path, TERMS.offer_id) is None  # table there, no row
    for expiration in (TERMS.original_expiration, TERMS.original_expiration + timedelta(days=9)):
        await _save(engine, expiration)
        quick = read_offer_state_file(path, TERMS.offer_id)
        real = await UnitOfWork(session_factory(engine)).read_offer_state(TERMS.offer_id)
        assert quick == real
        assert quick is not None and quick.expiration == expiration
        assert quick.updated_at == UPDATED and quick.updated_at.tzinfo is UTC


async def test_with_sqlalchemy_loaded_the_real_unit_of_work_reads(
    sqlite_file: tuple[Path, AsyncEngine],
) -> None:
    """A server has SQLAlchemy loaded: its reads go to the unit of work's pooled quick read."""
    path, engine = sqlite_file
    await _save(engine, TERMS.original_expiration)
    make = _Counted(engine)
    deferred = DeferredUnitOfWork(make, sqlite_file=path)
    state = await deferred.read_offer_state(TERMS.offer_id)
    assert state is not None and state.expiration == TERMS.original_expiration
    assert make.made == 1


async def test_a_block_builds_the_real_unit_of_work_and_reads_its_own_view(
    sqlite_file: tuple[Path, AsyncEngine],
) -> None:
    path, engine = sqlite_file
    await _save(engine, TERMS.original_expiration)
    make = _Counted(engine)
    deferred = DeferredUnitOfWork(make, sqlite_file=path)
    later = TERMS.original_expiration + timedelta(days=7)
    async with deferred:
        stored = await deferred.offers.get(TERMS.offer_id)
        assert stored is not None
        await deferred.offers.save(
            OfferState(
                offer_id=stored.offer_id,
                expiration=later,
                original_expiration=stored.original_expiration,
                terms_digest=stored.terms_digest,
                updated_at=stored.updated_at,
            )
        )
        inside = await deferred.read_offer_state(TERMS.offer_id)  # not committed: the block's
        assert inside is not None and inside.expiration == later
    after = await deferred.read_offer_state(TERMS.offer_id)  # rolled back
    assert after is not None and after.expiration == TERMS.original_expiration
    assert make.made == 1  # made once, kept for every later use


async def test_a_busy_file_is_refused_at_once_and_the_real_unit_of_work_waits(
    sqlite_file: tuple[Path, AsyncEngine],
) -> None:
    path, engine = sqlite_file
    await _save(engine, TERMS.original_expiration)
    await engine.dispose()  # so the blocker is alone and can take the lock
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(FileReadUnavailableError):
            read_offer_state_file(path, TERMS.offer_id)  # never waits
        asyncio.get_running_loop().call_soon(_release, blocker)
        state = await DeferredUnitOfWork(_Counted(engine), sqlite_file=path).read_offer_state(
            TERMS.offer_id
        )
    finally:
        blocker.close()
    assert state is not None and state.expiration == TERMS.original_expiration
    assert read_offer_state_file(path, TERMS.offer_id) == state  # and quick again


def _release(blocker: sqlite3.Connection) -> None:
    blocker.execute("COMMIT")
    blocker.close()  # in WAL mode an EXCLUSIVE connection keeps its lock until it closes


async def test_no_table_is_the_real_unit_of_works_error_and_no_file_is_created(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(FileReadUnavailableError):
        read_offer_state_file(missing, TERMS.offer_id)
    assert not missing.exists()

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a database without offerbot's tables
    engine = create_engine(f"sqlite+aiosqlite:///{empty}")
    try:
        deferred = DeferredUnitOfWork(_Counted(engine), sqlite_file=empty)
        with pytest.raises(OperationalError, match="no such table"):
            await deferred.read_offer_state(TERMS.offer_id)
    finally:
        await engine.dispose()


def test_only_a_plain_sqlite_file_url_is_read_with_the_stdlib() -> None:
    assert sqlite_file_of("sqlite+aiosqlite:///./.offerbot/offerbot.db") == Path(
        "./.offerbot/offerbot.db"
    )
    assert sqlite_file_of("sqlite+aiosqlite:////var/lib/offerbot.db") == Path(
        "/var/lib/offerbot.db"
    )
    assert sqlite_file_of("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file_of("sqlite+aiosqlite:///file:x.db?mode=ro&uri=true") is None
    assert sqlite_file_of("sqlite+aiosqlite:///x.db?timeout=5") is None
    assert sqlite_file_of("postgresql+asyncpg://u@localhost/offerbot") is None
