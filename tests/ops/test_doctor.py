"""`offerbot doctor` end to end: the real command (typer's app, in the test process) against the
demo database, a real aiosmtpd server, the Dovecot fixture and the fake Slack Web API — the
acceptance checks of issue 8."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from bot.runtime.doctor_network import BOT_SCOPES
from tests.cli.runner import Ran, offerbot
from tests.email.servers import IMAP_PASSWORD, IMAP_USER, SmtpRecorder
from tests.servers import free_port
from tests.slack.conftest import FakeSlack

NAMES = ("configuration", "database", "offer", "roster", "SMTP", "IMAP", "Slack")


def _doctor_sync(cwd: Path, *args: str, **env: str) -> Ran:
    """`offerbot ARGS` in the test process (:mod:`tests.cli.runner`), with ``env`` added to an
    environment without the run's own ``OFFERBOT_*``/``SLACK_*`` variables."""
    return offerbot(cwd, *args, env=env, check=False)


async def _doctor(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """`offerbot doctor` on a thread, so the loop the test servers run in keeps serving."""
    ran = await asyncio.to_thread(_doctor_sync, cwd, "doctor", *args, **env)
    return ran.returncode, ran.stdout, ran.stderr


def _lines(stdout: str) -> dict[str, str]:
    """{check name: its status line}, from `STATUS  name: detail` lines."""
    found = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition("  ")
        name = rest.split(":", 1)[0]
        if status in ("PASS", "FAIL", "SKIP", "WARN") and name in NAMES:
            found[name] = line
    return found


def _staging_clock(cwd: Path) -> str:
    """The demo's OFFERBOT_NOW, to set in the environment on purpose: with SMTP, IMAP or Slack
    configured, the same clock left in the demo's env file fails the configuration check."""
    lines = (cwd / ".offerbot" / "offerbot.env").read_text().splitlines()
    return next(line.split("=", 1)[1] for line in lines if line.startswith("OFFERBOT_NOW="))


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("doctor-demo")
    proc = _doctor_sync(cwd, "init", "--demo", "--json")
    assert proc.returncode == 0, proc.stderr
    return cwd


def test_doctor_passes_on_the_demo(demo_dir: Path) -> None:
    proc = _doctor_sync(demo_dir, "doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = _lines(proc.stdout)
    assert list(lines) == list(NAMES), proc.stdout
    for name in ("configuration", "database", "offer", "roster"):
        assert lines[name].startswith(f"PASS  {name}: "), lines[name]
    assert "at revision" in lines["database"] and "(head)" in lines["database"]
    assert "capstone-2003: expires 5:00 p.m. PDT on Thursday, July 24, 2003" in lines["offer"]
    assert "600 employees" in lines["roster"] and "eligible employees" in lines["roster"]
    assert lines["SMTP"] == "SKIP  SMTP: OFFERBOT_SMTP_HOST not set: e-mail is not sent"
    assert lines["IMAP"].startswith("SKIP  IMAP: OFFERBOT_IMAP_HOST not set")
    assert lines["Slack"].startswith("SKIP  Slack: SLACK_BOT_TOKEN not set")
    assert proc.stdout.rstrip().endswith("7 checks: 4 pass, 3 skip")


def test_doctor_json_on_the_demo(demo_dir: Path) -> None:
    proc = _doctor_sync(demo_dir, "doctor", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True
    assert [c["name"] for c in data["checks"]] == list(NAMES)
    assert [c["status"] for c in data["checks"]] == ["pass"] * 4 + ["skip"] * 3
    assert all(set(c) == {"name", "status", "detail", "hint"} for c in data["checks"])


async def test_doctor_passes_the_smtp_line_with_a_real_server(
    demo_dir: Path, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, port = smtp
    code, stdout, stderr = await _doctor(
        demo_dir,
        OFFERBOT_NOW=_staging_clock(demo_dir),
        OFFERBOT_SMTP_HOST="127.0.0.1",
        OFFERBOT_SMTP_PORT=str(port),
        OFFERBOT_SMTP_TLS="false",
        OFFERBOT_MAIL_FROM="Offer assistant <offer@capstone.example>",
        OFFERBOT_HR_MAILBOX="hr@capstone.example",
    )
    assert code == 0, stdout + stderr
    line = _lines(stdout)["SMTP"]
    assert line.startswith(f"PASS  SMTP: 127.0.0.1:{port}: EHLO ok (smtp.test)"), line
    assert line.endswith("no mail sent")
    assert recorder.connections == 1
    assert recorder.accepted == []  # the doctor never sends


async def test_doctor_fails_on_a_wrong_smtp_port(demo_dir: Path) -> None:
    port = free_port()  # nothing listens there
    code, stdout, stderr = await _doctor(
        demo_dir,
        "--timeout",
        "3",
        OFFERBOT_NOW=_staging_clock(demo_dir),
        OFFERBOT_SMTP_HOST="127.0.0.1",
        OFFERBOT_SMTP_PORT=str(port),
        OFFERBOT_SMTP_TLS="false",
        OFFERBOT_MAIL_FROM="offer@capstone.example",
        OFFERBOT_HR_MAILBOX="hr@capstone.example",
    )
    assert code == 1, stdout + stderr
    line = _lines(stdout)["SMTP"]
    assert line.startswith(f"FAIL  SMTP: 127.0.0.1:{port}: "), line
    assert "hint: is the server running, and are OFFERBOT_SMTP_HOST/PORT/TLS right?" in stdout
    assert _lines(stdout)["database"].startswith("PASS")  # only SMTP is wrong
    assert "1 fail" in stdout.splitlines()[-1]


async def test_doctor_passes_with_smtp_imap_and_slack_configured(
    demo_dir: Path, smtp: tuple[SmtpRecorder, int], imap_port: int, fake_slack: FakeSlack
) -> None:
    def scoped(_params: dict[str, object]) -> web.Response:
        body = {"ok": True, "team": "Capstone", "team_id": "T0001", "user_id": "UBOT"}
        return web.json_response(body, headers={"x-oauth-scopes": ",".join(sorted(BOT_SCOPES))})

    fake_slack.overrides["auth.test"] = scoped
    code, stdout, stderr = await _doctor(
        demo_dir,
        "--json",
        OFFERBOT_NOW=_staging_clock(demo_dir),
        OFFERBOT_SMTP_HOST="127.0.0.1",
        OFFERBOT_SMTP_PORT=str(smtp[1]),
        OFFERBOT_SMTP_TLS="false",
        OFFERBOT_MAIL_FROM="offer@capstone.example",
        OFFERBOT_HR_MAILBOX="hr@capstone.example",
        OFFERBOT_IMAP_HOST="127.0.0.1",
        OFFERBOT_IMAP_PORT=str(imap_port),
        OFFERBOT_IMAP_TLS="false",
        OFFERBOT_IMAP_USER=IMAP_USER,
        OFFERBOT_IMAP_PASSWORD=IMAP_PASSWORD,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="secret",
        OFFERBOT_SLACK_API_URL=f"{fake_slack.base_url}api/",
        OFFERBOT_HR_ADMINS="U0HR01",
    )
    assert code == 0, stdout + stderr
    checks = {c["name"]: c for c in json.loads(stdout)["checks"]}
    # Every part passes; the simulated clock set on purpose next to live channels is a warning.
    assert {n: c["status"] for n, c in checks.items()} == {
        **dict.fromkeys(NAMES, "pass"),
        "configuration": "warn",
    }
    assert "simulated clock" in checks["configuration"]["detail"]
    assert checks["IMAP"]["detail"].startswith(f"{IMAP_USER}@127.0.0.1:{imap_port}: login ok")
    assert checks["Slack"]["detail"].endswith(f"all {len(BOT_SCOPES)} bot scopes")
    assert len(fake_slack.of("auth.test")) == 1


def test_doctor_without_a_database_fails_and_creates_nothing(tmp_path: Path) -> None:
    proc = _doctor_sync(tmp_path, "doctor")
    assert proc.returncode == 1
    lines = _lines(proc.stdout)
    assert lines["database"] == "FAIL  database: no database file at .offerbot/offerbot.db"
    assert "hint: run `offerbot init` (or `offerbot db upgrade`) to create it" in proc.stdout
    assert lines["roster"] == "SKIP  roster: database not ready"
    assert not (tmp_path / ".offerbot").exists()


def test_doctor_names_an_invalid_setting(tmp_path: Path) -> None:
    proc = _doctor_sync(tmp_path, "doctor", OFFERBOT_SMTP_TLS="maybe", OFFERBOT_SMTP_PORT="0")
    assert proc.returncode == 1
    line = _lines(proc.stdout)["configuration"]
    assert line.startswith("FAIL  configuration: invalid settings: ")
    assert "OFFERBOT_SMTP_TLS: Value error, OFFERBOT_SMTP_TLS must be starttls" in line
    assert "OFFERBOT_SMTP_PORT: Input should be greater than or equal to 1 (got '0')" in line
    assert _lines(proc.stdout)["SMTP"] == "SKIP  SMTP: configuration is invalid"
