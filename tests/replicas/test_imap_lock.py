"""The IMAP watcher under the mailbox lock, in one process on real PostgreSQL and Dovecot:
two watchers, one reads; the reader's lock connection is cut; reading resumes under a new
holder without any message answered twice."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.clock import ManualClock
from bot.domain.hr_records import DeliveryState
from handlers.email.assembly import build_inbox_watcher
from handlers.email.imap import ImapWatcher
from storage.locks import PostgresAdvisoryLock
from tests.email.conftest import NOW, mail_settings, make_app
from tests.email.servers import deliver, mail
from tests.replicas.conftest import SlowSmtp
from tests.replicas.processes import until

pytestmark = pytest.mark.postgres


def _lock(watcher: ImapWatcher) -> PostgresAdvisoryLock:
    lock = watcher._lock
    assert isinstance(lock, PostgresAdvisoryLock)
    return lock


async def test_a_lost_lock_stops_reading_until_it_is_taken_again(
    pg_url: str,
    slow_smtp: tuple[SlowSmtp, int],
    imap_port: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.email.imap")
    settings = mail_settings(
        tmp_path,
        smtp_port=slow_smtp[1],
        imap_port=imap_port,
        database_url=pg_url,
        imap_lock_retry_seconds=0.2,
    )
    app = await make_app(settings, ManualClock(NOW))
    watchers = [build_inbox_watcher(app), build_inbox_watcher(app)]
    assert watchers[0] is not None and watchers[1] is not None
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in watchers if w is not None]

    async def holders() -> list[ImapWatcher] | None:
        held = [w for w in watchers if w is not None and _lock(w).held]
        assert len(held) <= 1, "never two readers"
        return held or None

    async def outcomes(n: int) -> list[str] | None:
        async with app.uow() as uow:
            found = [r.outcome for r in await uow.inbox.outcomes()]
        return found if len(found) >= n else None

    try:
        held = await until(holders, timeout=20, what="a reader")
        assert held is not None
        (reader,) = held
        await deliver(imap_port, mail(sender="e1@example.com", subject="q1", body="Deadline?"))
        assert await until(lambda: outcomes(1), timeout=20, what="q1") == ["answered"]

        async with app.engine.connect() as connection:  # cut the reader's lock connection
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name"
                ),
                {"name": _lock(reader).label},
            )

        async def lost() -> bool:
            return any("mailbox lock lost" in r.getMessage() for r in caplog.records)

        await until(lost, timeout=20, what="the reader to notice")
        await deliver(
            imap_port,
            mail(sender="e2@example.com", subject="q2", body="Deadline?", message_id="<q2@x>"),
        )
        await until(holders, timeout=20, what="a new reader")
        assert await until(lambda: outcomes(2), timeout=20, what="q2") == ["answered"] * 2
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 20)
        assert not any(w is not None and _lock(w).held for w in watchers), "released on stop"
        async with app.uow() as uow:
            queued = await uow.deliveries.in_state(DeliveryState.PENDING)
            assert await outcomes(0) == ["answered"] * 2
        assert sorted(m.recipient for m in queued) == ["e1@example.com", "e2@example.com"]
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
        await app.aclose()
