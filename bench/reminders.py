"""Reminder speed: classify a generated roster of N employees (~1.5 grants each, a fifth of
them with intents) and build one round's reminder messages; then run the whole round through
the scheduler, queueing the copies in the outbox.

    python3 bench/reminders.py [--employees 100000] [--db sqlite,postgresql] [--profile]

"Planning" is what a round computes before it writes: the eligible audience and each person's
state (four bulk queries, :func:`bot.services.roster.audience.eligible_recipients`), the templates
and every personal copy. Generating and loading the roster is not timed.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.databases import BACKENDS, Databases
from bench.table import Row, row
from bot.clock import ManualClock
from bot.config import Settings
from bot.domain.communications import Communication
from bot.domain.reminders import ReminderState, reminder_text
from bot.runtime.scheduler import run_due_jobs
from bot.services.messaging.reminders import plan_reminders, reminder_copies
from bot.services.offer.live_offer import current_terms, load_offer
from bot.services.roster.audience import eligible_recipients
from knowledge.offer_terms import load_offer_terms
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import ElectionIntentRow, EmployeeRow, FormReceiptRow, GrantRow
from storage.uow import UnitOfWork

__all__ = ["measure"]

TERMS = load_offer_terms()
SLOT_TIME = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)  # the 10-business-day round, 9:00 PDT
FULL, QUICK = 100_000, 5_000
TARGET_SECONDS = 5.0


def _roster_rows(employees: int, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """A deterministic roster shaped like the demo's (classes, countries, prices, intents)."""
    rng = random.Random(seed)
    now = datetime(2003, 6, 30, tzinfo=UTC)
    plans = [*TERMS.eligible_plans, "Non-Plan Inducement Grant"]
    people, grants, intents, receipts = [], [], [], []
    number = 0
    for i in range(employees):
        eid = f"B{i:07d}"
        cls = rng.choices(
            ["employee", "executive_officer", "executive_management", "director", "consultant"],
            weights=[955, 10, 10, 10, 15],
        )[0]
        people.append(
            {
                "employee_id": eid,
                "name": f"Person {i:07d}",
                "email": f"{eid.lower()}@example.com",
                "email_normalized": f"{eid.lower()}@example.com",
                "slack_user_id": f"U{i:07d}" if rng.random() < 0.9 else None,
                "country": rng.choices(["US", "GB", "JP"], weights=[94, 3, 3])[0],
                "status": rng.choices(["active", "leave", "terminated"], weights=[93, 3, 4])[0],
                "employee_class": cls,
                "created_at": now,
                "updated_at": now,
            }
        )
        held = []
        for _ in range(rng.choices([0, 1, 2, 3], weights=[15, 35, 35, 15])[0]):
            number += 1
            granted = date(1999, 1, 4) + timedelta(days=rng.randrange(1600))
            expires = granted + timedelta(days=3652)
            shares = rng.choice([250, 500, 1000, 1500, 2000, 3000])
            grants.append(
                {
                    "grant_number": f"G{number:08d}",
                    "employee_id": eid,
                    "plan": rng.choices(plans, weights=[30, 68, 2])[0],
                    "grant_date": granted,
                    "option_type": rng.choice(["ISO", "NSO"]),
                    "exercise_price": Decimal(rng.randrange(50, 6000)) / 100,
                    "shares_granted": shares,
                    "shares_exercised": 0,
                    "expiration_date": expires,
                    "split_group": None,
                    "updated_at": now,
                }
            )
            held.append(grants[-1])
        if held and rng.random() < 0.2:  # a fifth recorded intents: tender, change, withdraw
            versions = rng.choices([1, 2, 3], weights=[70, 20, 10])[0]
            for version in range(1, versions + 1):
                withdraw = version == 3
                intents.append(
                    {
                        "employee_id": eid,
                        "version": version,
                        "kind": "withdraw" if withdraw else "tender",
                        "transition": "withdraw"
                        if withdraw
                        else ("change", "tender")[version == 1],
                        "lines": []
                        if withdraw
                        else [{"grant_number": g["grant_number"]} for g in held[:version]],
                        "recorded_at": now,
                        "actor": eid,
                        "channel": "slack",
                    }
                )
                if rng.random() < 0.5:
                    receipts.append(
                        {
                            "employee_id": eid,
                            "version": version,
                            "form": "withdrawal" if withdraw else "election",
                            "received_at": now,
                            "via": "fax",
                            "recorded_at": now,
                            "actor": "cli:hr",
                            "channel": "cli",
                        }
                    )
    return {"employees": people, "grants": grants, "intents": intents, "receipts": receipts}


async def _load(engine: AsyncEngine, rows: dict[str, list[dict[str, Any]]]) -> None:
    tables = (
        (EmployeeRow, "employees"),
        (GrantRow, "grants"),
        (ElectionIntentRow, "intents"),
        (FormReceiptRow, "receipts"),
    )
    async with engine.begin() as conn:
        for model, name in tables:
            batch = rows[name]
            for start in range(0, len(batch), 5_000):
                await conn.execute(insert(model), batch[start : start + 5_000])


