"""Hostile inbound e-mail (issue 13, item 2) and a non-ASCII address (item 8), against a real
Dovecot, a real aiosmtpd and real SQLite.

The bomb corpus is generated here, never committed: the issue's three (20,000 ``=?utf-8?q?a?=``
words in a subject, a 1.4 MB subject, a huge header block) plus a message over the size limit
and one with a MIME part over the header-field limit. Before the limits, the first pushed
``offerbot worker --once`` to 2.9 GB and the second was OOM-killed; the worker's peak RSS must
now stay under 300 MB, every bomb be recorded as rejected and marked processed, and a real
question in the same mailbox still be answered.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import resource
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.runtime.bootstrap import App
from bot.services.messaging.outbox import drain_outbox
from handlers.email.limits import MailLimits, MailRejected
from handlers.email.parse import parse_mail
from tests.cli.runner import offerbot as in_process
from tests.email import conftest as email_fixtures
from tests.email.servers import IMAP_PASSWORD, IMAP_USER, SmtpRecorder, deliver, flags_of, mail

# the e-mail tests' real servers and apps (fixtures)
clock = email_fixtures.clock
dovecot_server = email_fixtures.dovecot_server
imap_port = email_fixtures.imap_port
mail_app = email_fixtures.mail_app
smtp = email_fixtures.smtp
smtp_app = email_fixtures.smtp_app

RSS_LIMIT_MB = 300
# A regression must not take the machine down with it: the child's address space is capped
# (the bombs needed 2.9 GB and more than the machine had before the limits).
CHILD_ADDRESS_SPACE = 4 * 1024**3
CHILD_TIMEOUT = 300.0  # seconds
MB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


# --- the corpus -----------------------------------------------------------------------------


def _bomb(subject: str, *, extra: str = "", body: str = "What is the exchange ratio?") -> bytes:
    head = (
        "From: attacker@evil.example\r\nTo: test@example.com\r\n"
        f"Subject: {subject}\r\nMessage-ID: <bomb-{len(subject)}-{len(extra)}@evil.example>\r\n"
        f"{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    return (head + body + "\r\n").encode()


def encoded_word_subject() -> bytes:  # 280 KB; 2.9 GB before the limits
    return _bomb(" ".join(["=?utf-8?q?a?="] * 20_000))


def long_subject() -> bytes:  # 1.4 MB of plain words; OOM-killed before
    return _bomb("a " * 700_000)


def huge_header_block() -> bytes:  # 2 MB of short fields
    return _bomb("hello", extra="".join(f"X-Filler-{i}: {'b' * 30}\r\n" for i in range(50_000)))


def oversize() -> bytes:  # over the 10 MB default: never downloaded
    return _bomb("attachment", body="c" * 76 + ("\r\n" + "c" * 76) * (11 * MB // 78))


def part_field_bomb() -> bytes:  # small top header; a 60 KB Content-Type in a MIME part
    params = "; ".join(f"p{i}=v" for i in range(10_000))
    return (
        "From: attacker@evil.example\r\nTo: test@example.com\r\nSubject: part\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        f"--XX\r\nContent-Type: text/plain; {params}\r\n\r\nhi\r\n--XX--\r\n"
    ).encode()


def many_parts() -> bytes:  # 250,000 one-line parts: 290 s to split before the limits
    part = "--XX\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return (
        "From: attacker@evil.example\r\nTo: test@example.com\r\nSubject: parts\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
        + part * (9 * MB // len(part))
        + "--XX--\r\n"
    ).encode()


def big_html() -> bytes:  # just under the size limit: read (the top of it) and answered
    row = "<div><p>" + "word " * 10 + "</p></div>\r\n"
    return (
        "From: someone@outside.example\r\nTo: test@example.com\r\nSubject: Big\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>When does the offer expire?</p>\r\n" + row * (int(9.5 * MB) // len(row))
    ).encode()


BOMBS = {
    "encoded-words": encoded_word_subject,
    "long-subject": long_subject,
    "header-block": huge_header_block,
    "oversize": oversize,
    "part-field": part_field_bomb,
    "many-parts": many_parts,
}
EXPECTED = {
    "encoded-words": "rejected:header-size",
    "long-subject": "rejected:header-size",
    "header-block": "rejected:header-size",
    "oversize": "rejected:size",
    "part-field": "rejected:header-field",
    "many-parts": "rejected:mime-parts",
}


# --- the limits themselves ------------------------------------------------------------------


def test_each_limit_rejects_before_parsing_and_real_mail_passes() -> None:
    limits = MailLimits()
    reasons = {}
    for name, make in BOMBS.items():
        try:
            parse_mail(make(), limits=limits)
        except MailRejected as exc:
            reasons[name] = f"rejected:{exc.reason}"
    assert reasons == EXPECTED
    # the encoded-word count on its own: many words, each field short
    many = _bomb("x", extra="".join(f"X-W{i}: =?utf-8?q?a?=\r\n" for i in range(600)))
    try:
        parse_mail(many, limits=limits)
    except MailRejected as exc:
        assert exc.reason == "encoded-words"
    else:
        raise AssertionError("600 encoded words were accepted")
    # a real message with a Japanese subject and headers a big relay adds passes
    subject = " ".join(["=?iso-2022-jp?b?GyRCJDMkcyRLJEEkTxsoQg==?="] * 30)
    relay = "".join(
        f"Received: from relay{i}.example by mx.example; {'r' * 200}\r\n" for i in range(40)
    )
    real = parse_mail(_bomb(subject, extra=relay), limits=limits)
    assert real.sender == "attacker@evil.example" and real.subject.startswith("こんにちは")


def test_an_oversized_part_field_is_rejected_before_any_structured_header_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The split the limits look at must not parse headers: the default policy reads each
    part's Content-Type while splitting, and the 60 KB one took 3.7-10 s of CPU to refuse."""
    from email.headerregistry import HeaderRegistry

    built: list[str] = []
    real = HeaderRegistry.__call__

    def counting(self: HeaderRegistry, name: str, value: str) -> object:
        built.append(name)
        return real(self, name, value)

    monkeypatch.setattr(HeaderRegistry, "__call__", counting)
    try:
        parse_mail(part_field_bomb(), limits=MailLimits())
    except MailRejected as exc:
        assert exc.reason == "header-field"
    else:
        raise AssertionError("a 60 KB Content-Type in a part was accepted")
    assert built == []
    # and a message that passes is still read with the default policy's structured headers
    parse_mail(_bomb("hello"), limits=MailLimits())
    assert "subject" in [name.lower() for name in built]


