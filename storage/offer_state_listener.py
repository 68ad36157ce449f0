"""Knowing, on PostgreSQL, when the offer state changes: ``LISTEN`` on one dedicated connection.

Every write of ``offer_state`` — an extension, an amendment, a close, a load, a fix by hand —
fires a trigger (migration 0015) that does ``pg_notify`` in the writing transaction, and
PostgreSQL delivers it only when that transaction commits. So while this process is listening,
a copy of the state it read *after* it started listening stays right until a notification
says otherwise; the question path (:mod:`storage.offer_reads`) keeps such a copy and spares
itself a round trip per question.

What makes the copy untrustworthy, and what happens then:

- **Not listening yet** (the first questions after start, a reconnect under way): every read
  goes to the database, as without a cache.
- **The connection drops** (server restart, ``pg_terminate_backend``, a network cut): any
  notification sent meanwhile is lost, so the termination callback drops trust at once and a
  new connection is made (at once, then after 0.5, 1, 2 … 30 s while it fails). Only a read
  that starts after the new ``LISTEN`` may be kept again. A connection that dies silently (no
  FIN: a cut cable) is found by a ``SELECT 1`` every 5 s that must answer within 5 s.
- **No trigger in the database** (not migrated to 0015 yet): nobody would notify; the copy is
  never trusted, and the check is repeated with each reconnect (every 30 s).

Each change of trust and each notification bumps :attr:`version`. A reader notes the version
before it reads and keeps what it read only if the version is the same afterwards and the
listener is still trusted: a read that raced a notification (or a drop) is used once, not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first listening: SQLite processes never load the driver
    import asyncpg
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "CHANNEL",
    "CONNECTING",
    "LISTENING",
    "NAME",
    "NO_TRIGGER",
    "STOPPED",
    "OfferStateListener",
    "asyncpg_connector",
]

logger = logging.getLogger(__name__)

# Written by migration 0015's trigger (storage/migrations/versions/0015_offer_state_notify.py).
CHANNEL = "offerbot_offer_state"
_TRIGGER_EXISTS = (
    "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'offer_state_notify' "
    "AND tgrelid = to_regclass('offer_state'))"
)
NAME = "offerbot offer-state listener"  # its application_name in pg_stat_activity
FIRST_RETRY_S = 0.5  # reconnecting: at once, then after 0.5, 1, 2 … 30 s
LAST_RETRY_S = 30.0
HEARTBEAT_S = 5.0
# What the listener is doing (OfferStateListener.state); the copy is kept only while LISTENING.
STOPPED, CONNECTING, LISTENING, NO_TRIGGER = "stopped", "connecting", "listening", "no trigger"

Connector = Callable[[], Awaitable["asyncpg.Connection"]]


def asyncpg_connector(engine: AsyncEngine) -> Connector:
    """A plain asyncpg connection to ``engine``'s database, with the engine's own connect
    arguments (host, user, password, ssl …) minus SQLAlchemy's (statement cache size …)."""
    _args, kwargs = engine.dialect.create_connect_args(engine.url)

    async def connect() -> asyncpg.Connection:
        import asyncpg

        accepted = inspect.signature(asyncpg.connect).parameters
        options = {k: v for k, v in kwargs.items() if k in accepted}
        settings = {**(options.pop("server_settings", None) or {}), "application_name": NAME}
        return await asyncpg.connect(**options, server_settings=settings)

    return connect


