"""Two real ``offerbot worker`` processes on one PostgreSQL database.

Outbox and jobs: 300 e-mails and 20 due jobs (each queueing one more e-mail) shared by two
workers over a real SMTP server; one worker is killed with SIGKILL mid-delivery. Nothing is
lost, duplicates stay within what the killed worker had handed to SMTP, the survivor finishes
as soon as the killed worker's leases run out, and every job runs once.

IMAP: both workers watch the same Dovecot mailbox; one holds the advisory lock and reads, the
other waits. Kill the reader: the other takes over and answers the next message.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.domain.jobs import Job, JobState
from storage.db import create_engine, session_factory
from storage.models import OutboxRow
from storage.uow import UnitOfWork
from tests.email.servers import IMAP_PASSWORD, IMAP_USER, deliver, mail
from tests.replicas.conftest import SlowSmtp
from tests.replicas.probe import PROBE_KIND
from tests.replicas.processes import logs, offerbot_env, run_offerbot, start_worker, until

pytestmark = pytest.mark.postgres

MESSAGES = 300
JOBS = 20
# A killed worker's claimed rows go out again after LEASE seconds; it must stay well above the
# time one claim batch takes to send, or rows are left for later even without a kill.
LEASE = 8.0
INTERVAL = 0.5  # seconds between outbox passes (the scheduler: twice this)
CONCURRENCY = 4  # messages in flight per worker
LATENCY = 0.01  # seconds the SMTP server takes per message: the kill lands mid-delivery
KILL_AFTER = 100  # messages accepted before one worker is killed
BOT = "offerbot@capstone.example"


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def _mail_env(pg_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    return offerbot_env(
        OFFERBOT_DATABASE_URL=pg_url,
        OFFERBOT_SMTP_HOST="127.0.0.1",
        OFFERBOT_SMTP_PORT=str(smtp_port),
        OFFERBOT_SMTP_TLS="false",
        OFFERBOT_SMTP_TIMEOUT="10",
        OFFERBOT_MAIL_FROM=f"Capstone offer assistant <{BOT}>",
        OFFERBOT_MAIL_HOSTNAME="offerbot.test",
        OFFERBOT_HR_MAILBOX="hr@capstone.example",
        OFFERBOT_WORKER_INTERVAL=str(INTERVAL),
        OFFERBOT_OUTBOX_LEASE_SECONDS=str(LEASE),
        OFFERBOT_OUTBOX_CONCURRENCY=str(CONCURRENCY),
        **extra,
    )


async def _queue_work(uow: UnitOfWork) -> int:
    """300 reminders to the roster and 20 due probe jobs; returns the e-mails to expect."""
    now = datetime.now(UTC)
    async with uow:
        people = [e for e in await uow.employees.list_all() if e.email][:MESSAGES]
        assert len(people) == MESSAGES
        added = await uow.outbox.enqueue_many(
            OutboxMessage(
                idempotency_key=f"reminder:replicas:{person.employee_id}",
                channel="email",
                recipient=person.email,
                kind=MessageKind.REMINDER,
                subject="The offer expires soon",
                body_text="A reminder: the exchange offer expires soon.",
                created_at=now,
                due_at=now,
                employee_id=person.employee_id,
            )
            for person in people
        )
        for n in range(JOBS):
            job = Job(f"probe:{n:02d}", PROBE_KIND, now, {"to": f"job{n}@capstone.example"})
            assert await uow.jobs.schedule(job, now=now)
        await uow.commit()
    assert added == MESSAGES
    return MESSAGES + JOBS


async def test_two_workers_deliver_everything_once_when_one_is_killed(
    pg_url: str, engine: AsyncEngine, slow_smtp: tuple[SlowSmtp, int], tmp_path: Path
) -> None:
    smtp, smtp_port = slow_smtp
    smtp.latency = LATENCY
    setup = tmp_path / "setup"
    setup.mkdir()
    env = offerbot_env(OFFERBOT_DATABASE_URL=pg_url)
    await run_offerbot(setup, env, "db", "upgrade", "--json")
    await run_offerbot(setup, env, "init", "--demo", "--json")  # the 600-person demo roster
    uow = UnitOfWork(session_factory(engine))
    expected = await _queue_work(uow)
    probe_runs = tmp_path / "probe-runs.txt"
    probe_runs.touch()

    env = _mail_env(pg_url, smtp_port, REPLICA_PROBE_FILE=str(probe_runs))
    workers = [start_worker(name, tmp_path, env) for name in ("worker-a", "worker-b")]
    victim, survivor = workers
    try:

        async def jobs_done() -> bool:
            async with uow:
                done = await uow.jobs.list(state=JobState.DONE)
            return len(done) == JOBS

        async def senders_holding_rows() -> int:
            async with engine.connect() as connection:
                owners = await connection.scalar(
                    select(func.count(func.distinct(OutboxRow.lease_owner))).where(
                        OutboxRow.state == DeliveryState.PENDING.value,
                        OutboxRow.lease_owner.is_not(None),
                    )
                )
            return int(owners or 0)

        async def ready_to_kill() -> bool:
            # mid-delivery, after the jobs (whose 10-minute lease is not under test here), while
            # both workers hold claimed rows — so the victim surely dies with rows in flight
            return (
                len(smtp.accepted) >= KILL_AFTER
                and await jobs_done()
                and await senders_holding_rows() >= 2
            )

        await until(ready_to_kill, timeout=120, what="deliveries to start", workers=workers)
        assert victim.process.poll() is None and survivor.process.poll() is None, logs(*workers)
        victim.kill()
        killed_at = time.monotonic()
        accepted_at_kill = len(smtp.accepted)
        async with engine.connect() as connection:
            leased = dict(
                (
                    await connection.execute(
                        select(OutboxRow.lease_owner, func.count())
                        .where(
                            OutboxRow.state == DeliveryState.PENDING.value,
                            OutboxRow.lease_owner.is_not(None),
                        )
                        .group_by(OutboxRow.lease_owner)
                    )
                ).all()
            )

        async def all_sent() -> bool:
            async with uow:
                sent = await uow.deliveries.in_state(DeliveryState.SENT)
            return len(sent) == expected

        await until(all_sent, timeout=LEASE + 60, what="every message sent", workers=workers)
        finished_in = time.monotonic() - killed_at
        assert await survivor.stop() == 0, "a clean stop on SIGTERM\n" + logs(survivor)
    finally:
        for worker in workers:
            await worker.stop()

    async with uow:
        rows = await uow.deliveries.in_state(DeliveryState.SENT)
        jobs = await uow.jobs.list()
    by_message_id = {row.message_id: row for row in rows}
    accepted = Counter(smtp.message_ids())
    assert len(by_message_id) == expected, "one Message-ID per row, fixed before the first try"
    assert set(accepted) == set(by_message_id), "0 lost: every row reached the SMTP server"
    duplicates = sum(accepted.values()) - len(accepted)
    retaken = [row for row in rows if row.attempts > 1]  # claimed by the victim, not finished
    assert retaken, "the kill landed while the victim held claimed rows"
    assert all(row.attempts == 2 for row in retaken)
    duplicated = {message_id for message_id, n in accepted.items() if n > 1}
    assert duplicated <= {row.message_id for row in retaken}, "only the victim's rows twice"
    assert duplicates <= len(retaken), "at most the messages in flight at the kill"
    # No stall: the survivor's own share of the work, plus one lease for the victim's rows.
    alone = (expected - accepted_at_kill) * LATENCY / CONCURRENCY
    assert finished_in <= LEASE + alone + 15, "the survivor resends once the leases run out"

    runs = Counter(line.split()[0] for line in probe_runs.read_text().splitlines())
    assert runs == Counter({f"probe:{n:02d}": 1 for n in range(JOBS)}), "each job ran once"
    assert all(job.state is JobState.DONE and job.attempts == 1 for job in jobs)
    pids = {line.split()[1] for line in probe_runs.read_text().splitlines()}
    print(
        f"\n{expected} messages ({MESSAGES} queued + {JOBS} from jobs) by 2 workers; "
        f"one SIGKILLed after {accepted_at_kill} accepted ({sum(leased.values())} rows leased "
        f"by {len(leased)} senders at the kill); {len(retaken)} of its claimed rows resent "
        f"after the lease; duplicates {duplicates}; lost 0; all sent {finished_in:.1f} s after "
        f"the kill (lease {LEASE:g} s); {JOBS} jobs ran once each, in {len(pids)} process(es)"
    )


# --- IMAP: one reader per mailbox ------------------------------------------------------------

HOLDERS = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
)


async def _lock_holders(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return [str(name) for name in (await connection.execute(HOLDERS)).scalars()]


def _holder_pid(holders: list[str]) -> int | None:
    assert len(holders) <= 1, f"one holder at most: {holders}"
    found = re.match(r"offerbot imap (\d+)@", holders[0]) if holders else None
    return int(found.group(1)) if found else None


async def test_one_worker_reads_the_mailbox_and_the_other_takes_over(
    pg_url: str,
    engine: AsyncEngine,
    slow_smtp: tuple[SlowSmtp, int],
    imap_port: int,
    tmp_path: Path,
) -> None:
    smtp, smtp_port = slow_smtp
    await run_offerbot(tmp_path, offerbot_env(OFFERBOT_DATABASE_URL=pg_url), "init", "--json")
    env = _mail_env(
        pg_url,
        smtp_port,
        OFFERBOT_IMAP_HOST="127.0.0.1",
        OFFERBOT_IMAP_PORT=str(imap_port),
        OFFERBOT_IMAP_TLS="false",
        OFFERBOT_IMAP_USER=IMAP_USER,
        OFFERBOT_IMAP_PASSWORD=IMAP_PASSWORD,
        OFFERBOT_IMAP_LOCK_RETRY_SECONDS="1",
    )
    uow = UnitOfWork(session_factory(engine))

    async def holder() -> int | None:
        return _holder_pid(await _lock_holders(engine))

    async def outcomes(n: int) -> list[str] | None:
        async with uow:
            found = [r.outcome for r in await uow.inbox.outcomes()]
        return found if len(found) >= n else None

    first = start_worker("reader-a", tmp_path, env)
    workers = [first]
    try:
        assert await until(holder, timeout=60, what="a holder", workers=workers) == first.pid
        second = start_worker("reader-b", tmp_path, env)
        workers.append(second)

        async def second_waits() -> bool:
            return "read by another replica" in second.output()

        await until(second_waits, timeout=60, what="the second to wait", workers=workers)
        assert await holder() == first.pid

        question = "When does the offer expire?"
        await deliver(imap_port, mail(sender="e1@example.com", subject="q1", body=question))
        assert await until(lambda: outcomes(1), timeout=30, what="q1", workers=workers) == [
            "answered"
        ]

        first.kill()
        killed_at = time.monotonic()
        await deliver(
            imap_port,
            mail(sender="e2@example.com", subject="q2", body=question, message_id="<q2@x>"),
        )

        async def second_holds() -> bool:
            return await holder() == second.pid

        await until(second_holds, timeout=30, what="the takeover", workers=workers)
        took_over_in = time.monotonic() - killed_at
        answered = await until(lambda: outcomes(2), timeout=30, what="q2", workers=workers)
        answered_in = time.monotonic() - killed_at
        assert answered == ["answered", "answered"]

        async def replies_sent() -> bool:
            return len(smtp.accepted) >= 2

        await until(replies_sent, timeout=30, what="the two replies", workers=workers)
        assert "took the mailbox lock" in second.output()
        assert await second.stop() == 0
        assert await _lock_holders(engine) == [], "a clean stop releases the lock"
    finally:
        for worker in workers:
            await worker.stop()

    recipients = sorted(rcpt for _, rcpts, _ in smtp.accepted for rcpt in rcpts)
    assert recipients == ["e1@example.com", "e2@example.com"], "each question answered once"
    print(
        f"\nIMAP lock: held by one of 2 workers; holder SIGKILLed, the other took over in "
        f"{took_over_in:.2f} s (retry every 1 s) and answered the new message "
        f"{answered_in:.2f} s after the kill"
    )