# --- the worker against Dovecot, as a subprocess --------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float


# ``python -m bot`` that writes its peak RSS (VmHWM, KiB) to the file named by its first
# argument as it exits. Not ``wait4``'s ru_maxrss: a child forked from this test process starts
# its high-water mark at the parent's size (Linux carries it across fork and exec), so late in a
# full run it read 400 MB for a worker that peaks near 150.
_MEASURED_BOT = """
import atexit, runpy, sys
peak_file = sys.argv.pop(1)
def write_peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(peak_file, "w") as out:
                    out.write(line.split()[1])
atexit.register(write_peak)
sys.argv[0] = "bot"
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


def _offerbot_measured(cwd: Path, env: dict[str, str], *args: str) -> Run:
    """``python -m bot ARGS`` in a child; its own peak RSS, as it reports it."""
    out, err, peak = cwd / "stdout.txt", cwd / "stderr.txt", cwd / "peak-rss-kib.txt"
    peak.unlink(missing_ok=True)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))

    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", _MEASURED_BOT, str(peak), *args],
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=cap,  # before exec: only the child's address space
        )
        watchdog = threading.Timer(CHILD_TIMEOUT, child.kill)  # a hung child fails the test
        watchdog.start()
        try:
            _, status, _usage = os.wait4(child.pid, 0)
        finally:
            watchdog.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        returncode=child.returncode,
        stdout=out.read_text(),
        stderr=err.read_text(errors="replace"),
        max_rss_mb=int(peak.read_text()) / 1024 if peak.exists() else float("inf"),
    )


async def _offerbot(cwd: Path, env: dict[str, str], *args: str) -> Run:
    # in a thread: the test's SMTP server runs in this event loop
    run = await asyncio.to_thread(_offerbot_measured, cwd, env, *args)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


async def test_worker_survives_the_bomb_corpus_under_300_mb_and_reads_it_once(
    tmp_path: Path, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, smtp_port = smtp
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERBOT_")}
    env.update(
        OFFERBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'offerbot.db'}",
        OFFERBOT_IMAP_HOST="127.0.0.1",
        OFFERBOT_IMAP_PORT=str(imap_port),
        OFFERBOT_IMAP_USER=IMAP_USER,
        OFFERBOT_IMAP_PASSWORD=IMAP_PASSWORD,
        OFFERBOT_IMAP_TLS="false",
        OFFERBOT_SMTP_HOST="127.0.0.1",
        OFFERBOT_SMTP_PORT=str(smtp_port),
        OFFERBOT_SMTP_TLS="false",
        OFFERBOT_MAIL_FROM="offerbot@capstone.example",
        OFFERBOT_HR_MAILBOX="hr@capstone.example",
        OFFERBOT_REMINDERS_ENABLED="false",
        OFFERBOT_DIGESTS_ENABLED="false",
        # the code under test, not whatever copy of offerbot is installed
        PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    )
    # init and the metrics afterwards in the test process (tests.cli.runner); the workers are
    # the measured child processes
    ours = {k: v for k, v in env.items() if k.startswith("OFFERBOT_")}
    await asyncio.to_thread(in_process, tmp_path, "init", "--demo", "--json", env=ours)
    with (tmp_path / ".offerbot/demo/employees.csv").open(newline="") as f:
        on_file = next(r["email"] for r in csv.DictReader(f) if r["employee_id"] == "E1001")
    for make in BOMBS.values():
        await deliver(imap_port, make())
    await deliver(imap_port, big_html())
    await deliver(
        imap_port,
        mail(sender=on_file, subject="Deadline", body="When does the offer expire?"),
    )

    first = await _offerbot(tmp_path, env, "worker", "--once", "--json")
    second = await _offerbot(tmp_path, env, "worker", "--once", "--json")
    counted = await asyncio.to_thread(in_process, tmp_path, "hr", "metrics", "--json", env=ours)
    metrics = json.loads(counted.stdout)

    print(f"worker --once peak RSS on the bomb corpus: {first.max_rss_mb:.0f} MB")
    assert first.max_rss_mb < RSS_LIMIT_MB, first.max_rss_mb
    report = json.loads(first.stdout)
    assert report["mail_read"] == len(BOMBS) + 2
    assert report["sent"] == 2  # the real questions are still answered
    assert json.loads(second.stdout)["mail_read"] == 0  # never read again
    assert sorted(m["Subject"] for m in recorder.messages()) == ["Re: Big", "Re: Deadline"]
    inbound = metrics["inbound_emails"]
    expected: dict[str, int] = {"answered": 2}
    for outcome in EXPECTED.values():
        expected[outcome] = expected.get(outcome, 0) + 1
    assert {k: v for k, v in inbound.items() if k != "total" and v} == expected
    flags = await flags_of(imap_port)
    assert len(flags) == len(BOMBS) + 2 and all("$Offerbot" in f for f in flags), flags
    assert "evil.example" not in first.stderr  # no bomb content in the logs


async def test_an_unreadable_message_is_recorded_rejected_and_not_read_again(
    mail_app: App, imap_port: int
) -> None:
    # MIME parts nested 5,000 deep: the parser's recursion gives up
    nested = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(5_000)
    )
    raw = f"From: a@evil.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n{nested}\r\nx\r\n"
    await deliver(imap_port, raw.encode())
    watcher = mail_app.inbox_watcher()
    assert watcher is not None
    assert await watcher.read_once() == 1
    assert await watcher.read_once() == 0
    async with mail_app.uow() as uow:
        [record] = await uow.inbox.outcomes()
    assert record.outcome.startswith("rejected:"), record.outcome
    [flag] = await flags_of(imap_port)
    assert "$Offerbot" in flag


# --- item 8: a non-ASCII address ------------------------------------------------------------


async def test_a_non_ascii_recipient_fails_once_and_an_idna_domain_is_delivered(
    smtp_app: App, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> None:
    recorder, _ = smtp
    now = clock.now()

    def answer(key: str, to: str) -> OutboxMessage:
        return OutboxMessage(
            idempotency_key=key,
            channel="email",
            recipient=to,
            kind=MessageKind.ANSWER,
            subject="Re: hello",
            body_text="The offer expires on July 24, 2003.",
            body_html="<p>The offer expires on July 24, 2003.</p>",
            created_at=now,
            due_at=now,
        )

    async with smtp_app.uow() as uow:
        await uow.outbox.enqueue(answer("a:local", "jösé@example.com"))
        await uow.outbox.enqueue(answer("a:domain", "jose@exämple.com"))
        await uow.commit()
    transports = smtp_app.outbox_transports()
    report = await drain_outbox(uow=smtp_app.uow(), transports=transports, clock=clock)
    assert report.outcomes["a:local"] == DeliveryState.FAILED.value  # once, not 12 retries
    assert report.outcomes["a:domain"] == DeliveryState.SENT.value
    assert any(rcpts == ["jose@xn--exmple-cua.com"] for _, rcpts, _ in recorder.accepted)
    # nothing left to retry: a later pass sends nothing more for it
    clock.advance(datetime(2003, 7, 11, tzinfo=UTC) - now)
    again = await drain_outbox(uow=smtp_app.uow(), transports=transports, clock=clock)
    assert "a:local" not in again.outcomes
