"""The live offer state in one statement, outside any unit of work: the read every question makes.

Every message on every channel asks for the live terms (:func:`bot.services.offer.live_offer.
current_terms`) before it answers, so this read sits on the path whose target is "within 1 ms of
the answer itself". Through a unit of work it cost 0.8–3.5 ms: a session, ``BEGIN IMMEDIATE``
(SQLite takes the write lock even to read, see :mod:`storage.db`) or a pre-ping and ``BEGIN``
(PostgreSQL), the ``SELECT``, a ``ROLLBACK``, each a hop through aiosqlite's thread or a round
trip. A single ``SELECT`` needs no transaction to be consistent, so:

- **SQLite file**: the row is read synchronously on a connection of its own (a sync engine over
  the same file, autocommit, ``busy_timeout`` 0): 20–110 µs, no thread hop. In WAL mode a reader
  never waits for a writer; in the rare moments it would (recovery after a crash, a checkpoint
  resetting the log) SQLite answers "busy" at once and the caller falls back to a unit of work —
  so the event loop is never held. The connection opens the file ``mode=rw``: it never creates a
  database (the async engine creates it 0600, see :mod:`storage.db`).
- **PostgreSQL**: a small pool of its own in autocommit without pre-ping: one round trip (the
  engine's pre-ping alone is three: ``BEGIN``, ``;``, ``ROLLBACK``). A connection found dead
  fails the read, is dropped by SQLAlchemy, and the caller's unit of work answers instead.

It always reads the latest *committed* state: an extension committed by another process is
seen by the next question (``tests/storage/test_offer_reads.py``).

**The questions' copy** (``get(..., cached=True)``, PostgreSQL only): at load a round trip
waits for a PostgreSQL backend to be scheduled (4–22 ms at load 10 here), so the question path
keeps the state in memory while :class:`~storage.offer_state_listener.OfferStateListener` is
listening for the notification every write of ``offer_state`` sends on commit (migration
0015). Until it listens, after its connection drops and until a read made after it listens
again, every question reads the database as above. Elections, closes and anything else that
decides read uncached (``cached=False``, the default) or inside their own transaction. On
SQLite nothing is cached: the read is 20–110 µs and there is no notification to listen for.
"""

from __future__ import annotations

import itertools
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool

from bot.domain.records import OfferState
from storage.models import OfferStateRow
from storage.offer_state_listener import OfferStateListener, asyncpg_connector
from storage.sqlite_file import connect_sqlite_file

__all__ = [
    "OfferStateReads",
    "QuickReadUnavailableError",
    "close_offer_state_reads",
    "offer_state_reads",
]

_TABLE = OfferStateRow.__table__
WRITTEN = "offer_state_written"  # session.info key: this transaction wrote offer_state
# Commits in this process that changed offer_state, on any engine or thread. Copies are dropped
# at once on such a commit rather than when its notification comes back a moment later, so a
# process never answers from the state it has just changed itself.
_local_changes = itertools.count()
_last_local_change = [0]


def offer_state_committed() -> None:
    """Called after a commit that wrote ``offer_state`` (:meth:`storage.uow.UnitOfWork.commit`)."""
    _last_local_change[0] = next(_local_changes) + 1


class QuickReadUnavailableError(Exception):
    """The one-statement read could not run now (SQLite busy, a connection lost): use a unit of
    work instead, which waits its turn and reports a real failure properly."""


