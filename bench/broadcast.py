"""Broadcast throughput: an extension announced to N eligible employees, end to end, against a
local SMTP server and a rate-limited Slack Web API (both in a separate process:
:mod:`bench.broadcast_sink`), next to a bare aiosmtplib client on the same server.

    python3 bench/broadcast.py [--recipients 10000] [--db sqlite|postgresql] [--rounds 5] [--kill]

(a) *bare*: aiosmtplib, 10 reused connections, the same commands as the outbox transport
    (MAIL, RCPT, DATA) — the ceiling. Its messages are the broadcast's own e-mails (same
    recipients, names, sizes and MIME, each under a Message-ID of its own), all built before
    the clock starts;
(b) *pipeline*: ``extend_offer`` → the ``broadcast`` job (one copy per eligible employee per
    channel) → ``drain_outbox`` with 10 SMTP connections (database, outbox, templates, MIME);
    then Slack for a few seconds at the configured pace, against a server that answers 429 with
    ``Retry-After`` (on its own limit, and forced every 25th post);
(c) ``--kill``: ``offerbot worker --once`` as a subprocess, killed with SIGKILL mid-broadcast,
    then started again once the leases ran out: lost and duplicated e-mails.

(a) and (b) alternate — bare, pipeline, bare, pipeline, …, bare — on the same SMTP server; both
open their 10 connections inside the timed run. A round's ratio is its pipeline rate over the
geometric mean of the bare runs just before and just after it, so a drift of the shared
machine's speed cancels out; the verdict is the median of the rounds' ratios (the range is
printed with it). CPU per e-mail is given for this process and for the server's.

``measure(db_url, quick)`` gives (a) and (b) as rows for ``bench/run.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

import aiosmtplib
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from bench.table import Row, row
from bot.clock import SimulatedClock
from bot.config import Settings
from bot.domain.deadlines import cancellation_date
from bot.domain.eligibility import grant_reasons, person_reasons
from bot.domain.hr_records import DeliveryState, MessageKind
from bot.domain.roster import Employee, Grant
from bot.runtime.bootstrap import App, build
from bot.runtime.scheduler import run_due_jobs
from bot.services.identity import Identity
from bot.services.messaging.outbox import drain_outbox
from bot.services.offer.extension import extend_offer
from bot.services.offer.live_offer import load_offer
from handlers.email.assembly import message_id_factory
from handlers.email.message_bytes import email_bytes
from handlers.email.render import new_message_id
from knowledge.demo_roster import generate_demo_roster
from knowledge.offer_terms import load_offer_terms
from storage.migrate import upgrade
from storage.models import OutboxMessageRow

__all__ = ["BroadcastRun", "Timed", "bare_client", "bare_messages", "measure", "pipeline"]

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 10
START = "2003-07-10T09:00:00-07:00"  # inside the offer window
CHANNEL = "C0BENCH"
HR = Identity(channel="cli", actor="cli:bench")
MAIL_FROM = "Capstone offer assistant <offer@capstone.example>"
MAIL_HOSTNAME = "offerbot.bench"


# --- the far side ---------------------------------------------------------------------------


@dataclass
class Sink:
    smtp_port: int
    http_port: int
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.http_port}/stats"
        with urllib.request.urlopen(url, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result

    def reset(self) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).read()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api/"


@contextlib.contextmanager
def running_sink() -> Iterator[Sink]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.broadcast_sink"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        ports = json.loads(process.stdout.readline())
        yield Sink(ports["smtp"], ports["http"], process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


# --- the roster -----------------------------------------------------------------------------


def bench_roster(recipients: int) -> tuple[list[Employee], list[Grant], set[str]]:
    """The demo roster cut to exactly ``recipients`` eligible people, plus about 5% ineligible
    ones (executives, non-residents…) who must get nothing; returns their e-mail addresses."""
    terms = load_offer_terms()
    cancellation = cancellation_date(terms)
    size = int(recipients * 2.2) + 50  # about half of the demo roster is eligible
    while True:
        roster = generate_demo_roster(terms, employees=size)
        by_owner: dict[str, list[Grant]] = {}
        for grant in roster.grants:
            by_owner.setdefault(grant.employee_id, []).append(grant)
        eligible: list[Employee] = []
        ineligible: list[Employee] = []
        for person in roster.employees:
            grants = by_owner.get(person.employee_id, [])
            ok = not person_reasons(person, terms) and any(
                not grant_reasons(g, terms, cancellation=cancellation) for g in grants
            )
            (eligible if ok else ineligible).append(person)
        if len(eligible) >= recipients:
            break
        size = int(size * 1.3)
    people = eligible[:recipients] + ineligible[: max(1, recipients // 20)]
    kept = {p.employee_id for p in people}
    grants = [g for g in roster.grants if g.employee_id in kept]
    return people, grants, {p.email.lower() for p in eligible[:recipients]}


# --- (a) the bare client --------------------------------------------------------------------


async def bare_client(messages: Sequence[tuple[str, bytes]], *, port: int) -> float:
    """Send pre-built ``(recipient, bytes)`` messages over :data:`CONNECTIONS` reused
    connections (connecting included, as the transport connects inside its run); messages/s."""
    envelope_from = parseaddr(MAIL_FROM)[1]
    remaining = iter(messages)  # shared: each connection takes the next message

    async def connection() -> None:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, local_hostname=MAIL_HOSTNAME, start_tls=False
        )
        await client.connect()
        for recipient, data in remaining:
            await client.mail(envelope_from)
            await client.rcpt(recipient)
            await client.data(data)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return len(messages) / (time.perf_counter() - started)


async def bare_messages(app: App) -> list[tuple[str, bytes]]:
    """The queued announcement e-mails, built as the transport builds them, each under a
    Message-ID of its own (the server counts copies by Message-ID)."""
    async with app.uow() as uow:
        queued = await uow.outbox.by_kind(MessageKind.EXTENSION_ANNOUNCEMENT)
    now = app.clock.now()
    return [
        (
            m.recipient,
            email_bytes(
                replace(m, message_id=new_message_id(MAIL_HOSTNAME)),
                sender=MAIL_FROM,
                recipient=m.recipient,
                company=app.base_terms.company_short_name,
                now=now,
            ),
        )
        for m in queued
        if m.channel == "email" and m.state is DeliveryState.PENDING
    ]


# --- (b) the pipeline -----------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    """One timed e-mail run: its rate and the CPU it cost per e-mail, here and in the server."""

    per_second: float
    seconds: float
    cpu_us: float  # this process (the sender, with its database threads)
    sink_cpu_us: float  # the SMTP server's process
    db_cpu_us: float = 0.0  # SQLite: this process's threads but the event loop's (aiosqlite);
    # PostgreSQL: the server's processes serving the benchmark's database


@dataclass
class BroadcastRun:
    recipients: int
    enqueue_seconds: float
    bare: list[Timed]  # before each round, and after the last
    rounds: list[Timed]  # the pipeline, one per broadcast
    lost: int
    duplicated: int
    ineligible_mailed: int
    rows_not_sent: int
    slack_seconds: float
    slack_posts: int
    slack_calls: int
    slack_per_second: float  # Web API calls (posts and conversations.open) per second
    slack_rate_limited: int
    slack_early_calls: int
    channel_posted: bool
    slack_opens: int = 0  # conversations.open calls among slack_calls (none if opened ahead)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end
    backend: str = "sqlite"

    @property
    def email_per_second(self) -> list[float]:
        return [r.per_second for r in self.rounds]

    @property
    def bare_per_second(self) -> list[float]:
        return [b.per_second for b in self.bare]

    @property
    def email_seconds(self) -> float:
        """The median round's duration."""
        return statistics.median(r.seconds for r in self.rounds)

    @property
    def ratios(self) -> list[float]:
        """Each round's rate over the geometric mean of the bare runs around it."""
        return [
            r.per_second / math.sqrt(before.per_second * after.per_second)
            for r, before, after in zip(self.rounds, self.bare, self.bare[1:], strict=False)
        ]

    @property
    def ratio(self) -> float:
        """The verdict: the median of the rounds' ratios."""
        return statistics.median(self.ratios)

    @property
    def cpu_us(self) -> float:
        return statistics.median(r.cpu_us for r in self.rounds)

    @property
    def bare_cpu_us(self) -> float:
        return statistics.median(b.cpu_us for b in self.bare)

    @property
    def sink_cpu_us(self) -> float:
        return statistics.median(r.sink_cpu_us for r in self.rounds)

    @property
    def bare_sink_cpu_us(self) -> float:
        return statistics.median(b.sink_cpu_us for b in self.bare)

    @property
    def db_cpu_us(self) -> float:
        return statistics.median(r.db_cpu_us for r in self.rounds)


