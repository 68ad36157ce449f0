"""The HR web console at scale: server time of the dashboard and the employee list.

Builds a fresh database (SQLite, or PostgreSQL: a throwaway server, or OFFERBOT_BENCH_PG_URL),
loads the offer and a demo roster of ``--employees`` people, records intents for every tenth
eligible one, signs in over loopback HTTP and times ``GET /hr/``, ``GET /hr/employees`` and a
filtered, searched list. Prints p50/p95 per page (milliseconds, measured by the client over
loopback, so it includes HTTP but no network). Target (issue 16): p95 ≤ 300 ms at 20,000
employees on PostgreSQL.

    python -m bench.hr_console --db postgresql --employees 20000 --requests 20
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.databases import Databases
from bot.clock import ManualClock, parse_instant
from bot.config import Settings
from bot.runtime.bootstrap import build
from bot.services.elections import record_intent
from bot.services.hr.web_accounts import add_account
from bot.services.identity import Identity
from bot.services.offer.live_offer import load_offer
from bot.services.roster.import_roster import import_roster
from handlers.web import add_console_routes
from knowledge.demo_roster import generate_demo_roster, write_csv
from storage.migrate import upgrade

NOW = "2003-07-10T09:00:00-07:00"
PAGES = (
    "/hr/",
    "/hr/employees",
    "/hr/employees?state=no_intent&q=an",
    "/hr/employees?department=Engineering&location=Van+Nuys%2C+CA",
)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def measure(backend: str, employees: int, requests: int) -> dict[str, tuple[float, float]]:
    async with (
        Databases(Path(tempfile.mkdtemp(prefix="bench-hr-"))) as databases,
        databases.fresh(backend, "hr-console") as url,
    ):
        settings = Settings(_env_file=None, database_url=url, hr_console_secure_cookie=False)  # type: ignore[call-arg]
        clock = ManualClock(parse_instant(NOW))
        app = build(settings, clock=clock)
        try:
            await upgrade(app.engine)
            now = clock.now()
            await load_offer(uow=app.uow(), terms=app.base_terms, digest=app.terms_digest, now=now)
            roster = generate_demo_roster(app.base_terms, employees=employees)
            folder = Path(tempfile.mkdtemp(prefix="bench-hr-roster-"))
            write_csv(roster, folder / "e.csv", folder / "g.csv")
            await import_roster(
                uow=app.uow(), offer_id=app.base_terms.offer_id, employees_csv=folder / "e.csv",
                grants_csv=folder / "g.csv", skip_invalid=True, actor="bench", now=now,
            )  # fmt: skip
            await _some_intents(app, roster)
            await add_account(
                uow=app.uow(), email="bench@example.com", role="viewer",
                password="bench-password-1", actor=Identity("cli", "bench"), now=now,
            )  # fmt: skip
            return await _time_pages(app, requests)
        finally:
            await app.aclose()


async def _some_intents(app: object, roster: object) -> None:
    """Every tenth employee with grants tenders them all; ineligible ones are refused (fine)."""
    from bot.domain.errors import DomainError
    from bot.services.errors import ServiceError

    by_employee: dict[str, list[str]] = {}
    for g in roster.grants:  # type: ignore[attr-defined]
        by_employee.setdefault(g.employee_id, []).append(g.grant_number)
    for n, (eid, grants) in enumerate(sorted(by_employee.items())):
        if n % 10:
            continue
        try:
            await record_intent(
                uow=app.uow(), terms=app.base_terms, employee_id=eid,  # type: ignore[attr-defined]
                grant_numbers=grants, identity=Identity("cli", "bench"),
                now=app.clock.now(),  # type: ignore[attr-defined]
            )  # fmt: skip
        except (DomainError, ServiceError):
            continue


async def _time_pages(app: object, requests: int) -> dict[str, tuple[float, float]]:
    timed = await time_console_gets(app, [(path, requests) for path in PAGES])
    return {path: (p50, p95) for path, (p50, p95, _) in timed.items()}


async def time_console_gets(
    app: object, plan: Sequence[tuple[str, int]]
) -> dict[str, tuple[float, float, int]]:
    """Serve the console over loopback, sign in as the bench admin, then GET each path of
    ``plan`` its count + 1 times (the first warms caches): path → (p50 ms, p95 ms, bytes).
    Shared with ``bench/communications_log.py``."""
    web_app = web.Application()
    add_console_routes(web_app, app, host="127.0.0.1")  # type: ignore[arg-type]
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    results = {}
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(base + "/hr/login") as r:
                token = _CSRF.search(await r.text()).group(1)  # type: ignore[union-attr]
            async with http.post(
                base + "/hr/login",
                data={"csrf_token": token, "email": "bench@example.com",
                      "password": "bench-password-1"},
                allow_redirects=False,
            ) as r:  # fmt: skip
                assert r.status == 303, r.status
            for path, count in plan:
                timings = []
                size = 0
                for _ in range(count + 1):
                    started = time.perf_counter()
                    async with http.get(base + path) as r:
                        size = len(await r.read())
                        assert r.status == 200, (path, r.status)
                    timings.append((time.perf_counter() - started) * 1000)
                timings = timings[1:]  # the first warms caches
                cuts = statistics.quantiles(timings, n=20, method="inclusive")
                results[path] = (statistics.median(timings), cuts[18], size)
    finally:
        await runner.cleanup()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--employees", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    results = asyncio.run(measure(args.db, args.employees, args.requests))
    print(f"HR console, {args.employees:,} employees, {args.db}, {args.requests} requests each")
    for path, (p50, p95) in results.items():
        print(f"  GET {path:<40} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


if __name__ == "__main__":
    main()