class OfferStateReads:
    """One per sessions factory (see :func:`offer_state_reads`); :meth:`get` reads the committed
    state."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sqlite: Engine | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                path = Path(database).expanduser().resolve()
                self._sqlite = create_sync_engine(
                    "sqlite://",
                    # never creates the file, never waits (see connect_sqlite_file)
                    creator=lambda: connect_sqlite_file(path, check_same_thread=False),
                    poolclass=QueuePool,
                    pool_size=1,
                    max_overflow=2,
                )
        self._pg: AsyncEngine | None = None
        self.listener: OfferStateListener | None = None
        self._kept: dict[str, OfferState | None] = {}  # the questions' copy (PostgreSQL)
        self._kept_version = (-1, -1)  # (listener's version, local change) it was read at
        self.database_reads = 0  # statements sent (for tests and the benchmark)
        if self._sqlite is None and url.get_backend_name() == "postgresql":
            # A pool of its own in autocommit and without pre-ping: the engine's pre-ping on a
            # connection in a transaction is BEGIN, ';', ROLLBACK, and then BEGIN, SELECT,
            # ROLLBACK — six round trips for one row. Here: one. A dead connection fails the
            # read, SQLAlchemy drops it, and the caller's unit of work (pre-pinged) answers.
            self._pg = create_async_engine(
                url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=4
            )
            self.listener = OfferStateListener(asyncpg_connector(engine))

    @property
    def synchronous(self) -> bool:
        """Whether :meth:`get` reads on the calling thread (a SQLite file)."""
        return self._sqlite is not None

    async def get(self, offer_id: str, *, cached: bool = False) -> OfferState | None:
        """The committed state of ``offer_id`` (None: no offer loaded); raises
        :class:`QuickReadUnavailableError` when it cannot be read this way right now.

        ``cached``: for answering a question — on PostgreSQL, the copy kept while the database
        notifies this process of every change (see the module docstring); otherwise a read."""
        listener = self.listener if cached else None
        if listener is None:
            return await self._read(offer_id)
        listener.start()
        version = (listener.version, _last_local_change[0])
        if listener.trusted and version == self._kept_version and offer_id in self._kept:
            return self._kept[offer_id]
        state = await self._read(offer_id)
        # Kept only when nothing happened during the read: no notification (it may have come
        # after the row was read), no loss or gain of the listener (a drop loses notices), no
        # change committed by this process.
        if listener.trusted and (listener.version, _last_local_change[0]) == version:
            if self._kept_version != version:
                self._kept, self._kept_version = {}, version
            self._kept[offer_id] = state
        return state

    async def _read(self, offer_id: str) -> OfferState | None:
        self.database_reads += 1
        statement = select(_TABLE).where(_TABLE.c.offer_id == offer_id)
        try:
            if self._sqlite is not None:
                with self._sqlite.connect() as connection:
                    rows = connection.execute(statement).all()  # all(): the statement ends here
            elif self._pg is not None:
                async with self._pg.connect() as connection:
                    rows = (await connection.execute(statement)).all()
            else:
                raise QuickReadUnavailableError("no one-statement read for this database")
        except DBAPIError as error:
            raise QuickReadUnavailableError(str(error.orig)) from error
        if not rows:
            return None
        row = rows[0]
        return OfferState(
            offer_id=row.offer_id,
            expiration=row.expiration,
            original_expiration=row.original_expiration,
            terms_digest=row.terms_digest,
            updated_at=row.updated_at,
        )

    def dispose(self) -> None:
        """Close this reader's connections. Called from the engine's ``dispose`` (for
        PostgreSQL inside SQLAlchemy's greenlet, where closing an asyncpg connection may wait)."""
        if self._sqlite is not None:
            self._sqlite.dispose()
        if self.listener is not None:
            self.listener.close_now()
        if self._pg is not None:
            self._pg.sync_engine.dispose()

    async def aclose(self) -> None:
        """Stop listening, waiting for that connection to close (``dispose`` cannot wait)."""
        if self.listener is not None:
            await self.listener.aclose()


# Keyed by the sessions' factory (one per application, see bot.runtime.bootstrap), not by the
# engine: the reader holds the engine, and a weak key its own value refers to would never go.
_READS: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], OfferStateReads] = (
    weakref.WeakKeyDictionary()
)


async def close_offer_state_reads(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Stop the listener of ``sessions``' reader, if one was made (before ``engine.dispose``)."""
    reads = _READS.get(sessions)
    if reads is not None:
        await reads.aclose()


def offer_state_reads(sessions: async_sessionmaker[AsyncSession]) -> OfferStateReads | None:
    """The reader of the engine ``sessions`` is bound to, made on first use; its own connection
    is closed with the engine (``engine.dispose()``). None when not bound to one engine."""
    reads = _READS.get(sessions)
    if reads is None:
        bind: Any = sessions.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            return None
        made = _READS[sessions] = OfferStateReads(bind)
        event.listen(bind.sync_engine, "engine_disposed", lambda _engine: made.dispose())
        return made
    return reads