class OfferStateListener:
    """One per engine, started on the first question; see the module docstring."""

    def __init__(self, connect: Connector) -> None:
        self.connect = connect  # swappable before start: a test holds a reconnect back with it
        self._version = 0
        self._state = STOPPED
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: asyncpg.Connection | None = None
        self._bumped = asyncio.Event()  # set, and replaced, on every bump of the version

    @property
    def version(self) -> int:
        """Bumped by every notification and every change of :attr:`state`."""
        return self._version

    @property
    def state(self) -> str:
        """:data:`STOPPED`, :data:`CONNECTING`, :data:`LISTENING` or :data:`NO_TRIGGER`."""
        return self._state

    @property
    def trusted(self) -> bool:
        """Listening now, on this event loop, with the trigger in place."""
        return self._state == LISTENING and self._loop is _running_loop()

    def start(self) -> None:
        """Listen from now on (in the background; returns at once). Idempotent. A new event
        loop (``asyncio.run`` again with the same engine) abandons the old loop's connection."""
        loop = asyncio.get_running_loop()
        if self._task is not None and self._loop is loop:
            return
        self._abandon()
        self._loop = loop
        self._set_state(CONNECTING)
        self._task = loop.create_task(self._listen_forever(), name="offer-state-listener")
        self._task.add_done_callback(_log_failure)

    async def wait_for_change(self, since: int) -> int:
        """Wait until :attr:`version` differs from ``since``; the new version."""
        while self._version == since:
            await self._bumped.wait()
        return self._version

    async def aclose(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is not None and self._loop is _running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._set_state(STOPPED)
        else:
            self._abandon()

    def close_now(self) -> None:
        """Without awaiting (an engine being disposed): cancel, and cut the connection."""
        self._abandon()

    def _abandon(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done() and not task.get_loop().is_closed():
            task.cancel()
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):  # its loop may be gone: only the socket is left
                connection.terminate()
        self._set_state(STOPPED)

    async def _listen_forever(self) -> None:
        import asyncpg

        delay = FIRST_RETRY_S
        while True:
            try:
                connection = await self.connect()
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                logger.warning(
                    "offer state: cannot listen for changes (%s); questions read the "
                    "database, retrying in %.1f s",
                    type(error).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RETRY_S)
                continue
            try:
                delay = await self._listen_on(connection, delay)
            finally:
                self._connection = None
                if not connection.is_closed():
                    connection.terminate()
                if self._state != CONNECTING:
                    self._set_state(CONNECTING)

    async def _listen_on(self, connection: asyncpg.Connection, delay: float) -> float:
        """Listen until the connection drops; the delay before the next attempt."""
        import asyncpg

        dropped = asyncio.Event()
        connection.add_termination_listener(lambda _connection: dropped.set())
        self._connection = connection
        try:
            await connection.add_listener(CHANNEL, self._notified)
            has_trigger = await connection.fetchval(_TRIGGER_EXISTS)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            logger.warning("offer state: listening failed (%s)", type(error).__name__)
            await asyncio.sleep(delay)
            return min(delay * 2, LAST_RETRY_S)
        if not has_trigger:
            self._set_state(NO_TRIGGER)
            logger.warning(
                "offer state: no offer_state trigger (migrate to 0015); questions read the "
                "database, checking again in %.0f s",
                LAST_RETRY_S,
            )
            await asyncio.sleep(LAST_RETRY_S)
            return FIRST_RETRY_S
        self._set_state(LISTENING)
        await self._until_dropped(connection, dropped)
        logger.warning("offer state: the listening connection dropped; reconnecting")
        self._set_state(CONNECTING)  # before the reconnect: nothing is kept meanwhile
        return FIRST_RETRY_S

    @staticmethod
    async def _until_dropped(connection: asyncpg.Connection, dropped: asyncio.Event) -> None:
        """Return when the connection is gone. A closed socket is noticed at once; a silent
        one (a cable pulled, a firewall forgetting the flow) by a ``SELECT 1`` every
        :data:`HEARTBEAT_S` s that must answer within as long — so a copy is never kept on a
        dead connection for more than about twice that."""
        import asyncpg

        while not dropped.is_set():
            try:
                await asyncio.wait_for(dropped.wait(), HEARTBEAT_S)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), HEARTBEAT_S)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                connection.terminate()  # no answer in time: as good as gone
                return

    def _notified(self, _connection: Any, _pid: int, _channel: str, _payload: str) -> None:
        self._bump()

    def _set_state(self, state: str) -> None:
        self._state = state
        self._bump()

    def _bump(self) -> None:
        self._version += 1
        bumped, self._bumped = self._bumped, asyncio.Event()
        bumped.set()


def _log_failure(task: asyncio.Task[None]) -> None:
    """A bug in the listener leaves it untrusted (every question reads): said once, loudly."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("offer state: the listener stopped", exc_info=task.exception())


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
