"""A unit of work that loads SQLAlchemy only when a transaction is opened.

Why: a fresh ``offerbot ask`` process answers most questions without opening a single
transaction — it reads the offer state once (:meth:`~bot.ports.UnitOfWork.read_offer_state`)
and composes the answer from the offer's text. Importing SQLAlchemy, its asyncio extension
and the table models costs that process about 0.3 s of CPU, more than the answer itself, and
the target for ``offerbot ask`` is 0.8 s with Python's own start included (issue 15).

:class:`DeferredUnitOfWork` is the same :class:`bot.ports.UnitOfWork` the services are typed
against — one repository interface, nothing new for them to know. It builds the real
:class:`storage.uow.UnitOfWork` (and with it the engine) the first time anything needs it: a
block (``async with uow:``), a repository, ``commit``. Only the one-statement offer read has a
second implementation, and only for a SQLite file: :func:`read_offer_state_file` runs the
``SELECT`` with the standard library's ``sqlite3`` driver, as :mod:`storage.offer_reads` does
through SQLAlchemy's (a connection of its own, autocommit, ``busy_timeout`` 0, ``mode=rw`` so
it never creates a file) — and only while the process has not loaded SQLAlchemy anyway: a
server, a command that wrote or a test run use the unit of work's own read, as before.
Anything it cannot read now — a busy file, a missing table, a row it cannot parse — goes to
the real unit of work, which waits its turn or reports the error the usual way (``offerbot
init`` not run yet). ``tests/storage/test_deferred_uow.py`` checks that both reads return the
same state; ``tests/cli/test_console_script.py`` that a real ``offerbot ask`` answers through
it without loading SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from bot import storage_ports as ports
from bot.domain.records import OfferState
from bot.storage_ports import UnitOfWork
from storage.sqlite_file import connect_sqlite_file

__all__ = [
    "DeferredUnitOfWork",
    "FileReadUnavailableError",
    "read_offer_state_file",
    "sqlite_file_of",
]

_SQLITE_PREFIXES = ("sqlite+aiosqlite:///", "sqlite:///")
_SELECT = (
    "SELECT offer_id, expiration, original_expiration, terms_digest, updated_at "
    "FROM offer_state WHERE offer_id = ?"
)


class FileReadUnavailableError(Exception):
    """The quick read cannot answer now; the real unit of work will."""


def sqlite_file_of(database_url: str) -> Path | None:
    """The file of a plain ``sqlite+aiosqlite:///PATH`` URL, else None (PostgreSQL, an
    in-memory database, URI filenames and query options go through SQLAlchemy as before)."""
    for prefix in _SQLITE_PREFIXES:
        if database_url.startswith(prefix):
            database = unquote(database_url[len(prefix) :])
            if not database or "?" in database_url or database.startswith((":memory:", "file:")):
                return None
            return Path(database).expanduser()
    return None


def _instant(value: object) -> datetime:
    """A stored instant as :class:`storage.model_base.UTCDateTime` loads it: SQLite keeps UTC
    wall time as text (``2003-07-25 00:00:00.000000``); the result is aware UTC."""
    if not isinstance(value, str):
        raise FileReadUnavailableError(f"unexpected stored instant {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise FileReadUnavailableError(str(error)) from error
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def read_offer_state_file(path: Path, offer_id: str) -> OfferState | None:
    """The committed offer state in a SQLite file, with the stdlib driver (see the module
    docstring); raises :class:`FileReadUnavailableError` when SQLAlchemy should answer.

    The connection is closed at once: one kept open would outlive the process's engine and stop
    SQLite from folding its write-ahead log back into the file when that engine closes (a copy
    of the file made then would miss the last writes)."""
    try:
        connection = connect_sqlite_file(path)
    except sqlite3.Error as error:  # no such file (mode=rw never makes one), no access
        raise FileReadUnavailableError(str(error)) from error
    try:
        rows = connection.execute(_SELECT, (offer_id,)).fetchall()
    except sqlite3.Error as error:  # busy, no such table, not a database
        raise FileReadUnavailableError(str(error)) from error
    finally:
        connection.close()
    if not rows:
        return None
    offer, expiration, original, digest, updated = rows[0]
    return OfferState(
        offer_id=offer,
        expiration=_instant(expiration),
        original_expiration=_instant(original),
        terms_digest=digest,
        updated_at=_instant(updated),
    )


class DeferredUnitOfWork:
    """:class:`bot.ports.UnitOfWork`, made by ``make`` on first use (the module docstring).

    Every member other than :meth:`read_offer_state` is the real unit of work's: the block, the
    repositories (written out below), ``commit`` and ``rollback``. Shared by concurrent
    tasks as the real one is: it keeps no state of its own but the real object.
    """

    __slots__ = ("_file", "_make", "_real")

    def __init__(self, make: Callable[[], UnitOfWork], *, sqlite_file: Path | None) -> None:
        self._make = make
        self._file = sqlite_file
        self._real: UnitOfWork | None = None

    def _unit(self) -> UnitOfWork:
        if self._real is None:
            self._real = self._make()
        return self._real

    async def __aenter__(self) -> DeferredUnitOfWork:
        await self._unit().__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._unit().__aexit__(exc_type, exc, traceback)

    def reads_beside_writes(self) -> bool:
        return self._unit().reads_beside_writes()

    async def commit(self) -> None:
        await self._unit().commit()

    async def rollback(self) -> None:
        await self._unit().rollback()

    async def read_offer_state(
        self, offer_id: str, *, for_question: bool = False
    ) -> OfferState | None:
        """The stdlib read of a SQLite file while this process has not loaded SQLAlchemy (and
        so nothing opened the real unit of work: no block is open); otherwise, or when it
        cannot answer, the real one's — whose quick read keeps a pooled connection, the right
        thing for a server that reads the state for every message."""
        if self._real is None and self._file is not None and "sqlalchemy" not in sys.modules:
            try:
                return read_offer_state_file(self._file, offer_id)
            except FileReadUnavailableError:
                pass
        return await self._unit().read_offer_state(offer_id, for_question=for_question)

    # --- the repositories: the real unit of work's, written out (not ``__getattr__``) so that
    # mypy checks this class against the services' Protocol member by member ----------------

    @property
    def offers(self) -> ports.OfferStates:
        return self._unit().offers

    @property
    def employees(self) -> ports.Employees:
        return self._unit().employees

    @property
    def grants(self) -> ports.Grants:
        return self._unit().grants

    @property
    def adjustments(self) -> ports.Adjustments:
        return self._unit().adjustments

    @property
    def audit(self) -> ports.AuditLog:
        return self._unit().audit

    @property
    def questions(self) -> ports.UnansweredQuestions:
        return self._unit().questions

    @property
    def elections(self) -> ports.Elections:
        return self._unit().elections

    @property
    def hr_tasks(self) -> ports.HrTasks:
        return self._unit().hr_tasks

    @property
    def outbox(self) -> ports.Outbox:
        return self._unit().outbox

    @property
    def accepted(self) -> ports.AcceptedTenders:
        return self._unit().accepted

    @property
    def deliveries(self) -> ports.Deliveries:
        return self._unit().deliveries

    @property
    def inbox(self) -> ports.Inbox:
        return self._unit().inbox

    @property
    def jobs(self) -> ports.Jobs:
        return self._unit().jobs

    @property
    def amendments(self) -> ports.Amendments:
        return self._unit().amendments

    @property
    def communications(self) -> ports.Communications:
        return self._unit().communications

    @property
    def audience(self) -> ports.Audience:
        return self._unit().audience

    @property
    def metrics(self) -> ports.Metrics:
        return self._unit().metrics

    @property
    def close_runs(self) -> ports.CloseRuns:
        return self._unit().close_runs

    @property
    def slack_events(self) -> ports.SlackEvents:
        return self._unit().slack_events

    @property
    def slack_users(self) -> ports.SlackUsers:
        return self._unit().slack_users

    @property
    def session(self) -> Any:
        """The real unit of work's SQLAlchemy session (``storage.hr_console_repo``)."""
        return self._unit().session  # type: ignore[attr-defined]
