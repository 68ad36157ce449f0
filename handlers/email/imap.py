"""The IMAP watcher (aioimaplib): read new mail once, or keep reading with IDLE or polling.

* Position: the last processed UID under the mailbox's UIDVALIDITY is kept in the database by
  the handler; a changed UIDVALIDITY rereads the whole folder (the content-hash dedupe skips
  what was already answered).
* IDLE is re-issued every ``idle_renew`` seconds (RFC 2177: before 29 minutes).
* Watchdog: every step updates a progress stamp; when none is made for ``watchdog`` seconds the
  session is cancelled and the client rebuilt (aioimaplib can hang on BYE during IDLE or a TLS
  mismatch). Reconnects back off from 1 s to 60 s.
* Size: with ``max_message_bytes``, the sizes of new messages are asked first (RFC822.SIZE) and
  a message over it is never downloaded: ``reject`` records it and it is marked processed.
* Processed messages are flagged (``\\Seen`` + ``$Offerbot``) or moved, after the database
  committed them; a crash in between only means the message is read again and skipped.
* Replicas: with a :class:`MailboxLock` (``storage.locks``) only the replica holding it reads
  the mailbox; the others try again every ``lock_retry`` seconds and take over when the holder
  stops or dies (its database connection, and with it the lock, goes away).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aioimaplib

__all__ = [
    "ImapConfig",
    "ImapError",
    "ImapWatcher",
    "MailboxLock",
    "MessageHandler",
    "OversizeHandler",
    "PositionReader",
]

logger = logging.getLogger(__name__)

# (raw bytes, uid, uidvalidity, INTERNALDATE) → outcome
MessageHandler = Callable[[bytes, int, int, datetime | None], Awaitable[str]]
# (uid, uidvalidity, size in bytes, INTERNALDATE) → outcome, for a message never downloaded
OversizeHandler = Callable[[int, int, int, datetime | None], Awaitable[str]]
# mailbox → (uidvalidity, last uid) or None
PositionReader = Callable[[], Awaitable[tuple[int, int] | None]]

KEYWORD = "$Offerbot"
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_HEAD = re.compile(rb"FETCH \(.*?UID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


class ImapError(Exception):
    """The server refused a command or the connection misbehaved."""


class MailboxLock(Protocol):
    """One reader of the mailbox across replicas (``storage.locks``). ``acquire`` never waits;
    it raises :class:`OSError` (``ConnectionError``) when the database is unreachable."""

    async def acquire(self) -> bool: ...

    async def alive(self) -> bool: ...

    async def release(self) -> None: ...

    async def holder(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ImapConfig:
    host: str
    port: int
    user: str
    password: str
    tls: bool = True
    ca_file: str | None = None  # PEM bundle to verify the server; None: the system store
    mailbox: str = "INBOX"
    processed: str = "flag"  # "flag" or "move:FOLDER"
    idle: bool = True
    poll_seconds: float = 60.0
    idle_renew: float = 25 * 60.0
    watchdog: float = 30 * 60.0  # no progress for this long: rebuild the client
    command_timeout: float = 30.0
    max_failures_per_message: int = 3
    max_message_bytes: int | None = None  # larger messages are not downloaded (see ``reject``)


class ImapWatcher:
    def __init__(
        self,
        config: ImapConfig,
        *,
        handle: MessageHandler,
        position: PositionReader,
        lock: MailboxLock | None = None,
        lock_retry: float = 30.0,
        reject: OversizeHandler | None = None,
    ) -> None:
        self.config = config
        self._handle = handle
        self._reject = reject
        self._position = position
        self._lock = lock
        self._lock_retry = lock_retry
        self._progress = time.monotonic()
        self._failures: dict[tuple[int, int], int] = {}
        self._client: aioimaplib.IMAP4 | None = None
        # Set when the current connection drops: aioimaplib fails no pending command then, so
        # IDLE (and any command) would wait for its timeout — 25 minutes for IDLE — unless the
        # server said BYE first, which a killed or crashed server does not.
        self._lost = asyncio.Event()
        self.sessions = 0  # connections made (tests watch reconnects)

    @property
    def idling(self) -> bool:
        """Whether the current session is waiting in IDLE (the server acknowledged it)."""
        client = self._client
        return client is not None and not self._lost.is_set() and client.has_pending_idle()

    # --- public -----------------------------------------------------------------------------

    async def read_once(self) -> int:
        """Connect, process every new message, log out; returns how many were handled.

        Reads nothing (returns 0) while another replica holds the mailbox lock: it is reading.
        """
        if self._lock is not None and not await self._lock.acquire():
            logger.info("IMAP %s is being read by another replica; skipped", self.config.mailbox)
            return 0
        try:
            client = await self._connect()
            try:
                return await self._read_new(client)
            finally:
                await self._logout(client)
        finally:
            if self._lock is not None:
                await self._lock.release()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep reading until ``stop`` is set: reconnect with backoff, watchdog on progress.

        With a lock, read only while holding it: wait for it (retrying every ``lock_retry``
        seconds), and stop reading if it is lost until it is taken again.
        """
        if self._lock is None:
            await self._watch(stop)
            return
        lock, mailbox, waiting = self._lock, self.config.mailbox, False
        while not stop.is_set():
            try:
                acquired = await lock.acquire()
            except OSError as exc:
                logger.warning("IMAP %s lock: %s; retrying in %g s", mailbox, exc, self._lock_retry)
                acquired = False
            if not acquired:
                if not waiting:
                    waiting = True
                    logger.info(
                        "IMAP %s is read by another replica (%s); retrying every %g s",
                        mailbox,
                        await self._holder(),
                        self._lock_retry,
                    )
                await _pause(stop, self._lock_retry)
                continue
            waiting = False
            logger.info("IMAP %s: took the mailbox lock; this replica reads it", mailbox)
            try:
                await self._watch_holding(lock, stop)
            finally:
                await lock.release()

    async def _holder(self) -> str:
        assert self._lock is not None
        try:
            return await self._lock.holder() or "holder unknown"
        except OSError:
            return "holder unknown"

    async def _watch_holding(self, lock: MailboxLock, stop: asyncio.Event) -> None:
        """Read while the lock stays held; checked every ``lock_retry`` seconds."""
        session_stop = asyncio.Event()

        async def keep() -> None:
            while not stop.is_set():
                await _pause(stop, self._lock_retry)
                if not stop.is_set() and not await lock.alive():
                    logger.warning(
                        "IMAP %s: mailbox lock lost; not reading until it is taken again",
                        self.config.mailbox,
                    )
                    break
            session_stop.set()

        keeper = asyncio.create_task(keep())
        try:
            await self._watch(session_stop)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _watch(self, stop: asyncio.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._guarded(self._session(stop), stop)
                delay = 1.0
            except (TimeoutError, OSError, ImapError, aioimaplib.Abort, aioimaplib.Error) as exc:
                logger.warning(
                    "IMAP session ended (%s: %s); reconnecting in %.0f s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                if time.monotonic() - started > 60:
                    delay = 1.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 60.0)

    # --- session ----------------------------------------------------------------------------

    async def _guarded(self, session: Awaitable[None], stop: asyncio.Event) -> None:
        """Run ``session``; cancel it when no progress is made for ``watchdog`` seconds."""
        task = asyncio.ensure_future(session)
        self._progress = time.monotonic()
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=min(1.0, self.config.watchdog))
                if stop.is_set() and not task.done():
                    await self._abandon(task)
                    return
                if not task.done() and time.monotonic() - self._progress > self.config.watchdog:
                    await self._abandon(task)
                    raise ImapError(f"no progress for {self.config.watchdog:g} s (watchdog)")
            task.result()
        finally:
            if not task.done():
                await self._abandon(task)

    async def _abandon(self, task: asyncio.Future[None]) -> None:
        """Cancel a session; close its socket first, since a hung aioimaplib client can hold
        its state lock forever and never finish cancelling. Wait briefly, then let it go."""
        if self._client is not None:
            await self._drop(self._client)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        if done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        else:
            logger.warning("an IMAP session did not finish cancelling; abandoned")

    async def _session(self, stop: asyncio.Event) -> None:
        client = await self._connect()
        try:
            await self._read_new(client)
            while not stop.is_set():
                if self.config.idle:
                    await self._idle(client, stop)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.config.poll_seconds)
                    await self._command(client.noop())
                if not stop.is_set():
                    await self._read_new(client)
        finally:
            await self._logout(client)

    async def _idle(self, client: aioimaplib.IMAP4, stop: asyncio.Event) -> None:
        """One IDLE round: until the server pushes something, ``idle_renew`` passes or stop."""
        idle = await asyncio.wait_for(
            client.idle_start(timeout=self.config.idle_renew), self.config.command_timeout
        )
        self._touch()
        push = asyncio.ensure_future(client.wait_server_push(timeout=self.config.idle_renew + 5))
        stopping = asyncio.ensure_future(stop.wait())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({push, stopping, idle, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            lost.cancel()
        if self._lost.is_set() and not push.done():
            push.cancel()
            raise ImapError("connection lost during IDLE")
        if push.done() and not push.cancelled():
            lines = push.result()
            if isinstance(lines, list) and any(b"BYE" in bytes(x) for x in lines):
                raise ImapError("server said BYE during IDLE")
        else:
            push.cancel()
        if idle.done():
            idle.result()  # the server ended IDLE by itself (or the connection dropped)
            raise ImapError("IDLE ended by the server")
        client.idle_done()
        await asyncio.wait_for(idle, self.config.command_timeout)
        self._touch()

    async def _connect(self) -> aioimaplib.IMAP4:
        c = self.config
        lost = self._lost = asyncio.Event()
        # IMAP4 with an ssl_context is implicit TLS (IMAP4_SSL takes no conn_lost_cb).
        client = aioimaplib.IMAP4(
            host=c.host,
            port=c.port,
            timeout=c.command_timeout,
            conn_lost_cb=lambda _exc: lost.set(),
            ssl_context=ssl.create_default_context(cafile=c.ca_file) if c.tls else None,
        )
        self._client = client
        try:
            await client.wait_hello_from_server()
            await self._ok(client.login(c.user, c.password), "LOGIN")
        except BaseException:
            await self._drop(client)
            raise
        self.sessions += 1
        self._touch()
        return client

    async def _read_new(self, client: aioimaplib.IMAP4) -> int:
        c = self.config
        selected = await self._ok(client.select(c.mailbox), f"SELECT {c.mailbox}")
        uidvalidity = _uidvalidity(selected.lines)
        known = await self._position()
        last = known[1] if known and known[0] == uidvalidity else 0
        if known and known[0] != uidvalidity:
            logger.warning(
                "UIDVALIDITY of %s changed (%s → %s): resync", c.mailbox, known[0], uidvalidity
            )
        found = await self._ok(client.uid_search(f"UID {last + 1}:*"), "UID SEARCH")
        uids = sorted(
            int(tok) for line in found.lines[:-1] for tok in bytes(line).split() if tok.isdigit()
        )
        handled = 0
        new = [u for u in uids if u > last]
        sizes = await self._sizes(client, new)
        for uid in new:
            size, arrived = sizes.get(uid, (0, None))
            if self._reject is not None and c.max_message_bytes and size > c.max_message_bytes:
                outcome = await self._reject(uid, uidvalidity, size, arrived)
                handled += 1
                if outcome != "duplicate":
                    await self._mark(client, uid)
                continue
            raw, internal = await self._fetch(client, uid)
            self._touch()
            if raw is None:
                continue
            key = (uidvalidity, uid)
            try:
                outcome = await self._handle(raw, uid, uidvalidity, internal)
            except Exception:
                self._failures[key] = self._failures.get(key, 0) + 1
                if self._failures[key] < c.max_failures_per_message:
                    raise
                logger.exception("inbox uid %s failed %d times; skipped", uid, self._failures[key])
                continue
            handled += 1
            if outcome != "duplicate":
                await self._mark(client, uid)
            self._touch()
        return handled

    async def _sizes(
        self, client: aioimaplib.IMAP4, uids: list[int]
    ) -> dict[int, tuple[int, datetime | None]]:
        """uid → (RFC822.SIZE, INTERNALDATE) of the new messages in one command, when a size
        limit is set."""
        if not uids or self._reject is None or not self.config.max_message_bytes:
            return {}
        response = await self._ok(
            client.uid("fetch", f"{uids[0]}:{uids[-1]}", "(UID RFC822.SIZE INTERNALDATE)"),
            "UID FETCH RFC822.SIZE",
        )
        sizes: dict[int, tuple[int, datetime | None]] = {}
        for line in response.lines:
            data = bytes(line)
            uid, size, date = _UID.search(data), _SIZE.search(data), _INTERNALDATE.search(data)
            if uid and size:
                arrived = _internaldate(date.group(1).decode()) if date else None
                sizes[int(uid.group(1))] = (int(size.group(1)), arrived)
        return sizes

    async def _fetch(
        self, client: aioimaplib.IMAP4, uid: int
    ) -> tuple[bytes | None, datetime | None]:
        response = await self._ok(
            client.uid("fetch", str(uid), "(UID INTERNALDATE BODY.PEEK[])"), "UID FETCH"
        )
        raw: bytes | None = None
        internal: datetime | None = None
        lines = response.lines
        for i, line in enumerate(lines):
            if isinstance(line, bytes | bytearray) and _FETCH_HEAD.search(bytes(line)):
                match = _INTERNALDATE.search(bytes(line))
                internal = _internaldate(match.group(1).decode()) if match else None
                if i + 1 < len(lines) and isinstance(lines[i + 1], bytearray):
                    raw = bytes(lines[i + 1])
                break
        return raw, internal

    async def _mark(self, client: aioimaplib.IMAP4, uid: int) -> None:
        mode = self.config.processed
        if mode.startswith("move:"):
            folder = mode[5:]
            response = await self._move(client, uid, folder)
            if response.result == "OK":
                return
            logger.warning(
                "cannot move uid %s to %s: %s; flagging instead", uid, folder, response.lines
            )
        await self._command(client.uid("store", str(uid), "+FLAGS", f"(\\Seen {KEYWORD})"))

    async def _move(self, client: aioimaplib.IMAP4, uid: int, folder: str) -> aioimaplib.Response:
        """UID MOVE (RFC 6851) or COPY + \\Deleted + (UID) EXPUNGE; a missing folder is
        created once when the server answers [TRYCREATE]."""
        for attempt in range(2):
            if client.has_capability("MOVE"):
                response = await self._command(client.uid("move", str(uid), folder))
            else:
                response = await self._command(client.uid("copy", str(uid), folder))
                if response.result == "OK":
                    await self._command(client.uid("store", str(uid), "+FLAGS", "(\\Deleted)"))
                    if client.has_capability("UIDPLUS"):
                        await self._command(client.uid("expunge", str(uid)))
                    else:
                        await self._command(client.expunge())
            if response.result == "OK" or attempt:
                return response
            if not any(b"TRYCREATE" in bytes(line) for line in response.lines):
                return response
            created = await self._command(client.create(folder))
            logger.info("created IMAP folder %s for processed mail: %s", folder, created.result)
        return response  # pragma: no cover - the loop always returns

    # --- plumbing ---------------------------------------------------------------------------

    def _touch(self) -> None:
        self._progress = time.monotonic()

    async def _command(self, awaitable: Awaitable[aioimaplib.Response]) -> aioimaplib.Response:
        if self._lost.is_set():  # the command could only wait for its timeout
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise ImapError("connection lost")
        response = await asyncio.wait_for(awaitable, self.config.command_timeout)
        self._touch()
        return response

    async def _ok(
        self, awaitable: Awaitable[aioimaplib.Response], what: str
    ) -> aioimaplib.Response:
        response = await self._command(awaitable)
        if response.result != "OK":
            raise ImapError(f"{what} refused: {response.result} {response.lines[-1:]!r}")
        return response

    async def _logout(self, client: aioimaplib.IMAP4) -> None:
        if not (client is self._client and self._lost.is_set()):  # nobody left to say BYE to
            with contextlib.suppress(Exception):
                if client.has_pending_idle():
                    client.idle_done()
                await asyncio.wait_for(client.logout(), 5)
        await self._drop(client)

    @staticmethod
    async def _drop(client: aioimaplib.IMAP4) -> None:
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()
        for task in list(getattr(client, "tasks", ())):
            task.cancel()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _uidvalidity(lines: list[bytes]) -> int:
    for line in lines:
        match = _UIDVALIDITY.search(bytes(line))
        if match:
            return int(match.group(1))
    raise ImapError("the server sent no UIDVALIDITY")


def _internaldate(value: str) -> datetime | None:
    try:
        return datetime.strptime(value.strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None