async def timed(
    sink: Sink, count: int, run: Callable[[], Awaitable[object]], *, db_url: str = ""
) -> Timed:
    """Time ``run`` (which sends ``count`` e-mails to ``sink``, reset first)."""
    sink.reset()
    sink_cpu, db_cpu = sink.stats()["cpu_seconds"], database_cpu(db_url)
    started, cpu = time.perf_counter(), time.process_time()
    await run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    sink_cpu = sink.stats()["cpu_seconds"] - sink_cpu
    db_cpu = database_cpu(db_url) - db_cpu
    return Timed(
        count / seconds, seconds, 1e6 * cpu / count, 1e6 * sink_cpu / count, 1e6 * db_cpu / count
    )


def database_cpu(db_url: str) -> float:
    """CPU seconds spent so far on the database's side: SQLite's worker threads in this process
    (all but the calling thread, which runs the event loop), or, on Linux, the PostgreSQL
    backends whose process title names the database (0 when that cannot be read)."""
    if not db_url:
        return 0.0
    if _backend(db_url) == "sqlite":
        return time.process_time() - time.thread_time()
    database = f" {make_url(db_url).database} "
    ticks = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            title = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if title.startswith("postgres:") and database in title:
                fields = status.read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def settings_for(db_url: str, sink: Sink, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "now": START,
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.smtp_port,
        "smtp_tls": "false",
        "mail_from": MAIL_FROM,
        "mail_hostname": MAIL_HOSTNAME,
        "hr_mailbox": "hr@capstone.example",
        "outbox_concurrency": CONNECTIONS,
        "slack_bot_token": "xoxb-bench",
        "slack_api_url": sink.api_url,
        "announcement_channel": CHANNEL,
    }
    values.update(extra)
    return Settings(**values)


