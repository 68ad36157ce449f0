"""Advisory locks: one holder at a time across replicas (the IMAP watcher's mailbox).

PostgreSQL — :class:`PostgresAdvisoryLock`: a session-level ``pg_try_advisory_lock`` taken on a
connection of its own (outside the shared pool, in autocommit, so no transaction stays open)
and held as long as that connection lives. The server drops the lock the moment the connection
ends, so a replica that crashes or is killed frees it without any lease to wait out: the next
retry of another replica takes over. The holder names itself in ``pg_stat_activity``
(``application_name``), so :meth:`~PostgresAdvisoryLock.holder` — and an operator with
``psql`` — can tell which replica reads the mailbox.

SQLite — :class:`SingleProcessLock`: one ``offerbot`` process per database file is the
supported setup there, so the lock always succeeds and holds nothing.

Errors: a database that cannot be reached while acquiring raises :class:`LockConnectionError`
(also a :class:`ConnectionError`, so callers outside storage catch it as ``OSError``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from typing import Protocol

from sqlalchemy import column, func, select, table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from storage.errors import StorageError

__all__ = [
    "AdvisoryLock",
    "LockConnectionError",
    "PostgresAdvisoryLock",
    "SingleProcessLock",
    "advisory_lock",
    "holder_label",
    "lock_key",
]

logger = logging.getLogger(__name__)

_PG_LOCKS = table(
    "pg_locks",
    column("pid"),
    column("locktype"),
    column("classid"),
    column("objid"),
    column("objsubid"),
    column("granted"),
)
_PG_STAT_ACTIVITY = table("pg_stat_activity", column("pid"), column("application_name"))


class LockConnectionError(StorageError, ConnectionError):
    """The database holding the lock could not be reached."""


class AdvisoryLock(Protocol):
    """What a lock user sees; both backends' locks implement it."""

    async def acquire(self) -> bool:
        """Take the lock if it is free (never waits); True when this process holds it."""
        ...

    async def alive(self) -> bool:
        """Still held? False once the holding connection has ended."""
        ...

    async def release(self) -> None: ...

    async def holder(self) -> str | None:
        """Who holds the lock (``application_name`` of the holder), if anyone."""
        ...


def lock_key(name: str) -> int:
    """A stable non-negative 63-bit key for ``name`` (advisory locks are keyed by bigint)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"offerbot").digest()
    return int.from_bytes(digest, "big") >> 1


def holder_label(purpose: str) -> str:
    """``offerbot <purpose> <pid>@<host>``, cut to PostgreSQL's 63-byte application_name
    (a long host name is cut, never the pid)."""
    return f"offerbot {purpose} {os.getpid()}@{socket.gethostname()}"[:63]


class SingleProcessLock:
    """SQLite: a single worker per database file is the supported setup, so always held."""

    async def acquire(self) -> bool:
        return True

    async def alive(self) -> bool:
        return True

    async def release(self) -> None:
        return None

    async def holder(self) -> str | None:
        return None


class PostgresAdvisoryLock:
    """A session-level advisory lock on a dedicated connection (see the module docstring)."""

    def __init__(
        self, engine: AsyncEngine, name: str, *, label: str, timeout: float = 10.0
    ) -> None:
        self.name = name
        self.key = lock_key(name)
        self.label = label
        self._timeout = timeout
        # Its own engine without a pool: the lock's connection must not be lent to other work,
        # and closing it must really close it (which is what releases a lost lock server-side).
        self._engine = create_async_engine(
            engine.url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": timeout},
        )
        self._connection: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def acquire(self) -> bool:
        if self._connection is not None:
            return True
        try:
            connection = await asyncio.wait_for(self._engine.connect(), self._timeout)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise LockConnectionError(f"cannot reach the database: {exc}") from exc
        try:
            got = await asyncio.wait_for(
                connection.scalar(select(func.pg_try_advisory_lock(self.key))), self._timeout
            )
            if got:
                await connection.execute(
                    select(func.set_config("application_name", self.label, False))
                )
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            await _discard(connection)
            raise LockConnectionError(f"cannot take the lock {self.name!r}: {exc}") from exc
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def alive(self) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            await asyncio.wait_for(connection.scalar(select(func.pg_backend_pid())), self._timeout)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            logger.warning("advisory lock connection lost (%s)", type(exc).__name__)
            self._connection = None
            await _discard(connection)
            return False
        return True

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await asyncio.wait_for(
                connection.execute(select(func.pg_advisory_unlock(self.key))), self._timeout
            )
        except (SQLAlchemyError, OSError, TimeoutError):
            # The connection is gone, and the lock went with it.
            await _discard(connection)
        else:
            await connection.close()
        await self._engine.dispose()

    async def holder(self) -> str | None:
        """The ``application_name`` of the session holding the lock, or None if it is free."""
        locks, activity = _PG_LOCKS.c, _PG_STAT_ACTIVITY.c
        query = (
            select(activity.application_name)
            .select_from(_PG_LOCKS.join(_PG_STAT_ACTIVITY, locks.pid == activity.pid))
            .where(
                locks.locktype == "advisory",
                locks.granted.is_(True),
                locks.classid == self.key >> 32,
                locks.objid == self.key & 0xFFFFFFFF,
                locks.objsubid == 1,
            )
        )
        try:
            async with self._engine.connect() as connection:
                found = await asyncio.wait_for(connection.scalar(query), self._timeout)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise LockConnectionError(f"cannot reach the database: {exc}") from exc
        return None if found is None else str(found)


async def _discard(connection: AsyncConnection) -> None:
    """Drop a connection that may already be dead, without waiting on it."""
    try:
        await connection.invalidate()
    except (SQLAlchemyError, OSError):
        logger.debug("closing a dead lock connection failed", exc_info=True)


def advisory_lock(engine: AsyncEngine, name: str, *, purpose: str) -> AdvisoryLock:
    """The lock ``name`` on ``engine``'s database: PostgreSQL advisory lock or SQLite no-op."""
    if engine.dialect.name == "postgresql":
        return PostgresAdvisoryLock(engine, name, label=holder_label(purpose))
    return SingleProcessLock()
