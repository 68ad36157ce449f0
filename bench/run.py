"""Every benchmark, one table: a row per measure and per database, with its target.

    python3 bench/run.py [--db sqlite,postgresql] [--quick] [--markdown] [--json FILE]

Measures: question answering (p50/p99 per question, top-1 accuracy on the developer set),
roster import of 100,000 grants (first import and unchanged re-import), App Home render time
of an employee with 50 grants (the Home lists 20 of them), resident memory of a running
``offerbot serve`` over that roster; then any plug-in module found beside this file
(``bench/respond.py``: the path every channel calls against the answer alone;
``bench/reminders.py``; ``bench/serve_round.py``: a 100,000-employee reminder round inside
``offerbot serve``, fully queued, and its RSS while it runs; ``bench/broadcast.py``;
``bench/ask_start.py``: ``offerbot ask`` in a fresh process, Python's start included) that
defines ``async def measure(db_url, quick) -> list[Row]`` (see :mod:`bench.table`), each on a
fresh database per backend.

``--quick`` runs small sizes (2,000 grants, 20 renders) as a smoke test: its figures are not
comparable with the targets. PostgreSQL is a throwaway server started on loopback (the test
suite's ``tests/servers.py``) unless ``OFFERBOT_BENCH_PG_URL`` names one. A measure that fails
is printed with its traceback and shows as "not measured"; the rest still run.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import importlib
import json
import os
import platform
import sqlite3
import subprocess
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from bench.app_home import render_times
from bench.databases import BACKENDS, PG_URL_VARIABLE, Databases
from bench.qa import qa_rows
from bench.roster_data import BenchRoster, write_bench_roster
from bench.roster_import import backends_argument, timed_imports
from bench.serve_memory import home_users, serve_memory
from bench.table import NO_DB, Row, markdown, rich_table, row

__all__ = ["FULL", "PLUGINS", "QUICK", "Sizes", "collect", "machine"]

BENCH = Path(__file__).resolve().parent
# bench/NAME.py, when present, with `measure`: the answer path, the reminder round (planning,
# in-process queueing, and inside a running `offerbot serve` with its RSS), the broadcast pipeline,
# a fresh `offerbot ask` process
PLUGINS = ("respond", "reminders", "serve_round", "hr_report", "broadcast", "ask_start")

Measure = Callable[[str, bool], Awaitable[list[Row]]]  # a plug-in's `measure(db_url, quick)`

IMPORT_TARGET_S = 10.0
HOME_P99_TARGET_MS = 50.0
RSS_TARGET_MB = 200.0


@dataclass(frozen=True, slots=True)
class Sizes:
    grants: int
    renders: int
    homes: int  # App Homes opened in the running process before its memory is read
    settle_s: float  # wait after `offerbot serve` starts (its worker's first pass)


FULL = Sizes(grants=100_000, renders=200, homes=5, settle_s=5.0)
QUICK = Sizes(grants=2_000, renders=20, homes=3, settle_s=2.0)


async def collect(
    backends: list[str],
    *,
    quick: bool,
    sizes: Sizes | None = None,
    plugins: tuple[str, ...] = PLUGINS,
    with_qa: bool = True,
    say: Callable[[str], None] = print,
) -> list[Row]:
    """Run every measure; the rows in the order they are printed."""
    sizes = sizes or (QUICK if quick else FULL)
    rows: list[Row] = []
    if with_qa:
        say("question answering …")
        rows += await _guarded("question answering", NO_DB, asyncio.to_thread(qa_rows, quick))
    with tempfile.TemporaryDirectory(prefix="offerbot-bench-") as tmp:
        folder = Path(tmp)
        say(f"writing a roster of {sizes.grants:,} grants …")
        roster = await asyncio.to_thread(write_bench_roster, folder, sizes.grants)
        async with Databases(folder) as databases:
            for backend in backends:
                say(f"{backend}: roster import, App Home, offerbot serve …")
                rows += await _guarded(
                    f"roster import, {sizes.grants:,} grants",
                    backend,
                    _roster_measures(databases, backend, roster, sizes),
                )
            for name in plugins:
                measure = _plugin(name)
                if measure is None:
                    continue
                for backend in backends:
                    say(f"{backend}: {name} …")
                    rows += await _guarded(
                        name, backend, _fresh(databases, backend, name, measure, quick)
                    )
    return rows


async def _roster_measures(
    databases: Databases, backend: str, roster: BenchRoster, sizes: Sizes
) -> list[Row]:
    grants = f"{len(roster.roster.grants):,} grants"
    context = _load_note()
    rows: list[Row] = []
    async with databases.fresh(backend, "roster") as db_url:
        first, again = await timed_imports(db_url, roster)
        for timing, measure in (
            (first, f"roster import, {grants}"),
            (again, f"roster re-import (unchanged), {grants}"),
        ):
            employees, granted = timing.result.employees, timing.result.grants
            rows.append(
                row(
                    measure,
                    db=backend,
                    value=timing.seconds,
                    unit="s",
                    at_most=IMPORT_TARGET_S,
                    note=(
                        f"{len(roster.roster.employees):,} employees; inserted "
                        f"{employees.inserted + granted.inserted:,}, updated "
                        f"{employees.updated + granted.updated:,}, unchanged "
                        f"{employees.unchanged + granted.unchanged:,}; "
                        f"CPU {timing.cpu_seconds:.2f} s; {context}"
                    ),
                )
            )
        home = await render_times(db_url, renders=sizes.renders)
        note = f"{home.renders} renders, {home.grants_shown} grants shown; {grants} stored"
        rows += [
            row("App Home render p50, 50 grants", db=backend, value=home.p50_ms, unit="ms",
                note=note),
            row("App Home render p99, 50 grants", db=backend, value=home.p99_ms, unit="ms",
                at_most=HOME_P99_TARGET_MS, note=note),
        ]  # fmt: skip
        memory = await serve_memory(db_url, users=home_users(sizes.homes), settle=sizes.settle_s)
        rows.append(
            row(
                f"RSS of offerbot serve, {grants}",
                db=backend,
                value=memory.rss_mb,
                unit="MB",
                at_most=RSS_TARGET_MB,
                note=(
                    f"VmRSS after {memory.homes} App Homes; peak (VmHWM) "
                    f"{memory.peak_mb:.0f} MB"
                    + (f"; {memory.resent} events sent again" if memory.resent else "")
                ),
            )
        )
    return rows


async def _fresh(
    databases: Databases, backend: str, name: str, measure: Measure, quick: bool
) -> list[Row]:
    async with databases.fresh(backend, name) as db_url:
        return await measure(db_url, quick)


async def _guarded(measure: str, db: str, work: Awaitable[list[Row]]) -> list[Row]:
    """The rows of ``work``; if it fails, its traceback on stderr and one "not measured" row."""
    try:
        return await work
    except Exception as exc:  # one broken measure must not hide the others' figures
        traceback.print_exc(file=sys.stderr)
        return [row(measure, db=db, value=None, unit="", note=f"failed: {exc}"[:200])]


def _plugin(name: str) -> Measure | None:
    if not (BENCH / f"{name}.py").exists():
        return None
    module = importlib.import_module(f"bench.{name}")
    measure = getattr(module, "measure", None)
    return measure if callable(measure) else None


def _load_note() -> str:
    load = os.getloadavg()[0]
    return f"load average {load:.1f} on {os.cpu_count()} CPUs"


def machine() -> dict[str, Any]:
    """What the figures were measured on (for bench/RESULTS.md)."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(),
        "platform": platform.platform(),
    }


