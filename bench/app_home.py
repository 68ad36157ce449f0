"""App Home render time: the service calls that gather one employee's Home (offer state,
grants with eligibility, intent status) plus the Block Kit rendering, timed together, against
a populated database — as ``app_home_opened`` runs them before ``views.publish``.

    python3 bench/app_home.py [--grants 100000] [--renders 200] [--db sqlite,postgresql]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import re
import tempfile
import time
from dataclasses import dataclass

from bench.databases import BACKENDS, Databases
from bench.roster_data import HEAVY_EMPLOYEE, write_bench_roster
from bench.roster_import import backends_argument, populate
from bot.clock import SimulatedClock, parse_instant
from bot.config import Settings
from bot.runtime.bootstrap import build
from bot.services.identity import Identity
from knowledge.evaluation import percentile

__all__ = ["DEMO_NOW", "HomeTimings", "render_times"]

DEMO_NOW = "2003-07-10T09:00:00-07:00"  # inside the offer window: the Home shows its buttons


@dataclass(frozen=True, slots=True)
class HomeTimings:
    renders: int
    grants_shown: int  # of the heavy employee's H0000001… grants, how many the view names
    p50_ms: float
    p99_ms: float


async def render_times(
    db_url: str, *, renders: int, employee_id: str = HEAVY_EMPLOYEE.employee_id
) -> HomeTimings:
    """Render ``employee_id``'s Home ``renders`` times (after 5 warm-up renders)."""
    settings = Settings(
        database_url=db_url,
        now=DEMO_NOW,
        slack_bot_token="xoxb-bench",
        slack_signing_secret="bench-secret",
        slack_api_url="http://127.0.0.1:9/api/",  # never called: nothing is published
    )
    application = build(settings, clock=SimulatedClock(parse_instant(DEMO_NOW)))
    try:
        _bolt, deps = application.slack_app()
        identity = Identity(channel="slack", actor="U-bench", employee_id=employee_id)
        for _ in range(5):
            view = await deps.home(identity)
        took = []
        for _ in range(renders):
            started = time.perf_counter()
            view = await deps.home(identity)
            took.append((time.perf_counter() - started) * 1000)
        return HomeTimings(
            renders=renders,
            grants_shown=len(set(re.findall(r"\bH\d{7}\b", json.dumps(view)))),
            p50_ms=percentile(took, 50),
            p99_ms=percentile(took, 99),
        )
    finally:
        await application.aclose()


async def main(grants: int, renders: int, backends: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        roster = write_bench_roster(Path(tmp), grants)
        async with Databases(Path(tmp)) as databases:
            for backend in backends:
                async with databases.fresh(backend, "home") as db_url:
                    await populate(db_url, roster)
                    t = await render_times(db_url, renders=renders)
                    print(
                        f"{backend:10} App Home of {HEAVY_EMPLOYEE.employee_id} "
                        f"({t.grants_shown} grants shown), {t.renders} renders: "
                        f"p50 {t.p50_ms:.1f} ms, p99 {t.p99_ms:.1f} ms"
                    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--db", type=backends_argument, default=list(BACKENDS[:1]))
    args = parser.parse_args()
    asyncio.run(main(args.grants, args.renders, args.db))
