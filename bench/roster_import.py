"""Roster import speed: write a roster of N grants as HR's two CSV files, import them into a
fresh database (first import), then import the same files again (unchanged re-import).

    python3 bench/roster_import.py [--grants 100000] [--db sqlite,postgresql] [--profile]

``--profile`` runs the first import under cProfile and prints the most expensive calls (the
CSV files are read in a worker thread, which cProfile does not see).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.databases import BACKENDS, Databases
from bench.roster_data import BenchRoster, write_bench_roster
from bot.domain.records import UpsertCounts
from bot.services.offer.live_offer import load_offer
from bot.services.roster.import_roster import ImportResult, import_roster
from knowledge.offer_terms import load_offer_terms, terms_digest
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork

__all__ = ["LABELS", "ImportTiming", "backends_argument", "populate", "timed_imports"]

LABELS = ("first import", "re-import (unchanged)")


@dataclass(frozen=True, slots=True)
class ImportTiming:
    label: str
    seconds: float
    cpu_seconds: float  # this process, all threads: the part a busy machine cannot inflate
    result: ImportResult


async def timed_imports(
    db_url: str, roster: BenchRoster, *, labels: tuple[str, ...] = LABELS, profile: bool = False
) -> list[ImportTiming]:
    """Migrate the empty database at ``db_url`` and load the offer (as ``offerbot init`` does),
    then import the roster once per label, timing each import."""
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        terms = load_offer_terms()
        await load_offer(uow=uow, terms=terms, digest=terms_digest(), now=datetime.now(UTC))
        timings: list[ImportTiming] = []
        for label in labels:
            profiler = cProfile.Profile() if profile and not timings else None
            started, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            result = await import_roster(
                offer_id=terms.offer_id,
                uow=uow,
                employees_csv=roster.employees_csv,
                grants_csv=roster.grants_csv,
                now=datetime.now(UTC),
            )
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            if profiler is not None:
                profiler.disable()
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(30)
                stats.sort_stats("tottime").print_stats(30)
            timings.append(ImportTiming(label, took, cpu, result))
        return timings
    finally:
        await engine.dispose()


async def populate(db_url: str, roster: BenchRoster) -> ImportTiming:
    """A fresh database made ready to serve: migrated, offer loaded, roster imported."""
    (timing,) = await timed_imports(db_url, roster, labels=LABELS[:1])
    return timing


async def main(grants: int, backends: list[str], profile: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        roster = write_bench_roster(folder, grants)
        print(
            f"roster: {len(roster.roster.employees):,} employees, "
            f"{len(roster.roster.grants):,} grants "
            f"(generated + written in {time.perf_counter() - started:.2f} s)",
            flush=True,
        )
        async with Databases(folder) as databases:
            for backend in backends:
                async with databases.fresh(backend, "roster") as db_url:
                    for t in await timed_imports(db_url, roster, profile=profile):
                        print(
                            f"{backend:10} {t.label:22} {t.seconds:6.2f} s "
                            f"(cpu {t.cpu_seconds:5.2f} s)  "
                            f"{roster.rows / t.seconds:9,.0f} rows/s  "
                            f"employees {_counts(t.result.employees)}  "
                            f"grants {_counts(t.result.grants)}",
                            flush=True,
                        )


def _counts(counts: UpsertCounts) -> str:
    return f"+{counts.inserted:,} ~{counts.updated:,} ={counts.unchanged:,}"


def backends_argument(text: str) -> list[str]:
    """``--db sqlite,postgresql`` → the backends, in order."""
    chosen = [b.strip() for b in text.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(BACKENDS)}")
    return chosen


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument(
        "--db", type=backends_argument, default=["sqlite"], help="sqlite,postgresql"
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.grants, args.db, args.profile))
