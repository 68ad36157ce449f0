"""Broadcast throughput: an extension announced to N eligible employees, end to end, against a
local SMTP server and a rate-limited Slack Web API (both in a separate process:
:mod:`bench.broadcast_sink`), next to a bare aiosmtplib client on the same server.

    python3 bench/broadcast.py [--recipients 10000] [--db sqlite|postgresql] [--kill]

(a) *bare*: aiosmtplib, 10 reused connections, N copies of the same announcement e-mail (its
    bytes built once, only To and Message-ID changed per copy) — the ceiling;
(b) *pipeline*: ``extend_offer`` → the ``broadcast`` job (one copy per eligible employee per
    channel) → ``drain_outbox`` with 10 SMTP connections (database, outbox, templates, MIME);
    then Slack for a few seconds at the configured pace, against a server that answers 429 with
    ``Retry-After`` (on its own limit, and forced every 25th post);
(c) ``--kill``: ``offerbot worker --once`` as a subprocess, killed with SIGKILL mid-broadcast,
    then started again once the leases ran out: lost and duplicated e-mails.

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
import os
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiosmtplib
from sqlalchemy import delete

from bench.table import Row, row
from bot.bootstrap import App, build
from bot.clock import SimulatedClock
from bot.config import Settings
from bot.domain.amendments import AmendmentKind, AmendmentStatus, OfferAmendment
from bot.domain.deadlines import cancellation_date
from bot.domain.eligibility import grant_reasons, person_reasons
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.domain.roster import Employee, Grant
from bot.scheduler import run_due_jobs
from bot.services.broadcast import announcement
from bot.services.extension import extend_offer
from bot.services.identity import Identity
from bot.services.offer import load_offer
from bot.services.outbox import drain_outbox
from handlers.email.wire import LayoutCache, email_bytes
from handlers.email.wiring import message_id_factory
from knowledge.demo_roster import generate_demo_roster
from knowledge.offer_terms import load_offer_terms
from storage.migrate import upgrade
from storage.models import OutboxRow

__all__ = ["BroadcastRun", "bare_client", "measure", "pipeline"]

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 10
START = "2003-07-10T09:00:00-07:00"  # inside the offer window
CHANNEL = "C0BENCH"
HR = Identity(channel="cli", actor="cli:bench")
MAIL_FROM = "Capstone offer assistant <offer@capstone.example>"


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


async def bare_client(sample: bytes, *, port: int, count: int) -> float:
    """Send ``count`` copies of ``sample`` over 10 reused connections; returns messages/s."""
    header_end = sample.index(b"\n\n")
    head, body = sample[:header_end].decode(), sample[header_end:]
    lines = [line for line in head.split("\n") if not line.startswith(("To:", "Message-ID:"))]
    base = "\n".join(lines)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def connection() -> None:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, local_hostname="bench.test", start_tls=False
        )
        await client.connect()
        while not queue.empty():
            i = queue.get_nowait()
            to = f"bare{i}@example.com"
            data = f"To: {to}\nMessage-ID: <bare{i}@bench.test>\n{base}".encode() + body
            await client.sendmail("offer@capstone.example", [to], data)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return count / (time.perf_counter() - started)


# --- (b) the pipeline -----------------------------------------------------------------------


@dataclass
class BroadcastRun:
    recipients: int
    enqueue_seconds: float
    email_seconds: float  # the median round
    email_per_second: list[float]  # each round
    bare_per_second: list[float]  # before each round, and after the last
    cpu_us: float  # this process's CPU time per e-mail (the median round)
    bare_cpu_us: float
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

    @property
    def ratio(self) -> float:
        """Median pipeline rate over median bare rate."""
        return statistics.median(self.email_per_second) / statistics.median(self.bare_per_second)


def settings_for(db_url: str, sink: Sink, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "now": START,
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.smtp_port,
        "smtp_tls": "false",
        "mail_from": MAIL_FROM,
        "mail_hostname": "offerbot.bench",
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
    db_url: str, *, recipients: int, slack_seconds: float, rounds: int = 2
) -> BroadcastRun:
    """``rounds`` broadcasts (one extension each), each between two bare-client runs: the
    machine's speed drifts (other work on it), so the figures are compared as medians."""
    with running_sink() as sink:
        app, addresses = await prepared_app(settings_for(db_url, sink), recipients)
        transports = app.outbox_transports()
        try:
            sample = email_bytes(
                _sample_message(app),
                sender=MAIL_FROM,
                recipient="sample@example.com",
                company=app.base_terms.company_short_name,
                now=app.clock.now(),
                layouts=LayoutCache(),
            )

            async def bare() -> None:
                sink.reset()
                cpu = time.process_time()
                bare_rates.append(await bare_client(sample, port=sink.smtp_port, count=recipients))
                bare_cpu.append((time.process_time() - cpu) / recipients)

            bare_rates: list[float] = []
            bare_cpu: list[float] = []
            rates: list[float] = []
            cpu_per_message: list[float] = []
            enqueue: list[float] = []
            seconds: list[float] = []
            lost = duplicated = outsiders = not_sent = 0
            amendments = []
            for week in range(1, rounds + 1):
                if week > 1:  # each round a broadcast on its own, as on a fresh offer
                    await _forget_outbox(app)
                await bare()
                sink.reset()
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
                started, cpu = time.perf_counter(), time.process_time()
                await drain_outbox(
                    uow=app.uow(),
                    transports={"email": transports["email"]},
                    clock=app.clock,
                    message_id_for=message_id_factory(app),  # type: ignore[arg-type]
                    concurrency=app.settings.outbox_concurrency,
                )
                seconds.append(time.perf_counter() - started)
                cpu_per_message.append((time.process_time() - cpu) / recipients)
                rates.append(recipients / seconds[-1])
                round_lost, round_duplicated, round_outsiders = mail_counts(sink.stats(), addresses)
                lost, duplicated = lost + round_lost, duplicated + round_duplicated
                outsiders += round_outsiders
            await bare()
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
                close = getattr(transport, "aclose", None)
                if close is not None:
                    await close()
            await app.aclose()
    span = (slack_stats["calls_last"] or 0) - (slack_stats["calls_first"] or 0)
    return BroadcastRun(
        recipients=recipients,
        enqueue_seconds=statistics.median(enqueue),
        email_seconds=statistics.median(seconds),
        email_per_second=rates,
        bare_per_second=bare_rates,
        cpu_us=1e6 * statistics.median(cpu_per_message),
        bare_cpu_us=1e6 * statistics.median(bare_cpu),
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
    )


