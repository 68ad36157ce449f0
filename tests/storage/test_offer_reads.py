"""The one-statement read of the offer state (storage/offer_reads.py): always the latest
committed state, whoever committed it; never a file created; a busy SQLite falls back."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.records import OfferState
from bot.services.offer.live_offer import current_terms
from knowledge.offer_terms import load_offer_terms
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.offer_reads import QuickReadUnavailableError, offer_state_reads
from storage.uow import UnitOfWork

TERMS = load_offer_terms()
NOW = datetime(2003, 7, 10, 16, tzinfo=UTC)


def _state(expiration: datetime) -> OfferState:
    return OfferState(
        offer_id=TERMS.offer_id,
        expiration=expiration,
        original_expiration=TERMS.original_expiration,
        terms_digest="test",
        updated_at=NOW,
    )


async def _save(uow: UnitOfWork, expiration: datetime) -> None:
    async with uow:
        await uow.offers.save(_state(expiration))
        await uow.commit()


async def test_an_extension_committed_by_another_engine_is_in_the_next_read(
    db_engine: AsyncEngine, db_url: str
) -> None:
    """Two engines on one database stand for two processes (a replica, `offerbot hr extend`)."""
    asking = UnitOfWork(session_factory(db_engine))
    assert await asking.read_offer_state(TERMS.offer_id) is None
    other = create_engine(db_url)
    try:
        hr = UnitOfWork(session_factory(other))
        await _save(hr, TERMS.original_expiration)
        before = await current_terms(uow=asking, terms=TERMS)
        assert before.expiration == TERMS.original_expiration and not before.is_extended

        extended = TERMS.original_expiration + timedelta(days=14)
        await _save(hr, extended)
        after = await current_terms(uow=asking, terms=TERMS)
        assert after.expiration == extended and after.is_extended
        assert after.expiration.tzinfo == TERMS.deadline_zone

        await _save(hr, TERMS.original_expiration)  # and back: nothing stale is kept
        again = await current_terms(uow=asking, terms=TERMS)
        assert again.expiration == TERMS.original_expiration
    finally:
        await other.dispose()


async def test_inside_a_block_the_read_is_the_blocks_own_view(db_engine: AsyncEngine) -> None:
    uow = UnitOfWork(session_factory(db_engine))
    await _save(uow, TERMS.original_expiration)
    later = TERMS.original_expiration + timedelta(days=7)
    async with uow:
        await uow.offers.save(_state(later))
        state = await uow.read_offer_state(TERMS.offer_id)  # not committed: only this block
        assert state is not None and state.expiration == later
    state = await uow.read_offer_state(TERMS.offer_id)
    assert state is not None and state.expiration == TERMS.original_expiration


async def test_sqlite_reads_on_its_own_connection_and_falls_back_when_busy(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'offerbot.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        await _save(uow, TERMS.original_expiration)
        reads = offer_state_reads(session_factory(engine))
        assert reads is not None and reads.synchronous

        # Another connection holds the database exclusively (SQLite's EXCLUSIVE locking mode,
        # as a backup or a recovery would): the quick read is refused at once, never waits in
        # the event loop; the unit of work waits its turn and answers once the lock is gone.
        await engine.dispose()  # so the blocker is alone and can take the lock
        path = make_url(url).database or ""
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(QuickReadUnavailableError):
                await reads.get(TERMS.offer_id)
            asyncio.get_running_loop().call_soon(_release, blocker)
            state = await uow.read_offer_state(TERMS.offer_id)
        finally:
            blocker.close()
        assert state is not None and state.expiration == TERMS.original_expiration
        assert await reads.get(TERMS.offer_id) == state  # and quick again
    finally:
        await engine.dispose()


def _release(blocker: sqlite3.Connection) -> None:
    blocker.execute("COMMIT")
    blocker.close()  # in WAL mode an EXCLUSIVE connection keeps its lock until it closes


async def test_the_quick_read_never_creates_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        reads = offer_state_reads(session_factory(engine))
        assert reads is not None
        with pytest.raises(QuickReadUnavailableError):
            await reads.get(TERMS.offer_id)
        assert not path.exists()
    finally:
        await engine.dispose()