async def prepared_app(settings: Settings, recipients: int) -> tuple[App, set[str]]:
    """A migrated database holding the offer and the roster."""
    app = build(settings, clock=SimulatedClock(settings.now or datetime.now().astimezone()))
    await upgrade(app.engine)
    await load_offer(
        uow=app.uow(), terms=app.base_terms, digest=app.terms_digest, now=app.clock.now()
    )
    people, grants, addresses = bench_roster(recipients)
    async with app.uow() as uow:
        await uow.employees.upsert_many(people)
        await uow.grants.upsert_many(grants)
        await uow.commit()
    return app, addresses


async def extend(app: App, weeks: int = 1) -> int:
    result = await extend_offer(
        uow=app.uow(),
        base_terms=app.base_terms,
        settings=app.settings,
        identity=HR,
        new_expiration=app.base_terms.original_expiration + timedelta(days=7 * weeks),
        announce=True,
        message="An information session on the extended offer is on Monday at 10:00 a.m.",
        now=app.clock.now(),
    )
    assert result.amendment.id is not None
    return result.amendment.id


def mail_counts(stats: dict[str, Any], addresses: set[str]) -> tuple[int, int, int]:
    """(lost, duplicated, copies to people outside ``addresses``) from the SMTP server's view."""
    smtp = stats["smtp"]
    got = set(smtp["recipient_list"])
    lost = len(addresses - got)
    duplicated = max(smtp["duplicate_copies"], smtp["recipient_extra_copies"])
    return lost, duplicated, len(got - addresses)