async def _forget_outbox(app: App) -> None:
    """Delete every outbox row. Between rounds only: the last round's 10,000 Slack DMs, still
    pending (8/s), would otherwise lie in front of the next round's e-mail in the claim
    index — a cost of this benchmark's back-to-back broadcasts, not of one broadcast."""
    async with app.uow() as uow:
        await uow.session.execute(delete(OutboxRow))
        await uow.commit()


def _sample_message(app: App) -> OutboxMessage:
    """An announcement-sized outbox message (for the bare client's bytes)."""
    terms = app.base_terms
    now = app.clock.now()
    text = announcement(
        OfferAmendment(
            offer_id=terms.offer_id,
            kind=AmendmentKind.EXTENSION,
            previous_expiration=terms.expiration,
            new_expiration=terms.expiration + timedelta(days=7),
            description="",
            message="An information session on the extended offer is on Monday at 10:00 a.m.",
            announce=True,
            requested_by="bench",
            requested_at=now,
            status=AmendmentStatus.APPLIED,
        ),
        terms,
        channel_post=False,
    )
    return OutboxMessage(
        idempotency_key="sample",
        channel="email",
        recipient="sample@example.com",
        kind=MessageKind.EXTENSION_ANNOUNCEMENT,
        subject=text.subject,
        body_text=text.body.replace("{name}", "Sample Person"),
        created_at=now,
        due_at=now,
        message_id="<sample@offerbot.bench>",
    )


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
            note="medians; pipeline "
            + ", ".join(f"{b:.0f}" for b in run.email_per_second)
            + " e-mails/s, bare "
            + ", ".join(f"{b:.0f}" for b in run.bare_per_second)
            + f"; CPU {run.cpu_us:.0f} vs {run.bare_cpu_us:.0f} µs/e-mail",
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
            note=f"{run.slack_calls} calls ({run.slack_posts} posts) in "
            f"{run.slack_seconds:.0f} s, {run.slack_rate_limited} × 429",
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
        rounds=1 if quick else 2,
    )
    return rows(run, _backend(db_url))


def _print(run: BroadcastRun) -> None:
    rates = ", ".join(f"{r:.0f}" for r in run.email_per_second)
    print(
        f"recipients                        {run.recipients:,} eligible "
        "(+ ineligible ones, who must get nothing)"
    )
    print(f"queue (broadcast job)             {run.enqueue_seconds:6.2f} s")
    print(
        "bare aiosmtplib, 10 connections   "
        + ", ".join(f"{b:.0f}" for b in run.bare_per_second)
        + f" e-mails/s (median {statistics.median(run.bare_per_second):.0f}); "
        f"CPU {run.bare_cpu_us:.0f} µs/e-mail"
    )
    print(
        f"pipeline (db + outbox + MIME)     {rates} e-mails/s (median round "
        f"{run.email_seconds:.1f} s); CPU {run.cpu_us:.0f} µs/e-mail; "
        f"{100 * run.ratio:.1f}% of bare (medians)"
    )
    print(
        f"e-mails lost / duplicated         {run.lost} / {run.duplicated}  "
        f"(rows not sent: {run.rows_not_sent}, ineligible mailed: {run.ineligible_mailed})"
    )
    print(
        f"Slack                             {run.slack_per_second:.2f} calls/s over "
        f"{run.slack_seconds:.0f} s ({run.slack_calls} calls, {run.slack_posts} posts; "
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
    parser.add_argument("--rounds", type=int, default=2, help="broadcasts measured (median)")
    parser.add_argument("--kill", action="store_true", help="also kill -9 a worker mid-way")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
