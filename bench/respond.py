"""The path every channel calls: :func:`bot.services.questions.conversation.respond` against the
answer alone (:func:`knowledge.answerer.answer` with terms already in hand), question by question.

    python3 bench/respond.py [--rounds 20] [--db sqlite,postgresql]

Both are timed on the same questions in the same process, interleaved, so a loaded machine
slows both alike; what is reported is each one's p50/p99 and the *overhead* — the p50 of
(respond − answer) per question — whose target is ≤ 1 ms: one read of the offer state, the
knowledge base from memory, the reply and (for a verified person told the deadline) one
audit row. The asker is a verified Slack employee of a one-person roster.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from bench.databases import BACKENDS, Databases
from bench.roster_import import backends_argument
from bench.table import Row, row
from bot.clock import SimulatedClock, parse_instant
from bot.config import Settings
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from bot.runtime.bootstrap import App, build
from bot.services.identity import Identity
from bot.services.offer.live_offer import current_terms, load_offer
from bot.services.questions.conversation import ConversationDeps, respond
from knowledge.answerer import answer, knowledge_base
from knowledge.evaluation import percentile
from knowledge.offer_terms import bundled_offer_dir
from storage.migrate import upgrade
from storage.offer_reads import offer_state_reads

__all__ = ["QUESTIONS", "RespondTimings", "measure", "respond_times"]

DEMO_NOW = "2003-07-10T09:00:00-07:00"
OVERHEAD_TARGET_MS = 1.0
# Offer questions of several kinds (entry, advice, small talk, out of scope, deadline); none
# personal, so the work compared is the same on both sides.
QUESTIONS = (
    "What happens to my options if I leave the company before the new grant?",
    "How do I tender my options?",
    "Should I tender my options?",
    "When does the offer expire?",
    "What is the exchange ratio for options priced above $10?",
    "Can I tender only part of a grant?",
    "hello",
    "What's the weather in Seattle?",
    "Will the new options be incentive stock options?",
    "Who do I call with questions about the offer?",
)


@dataclass(frozen=True, slots=True)
class RespondTimings:
    questions: int
    answer_p50_ms: float
    answer_p99_ms: float
    respond_p50_ms: float
    respond_p99_ms: float
    overhead_p50_ms: float


async def respond_times(db_url: str, *, rounds: int, verified: bool = True) -> RespondTimings:
    """``rounds`` passes over :data:`QUESTIONS` (after one warm-up pass), asked by a verified
    Slack employee (an answer that tells the deadline adds one audit row) or, with
    ``verified=False``, on the console (nothing is written: the offer state is the one read)."""
    settings = Settings(database_url=db_url, now=DEMO_NOW)  # type: ignore[call-arg]
    application = build(settings, clock=SimulatedClock(parse_instant(DEMO_NOW)))
    try:
        await upgrade(application.engine)
        uow, base = application.uow(), application.base_terms
        await load_offer(uow=uow, terms=base, digest="bench", now=datetime.now(UTC))
        await _one_employee(application)
        deps = application.conversation()
        identity = (
            Identity(channel="slack", actor="U-bench", employee_id="E-bench")
            if verified
            else Identity(channel="console", actor="console")
        )
        kb = knowledge_base(deps.offer_dir or bundled_offer_dir())
        terms = await current_terms(uow=uow, terms=base)
        await _listening(application, identity, deps)
        answers, responds, overheads = [], [], []
        for n in range(rounds + 1):
            for question in QUESTIONS:
                started = time.perf_counter()
                answer(question, kb=kb, terms=terms)
                alone = time.perf_counter() - started
                started = time.perf_counter()
                await respond(text=question, identity=identity, deps=deps)
                whole = time.perf_counter() - started
                if n:  # the first pass warms caches on both sides
                    answers.append(alone * 1000)
                    responds.append(whole * 1000)
                    overheads.append((whole - alone) * 1000)
        return RespondTimings(
            questions=len(answers),
            answer_p50_ms=percentile(answers, 50),
            answer_p99_ms=percentile(answers, 99),
            respond_p50_ms=percentile(responds, 50),
            respond_p99_ms=percentile(responds, 99),
            overhead_p50_ms=percentile(overheads, 50),
        )
    finally:
        await application.aclose()


async def _listening(application: App, identity: Identity, deps: ConversationDeps) -> None:
    """On PostgreSQL, the first question starts listening for changes of the offer state
    (storage/offer_state_listener.py); a running service has long been listening when most
    questions come, so the timing starts once it is (at most 10 s: else it times the reads)."""
    await respond(text=QUESTIONS[0], identity=identity, deps=deps)
    reads = offer_state_reads(application.sessions)
    listener = reads.listener if reads is not None else None
    if listener is None:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while not listener.trusted:
                await listener.wait_for_change(listener.version)


async def _one_employee(application: object) -> None:
    """The asker, so note_deadline_asked has someone to note (one audit row per deadline)."""
    uow = application.uow()  # type: ignore[attr-defined]
    async with uow:
        await uow.employees.upsert_many(
            [
                Employee(
                    employee_id="E-bench",
                    name="Bench Person",
                    email="bench@example.com",
                    country="US",
                    status=EmployeeStatus.ACTIVE,
                    employee_class=EmployeeClass.EMPLOYEE,
                    slack_user_id="U-bench",
                )
            ]
        )
        await uow.grants.upsert_many(
            [
                Grant(
                    grant_number="G-bench",
                    employee_id="E-bench",
                    plan="2000 Stock Plan",
                    grant_date=date(2000, 3, 1),
                    option_type=OptionType.NSO,
                    exercise_price=Decimal("25.00"),
                    shares_granted=1000,
                    shares_exercised=0,
                    expiration_date=date(2010, 3, 1),
                )
            ]
        )
        await uow.commit()


async def measure(db_url: str, quick: bool) -> list[Row]:
    """Rows for ``bench/run.py``."""
    db = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    rounds = 5 if quick else 30
    t = await respond_times(db_url, rounds=rounds)
    c = await respond_times(db_url, rounds=rounds, verified=False)
    note = (
        f"{t.questions} questions; answer alone p50 {t.answer_p50_ms:.2f} ms / p99 "
        f"{t.answer_p99_ms:.2f} ms; load average {os.getloadavg()[0]:.1f}"
    )
    return [
        row("respond p50 (every channel's path)", db=db, value=t.respond_p50_ms, unit="ms",
            note=note),
        row("respond p99 (every channel's path)", db=db, value=t.respond_p99_ms, unit="ms",
            note=note),
        row("respond − answer alone, p50, verified Slack asker", db=db,
            value=t.overhead_p50_ms, unit="ms", at_most=OVERHEAD_TARGET_MS,
            note="per question, interleaved; includes the deadline-told audit row"),
        row("respond − answer alone, p50, console asker", db=db, value=c.overhead_p50_ms,
            unit="ms", at_most=OVERHEAD_TARGET_MS,
            note="per question, interleaved; the one read of the offer state"),
    ]  # fmt: skip


async def _main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-respond-") as folder:
        async with Databases(Path(folder)) as databases:
            for backend in args.db:
                async with databases.fresh(backend, "respond") as url:
                    for verified in (True, False):
                        t = await respond_times(url, rounds=args.rounds, verified=verified)
                        who = "slack  " if verified else "console"
                        print(
                            f"{backend:10} {who} {t.questions} questions: answer alone p50 "
                            f"{t.answer_p50_ms:.2f} / p99 {t.answer_p99_ms:.2f} ms; respond p50 "
                            f"{t.respond_p50_ms:.2f} / p99 {t.respond_p99_ms:.2f} ms; overhead p50 "
                            f"{t.overhead_p50_ms:.2f} ms (target ≤ {OVERHEAD_TARGET_MS:g} ms)"
                        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--db", type=backends_argument, default=list(BACKENDS[:1]))
    asyncio.run(_main(parser.parse_args()))
