"""The advisory lock on real PostgreSQL: one holder, released when its connection dies; and the
SQLite stand-in, which always succeeds (one worker per database file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.locks import (
    PostgresAdvisoryLock,
    SingleProcessLock,
    advisory_lock,
    holder_label,
    lock_key,
)
from tests.replicas.processes import until

NAME = "imap-watcher:test@example.com@127.0.0.1:143/INBOX"


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def test_keys_are_stable_bigints_and_differ_by_name() -> None:
    assert lock_key(NAME) == lock_key(NAME)
    assert lock_key(NAME) != lock_key(NAME.replace("INBOX", "Other"))
    assert 0 <= lock_key(NAME) < 2**63
    assert len(holder_label("imap" * 40)) <= 63  # PostgreSQL's application_name limit


async def test_sqlite_lock_always_succeeds(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        first, second = (
            advisory_lock(engine, NAME, purpose="imap"),
            advisory_lock(engine, NAME, purpose="imap"),
        )
        assert isinstance(first, SingleProcessLock)
        assert await first.acquire() and await second.acquire()  # documented: single worker
        assert await first.alive() and await first.holder() is None
        await first.release()
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_one_holder_at_a_time_and_release_lets_the_next_in(pg_engine: AsyncEngine) -> None:
    first = PostgresAdvisoryLock(pg_engine, NAME, label="offerbot imap replica-a")
    second = PostgresAdvisoryLock(pg_engine, NAME, label="offerbot imap replica-b")
    other = PostgresAdvisoryLock(pg_engine, NAME + "-other", label="offerbot imap other")
    try:
        assert await second.holder() is None
        assert await first.acquire()
        assert await first.acquire()  # idempotent for the holder
        assert not await second.acquire()
        assert await other.acquire()  # another name is another lock
        assert await second.holder() == "offerbot imap replica-a"
        assert await first.alive()
        await first.release()
        assert not first.held
        assert await second.acquire()
        assert await first.holder() == "offerbot imap replica-b"
    finally:
        for lock in (first, second, other):
            await lock.release()


@pytest.mark.postgres
async def test_the_lock_goes_with_its_connection(pg_engine: AsyncEngine) -> None:
    """The holder's session ends (a crash, a network cut, an admin): the next try wins."""
    holder = PostgresAdvisoryLock(pg_engine, NAME, label="offerbot imap doomed")
    waiting = PostgresAdvisoryLock(pg_engine, NAME, label="offerbot imap next")
    try:
        assert await holder.acquire()
        assert not await waiting.acquire()
        async with pg_engine.connect() as connection:
            terminated = await connection.scalar(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": "offerbot imap doomed"},
            )
        assert terminated is True
        # pg_terminate_backend only signals: the backend (and its lock) ends just after
        await until(waiting.acquire, timeout=10, what="the lock to be free")
        assert not await holder.alive()  # the holder finds out on its next check
        assert not holder.held
        assert await waiting.holder() == "offerbot imap next"
    finally:
        await holder.release()  # a lost lock: nothing to do, no error
        await waiting.release()