async def pipeline(
    db_url: str, *, recipients: int, slack_seconds: float, rounds: int = 5
) -> BroadcastRun:
    """``rounds`` broadcasts (one extension each), interleaved with bare-client runs on the same
    server: bare, pipeline, bare, …, pipeline, bare (see the module's docstring)."""
    load_at_start = os.getloadavg()[0]
    with running_sink() as sink:
        app, addresses = await prepared_app(settings_for(db_url, sink), recipients)
        transports = app.outbox_transports()
        email = transports["email"]
        try:
            bare: list[Timed] = []
            measured: list[Timed] = []
            messages: list[tuple[str, bytes]] = []
            enqueue: list[float] = []
            lost = duplicated = outsiders = not_sent = 0
            amendments = []

            async def bare_run() -> Timed:
                port = sink.smtp_port
                return await timed(
                    sink, recipients, lambda: bare_client(messages, port=port), db_url=db_url
                )

            for week in range(1, rounds + 1):
                if week > 1:  # each round a broadcast on its own, as on a fresh offer
                    await _forget_outbox(app)
                amendments.append(await extend(app, week))
                started = time.perf_counter()
                await run_due_jobs(
                    uow=app.uow(),
                    clock=app.clock,
                    settings=app.settings,
                    base_terms=app.base_terms,
                    kinds=["broadcast"],
                )
                enqueue.append(time.perf_counter() - started)
                if not messages:
                    messages = await bare_messages(app)
                    assert len(messages) == recipients, (len(messages), recipients)
                bare.append(await bare_run())
                await _close(email)  # no pooled connections: it connects inside its run too
                measured.append(
                    await timed(
                        sink,
                        recipients,
                        lambda: drain_outbox(
                            uow=app.uow(),
                            transports={"email": email},
                            clock=app.clock,
                            message_id_for=message_id_factory(app),  # type: ignore[arg-type]
                            concurrency=app.settings.outbox_concurrency,
                        ),
                        db_url=db_url,
                    )
                )
                round_lost, round_duplicated, round_outsiders = mail_counts(sink.stats(), addresses)
                lost, duplicated = lost + round_lost, duplicated + round_duplicated
                outsiders += round_outsiders
                _progress(week, bare[-1], measured[-1])
            bare.append(await bare_run())
            async with app.uow() as uow:
                not_sent = sum(
                    1
                    for m in await uow.outbox.by_kind(MessageKind.EXTENSION_ANNOUNCEMENT)
                    if m.channel == "email" and m.state is not DeliveryState.SENT
                )

            sink.reset()
            slack = asyncio.create_task(
                drain_outbox(
                    uow=app.uow(),
                    transports={"slack": transports["slack"]},
                    clock=app.clock,
                    concurrency=app.settings.outbox_concurrency,
                )
            )
            started = time.perf_counter()
            await asyncio.sleep(slack_seconds)
            slack.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slack
            slack_elapsed = time.perf_counter() - started
            slack_stats = sink.stats()["slack"]
            async with app.uow() as uow:
                post = await uow.deliveries.get(f"announce:{amendments[-1]}:channel:{CHANNEL}")
        finally:
            for transport in transports.values():
                await _close(transport)
            await app.aclose()
    span = (slack_stats["calls_last"] or 0) - (slack_stats["calls_first"] or 0)
    return BroadcastRun(
        recipients=recipients,
        enqueue_seconds=statistics.median(enqueue),
        bare=bare,
        rounds=measured,
        lost=lost,
        duplicated=duplicated,
        ineligible_mailed=outsiders,
        rows_not_sent=not_sent,
        slack_seconds=slack_elapsed,
        slack_posts=slack_stats["posts_accepted"],
        slack_calls=slack_stats["calls"],
        slack_per_second=(slack_stats["calls"] - 1) / span if span > 0 else 0.0,
        slack_rate_limited=slack_stats["rate_limited"],
        slack_early_calls=slack_stats["early_calls"],
        channel_posted=post is not None and post.state is DeliveryState.SENT,
        slack_opens=slack_stats["opens"],
        load=(load_at_start, os.getloadavg()[0]),
        backend=_backend(db_url),
    )


