"""Engine and session factory.

SQLite is the default single-host store; its records are legal evidence, so every connection
runs in WAL mode with ``synchronous=FULL`` and enforced foreign keys, and waits up to five
seconds for a lock instead of failing at once. Every transaction starts with ``BEGIN IMMEDIATE``:
a unit of work that reads first and writes later (showing grants, then auditing the display)
would otherwise fail at once with "database is locked" when another connection wrote in
between, because SQLite cannot upgrade a stale WAL snapshot and does not wait for that case.
Taking the write lock up front makes every unit wait its turn instead; SQLite has one writer
anyway. PostgreSQL URLs are used as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = ["SQLITE_PRAGMAS", "create_engine", "session_factory"]

# Applied to every new SQLite connection, in this order.
SQLITE_PRAGMAS: tuple[tuple[str, str], ...] = (
    ("journal_mode", "WAL"),
    ("synchronous", "FULL"),
    ("foreign_keys", "ON"),
    ("busy_timeout", "5000"),
)


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite:///PATH`` or ``postgresql+asyncpg://…``."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)

    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose loaded values stay readable after commit (no lazy reloads in async)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 driver's own transaction handling only BEGINs before DML, so reads in a unit
    # of work would run outside its transaction and DDL would not be transactional. Switch the
    # driver to autocommit and let SQLAlchemy emit BEGIN itself (see _begin_sqlite_transaction);
    # this is SQLAlchemy's documented recipe for pysqlite/aiosqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