async def plan_round(uow: UnitOfWork, *, slack: bool = True) -> tuple[int, int]:
    """The timed part: audience, templates and every copy of one round; (people, copies)."""
    async with uow:
        recipients = await eligible_recipients(uow, TERMS, now=SLOT_TIME)
    states = {r.state for r in recipients} - {ReminderState.FORM_RECEIVED}
    templates = {}
    for n, state in enumerate(sorted(states), start=1):
        subject, body = reminder_text(state, TERMS, now=SLOT_TIME)
        templates[state] = Communication(
            key=f"bench:{state.value}",
            kind="reminder",
            subject=subject,
            body=body,
            created_at=SLOT_TIME,
            id=n,
        )
    copies = reminder_copies(recipients, templates, slot="bench", slack=slack)
    return len(recipients), sum(map(len, copies.values()))


async def _round_through_scheduler(uow: UnitOfWork) -> None:
    settings = Settings(slack_bot_token="xoxb-bench", quiet_hours=None)  # type: ignore[call-arg]
    terms = await current_terms(uow=uow, terms=TERMS)
    async with uow:
        await plan_reminders(uow, terms=terms, settings=settings, now=SLOT_TIME)
        await uow.commit()
    await run_due_jobs(
        uow=uow,
        clock=ManualClock(SLOT_TIME),
        settings=settings,
        base_terms=TERMS,
        kinds=["reminder"],
    )


async def _queued(uow: UnitOfWork) -> int:
    """The copies the round queued, counted by the database (not timed). Reading them back as
    messages (``outbox.by_kind``) took ~6 s on PostgreSQL and was once inside the timing: half
    of the 11.9 s this bench gave while ``bench/serve_round.py`` gave 5–7 s for the same round."""
    async with uow:
        return await uow.outbox.count()  # the bench's outbox holds this round's copies only


async def measure(db_url: str, quick: bool, *, employees: int | None = None) -> list[Row]:
    """Rows for ``bench/run.py``: planning one round (target ≤ 5 s on 100,000 employees) and,
    without a target, the whole round queued through the scheduler."""
    count = employees or (QUICK if quick else FULL)
    db = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        await load_offer(uow=uow, terms=TERMS, digest="bench", now=SLOT_TIME)
        await _load(engine, _roster_rows(count))
        started, cpu = time.perf_counter(), time.process_time()
        people, copies = await plan_round(uow)
        planning, cpu = time.perf_counter() - started, time.process_time() - cpu
        started = time.perf_counter()
        await _round_through_scheduler(uow)
        whole = time.perf_counter() - started
        queued = await _queued(uow)
    finally:
        await engine.dispose()
    label = f"{count:,} employees"
    note = (
        f"{people:,} eligible, {copies:,} copies (e-mail + Slack); CPU {cpu:.2f} s, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    return [
        Row(
            measure=f"reminder planning, {label}",
            db=db,
            value=round(planning, 3),
            unit="s",
            target=f"≤ {TARGET_SECONDS:g} s",
            ok=planning <= TARGET_SECONDS,
            note=note,
        ),
        row(
            f"reminder round queued in the outbox, {label}",
            db=db,
            value=round(whole, 3),
            unit="s",
            note=f"{queued:,} outbox rows, a page of 5,000 employees per transaction",
        ),
    ]


async def _main(args: argparse.Namespace) -> None:
    backends = [b.strip() for b in args.db.split(",") if b.strip()]
    backends = ["postgresql" if b in ("pg", "postgres") else b for b in backends]
    with tempfile.TemporaryDirectory(prefix="bench-reminders-") as folder:
        async with Databases(Path(folder)) as databases:
            for backend in backends:
                if backend not in BACKENDS:
                    raise SystemExit(f"unknown --db {backend!r} (use {', '.join(BACKENDS)})")
                async with databases.fresh(backend, "reminders") as url:
                    if args.profile:
                        await _profiled(url, args.employees)
                        continue
                    for r in await measure(url, False, employees=args.employees):
                        verdict = {True: "PASS", False: "MISS", None: "—"}[r["ok"]]
                        print(
                            f"{r['measure']:<52} {r['db']:<10} {r['value']:>8.3f} {r['unit']}"
                            f"  {r['target'] or '':<8} {verdict:<5} {r.get('note', '')}"
                        )


async def _profiled(url: str, employees: int) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        await load_offer(uow=uow, terms=TERMS, digest="bench", now=SLOT_TIME)
        await _load(engine, _roster_rows(employees))
        profiler = cProfile.Profile()
        profiler.enable()
        await plan_round(uow)
        profiler.disable()
    finally:
        await engine.dispose()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=FULL)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or both (comma)")
    parser.add_argument("--profile", action="store_true", help="cProfile the planning")
    asyncio.run(_main(parser.parse_args()))