async def _close(transport: object) -> None:
    close = getattr(transport, "aclose", None)
    if close is not None:
        await close()


def _progress(week: int, bare: Timed, measured: Timed) -> None:
    """One line per round on stderr: a long run shows it is alive, and the noise as it goes."""
    print(
        f"round {week}: bare {bare.per_second:.0f}/s, pipeline {measured.per_second:.0f}/s "
        f"(CPU µs an e-mail, bare / pipeline: here {bare.cpu_us:.0f} / {measured.cpu_us:.0f}, "
        f"SMTP server {bare.sink_cpu_us:.0f} / {measured.sink_cpu_us:.0f}, database side "
        f"{measured.db_cpu_us:.0f})",
        file=sys.stderr,
        flush=True,
    )


async def _forget_outbox(app: App) -> None:
    """Delete every outbox row. Between rounds only: the last round's 10,000 Slack DMs, still
    pending (8/s), would otherwise lie in front of the next round's e-mail in the claim
    index — a cost of this benchmark's back-to-back broadcasts, not of one broadcast."""
    async with app.uow() as uow:
        await uow.session.execute(delete(OutboxMessageRow))  # its delivery rows cascade
        await uow.commit()


# --- (c) kill -9 mid-broadcast ----------------------------------------------------------------


@dataclass
class KillRun:
    recipients: int
    during: str  # "enqueue" (the broadcast job) or "send" (the outbox)
    queued_at_kill: int
    accepted_at_kill: int
    marked_sent_at_kill: int
    lost: int
    duplicated: int
    seconds: float

    @property
    def in_flight_at_kill(self) -> int:
        return max(self.accepted_at_kill - self.marked_sent_at_kill, 0)


