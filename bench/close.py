"""`offerbot hr close` at scale: N received tenders, closed by the real command in a child process.

    python -m bench.close --tenders 20000 [--database sqlite|postgresql] [--batch-size 250]

Builds a fresh database (migrated, offer loaded) with N employees, each with one or two
eligible grants, a tender of them (intent version 1) and HR's receipt of the signed form; then
runs ``offerbot hr close`` as HR would, after the expiration, and measures its wall time (process
start included), the child's peak RSS (``getrusage``) and the whole close's memory — the
command and the render workers it forks (``bot/forms/pool.py``), sampled every 0.2 s from
/proc: the largest sum of their RSS (shared pages counted in each process) and of their PSS
(shared pages split between them, the honest total). The last line is::

    close: N tenders in S s, peak RSS M MB, letters L, with its workers RSS R MB / PSS P MB

where L counts the Promise to Grant messages in the outbox (the PDFs on disk are counted too and
must agree). ``measure`` gives ``bench/run.py`` the same as two rows (time ≤ 120 s, and the
whole close's PSS ≤ 400 MB at 20,000; 500 tenders with ``--quick``). A PostgreSQL server is
started on loopback unless ``OFFERBOT_BENCH_PG_URL`` names one (see :mod:`bench.databases`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.table import Row, row
from bot.domain.elections import (
    Delivery,
    FormKind,
    IntentKind,
    IntentLine,
    Transition,
)
from bot.domain.hr_records import MessageKind
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from bot.services.offer.live_offer import load_offer
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms, terms_digest
from storage.db import create_engine, session_factory
from storage.elections_repo import line_to_json
from storage.migrate import upgrade
from storage.models import ElectionIntentRow, FormReceiptRow, OutboxRow
from storage.uow import UnitOfWork

__all__ = [
    "AFTER_EXPIRATION",
    "CloseFigures",
    "build_close_roster",
    "close_command",
    "close_figures",
    "count_letters",
    "main",
    "measure",
]

AFTER_EXPIRATION = "2003-07-25T09:00:00-07:00"  # the morning after the offer expired
_RECORDED = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
_RECEIVED = datetime(2003, 7, 15, 16, 0, tzinfo=UTC)
_PLAN = "2000 Equity Incentive Plan"
_CHUNK = 2_000


def _employee(i: int) -> Employee:
    return Employee(
        employee_id=f"E{i:06d}",
        name=f"Holder {i:06d} Benchmark",
        email=f"e{i:06d}@example.com",
        country="US",
        status=EmployeeStatus.ACTIVE,
        employee_class=EmployeeClass.EMPLOYEE,
        slack_user_id=None,
    )


def _grants(i: int) -> list[Grant]:
    """One eligible grant each; every third holder has two (an ISO and its NSO split)."""
    day = date(2001, 1 + i % 12, 1 + i % 28)
    count = 2 if i % 3 == 0 else 1
    return [
        Grant(
            grant_number=f"G{i:06d}{k}",
            employee_id=f"E{i:06d}",
            plan=_PLAN,
            grant_date=day,
            option_type=OptionType.ISO if k == 0 else OptionType.NSO,
            exercise_price=Decimal("3.33") + Decimal(i % 40),
            shares_granted=1_000 + 10 * (i % 90),
            shares_exercised=0,
            expiration_date=date(day.year + 10, day.month, day.day),
            split_group=f"S{i:06d}" if count == 2 else None,
        )
        for k in range(count)
    ]


async def build_close_roster(url: str, tenders: int) -> None:
    """Migrate ``url``, load the bundled offer and add ``tenders`` holders whose signed Election
    Forms HR received (bulk inserts: setting up is not what is measured)."""
    terms = load_offer_terms()
    engine = create_engine(url)
    try:
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        await load_offer(
            uow=uow, terms=terms, digest=terms_digest(bundled_offer_dir()), now=_RECORDED
        )
        for start in range(1, tenders + 1, _CHUNK):
            numbers = range(start, min(start + _CHUNK, tenders + 1))
            grants = {i: _grants(i) for i in numbers}
            async with uow:
                await uow.employees.upsert_many([_employee(i) for i in numbers])
                await uow.grants.upsert_many([g for i in numbers for g in grants[i]])
                session: Any = uow.session
                await session.execute(
                    insert(ElectionIntentRow),
                    [
                        {
                            "employee_id": f"E{i:06d}",
                            "version": 1,
                            "kind": IntentKind.TENDER.value,
                            "transition": Transition.TENDER.value,
                            "lines": [line_to_json(IntentLine.of(g)) for g in grants[i]],
                            "recorded_at": _RECORDED,
                            "actor": "bench",
                            "channel": "cli",
                        }
                        for i in numbers
                    ],
                )
                await session.execute(
                    insert(FormReceiptRow),
                    [
                        {
                            "employee_id": f"E{i:06d}",
                            "version": 1,
                            "form": FormKind.ELECTION.value,
                            "received_at": _RECEIVED,
                            "via": Delivery.FAX.value,
                            "recorded_at": _RECEIVED,
                            "actor": "bench",
                            "channel": "cli",
                        }
                        for i in numbers
                    ],
                )
                await uow.commit()
    finally:
        await engine.dispose()


async def count_letters(url: str) -> tuple[int, int]:
    """(Promise to Grant messages in the outbox, distinct recipients among them)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            kind = OutboxRow.kind == MessageKind.PROMISE_TO_GRANT.value
            total = await connection.scalar(select(func.count()).where(kind))
            people = await connection.scalar(
                select(func.count(func.distinct(OutboxRow.employee_id))).where(kind)
            )
            return int(total or 0), int(people or 0)
    finally:
        await engine.dispose()


