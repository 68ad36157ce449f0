"""Roster import speed and memory: generate a demo roster of N employees, write the CSVs, import
them into a fresh SQLite file twice (insert, then an unchanged re-import) and print figures.

    python3 bench/roster_import.py [--employees 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.services.roster_import import import_roster
from knowledge.demo_roster import generate_demo_roster, write_csv
from knowledge.offer_terms import load_offer_terms
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork


async def main(employees: int) -> None:
    terms = load_offer_terms()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        roster = generate_demo_roster(terms, employees=employees)
        write_csv(roster, folder / "employees.csv", folder / "grants.csv")
        generated = time.perf_counter() - started
        rows = len(roster.employees) + len(roster.grants)
        engine = create_engine(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        print(
            f"roster: {len(roster.employees):,} employees, {len(roster.grants):,} grants "
            f"(generated + written in {generated:.2f} s)"
        )
        for label in ("first import", "re-import (unchanged)"):
            started = time.perf_counter()
            await import_roster(
                uow=uow,
                employees_csv=folder / "employees.csv",
                grants_csv=folder / "grants.csv",
                now=datetime.now(UTC),
            )
            took = time.perf_counter() - started
            print(f"{label}: {took:.2f} s, {rows / took:,.0f} rows/s")
        await engine.dispose()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=5000)
    asyncio.run(main(parser.parse_args().employees))