async def kill_run(db_url: str, *, recipients: int, during: str = "send") -> KillRun:
    """``offerbot worker --once`` killed with SIGKILL — ``during="send"``: when a third of the
    mail is out; ``"enqueue"``: when the broadcast job has committed its first chunk but not
    its last — then run again with its clock past the leases (11 minutes later)."""
    with running_sink() as sink:
        settings = settings_for(db_url, sink, slack_bot_token=None, announcement_channel=None)
        app, addresses = await prepared_app(settings, recipients)
        await extend(app)
        workdir = Path(tempfile.mkdtemp(prefix="offerbot-kill-"))  # no .offerbot/ env file here
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))}
        env.update(
            {
                "OFFERBOT_DATABASE_URL": db_url,
                "OFFERBOT_SMTP_HOST": "127.0.0.1",
                "OFFERBOT_SMTP_PORT": str(sink.smtp_port),
                "OFFERBOT_SMTP_TLS": "false",
                "OFFERBOT_MAIL_FROM": MAIL_FROM,
                "OFFERBOT_MAIL_HOSTNAME": "offerbot.bench",
                "OFFERBOT_HR_MAILBOX": "hr@capstone.example",
                "OFFERBOT_OUTBOX_CONCURRENCY": str(CONNECTIONS),
                "PYTHONPATH": str(ROOT),
            }
        )
        command = [sys.executable, "-m", "bot", "worker", "--once"]
        started = time.perf_counter()
        now = app.clock.now() + timedelta(seconds=1)  # the job and its copies are due by then
        first = subprocess.Popen(
            command,
            cwd=workdir,
            env={**env, "OFFERBOT_NOW": now.isoformat()},
            stdout=subprocess.DEVNULL,
        )

        async def queued() -> int:
            async with app.uow() as uow:
                return len(await uow.outbox.by_kind(MessageKind.EXTENSION_ANNOUNCEMENT))

        while first.poll() is None:
            if during == "send" and sink.stats()["smtp"]["accepted"] >= recipients // 3:
                break
            if during == "enqueue" and await queued() > 0:
                break
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        accepted = sink.stats()["smtp"]["accepted"]
        queued_at_kill = await queued()
        async with app.uow() as uow:
            marked = len(await uow.deliveries.in_state(DeliveryState.SENT))
        later = (now + timedelta(minutes=11)).isoformat()  # the dead worker's leases are over
        second = subprocess.run(
            command, cwd=workdir, env={**env, "OFFERBOT_NOW": later}, stdout=subprocess.DEVNULL
        )
        if second.returncode != 0:
            raise SystemExit(f"the restarted worker failed with status {second.returncode}")
        seconds = time.perf_counter() - started
        lost, duplicated, _ = mail_counts(sink.stats(), addresses)
        await app.aclose()
    return KillRun(recipients, during, queued_at_kill, accepted, marked, lost, duplicated, seconds)


# --- rows and printing --------------------------------------------------------------------------


def rows(run: BroadcastRun, db: str) -> list[Row]:
    n = f"{run.recipients:,}"
    return [
        row(
            f"broadcast: queue {n} announcements (job)",
            db=db,
            value=round(run.enqueue_seconds, 2),
            unit="s",
        ),
        row(
            f"broadcast: {n} e-mails delivered (pipeline)",
            db=db,
            value=round(run.email_seconds, 1),
            unit="s",
            at_most=20,
            note=f"{statistics.median(run.email_per_second):.0f} e-mails/s (median of "
            f"{len(run.email_per_second)}), {CONNECTIONS} SMTP connections",
        ),
        row(
            "broadcast: pipeline vs bare aiosmtplib (10 connections)",
            db=db,
            value=round(100 * run.ratio, 1),
            unit="%",
            at_least=90,
            note=f"median of {len(run.ratios)} interleaved rounds, range {_range(run.ratios)}; "
            f"e-mails/s pipeline {_listed(run.email_per_second)}, bare "
            f"{_listed(run.bare_per_second)}; CPU/e-mail {run.cpu_us:.0f} vs "
            f"{run.bare_cpu_us:.0f} µs (SMTP server {run.sink_cpu_us:.0f} vs "
            f"{run.bare_sink_cpu_us:.0f} µs; database side {run.db_cpu_us:.0f} µs, "
            f"{_database_side(run)}); load {run.load[0]:.1f}→{run.load[1]:.1f}",
        ),
        row(
            "broadcast: e-mails lost", db=db, value=run.lost + run.rows_not_sent, unit="", at_most=0
        ),
        row("broadcast: e-mails duplicated", db=db, value=run.duplicated, unit="", at_most=0),
        row(
            "broadcast: Slack API calls/s (limit 8/s)",
            db=db,
            value=round(run.slack_per_second, 2),
            unit="/s",
            at_most=8.0,
            note=f"{run.slack_calls} calls ({run.slack_posts} posts, {run.slack_opens} "
            f"conversations.open) in {run.slack_seconds:.0f} s, {run.slack_rate_limited} × 429",
        ),
        row(
            "broadcast: Slack calls before a Retry-After expired",
            db=db,
            value=run.slack_early_calls,
            unit="",
            at_most=0,
        ),
    ]