def close_command(url: str, out_dir: Path, batch_size: int) -> tuple[list[str], dict[str, str]]:
    """The real ``offerbot hr close`` as HR runs it (the summary, not ``--json``: its one entry
    per letter is for small closes) and its environment (nothing else of the caller's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))}
    env.update(OFFERBOT_DATABASE_URL=url, OFFERBOT_NOW=AFTER_EXPIRATION)
    command = [
        sys.executable,
        "-m",
        "bot",
        "hr",
        "close",
        "--out-dir",
        str(out_dir),
        "--batch-size",
        str(batch_size),
    ]
    return command, env


@dataclass(frozen=True, slots=True)
class CloseFigures:
    tenders: int
    database: str
    seconds: float  # wall time of the child, its start included
    cpu_seconds: float
    peak_mb: float  # the command's own process
    tree_rss_mb: float  # the command and its render workers together, RSS summed
    tree_pss_mb: float  # the same, PSS summed (shared pages split between them)
    letters: int  # Promise to Grant rows in the outbox
    recipients: int
    on_disk: int


class TreeMemory:
    """The largest RSS and PSS sums, in KiB, of a process and its descendants, sampled from
    /proc every ``every`` seconds on a thread until :meth:`stop` (Linux only; a process that
    ends between two reads is skipped)."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid, self.every = pid, every
        self.rss_kib = self.pss_kib = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.every):
            self.sample()

    def sample(self) -> None:
        """Read the tree's memory once; keep the largest sums."""
        rss = pss = 0
        for pid in self.tree():
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
            except (OSError, ValueError):
                continue
        self.rss_kib, self.pss_kib = max(self.rss_kib, rss), max(self.pss_kib, pss)

    def tree(self) -> set[int]:
        """The process and every descendant alive now."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:  # "pid (comm) state ppid …": comm may hold spaces and parentheses
                    parents[int(entry.name)] = int(
                        (entry / "stat").read_text().rpartition(")")[2].split()[1]
                    )
                except (OSError, ValueError, IndexError):
                    continue
        tree, grown = {self.pid}, True
        while grown:
            added = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= added
            grown = bool(added)
        return tree


def _run_child(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, Any, TreeMemory]:
    """Run ``command``; (wall seconds, its own rusage: ``wait4`` on that child alone, so other
    children of this process — other measures of ``bench/run.py`` — do not count; the memory
    of it and its own children, sampled while it ran)."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        memory = TreeMemory(proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            memory.stop()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            text = errors.read().decode("utf-8", "replace").strip()
            raise RuntimeError(f"hr close failed ({proc.returncode}): {text}")
    return seconds, usage, memory


async def close_figures(url: str, tenders: int, batch_size: int, folder: Path) -> CloseFigures:
    """Build ``tenders`` received tenders in the empty database ``url``, close, measure."""
    await build_close_roster(url, tenders)
    out_dir = folder / "promises"
    command, env = close_command(url, out_dir, batch_size)
    seconds, usage, memory = _run_child(command, env, folder)
    letters, people = await count_letters(url)
    return CloseFigures(
        tenders=tenders,
        database="postgresql" if url.startswith("postgresql") else "sqlite",
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,
        tree_rss_mb=memory.rss_kib / 1024,
        tree_pss_mb=memory.pss_kib / 1024,
        letters=letters,
        recipients=people,
        on_disk=len(list(out_dir.glob("promise-to-grant-*.pdf"))),
    )


async def measure(db_url: str, quick: bool) -> list[Row]:
    """Rows for ``bench/run.py``: 20,000 tenders (500 with ``quick``), time and peak RSS."""
    tenders = 500 if quick else 20_000
    folder = Path(tempfile.mkdtemp(prefix="bench-close-"))
    try:
        f = await close_figures(db_url, tenders, 250, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    note = (
        f"CPU {f.cpu_seconds:.1f} s; letters {f.letters:,} in the outbox, {f.on_disk:,} on "
        f"disk; load average {os.getloadavg()[0]:.1f}"
    )
    full = not quick
    return [
        row(
            f"hr close, {tenders:,} tenders",
            db=f.database,
            value=f.seconds,
            unit="s",
            at_most=120 if full else None,
            note=note,
        ),
        row(
            f"hr close memory (PSS, with its render workers), {tenders:,} tenders",
            db=f.database,
            value=f.tree_pss_mb,
            unit="MB",
            at_most=400 if full else None,
            note=f"RSS summed {f.tree_rss_mb:.0f} MB; the command alone {f.peak_mb:.0f} MB",
        ),
    ]


async def main(args: argparse.Namespace) -> None:
    from bench.databases import Databases

    folder = Path(tempfile.mkdtemp(prefix="bench-close-"))
    try:
        async with (
            Databases(folder) as databases,
            databases.fresh(args.database, f"close_{args.tenders}") as url,
        ):
            started = time.perf_counter()
            f = await close_figures(url, args.tenders, args.batch_size, folder)
            load = os.getloadavg()
            print(f"built and closed in {time.perf_counter() - started:.1f} s")
            print(
                f"database {f.database}, batch size {args.batch_size}, {os.cpu_count()} cores, "
                f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; letters on disk "
                f"{f.on_disk:,}, outbox recipients {f.recipients:,}; the close used "
                f"{f.cpu_seconds:.1f} s of CPU"
            )
            print(
                f"close: {f.tenders} tenders in {f.seconds:.1f} s, peak RSS {f.peak_mb:.0f} MB, "
                f"letters {f.letters}, with its workers RSS {f.tree_rss_mb:.0f} MB / PSS "
                f"{f.tree_pss_mb:.0f} MB"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # 20,000 letters: ~50 MB of PDFs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenders", type=int, required=True)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--batch-size", type=int, default=250)
    asyncio.run(main(parser.parse_args()))
