"""`kill -9` a real `offerbot hr close` mid-run, run it again: 0 duplicated and 0 missing letters,
in the outbox and on disk, on SQLite and PostgreSQL. And without a signer, `hr close` changes
nothing and says why in one sentence.

The roster (a few hundred received tenders) is built with the benchmark's bulk builder; the close
is the real command in its own process, killed with SIGKILL as soon as the close run shows a
committed batch and is not finished; the rerun and the no-signer check run the same command in
the test process (:mod:`tests.cli.runner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.close import build_close_roster, close_command
from bot.domain.hr_records import MessageKind
from storage.close_models import CloseRunRow
from storage.db import create_engine
from storage.models import OutboxRow
from tests.cli.runner import Ran
from tests.cli.runner import offerbot as in_process

TENDERS = 400
BATCH = 5


async def _progress(engine: AsyncEngine) -> tuple[int, bool] | None:
    """(employees done, finished) of the latest close run, None before there is one.

    On SQLite, read with the standard library's driver, read-only: offerbot's own connections
    begin every transaction with ``BEGIN IMMEDIATE``, so a look through them would queue behind
    the close's batches and could first get in after the last one (seen on a loaded machine)."""
    if engine.url.get_backend_name() == "sqlite":
        with contextlib.closing(
            sqlite3.connect(f"file:{engine.url.database}?mode=ro", uri=True, timeout=5)
        ) as connection:
            try:
                found = connection.execute(
                    "SELECT done, finished_at FROM close_runs ORDER BY id DESC LIMIT 1"
                ).fetchone()
            except sqlite3.OperationalError:  # no table yet
                return None
        return None if found is None else (int(found[0]), found[1] is not None)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(CloseRunRow.done, CloseRunRow.finished_at).order_by(CloseRunRow.id.desc())
            )
        ).first()
    return None if row is None else (int(row[0]), row[1] is not None)


async def _once(url: str) -> tuple[int, bool] | None:
    engine = create_engine(url)
    try:
        return await _progress(engine)
    finally:
        await engine.dispose()


async def _letters(url: str) -> Counter[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.scalars(
                select(OutboxRow.employee_id).where(
                    OutboxRow.kind == MessageKind.PROMISE_TO_GRANT.value
                )
            )
            return Counter(str(r) for r in rows)
    finally:
        await engine.dispose()


async def _in_process(command: list[str], env: dict[str, str], cwd: Path) -> Ran:
    """The same `offerbot hr close` in the test process (:mod:`tests.cli.runner`), on a thread
    so this loop stays free; only the run that is killed needs a process of its own."""
    ours = {k: v for k, v in env.items() if k.startswith("OFFERBOT_")}
    args = command[command.index("bot") + 1 :]
    return await asyncio.to_thread(in_process, cwd, *args, env=ours, check=False)


async def test_kill_9_mid_close_then_rerun_issues_every_letter_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    await build_close_roster(db_url, TENDERS)
    out_dir = tmp_path / "promises"
    command, env = close_command(db_url, out_dir, BATCH)
    proc = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    killed_at: tuple[int, bool] | None = None
    engine = create_engine(db_url)
    try:
        while proc.poll() is None:
            progress = await _progress(engine)
            if progress is not None and progress[0] > 0 and not progress[1]:
                os.kill(proc.pid, signal.SIGKILL)
                killed_at = progress
                break
            # wait on the process itself, briefly, between two looks at the run
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.02)
    finally:
        if proc.poll() is None and killed_at is None:
            proc.kill()
        proc.wait()
        await engine.dispose()
    assert killed_at is not None, (
        f"hr close ended ({proc.returncode}) before it could be killed mid-run: "
        + (proc.stderr.read().decode() if proc.stderr else "")
    )
    assert proc.returncode == -signal.SIGKILL
    stopped = await _once(db_url)
    assert stopped is not None and 0 < stopped[0] < TENDERS and not stopped[1]
    assert 0 < sum((await _letters(db_url)).values()) < TENDERS

    rerun = await _in_process(command, env, tmp_path)  # the rerun needs no process of its own
    assert rerun.returncode == 0, rerun.stderr
    expected = {f"E{i:06d}" for i in range(1, TENDERS + 1)}
    outbox = await _letters(db_url)
    assert set(outbox) == expected  # 0 missing
    assert max(outbox.values()) == 1  # 0 duplicated
    on_disk = sorted(p.name for p in out_dir.iterdir() if p.name.endswith(".pdf"))
    assert on_disk == sorted(f"promise-to-grant-{e}.pdf" for e in expected)
    assert not list(out_dir.glob(".*.partial"))  # the cut-off batch was redone whole
    assert await _once(db_url) == (TENDERS, True)


async def test_close_without_a_signer_stops_before_changing_anything(
    db_url: str, tmp_path: Path
) -> None:
    await build_close_roster(db_url, 3)
    offer = tmp_path / "offer"
    offer.mkdir()
    bundled = Path(__file__).parents[2] / "knowledge" / "offers" / "capstone-2003"
    for source in bundled.iterdir():
        if source.is_file():
            text = source.read_bytes()
            if source.name == "offer.toml":
                head, _, rest = text.decode("utf-8").partition("[signer]")
                text = (head + rest.split("\n\n", 1)[1]).encode("utf-8")
            (offer / source.name).write_bytes(text)
    command, env = close_command(db_url, tmp_path / "promises", BATCH)
    env["OFFERBOT_OFFER_DIR"] = str(offer)
    refused = await _in_process(command, env, tmp_path)
    assert refused.returncode == 1
    message = refused.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message, message
    assert message.startswith("error: No officer is set to sign the Promise to Grant letters")
    assert await _once(db_url) is None
    assert await _letters(db_url) == Counter()
    assert not (tmp_path / "promises").exists() or not list((tmp_path / "promises").iterdir())
