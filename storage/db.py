"""Engine and session factory.

SQLite is the default single-host store; its records are legal evidence, so every connection
runs in WAL mode with ``synchronous=FULL`` and enforced foreign keys, and waits up to thirty
seconds for a lock instead of failing at once (ten CLI commands started together on a busy
two-core machine queue for longer than five). Every transaction starts with ``BEGIN IMMEDIATE``:
a unit of work that reads first and writes later (showing grants, then auditing the display)
would otherwise fail at once with "database is locked" when another connection wrote in
between, because SQLite cannot upgrade a stale WAL snapshot and does not wait for that case.
Taking the write lock up front makes every unit wait its turn instead; SQLite has one writer
anyway. PostgreSQL URLs are used as given.

A new SQLite file is created mode 0600 (owner only) whatever the umask, and SQLite gives its
``-wal`` and ``-shm`` files the database file's mode: the records hold employees' names, grants
and elections. Its folder, when this module creates it, is 0750.
"""

from __future__ import annotations

import os
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

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DATABASE_FILE_MODE",
    "SQLITE_PRAGMAS",
    "create_engine",
    "session_factory",
]

DATABASE_FILE_MODE = 0o600
BUSY_TIMEOUT_MS = 30_000

# Applied to every new SQLite connection, in this order: the wait first, so that switching the
# journal to WAL waits too when another process holds the lock.
SQLITE_PRAGMAS: tuple[tuple[str, str], ...] = (
    ("busy_timeout", str(BUSY_TIMEOUT_MS)),
    ("journal_mode", "WAL"),
    ("synchronous", "FULL"),
    ("foreign_keys", "ON"),
)


def create_engine(url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite:///PATH`` or ``postgresql+asyncpg://…``;
    ``busy_timeout_ms``: how long a SQLite connection waits for another one's write lock."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)

    database = parsed.database or ""
    engine = create_async_engine(url)
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)

        def create_private_file(*_args: Any) -> None:
            _create_private_file(path)

        event.listen(engine.sync_engine, "do_connect", create_private_file)
    pragmas = tuple(
        (name, str(busy_timeout_ms) if name == "busy_timeout" else value)
        for name, value in SQLITE_PRAGMAS
    )

    def configure(dbapi_connection: Any, _record: Any) -> None:
        _configure_sqlite_connection(dbapi_connection, pragmas)

    event.listen(engine.sync_engine, "connect", configure)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose loaded values stay readable after commit (no lazy reloads in async)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _create_private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite would create it 0644 (less the umask)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DATABASE_FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, DATABASE_FILE_MODE)
    finally:
        os.close(fd)


def _configure_sqlite_connection(
    dbapi_connection: Any, pragmas: tuple[tuple[str, str], ...]
) -> None:
    # The sqlite3 driver's own transaction handling only BEGINs before DML, so reads in a unit
    # of work would run outside its transaction and DDL would not be transactional. Switch the
    # driver to autocommit and let SQLAlchemy emit BEGIN itself (see _begin_sqlite_transaction);
    # this is SQLAlchemy's documented recipe for pysqlite/aiosqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for name, value in pragmas:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
