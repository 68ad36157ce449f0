"""Fixtures shared across the test suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork
from tests.servers import PostgresServer, running_postgres

# --- storage fixtures (owned by storage/) ---------------------------------------------------
# `db_url`   an empty database, once on SQLite (tmp file) and once on PostgreSQL (marked
#            `postgres`; skipped locally when the server is not installed, an error under CI)
# `db_engine` that database migrated to head; `uow` a UnitOfWork over it.

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run, on a free loopback port."""
    with running_postgres() as server:
        yield server


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database (not migrated) on each backend."""
    if request.param == "sqlite":
        # A folder that does not exist yet: create_engine must make it.
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'offerbot.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = await server.create_database()
    try:
        yield server.url(name)
    finally:
        await server.drop_database(name)


@pytest.fixture
async def db_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """The fresh database, migrated to head."""
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def uow(db_engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(session_factory(db_engine))


# --- end of storage fixtures -----------------------------------------------------------------
