"""The continuous watcher: IDLE push, a server restart mid-IDLE, and the watchdog."""

from __future__ import annotations

import asyncio
import contextlib
import time

from bot.runtime.bootstrap import App
from handlers.email.imap import ImapConfig, ImapWatcher
from tests.email.servers import Dovecot, deliver, mail

E1 = "e1@example.com"


async def _wait_until_idling(watcher: ImapWatcher, timeout: float = 20.0) -> None:
    """Until the watcher's IDLE is acknowledged: the restart must hit IDLE, not a command."""
    deadline = time.monotonic() + timeout
    while not watcher.idling:
        assert time.monotonic() < deadline, "the watcher never went back to IDLE"
        await asyncio.sleep(0.01)


async def _wait_for_outcomes(app: App, n: int, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        async with app.uow() as uow:
            outcomes = [r.outcome for r in await uow.inbox.outcomes()]
        if len(outcomes) >= n or time.monotonic() > deadline:
            return outcomes
        await asyncio.sleep(0.05)


async def test_idle_sees_new_mail_and_survives_a_server_restart(
    mail_app: App, imap_port: int, dovecot_server: Dovecot
) -> None:
    watcher = mail_app.inbox_watcher()
    assert watcher is not None
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        await deliver(
            imap_port,
            mail(sender=E1, subject="q1", body="When does the offer expire?", message_id="<i1@x>"),
        )
        started = time.monotonic()
        assert await _wait_for_outcomes(mail_app, 1) == ["answered"]
        pushed_after = time.monotonic() - started
        # Deterministic: the server goes away while the watcher is in IDLE (not between two
        # commands), and the watcher must notice the dropped connection whether or not the
        # dying server managed to send BYE first (the old flake: it hung in IDLE without one).
        await _wait_until_idling(watcher)
        dovecot_server.stop()  # mid-IDLE
        dovecot_server.start()
        await deliver(
            imap_port,
            mail(sender=E1, subject="q2", body="What is the exchange ratio?", message_id="<i2@x>"),
        )
        assert await _wait_for_outcomes(mail_app, 2) == ["answered", "answered"]
        assert watcher.sessions >= 2
        print(f"\nIDLE push to answered: {pushed_after:.2f} s")
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    async with mail_app.uow() as uow:
        assert len(await uow.outbox.for_employee("E1")) == 2  # one reply each, none twice


async def test_the_watchdog_rebuilds_a_client_that_makes_no_progress() -> None:
    """A server that greets and then never answers: the watchdog ends the session."""
    connections = 0

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.write(b"* OK IMAP4rev1 ready\r\n")
        await writer.drain()
        with contextlib.suppress(Exception):
            await reader.read(-1)  # never answers LOGIN

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def handle(*_args: object) -> str:
        raise AssertionError("no message expected")

    async def position() -> None:
        return None

    watcher = ImapWatcher(
        ImapConfig(
            host="127.0.0.1",
            port=port,
            user="u",
            password="p",
            tls=False,
            watchdog=0.3,
            command_timeout=60.0,
        ),
        handle=handle,
        position=position,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        deadline = time.monotonic() + 30
        while connections < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert connections >= 2  # the hung session was cancelled and the client rebuilt
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        server.close()
        await server.wait_closed()
