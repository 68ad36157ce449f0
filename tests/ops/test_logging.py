"""Logs carry ids, never personal data: real flows (a question, an election intent, inbound mail
through Dovecot, outbox delivery with failures against aiosmtpd) logged at DEBUG, then every
record searched for the question, grant details, addresses, names, subjects and bodies.
JSON lines parse; the safety-net filter redacts addresses that slip through."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.domain.hr_records import DeliveryState
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from bot.runtime.bootstrap import App
from bot.runtime.logging_setup import (
    OWN_PACKAGES,
    QUIET_LOGGERS,
    configure_logging,
    fingerprint,
    redact,
)
from bot.runtime.worker import run_worker
from bot.services.identity import Identity
from bot.services.questions.conversation import respond
from tests.cli.runner import offerbot as in_process
from tests.email.conftest import NOW, mail_settings, make_app
from tests.email.servers import SmtpRecorder, deliver, mail
from tests.servers import free_port

PHILIPPA = "philippa.quenby@example.com"
OUTSIDER = "outsider.quill@elsewhere.example"
QUESTION = "Does the zorblax quasiplasm clause let me swap GX-40417 for 4817 new options?"
SUBJECT = "Zephyrine marmalade question"
BODY = "When does the offer expire? Velvetine periwinkle aside.\n\n-- \nPhilippa Quenby"
SECRETS = (
    "zorblax",
    "quasiplasm",
    "GX-40417",
    "GX-40418",
    "13.57",
    "27.13",
    "4817",
    "3659",
    PHILIPPA,
    OUTSIDER,
    "Philippa",
    "Quenby",
    "Quill",
    "Zephyrine",
    "marmalade",
    "Velvetine",
    "periwinkle",
)
REQUIRED_KEYS = {"time", "level", "logger", "message"}
TEST_SERVER_LOGGER = "mail.log"


def leaks(text: str) -> list[str]:
    """The secrets found in ``text`` (numbers only as whole tokens: a port may hold 4817)."""
    found = []
    for secret in SECRETS:
        pattern = re.escape(secret)
        if secret[0].isdigit():
            pattern = rf"(?<![\w.]){pattern}(?![\w.])"
        if re.search(pattern, text, re.I):
            found.append(secret)
    return found


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back after the test. The test SMTP
    server (aiosmtpd, logger ``mail.log``) logs the dialogue it receives; it is not offerbot's."""
    names = ("", *OWN_PACKAGES, *QUIET_LOGGERS, TEST_SERVER_LOGGER)
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = list(logging.getLogger().handlers)
    logging.getLogger(TEST_SERVER_LOGGER).setLevel(logging.WARNING)
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
async def private_app(
    tmp_path: Path, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> AsyncIterator[App]:
    """Mail through aiosmtpd and Dovecot; one employee whose details are easy to spot."""
    settings = mail_settings(tmp_path, smtp_port=smtp[1], imap_port=imap_port, mail_rate_per_hour=1)
    app = await make_app(settings, ManualClock(NOW))
    grant = {"plan": "2000 Equity Incentive Plan", "option_type": OptionType.ISO}
    async with app.uow() as uow:
        await uow.employees.upsert_many(
            [
                Employee(
                    employee_id="E77",
                    name="Philippa Quenby",
                    email=PHILIPPA,
                    country="US",
                    status=EmployeeStatus.ACTIVE,
                    employee_class=EmployeeClass.EMPLOYEE,
                    slack_user_id="U77",
                )
            ]
        )
        await uow.grants.upsert_many(
            [
                Grant(
                    grant_number="GX-40417",
                    employee_id="E77",
                    grant_date=date(2001, 11, 1),
                    exercise_price=Decimal("13.57"),
                    shares_granted=4817,
                    shares_exercised=0,
                    expiration_date=date(2011, 11, 1),
                    **grant,  # type: ignore[arg-type]
                ),
                Grant(
                    grant_number="GX-40418",
                    employee_id="E77",
                    grant_date=date(2001, 4, 16),
                    exercise_price=Decimal("27.13"),
                    shares_granted=3659,
                    shares_exercised=0,
                    expiration_date=date(2011, 4, 16),
                    **grant,  # type: ignore[arg-type]
                ),
            ]
        )
        await uow.commit()
    try:
        yield app
    finally:
        await app.aclose()


async def test_real_flows_log_ids_and_never_personal_data(
    private_app: App,
    smtp: tuple[SmtpRecorder, int],
    imap_port: int,
    caplog: pytest.LogCaptureFixture,
    restore_logging: None,
) -> None:
    stream = io.StringIO()
    ours = configure_logging(level="DEBUG", fmt="json", stream=stream)
    root = logging.getLogger()
    # pytest's handler formats each record before ours redacts it in place: caplog.text shows
    # what the call sites themselves wrote, without the safety net.
    assert root.handlers.index(caplog.handler) < root.handlers.index(ours)
    recorder, _ = smtp
    app = private_app
    philippa = Identity(channel="slack", actor="U77", employee_id="E77")

    # a question (abstained on, so it is stored for HR) and an election intent
    asked = await respond(text=QUESTION, identity=philippa, deps=app.conversation())
    assert asked.kind == "abstain"
    tendered = await respond(text="tender GX-40417", identity=philippa, deps=app.conversation())
    assert tendered.intent == "elect" and tendered.kind != "error", tendered.text

    # inbound mail: a question, an auto-reply (ignored), two from an outsider (rate limited)
    await deliver(imap_port, mail(sender=f"Philippa Quenby <{PHILIPPA}>", subject=SUBJECT,
                                  body=BODY, message_id="<p1@client.example>"))  # fmt: skip
    await deliver(imap_port, mail(sender=PHILIPPA, subject=f"Away: {SUBJECT}", body=BODY,
                                  message_id="<p2@client.example>",
                                  headers={"Auto-Submitted": "auto-replied"}))  # fmt: skip
    for n in (1, 2):
        await deliver(imap_port, mail(sender=f"Quill <{OUTSIDER}>", subject=SUBJECT, body=BODY,
                                      message_id=f"<o{n}@elsewhere.example>"))  # fmt: skip

    # outbox: Philippa's server greylists one message and refuses the next, echoing her address
    recorder.scripted[PHILIPPA] = [
        f"451 4.7.1 <{PHILIPPA}>: Recipient address rejected: Greylisted",
        f"550 5.1.1 <{PHILIPPA}>: Recipient address rejected: User unknown",
    ]
    await run_worker(app, once=True)

    async with app.uow() as uow:
        outcomes = sorted(r.outcome for r in await uow.inbox.outcomes())
        failed = await uow.deliveries.in_state(DeliveryState.FAILED)
        pending = await uow.deliveries.in_state(DeliveryState.PENDING)
    assert outcomes == ["answered", "answered", "ignored:auto-submitted", "ignored:rate-limit"]
    assert [m.recipient for m in failed] == [PHILIPPA]
    assert PHILIPPA in [m.recipient for m in pending]  # the greylisted one, to retry
    assert recorder.to("hr@capstone.example"), "HR was alerted"

    # the flows were logged — by ids and hashes
    text = caplog.text
    assert f"outbox {failed[0].idempotency_key}: failed: SMTP 550" in text
    assert "retry after attempt 1: SMTP 451" in text
    assert f"from {fingerprint(PHILIPPA)}: not answered (auto-submitted)" in text
    assert f"from {fingerprint(OUTSIDER)}: rate limit" in text
    assert len(caplog.records) >= 4

    assert leaks(text) == [], text
    output = stream.getvalue()
    assert leaks(output) == [], output
    lines = output.splitlines()
    assert len(lines) == len(caplog.records)
    for line in lines:
        assert set(json.loads(line)) >= REQUIRED_KEYS


def test_the_safety_net_redacts_addresses_in_messages_extras_and_tracebacks(
    restore_logging: None,
) -> None:
    for fmt in ("text", "json"):
        stream = io.StringIO()
        configure_logging(level="DEBUG", fmt=fmt, stream=stream)
        log = logging.getLogger("bot.test_logging")
        log.info("to %s", PHILIPPA, extra={"employee_id": "E77", "rcpt": OUTSIDER})
        log.warning(f"literal {PHILIPPA.upper()}")
        try:
            raise ValueError(f"refused <{PHILIPPA}>")
        except ValueError:
            log.exception("send failed")
        output = stream.getvalue()
        assert PHILIPPA not in output.lower() and OUTSIDER not in output, (
            output
        )  # the same hash each time
        assert output.count(f"<email:{fingerprint(PHILIPPA)}>") == 3
        assert "E77" in output and "ValueError" in output
        if fmt == "json":
            records = [json.loads(line) for line in output.splitlines()]
            assert [r["level"] for r in records] == ["INFO", "WARNING", "ERROR"]
            assert all(set(r) >= REQUIRED_KEYS for r in records)
            assert records[0]["employee_id"] == "E77"
            assert records[0]["logger"] == "bot.test_logging"
            assert "exc_info" in records[2]


def test_debug_is_for_our_own_packages_only(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="text", stream=stream)
    logging.getLogger("aiosqlite").debug("executing INSERT ... ('%s',)", PHILIPPA)
    logging.getLogger("aioimaplib.aioimaplib").info("Received : %s", BODY)
    logging.getLogger("handlers.email.inbox").debug("inbox uid %s: parsed", 7)
    assert stream.getvalue().count("\n") == 1
    assert "inbox uid 7: parsed" in stream.getvalue()


def test_fingerprint_and_redact() -> None:
    assert fingerprint("a") == fingerprint("a") != fingerprint("b")
    assert re.fullmatch(r"[0-9a-f]{12}", fingerprint(QUESTION))
    assert redact(f"x {PHILIPPA} y") == f"x <email:{fingerprint(PHILIPPA)}> y"
    assert redact("no address, just E77 and <@U77>") == "no address, just E77 and <@U77>"


def test_the_cli_writes_json_lines_without_addresses(tmp_path: Path) -> None:
    """`offerbot worker --once` in a real process, SMTP refused: JSON lines on stderr. (The
    set-up commands before it run in the test process, :mod:`tests.cli.runner`.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))}
    env.update(OFFERBOT_DEMO_EMPLOYEES="10", OFFERBOT_LOG_FORMAT="json",
               OFFERBOT_LOG_LEVEL="debug")  # fmt: skip

    def offerbot(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"offerbot {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    setup = {k: v for k, v in env.items() if k.startswith("OFFERBOT_")}
    in_process(tmp_path, "init", "--demo", "--json", env=setup)
    in_process(tmp_path, "elect", "E1001", "--grant", "G00002", "--json", env=setup)
    roster = (tmp_path / ".offerbot/demo/employees.csv").read_text()
    address = next(line for line in roster.splitlines() if line.startswith("E1001,")).split(",")
    emails = [field for field in address if "@" in field]
    assert emails
    proc = offerbot(
        "worker", "--once", "--json",
        OFFERBOT_SMTP_HOST="127.0.0.1", OFFERBOT_SMTP_PORT=str(free_port()),
        OFFERBOT_SMTP_TLS="false", OFFERBOT_MAIL_FROM="Offer <offer@capstone.example>",
    )  # fmt: skip
    report = json.loads(proc.stdout)
    assert (report["retried"], report["failed"]) == (1, 1)  # HR's notice: no HR mailbox set
    records = [json.loads(line) for line in proc.stderr.splitlines()]
    assert all(set(r) >= REQUIRED_KEYS for r in records)
    [retry] = [r for r in records if "retry after attempt 1" in r["message"]]
    assert retry["level"] == "INFO" and retry["logger"] == "bot.services.messaging.outbox"
    assert retry["message"].startswith("outbox intent_confirmation:E1001:v1: ")
    [failed] = [r for r in records if r["level"] == "WARNING"]
    assert failed["message"].startswith("outbox hr_notice:E1001:v1: failed: no HR mailbox")
    assert not any(e.lower() in proc.stderr.lower() for e in emails)
    assert "G00002" not in proc.stderr
