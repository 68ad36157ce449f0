"""A reminder round inside a running ``offerbot serve``: its resident memory while the round
runs, and how long the round takes to be fully queued in the outbox.

    python3 bench/serve_round.py [--employees 100000] [--db sqlite,postgresql]

The database holds the reminder bench's roster (:mod:`bench.reminders`: ~1.5 grants per
person, a fifth with intents) and a planned round that is due at the serve's simulated start
(2003-07-10 9:00 PDT, ten business days before the deadline). ``offerbot serve`` runs as a
subprocess with Slack configured against a local Web API stub, so the round queues an e-mail
and a Slack copy per person and the outbox sender starts DMing meanwhile, as on the day.
VmRSS is sampled every 20 ms from /proc; VmHWM is the peak. "Queued" is measured from the
reminder job being claimed to it being marked done (read from the jobs table), so process
start and imports are not counted.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.databases import BACKENDS, Databases
from bench.reminders import SLOT_TIME, TERMS, _load, _roster_rows
from bench.roster_import import backends_argument
from bench.serve_memory import _free_port, _kib, _stop, _until_listening
from bench.slack_stub import slack_stub
from bench.table import Row, row
from bot.config import Settings
from bot.domain.hr_records import MessageKind
from bot.services.messaging.reminders import plan_reminders
from bot.services.offer.live_offer import current_terms, load_offer
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import OutboxRow
from storage.scheduler_models import JobRow
from storage.uow import UnitOfWork

__all__ = ["RoundInServe", "measure", "round_in_serve"]

ROOT = Path(__file__).resolve().parents[1]
FULL, QUICK = 100_000, 5_000
RSS_TARGET_MB = 200.0
QUEUED_TARGET_S = 6.0


@dataclass(frozen=True, slots=True)
class RoundInServe:
    employees: int
    queued: int  # reminder copies in the outbox when the job was done
    seconds: float  # job claimed → job done
    rss_max_mb: float  # the largest VmRSS sampled while the round ran
    peak_mb: float  # VmHWM at the end: the most ever resident
    idle_mb: float  # VmRSS just before the round was claimed


async def _prepare(db_url: str, employees: int) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        await load_offer(uow=uow, terms=TERMS, digest="bench", now=SLOT_TIME)
        await _load(engine, _roster_rows(employees))
        settings = Settings(slack_bot_token="xoxb-bench", quiet_hours=None)  # type: ignore[call-arg]
        terms = await current_terms(uow=uow, terms=TERMS)
        async with uow:
            await plan_reminders(uow, terms=terms, settings=settings, now=SLOT_TIME)
            await uow.commit()
    finally:
        await engine.dispose()


async def round_in_serve(db_url: str, *, employees: int, timeout: float = 300.0) -> RoundInServe:
    """Prepare ``db_url`` (empty) and run the round in ``offerbot serve`` (see the docstring)."""
    await _prepare(db_url, employees)
    engine = create_engine(db_url)
    async with slack_stub() as stub:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
            ),
            "OFFERBOT_DATABASE_URL": db_url,
            "OFFERBOT_NOW": SLOT_TIME.isoformat(),
            "OFFERBOT_QUIET_HOURS": "",
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": "bench-secret",
            "OFFERBOT_SLACK_API_URL": stub.base_url,
        }
        port = _free_port()
        with tempfile.TemporaryDirectory() as cwd:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1",
                cwd=cwd, env=env, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            log: list[bytes] = []
            status = Path(f"/proc/{process.pid}/status")
            try:
                # polled from the start: a small round can be done before "listening"
                listening = asyncio.create_task(_until_listening(process, 60, log))
                idle = rss_max = 0.0
                started = finished = None
                deadline = time.monotonic() + timeout
                while finished is None:
                    if time.monotonic() > deadline or process.returncode is not None:
                        raise RuntimeError(
                            "the round did not finish; offerbot serve said:\n"
                            + b"".join(log[-40:]).decode(errors="replace")
                        )
                    rss = _kib(status.read_text(), "VmRSS") / 1024
                    state = await _job_state(engine)
                    if state in ("pending", None):
                        idle = rss
                    elif started is None:
                        started = time.perf_counter()
                    if started is not None:
                        rss_max = max(rss_max, rss)
                    if state in ("done", "failed"):
                        finished = time.perf_counter()
                        if state == "failed":
                            raise RuntimeError("the reminder job failed")
                    await asyncio.sleep(0.02)
                await listening
                peak = _kib(status.read_text(), "VmHWM") / 1024
                queued = await _reminders(engine)
            finally:
                # Nothing after the round is measured. A SIGTERM lets the outbox sender finish
                # the pass it is in, and that pass may be hundreds of paced Slack DMs (8 a
                # second): up to the 15 s default grace, in about one run of three. Do not wait.
                await _stop(process, grace=2.0)
                await engine.dispose()
    return RoundInServe(
        employees=employees,
        queued=queued,
        seconds=finished - (started or finished),
        rss_max_mb=rss_max,
        peak_mb=peak,
        idle_mb=idle,
    )


_DUE_ROUND = (
    select(JobRow.state, JobRow.claimed_by)
    .where(JobRow.kind == "reminder", JobRow.due_at <= SLOT_TIME)
    .order_by(JobRow.due_at.desc())
    .limit(1)
)


async def _job_state(engine: AsyncEngine) -> str | None:
    """The due round's state: "pending" until claimed, "running" while its lease is held.

    On SQLite it is read through a plain read-only connection: the app's engine would open a
    ``BEGIN IMMEDIATE`` transaction and take the write lock from the round it measures."""
    if engine.dialect.name == "sqlite":
        path = engine.url.database or ""
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            query = _DUE_ROUND.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            found = conn.execute(str(query)).fetchone()
    else:
        async with engine.connect() as conn:
            found = (await conn.execute(_DUE_ROUND)).first()
    if found is None:
        return None
    state, claimed_by = found
    return "running" if state == "pending" and claimed_by else str(state)


async def _reminders(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(OutboxRow)
        query = query.where(OutboxRow.kind == MessageKind.REMINDER.value)
        return int((await conn.execute(query)).scalar_one())


async def measure(db_url: str, quick: bool, *, employees: int | None = None) -> list[Row]:
    """Rows for ``bench/run.py``."""
    db = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    r = await round_in_serve(db_url, employees=employees or (QUICK if quick else FULL))
    label = f"{r.employees:,} employees"
    note = (
        f"{r.queued:,} copies; idle {r.idle_mb:.0f} MB; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    return [
        row(f"reminder round fully queued in offerbot serve, {label}", db=db, value=r.seconds,
            unit="s", at_most=QUEUED_TARGET_S, note=note),
        row(f"RSS of offerbot serve during that round, {label}", db=db, value=r.rss_max_mb,
            unit="MB", at_most=RSS_TARGET_MB,
            note=f"largest VmRSS sampled every 20 ms; VmHWM {r.peak_mb:.0f} MB"),
    ]  # fmt: skip


async def _main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-serve-round-") as folder:
        async with Databases(Path(folder)) as databases:
            for backend in args.db:
                async with databases.fresh(backend, "serve_round") as url:
                    r = await round_in_serve(url, employees=args.employees)
                    print(
                        f"{backend:10} {r.employees:,} employees: {r.queued:,} copies queued in "
                        f"{r.seconds:.2f} s (claimed → done); RSS idle {r.idle_mb:.0f} MB, max "
                        f"during the round {r.rss_max_mb:.0f} MB, VmHWM {r.peak_mb:.0f} MB"
                    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=FULL)
    parser.add_argument("--db", type=backends_argument, default=list(BACKENDS[:1]))
    asyncio.run(_main(parser.parse_args()))