def _backend(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


async def measure(db_url: str, quick: bool) -> list[Row]:
    """Rows for ``bench/run.py``: 1,000 recipients when ``quick``, else 10,000."""
    run = await pipeline(
        db_url,
        recipients=1000 if quick else 10_000,
        slack_seconds=3 if quick else 10,
        rounds=2 if quick else 5,
    )
    return rows(run, _backend(db_url))


def _database_side(run: BroadcastRun) -> str:
    return "PostgreSQL's backends" if run.backend == "postgresql" else "SQLite threads, included"


def _listed(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def _range(ratios: Sequence[float]) -> str:
    return f"{100 * min(ratios):.0f}–{100 * max(ratios):.0f} %"


def _print(run: BroadcastRun) -> None:
    print(
        f"recipients                        {run.recipients:,} eligible "
        "(+ ineligible ones, who must get nothing)"
    )
    print(f"queue (broadcast job)             {run.enqueue_seconds:6.2f} s (median)")
    print(
        f"bare aiosmtplib, 10 connections   {_listed(run.bare_per_second)} e-mails/s (median "
        f"{statistics.median(run.bare_per_second):.0f}); CPU {run.bare_cpu_us:.0f} µs/e-mail "
        f"here, {run.bare_sink_cpu_us:.0f} µs in the SMTP server"
    )
    print(
        f"pipeline (db + outbox + MIME)     {_listed(run.email_per_second)} e-mails/s (median "
        f"round {run.email_seconds:.1f} s); CPU {run.cpu_us:.0f} µs/e-mail here, "
        f"{run.sink_cpu_us:.0f} µs in the SMTP server, {run.db_cpu_us:.0f} µs on the database "
        f"side ({_database_side(run)})"
    )
    print(
        "pipeline / bare, each round       "
        + ", ".join(f"{100 * r:.1f}%" for r in run.ratios)
        + f": median {100 * run.ratio:.1f}%, range {_range(run.ratios)} "
        f"({len(run.ratios)} rounds; load average {run.load[0]:.1f} → {run.load[1]:.1f})"
    )
    print(
        f"e-mails lost / duplicated         {run.lost} / {run.duplicated}  "
        f"(rows not sent: {run.rows_not_sent}, ineligible mailed: {run.ineligible_mailed})"
    )
    print(
        f"Slack                             {run.slack_per_second:.2f} calls/s over "
        f"{run.slack_seconds:.0f} s ({run.slack_calls} calls, {run.slack_posts} posts, "
        f"{run.slack_opens} conversations.open; "
        f"channel post sent: {run.channel_posted}); 429s: {run.slack_rate_limited}; "
        f"calls before Retry-After expired: {run.slack_early_calls}"
    )


async def _main(args: argparse.Namespace) -> None:
    from bench.databases import Databases

    with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as folder:
        async with Databases(Path(folder)) as databases:
            async with databases.fresh(args.db, "broadcast") as url:
                run = await pipeline(
                    url,
                    recipients=args.recipients,
                    slack_seconds=args.slack_seconds,
                    rounds=args.rounds,
                )
            _print(run)
            if args.kill:
                for during in ("enqueue", "send"):
                    async with databases.fresh(args.db, f"broadcast-kill-{during}") as url:
                        k = await kill_run(url, recipients=args.recipients, during=during)
                    print(
                        f"kill -9 during {during:7}           {k.queued_at_kill:,} of "
                        f"{k.recipients:,} queued, {k.accepted_at_kill:,} e-mails accepted, "
                        f"{k.marked_sent_at_kill:,} marked sent ({k.in_flight_at_kill} in "
                        f"flight); after the restart: lost {k.lost}, duplicated "
                        f"{k.duplicated} ({k.seconds:.1f} s)"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--slack-seconds", type=float, default=10.0)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="broadcasts measured, each between two bare-client runs (default 5)",
    )
    parser.add_argument("--kill", action="store_true", help="also kill -9 a worker mid-way")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