def _postgres_version() -> str | None:
    """The server binaries a throwaway server would be started from (none: not installed)."""
    if os.environ.get(PG_URL_VARIABLE):
        return f"server at {PG_URL_VARIABLE}"
    from tests.servers import postgres_bin_dir

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        return None
    done = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip().removeprefix("postgres (PostgreSQL) ") or None


async def main(args: argparse.Namespace) -> int:
    console = Console(width=None if sys.stdout.isatty() else 200)
    info = machine()
    console.print(
        f"[bold]offerbot benchmarks[/] {time.strftime('%Y-%m-%d %H:%M')} — {info['cpu']}, "
        f"{info['cpus']} CPUs, {info['memory_gb']} GB, Python {info['python']}, "
        f"SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}"
        + (" — quick sizes" if args.quick else "")
    )
    started = time.perf_counter()
    rows = await collect(
        args.db,
        quick=args.quick,
        say=lambda text: console.print(f"[dim]{text}[/]"),
    )
    console.print(rich_table(rows, title=f"{time.perf_counter() - started:.0f} s in all"))
    if args.markdown:
        print(markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")
    return 1 if any(r["ok"] is False for r in rows) and args.strict else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db",
        type=backends_argument,
        default=list(BACKENDS),
        help="databases to measure on, comma-separated (default: sqlite,postgresql)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    sys.exit(asyncio.run(main(parser.parse_args())))
