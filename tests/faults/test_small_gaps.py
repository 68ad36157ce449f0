"""Issue 13, items 8 and 9: the smaller gaps, each rerun as the probe ran it — the real
`offerbot` command in a demo folder, real SQLite files, a real Dovecot.

* files with personal data are created 0600 (database) / 0640 (PDFs, CSV exports) whatever the
  umask;
* the demo's clock left in ``.offerbot/offerbot.env`` fails `doctor` once SMTP, IMAP or Slack
  are configured;
* `hr extend` to a Saturday or by one microsecond is accepted with warnings, and a year-9999
  date is one sentence, not an OverflowError;
* a command that finds the SQLite file locked waits its turn, and past the busy timeout stops
  with one sentence instead of a "database is locked" traceback;
* `ask --batch` answers ``{"question": null}`` with an error object for that line;
* `hr close` with nothing to accept still closes the offer to extension;
* the IMAP watcher notices a server that dies mid-IDLE without saying BYE (SIGKILL).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock, parse_instant
from bot.config import Settings
from bot.domain.deadlines import business_calendar, check_extension
from bot.domain.errors import ExtensionError
from bot.runtime.bootstrap import App
from bot.runtime.doctor import Status, check_configuration
from bot.services.messaging.communications import export_communications
from handlers.email.imap import ImapWatcher
from knowledge.offer_terms import load_offer_terms
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork
from tests.cli.runner import Ran
from tests.cli.runner import offerbot as in_process
from tests.email.conftest import NOW, mail_settings, make_app
from tests.email.servers import SmtpRecorder, deliver, mail, running_dovecot, start_smtp
from tests.servers import free_port

DB = Path(".offerbot/offerbot.db")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))}
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def _offerbot(
    cwd: Path, *args: str, umask: int = 0o022, **env: str
) -> subprocess.CompletedProcess[str]:
    """`offerbot ARGS` in ``cwd`` as a separate process, under ``umask``."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=lambda: os.umask(umask) and None,
    )


