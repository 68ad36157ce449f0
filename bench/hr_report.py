"""``hr report`` and the roster check of ``offerbot doctor`` over a large roster: time and peak
memory of each, the streamed report beside the old read-everything computation.

    python3 bench/hr_report.py [--employees 65000] [--db sqlite,postgresql]

The roster is the reminder bench's (:mod:`bench.reminders`, ~1.5 grants per person, a fifth
with intents; 65,000 people hold about 100,000 grants). Each computation runs in a fresh
Python process of its own, so its peak resident memory (VmHWM) is its own: ``streamed`` is
:func:`bot.services.elections.reports.hr_report` as ``offerbot hr report`` calls it (the roster
read a page at a time); ``everything`` is the same report from
:func:`~bot.services.elections.reports.load_snapshot` (every employee and grant, every
assessment), as it was computed before issue 15; ``doctor`` is
:func:`bot.runtime.doctor.check_roster`.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import os
import tempfile
import time
from typing import Any

from bench.databases import BACKENDS, Databases
from bench.reminders import SLOT_TIME, TERMS, _load, _roster_rows
from bench.roster_import import backends_argument
from bench.table import Row, row
from bot.services.offer.live_offer import load_offer
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork

__all__ = ["MODES", "measure", "run_mode"]

ROOT = Path(__file__).resolve().parents[1]
FULL, QUICK = 65_000, 3_000
MODES = ("streamed", "everything", "doctor")


async def _prepare(db_url: str, employees: int) -> int:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        await load_offer(uow=uow, terms=TERMS, digest="bench", now=SLOT_TIME)
        rows = _roster_rows(employees)
        by_number = {g["grant_number"]: g for g in rows["grants"]}
        for intent in rows["intents"]:  # the report reads whole lines, not only the numbers
            intent["lines"] = [_line(by_number[line["grant_number"]]) for line in intent["lines"]]
        await _load(engine, rows)
        return len(rows["grants"])
    finally:
        await engine.dispose()


def _line(grant: dict[str, Any]) -> dict[str, Any]:
    return {
        "grant_number": grant["grant_number"],
        "grant_date": grant["grant_date"].isoformat(),
        "option_type": grant["option_type"],
        "exercise_price": str(grant["exercise_price"]),
        "unexercised_shares": grant["shares_granted"] - grant["shares_exercised"],
        "split_group": None,
    }


async def _child(db_url: str, mode: str) -> None:
    """In the child process: run ``mode`` once, print {seconds, peak_mb, digest} as JSON."""
    from bot.config import Settings
    from bot.runtime.doctor import check_roster
    from bot.services.elections.reports import hr_report, load_snapshot
    from bot.services.identity import Identity

    engine = create_engine(db_url)
    uow = UnitOfWork(session_factory(engine))
    hr = Identity(channel="cli", actor="cli:hr")
    started = time.perf_counter()
    if mode == "doctor":
        result = await check_roster(Settings(database_url=db_url), engine, TERMS)  # type: ignore[call-arg]
        out = result.detail
    else:
        snapshot = await load_snapshot(uow, TERMS) if mode == "everything" else None
        report = await hr_report(
            uow=uow, terms=TERMS, identity=hr, now=SLOT_TIME, snapshot=snapshot
        )
        out = json.dumps(report, indent=2)
    seconds = time.perf_counter() - started
    await engine.dispose()
    peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "output": out}))


async def run_mode(db_url: str, mode: str) -> dict[str, Any]:
    """Run one computation in a fresh process; its seconds, peak MB and output."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.hr_report", "--child", mode, "--url", db_url,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{err.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def measure(db_url: str, quick: bool, *, employees: int | None = None) -> list[Row]:
    """Rows for ``bench/run.py``: the three computations, time and peak memory each."""
    db = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    grants = await _prepare(db_url, employees or (QUICK if quick else FULL))
    results: dict[str, dict[str, Any]] = {m: await run_mode(db_url, m) for m in MODES}
    same = results["streamed"]["output"] == results["everything"]["output"]
    rows = []
    for mode, label in (
        ("streamed", "hr report --json, streamed"),
        ("everything", "hr report, read everything (as before)"),
        ("doctor", "doctor roster check, streamed"),
    ):
        r = results[mode]
        note = (
            f"peak RSS (VmHWM) {float(r['peak_mb']):.0f} MB; load average {os.getloadavg()[0]:.1f}"
        )
        if mode == "streamed":
            note += "; output byte-identical to the old computation: " + ("yes" if same else "NO")
        rows.append(
            row(
                f"{label}, {grants:,} grants", db=db, value=float(r["seconds"]), unit="s", note=note
            )
        )
    return rows


async def _main(args: argparse.Namespace) -> None:
    if args.child:
        await _child(args.url, args.child)
        return
    with tempfile.TemporaryDirectory(prefix="bench-hr-report-") as folder:
        async with Databases(Path(folder)) as databases:
            for backend in args.db:
                async with databases.fresh(backend, "hr_report") as url:
                    for r in await measure(url, False, employees=args.employees):
                        print(
                            f"{r['db']:10} {r['measure']:<52} {r['value']:>7.2f} s  "
                            f"{r.get('note', '')}"
                        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=FULL)
    parser.add_argument("--db", type=backends_argument, default=list(BACKENDS[:1]))
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    asyncio.run(_main(parser.parse_args()))
