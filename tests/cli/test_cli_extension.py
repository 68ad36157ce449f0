"""`offerbot hr extend|amend|approve|reject|amendments` on the demo roster, in this process
(:mod:`tests.cli.runner`, on a worker thread so the test's own servers keep running).

The acceptance scenario runs the whole way: `hr extend --announce`, then `offerbot worker
--once` against a real SMTP server (aiosmtpd on loopback) delivers exactly one announcement to
each eligible employee with an e-mail on file, a second pass sends nothing, and the deadline
and the answers now give the new date.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.eligibility import assess
from bot.runtime.bootstrap import build
from tests.cli.runner import offerbot as run_offerbot
from tests.email.servers import SmtpRecorder, start_smtp

NEW = "2003-08-07T17:00:00-07:00"
BOT = "offerbot@capstone.example"


async def offerbot(
    cwd: Path, *args: str, env: dict[str, str] | None = None, expect: int = 0
) -> tuple[str, str]:
    ran = await asyncio.to_thread(run_offerbot, cwd, *args, env=env, check=False)
    assert ran.returncode == expect, f"offerbot {' '.join(args)}:\n{ran.stdout}\n{ran.stderr}"
    return ran.stdout, ran.stderr


async def offerbot_json(cwd: Path, *args: str, **kw: Any) -> Any:
    stdout, _ = await offerbot(cwd, *args, "--json", **kw)
    return json.loads(stdout)


@pytest.fixture
def demo(demo_copy: Callable[[str], Path]) -> Path:
    """Each test works on its own copy of the demo roster."""
    return demo_copy("extension")


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[SmtpRecorder, int]]:
    recorder = SmtpRecorder()
    server, port = await start_smtp(recorder)
    try:
        yield recorder, port
    finally:
        server.close()
        await server.wait_closed()


async def _eligible_addresses(cwd: Path) -> set[str]:
    """Who the offer concerns after the extension: an eligible person holding an eligible
    grant (computed here from the roster with the domain rules)."""
    db = f"sqlite+aiosqlite:///{cwd / '.offerbot' / 'offerbot.db'}"
    app = build(Settings(database_url=db))
    try:
        terms = app.base_terms.with_expiration(datetime.fromisoformat(NEW))
        cancellation = cancellation_date(terms)
        grant_day = new_grant_date(terms, business_calendar(terms))
        async with app.uow() as uow:
            employees = await uow.employees.list_all()
            grants = await uow.grants.list_all()
    finally:
        await app.aclose()
    held: dict[str, list[Any]] = {}
    for g in grants:
        held.setdefault(g.employee_id, []).append(g)
    addresses = set()
    for e in employees:
        assessment = assess(
            e, held.get(e.employee_id, []), terms, cancellation=cancellation, new_grant=grant_day
        )
        if assessment.eligible_grants and e.email.strip():
            addresses.add(e.email.strip().lower())
    return addresses


async def test_extend_announce_then_worker_delivers_each_announcement_once(
    demo: Path, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, port = smtp
    env = dict(
        OFFERBOT_SMTP_HOST="127.0.0.1",
        OFFERBOT_SMTP_PORT=str(port),
        OFFERBOT_SMTP_TLS="false",
        OFFERBOT_MAIL_FROM=BOT,
        OFFERBOT_HR_MAILBOX="hr@capstone.example",
    )
    result = await offerbot_json(demo, "hr", "extend", "--to", NEW, "--announce", env=env)
    assert result["expiration"] == NEW
    assert result["amendment"]["kind"] == "extension"
    assert result["amendment"]["status"] == "applied"
    assert result["amendment"]["previous_expiration"] == "2003-07-24T17:00:00-07:00"
    assert result["amendment"]["requested_by"].startswith("cli:")
    assert result["warnings"] == []
    assert result["announcement"]["status"] == "queued"
    eligible = await _eligible_addresses(demo)
    assert len(eligible) > 50
    assert result["announcement"]["queued"] == {"email": len(eligible)}

    # Each process starts the demo's simulated clock at 09:00:00 again, so a worker started
    # right after `hr extend` could be a second *behind* the rows it queued; run it later.
    worker_env = {**env, "OFFERBOT_NOW": "2003-07-10T09:30:00-07:00"}
    first = await offerbot_json(demo, "worker", "--once", env=worker_env)
    second = await offerbot_json(demo, "worker", "--once", env=worker_env)
    announcements = [
        (rcpts, message)
        for (_, rcpts, _), message in zip(recorder.accepted, recorder.messages(), strict=True)
        if "extended" in str(message["Subject"])
    ]
    recipients = [r.lower() for rcpts, _ in announcements for r in rcpts]
    assert len(recipients) == len(set(recipients))  # exactly one each
    assert set(recipients) == eligible  # and nobody else
    assert first["sent"] >= len(eligible) and first["failed"] == 0
    assert second["sent"] == 0
    plain = announcements[0][1].get_body(("plain",))
    assert plain is not None
    body = plain.get_content()
    assert "August 7, 2003" in body and "July 24, 2003" in body
    assert "recommend" not in body.replace("makes no recommendation", "")

    deadlines = await offerbot_json(demo, "deadlines", env=env)
    assert deadlines["expiration"] == NEW and deadlines["is_extended"] is True
    answer = await offerbot_json(demo, "ask", "when does the offer expire?", env=env)
    assert "August 7, 2003" in answer["answer"] and "extended" in answer["answer"]
    faq = await offerbot_json(demo, "ask", "may I withdraw previously tendered options?", env=env)
    assert (
        "Update: the offer was extended; it now expires at 5:00 p.m. PDT on Thursday, "
        in (faq["answer"])
    )


async def test_extend_refuses_an_earlier_date_and_changes_nothing(demo: Path) -> None:
    refused = await offerbot_json(
        demo, "hr", "extend", "--to", "2003-07-20T17:00:00-07:00", expect=1
    )
    assert "later than the current one" in refused["error"]
    bad = await offerbot_json(demo, "hr", "extend", "--to", "2003-08-07T17:00", expect=1)
    assert "offset" in bad["error"]
    deadlines = await offerbot_json(demo, "deadlines")
    assert deadlines["expiration"] == "2003-07-24T17:00:00-07:00"
    assert await offerbot_json(demo, "hr", "amendments") == []


async def test_a_late_extension_is_applied_with_a_warning_in_text_and_json(demo: Path) -> None:
    late = dict(OFFERBOT_NOW="2003-07-25T07:00:00-07:00")
    stdout, _ = await offerbot(demo, "hr", "extend", "--to", NEW, env=late)
    assert "now expires at 5:00 p.m. PDT on Thursday, August 7, 2003" in stdout
    assert "No announcement was requested." in stdout
    assert "later than that" in stdout
    [row] = await offerbot_json(demo, "hr", "amendments", env=late)
    assert (row["status"], row["announce"], row["new_expiration"]) == ("applied", False, NEW)


async def test_two_person_rule_from_the_command_line(demo: Path) -> None:
    env = dict(OFFERBOT_TWO_PERSON_RULE="true")
    pending = await offerbot_json(
        demo, "hr", "extend", "--to", NEW, "--announce", "--by", "alice", env=env
    )
    assert pending["amendment"]["status"] == "awaiting_approval"
    assert pending["announcement"] == {"status": "awaiting_approval", "queued": {}}
    assert (await offerbot_json(demo, "deadlines", env=env))["expiration"] == NEW  # at once
    amendment_id = str(pending["amendment"]["id"])

    same = await offerbot_json(
        demo, "hr", "approve", amendment_id, "--by", "alice", env=env, expect=1
    )
    assert "different HR administrator" in same["error"]
    approved = await offerbot_json(demo, "hr", "approve", amendment_id, "--by", "bob", env=env)
    assert approved["amendment"]["status"] == "applied"
    assert approved["amendment"]["approved_by"] == "bob"
    assert approved["announcement"]["status"] == "queued"
    assert approved["announcement"]["queued"]["email"] > 50

    second = await offerbot_json(
        demo,
        "hr", "extend", "--to", "2003-08-14T17:00:00-07:00", "--announce", "--by", "alice",
        env=env,
    )  # fmt: skip
    rejected = await offerbot_json(
        demo, "hr", "reject", str(second["amendment"]["id"]), "--by", "bob", env=env
    )
    assert rejected["amendment"]["status"] == "rejected"
    assert rejected["announcement"]["status"] == "rejected"
    assert "still has to be announced" in rejected["warnings"][0]
    rows = await offerbot_json(demo, "hr", "amendments", env=env)
    assert [(r["id"], r["status"]) for r in rows] == [
        (int(amendment_id), "applied"),
        (second["amendment"]["id"], "rejected"),
    ]


async def test_amend_needs_ten_business_days_or_extends(demo: Path) -> None:
    # notice on Thursday July 17: the offer must stay open through Wednesday July 30
    env = dict(OFFERBOT_NOW="2003-07-17T09:00:00-07:00")
    what = "One new option for each 1.5 old options."
    refused = await offerbot_json(demo, "hr", "amend", "--description", what, env=env, expect=1)
    assert "July 30, 2003" in refused["error"] and "--extend" in refused["error"]
    result = await offerbot_json(
        demo, "hr", "amend", "--description", what, "--extend", "--announce", env=env
    )
    assert result["amendment"]["kind"] == "consideration"
    assert result["amendment"]["description"] == what
    assert result["expiration"] == "2003-07-30T17:00:00-07:00"
    assert result["announcement"]["status"] == "queued"
    assert result["announcement"]["queued"]["email"] > 50
    deadlines = await offerbot_json(demo, "deadlines", env=env)
    assert deadlines["expiration"] == "2003-07-30T17:00:00-07:00"


def test_offer_admin_commands_are_listed(tmp_path: Path) -> None:
    listing = run_offerbot(tmp_path, "hr", "--help").stdout
    for command in ("extend", "amend", "approve", "reject", "amendments"):
        assert command in listing