def _command(cwd: Path, *args: str, **env: str) -> Ran:
    """`offerbot ARGS` in ``cwd`` in the test process (:mod:`tests.cli.runner`): for the checks
    that do not depend on a process's own umask."""
    return in_process(cwd, *args, env=env, check=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`offerbot init --demo` once, under umask 000 (the worst case for file modes)."""
    cwd = tmp_path_factory.mktemp("gaps-demo")
    proc = _offerbot(cwd, "init", "--demo", "--json", umask=0)
    assert proc.returncode == 0, proc.stderr
    return cwd


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo folder (database and demo clock file included)."""
    target = tmp_path / "demo"
    shutil.copytree(demo_template, target)
    return target


# --- file modes --------------------------------------------------------------------------------


def test_the_database_file_is_created_0600_whatever_the_umask(demo_template: Path) -> None:
    assert _mode(demo_template / DB) == 0o600


async def test_sqlite_wal_files_share_the_database_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "data" / "o.db"
    old = os.umask(0)
    try:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            async with engine.begin() as connection:
                await connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
                await connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                modes = {
                    p.name: _mode(p) for p in path.parent.iterdir() if p.name.startswith("o.db")
                }
        finally:
            await engine.dispose()
    finally:
        os.umask(old)
    assert modes == {"o.db": 0o600, "o.db-wal": 0o600, "o.db-shm": 0o600}
    assert _mode(path.parent) == 0o750


def test_pdfs_and_csv_exports_are_0640_whatever_the_umask(demo: Path) -> None:
    form = demo / "out" / "form.pdf"
    elect = _offerbot(demo, "elect", "E1001", "--grant", "G00002", "--form-out", str(form), umask=0)
    assert elect.returncode == 0, elect.stderr
    export = demo / "out" / "tenders.csv"
    export.parent.mkdir(exist_ok=True)
    export.write_text("left from an earlier run\n")
    export.chmod(0o666)  # an existing file with a wider mode is replaced, not reused
    proc = _offerbot(demo, "hr", "export", "--out", str(export), umask=0)
    assert proc.returncode == 0, proc.stderr
    assert form.read_bytes().startswith(b"%PDF")
    assert "left from an earlier run" not in export.read_text()
    assert {"form": _mode(form), "export": _mode(export)} == {"form": 0o640, "export": 0o640}


async def test_the_communications_log_is_0640_whatever_the_umask(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    old = os.umask(0)
    try:
        await upgrade(engine)
        out = tmp_path / "log"
        await export_communications(UnitOfWork(session_factory(engine)), out)
    finally:
        os.umask(old)
        await engine.dispose()
    written = sorted(out.iterdir())
    assert [p.name for p in written] == ["index.csv", "index.json"]
    assert {p.name: _mode(p) for p in written} == {p.name: 0o640 for p in written}
    assert _mode(out) == 0o750


# --- doctor and the demo's leftover clock ----------------------------------------------------


SMTP = {
    "OFFERBOT_SMTP_HOST": "127.0.0.1",
    "OFFERBOT_SMTP_TLS": "false",
    "OFFERBOT_MAIL_FROM": "offer@capstone.example",
    "OFFERBOT_HR_MAILBOX": "hr@capstone.example",
}


def _configuration_check(
    demo: Path, monkeypatch: pytest.MonkeyPatch, **env: str
) -> tuple[Status, str, str]:
    """The doctor's configuration check, in ``demo`` with exactly this environment."""
    for name in [n for n in os.environ if n.startswith(("OFFERBOT_", "SLACK_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(demo)
    result, settings = check_configuration(Settings)
    assert settings is not None
    for name in env:
        monkeypatch.delenv(name)
    return result.status, result.detail, result.hint


def test_doctor_fails_a_leftover_demo_clock_when_mail_is_configured(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _configuration_check(demo, monkeypatch)[0] is Status.PASS  # the demo itself is fine

    status, detail, hint = _configuration_check(demo, monkeypatch, **SMTP)
    assert status is Status.FAIL, detail
    assert ".offerbot/offerbot.env" in detail and "SMTP is configured" in detail
    assert "Delete the OFFERBOT_NOW line" in hint
    imap = {"OFFERBOT_IMAP_HOST": "127.0.0.1", "OFFERBOT_IMAP_USER": "u"}
    imap["OFFERBOT_IMAP_PASSWORD"] = "p"
    assert _configuration_check(demo, monkeypatch, **imap)[0] is Status.FAIL
    slack = _configuration_check(demo, monkeypatch, SLACK_BOT_TOKEN="xoxb-t")
    assert slack[0] is Status.FAIL and "Slack is configured" in slack[1]

    # OFFERBOT_NOW set on purpose in the environment (a staging run): a warning only.
    clock = (demo / ".offerbot" / "offerbot.env").read_text().split("OFFERBOT_NOW=")[1].strip()
    status, detail, _ = _configuration_check(demo, monkeypatch, OFFERBOT_NOW=clock, **SMTP)
    assert status is Status.WARN, detail

    # And `offerbot doctor` itself exits 1 on the leftover file.
    proc = _command(demo, "doctor", "--timeout", "1", OFFERBOT_SMTP_PORT=str(free_port()), **SMTP)
    assert proc.returncode == 1
    assert "FAIL  configuration: the simulated clock" in proc.stdout, proc.stdout


# --- hr extend ----------------------------------------------------------------------------------


def _extension_warnings(new: datetime) -> list[str]:
    terms = load_offer_terms()
    check = check_extension(
        terms, new, now=datetime(2003, 7, 10, 16, 0, tzinfo=UTC), calendar=business_calendar(terms)
    )
    return check.warnings(terms.deadline_zone)


def test_extension_warnings_for_odd_days_and_tiny_extensions() -> None:
    pacific = load_offer_terms().deadline_zone
    tiny = _extension_warnings(datetime(2003, 7, 24, 17, 0, 0, 1, tzinfo=pacific))
    assert any("extended by only 1 microsecond" in w for w in tiny), tiny
    assert any("not on a whole minute" in w for w in tiny), tiny
    saturday = _extension_warnings(datetime(2003, 7, 26, 17, 0, tzinfo=pacific))
    assert len(saturday) == 1
    assert "Saturday, July 26, 2003, which is not a business day (a Saturday" in saturday[0]
    labor_day = _extension_warnings(datetime(2003, 9, 1, 17, 0, tzinfo=pacific))
    assert len(labor_day) == 1 and "(Labor Day;" in labor_day[0]
    assert _extension_warnings(datetime(2003, 9, 8, 17, 0, tzinfo=pacific)) == []


def test_extend_warns_and_refuses_year_9999_in_one_sentence(demo: Path) -> None:
    tiny = _command(demo, "hr", "extend", "--to", "2003-07-24T17:00:00.000001-07:00", "--json")
    assert tiny.returncode == 0, tiny.stderr
    warnings = json.loads(tiny.stdout)["warnings"]
    assert any("extended by only 1 microsecond" in w for w in warnings), warnings

    far = _command(demo, "hr", "extend", "--to", "9999-12-31T23:59:59+00:00")
    assert far.returncode == 1
    assert "Traceback" not in far.stderr and "OverflowError" not in far.stderr, far.stderr
    assert " ".join(far.stderr.split()) == (
        "error: The new expiration is more than a year after the original one; an extension "
        "can move it to Saturday, July 24, 2004 at the latest."
    )
    # West of UTC the same wall time is past datetime.max in UTC: refused all the same.
    with pytest.raises(ExtensionError, match="more than a year"):
        _extension_warnings(parse_instant("9999-12-31T23:59:59-12:00"))


# --- hr close with nothing to accept -------------------------------------------------------


def test_close_with_no_tender_still_closes_the_offer_to_extension(demo: Path) -> None:
    after = {"OFFERBOT_NOW": "2003-07-25T09:00:00-07:00"}  # the morning after expiration
    closed = _command(demo, "hr", "close", "--json", "--out-dir", str(demo / "p"), **after)
    assert closed.returncode == 0, closed.stderr

    extend = _command(demo, "hr", "extend", "--to", "2003-08-07T17:00:00-07:00", **after)
    assert extend.returncode == 1, extend.stdout
    assert "The offer was closed" in extend.stderr and "Traceback" not in extend.stderr


# --- ask --batch --------------------------------------------------------------------------------


def test_ask_batch_gives_an_error_object_for_a_null_question(demo: Path) -> None:
    batch = demo / "questions.jsonl"
    lines = [
        {"question": None},
        {"question": "When does the offer expire?"},
        {"question": 42},
        ["not", "an", "object"],
        {"text": "no question key"},
    ]
    batch.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    proc = _command(demo, "ask", "--batch", str(batch))
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == len(lines)
    assert set(answers[0]) == {"error"} and "null" in answers[0]["error"]
    assert "error" not in answers[1] and "July 24, 2003" in json.dumps(answers[1])
    assert all(set(a) == {"error"} for a in answers[2:]), answers[2:]


# --- a locked SQLite file ------------------------------------------------------------------------


@pytest.fixture
def locked(demo: Path) -> Iterator[sqlite3.Connection]:
    """Another process's writer: holds the demo database's write lock until released."""
    connection = sqlite3.connect(demo / DB, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    finally:
        if connection.in_transaction:
            connection.rollback()
        connection.close()


def test_a_locked_database_is_one_sentence_not_a_traceback(
    demo: Path, locked: sqlite3.Connection
) -> None:
    proc = _command(demo, "elect", "E1001", "--grant", "G00002", OFFERBOT_SQLITE_BUSY_TIMEOUT="0.2")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "sqlite3" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: The database stayed locked by other offerbot commands")

    locked.rollback()  # the other writer finishes: the same command now goes through
    again = _command(demo, "elect", "E1001", "--grant", "G00002", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["version"] == 1


async def test_commands_wait_their_turn_for_thirty_seconds_by_default(tmp_path: Path) -> None:
    """Ten `offerbot elect` started together on two busy cores queue for longer than SQLite's
    five seconds; the probe saw four of them die. The default wait is thirty seconds."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        async with engine.connect() as connection:
            wait = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    finally:
        await engine.dispose()
    assert wait == 30_000


# --- the IMAP watcher and a server that dies without BYE ---------------------------------------


async def _outcomes(app: App, n: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        async with app.uow() as uow:
            outcomes = [r.outcome for r in await uow.inbox.outcomes()]
        if len(outcomes) >= n or time.monotonic() > deadline:
            return outcomes
        await asyncio.sleep(0.05)


async def test_the_watcher_reconnects_when_the_server_dies_mid_idle_without_bye(
    tmp_path: Path,
) -> None:
    recorder = SmtpRecorder()
    smtp_server, smtp_port = await start_smtp(recorder)
    with running_dovecot() as dovecot:
        app = await make_app(
            mail_settings(tmp_path, smtp_port=smtp_port, imap_port=dovecot.port),
            ManualClock(NOW),
        )
        watcher = app.inbox_watcher()
        assert isinstance(watcher, ImapWatcher)
        # A reconnect that lands while the restarted server is not yet greeting waits one
        # command timeout before it tries again (30 s by default, the whole budget below; in
        # CI with two test workers it happened twice in five runs): 5 s here.
        watcher.config = dataclasses.replace(watcher.config, command_timeout=5.0)
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.run(stop))
        try:
            deadline = time.monotonic() + 20
            while not watcher.idling:
                assert time.monotonic() < deadline, "the watcher never reached IDLE"
                await asyncio.sleep(0.01)
            assert dovecot.process is not None
            os.killpg(dovecot.process.pid, signal.SIGKILL)  # no process left to say BYE
            dovecot.process.wait()
            dovecot.process = None
            dovecot.start()
            await deliver(
                dovecot.port,
                mail(sender="e1@example.com", subject="q", body="When does the offer expire?"),
            )
            # Before the fix the watcher sat in the dead IDLE for 25 minutes (idle_renew). It
            # takes ~2 s on a quiet machine; 30 s leaves room for a loaded CI runner and one
            # reconnect that has to time out first.
            assert await _outcomes(app, 1, timeout=30.0) == ["answered"]
            assert watcher.sessions == 2
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
            await app.aclose()
            smtp_server.close()
            await smtp_server.wait_closed()
