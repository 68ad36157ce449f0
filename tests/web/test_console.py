"""The HR web console end to end: Debian's chromium (Playwright) against the console served on
loopback over a copy of the demo database, and `offerbot` commands on the same file for the
command line's side (`hr report --json`, `hr receive`, `status`, `hr amendments`) — run in the
test process, except one `status` in a real process, which proves a separate process reads what
the console recorded."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from bot.clock import parse_instant
from bot.domain.records import UnansweredQuestion
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus
from bot.runtime.bootstrap import ConfigurationError
from bot.services.identity import Identity
from bot.services.roster.grants import my_grants
from handlers.web import add_console_routes
from storage.hr_console_repo import hr_console
from tests.web.conftest import (
    ADMIN,
    ADMIN2,
    ADMIN2_PW,
    ADMIN_PW,
    VIEWER,
    VIEWER_PW,
    Console,
    form_token,
    http_sign_in,
    offerbot,
    offerbot_json,
    sign_in,
    start_console,
)


async def test_unauthenticated_requests_go_to_the_sign_in_page(
    console: Console, http: aiohttp.ClientSession
) -> None:
    for path in ("/hr/", "/hr/employees", "/hr/api/report"):
        async with http.get(console.url(path), allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == f"/hr/login?next={path}"
    async with http.post(console.url("/hr/receive"), data={}, allow_redirects=False) as response:
        assert response.status == 403
    async with http.get(console.url("/healthz")) as response:  # one app: ops routes too
        assert response.status == 200


async def test_session_cookie_flags(console: Console, http: aiohttp.ClientSession) -> None:
    token = await form_token(http, console.url("/hr/login"))
    async with http.post(
        console.url("/hr/login"),
        data={"csrf_token": token, "email": ADMIN, "password": ADMIN_PW},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        cookie = next(c for c in response.headers.getall("Set-Cookie") if "offerbot_hr=" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/hr" in cookie
    assert "Secure" not in cookie  # turned off for this loopback test server only


async def test_sign_in_and_the_dashboard_equals_hr_report_json(
    console: Console, new_page: Any
) -> None:
    # E1001 looks at their own grants on Slack; HR looking at E1002's does not count
    for identity, eid in (
        (Identity(channel="slack", actor="U1001", employee_id="E1001"), "E1001"),
        (Identity(channel="cli", actor="cli:hr"), "E1002"),
    ):
        await my_grants(
            uow=console.app.uow(), terms=console.app.base_terms, employee_id=eid,
            identity=identity, now=console.clock.now(),
        )  # fmt: skip
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    assert await page.locator("#eligible-employees").inner_text() == "293"
    assert "5:00 p.m. PDT on Thursday, July 24, 2003" in await page.content()
    assert await page.locator("#time-left").inner_text() == "14 days 8 hours"
    funnel = page.locator("#funnel-intent_recorded td")
    assert await funnel.first.inner_text() == "2"
    saw = page.locator("#funnel-saw_grants td")
    assert (await saw.all_inner_texts())[:2] == ["1", "3,300"]  # people, eligible shares

    response = await page.request.get(console.url("/hr/api/report"))
    assert response.status == 200
    web_report = await response.json()
    cli_report = offerbot_json(console.cwd, "hr", "report", db=console.db, now=web_report["now"])
    # "now" is each process's clock reading (the CLI's simulated clock starts at the same
    # instant and has advanced by its start-up time); everything else is identical.
    web_now, cli_now = parse_instant(web_report.pop("now")), parse_instant(cli_report.pop("now"))
    assert timedelta(0) <= cli_now - web_now < timedelta(minutes=2)
    assert web_report == cli_report
    assert web_report["eligible"]["employees"] == 293
    shares = f"{web_report['eligible']['unexercised_shares']:,}"
    assert shares in await page.locator("body").inner_text()
    # the daily chart: the two intents of the demo fixture, on July 10 (Pacific)
    bars = page.locator("svg.chart rect.intents title")
    assert await bars.count() == 16  # June 25 … July 10
    assert await bars.last.text_content() == "2003-07-10: 2 intent versions"


async def test_sessions_live_in_the_database_so_replicas_share_them(
    console: Console, http: aiohttp.ClientSession, tmp_path: Any
) -> None:
    assert await http_sign_in(http, console, ADMIN, ADMIN_PW) == 303
    cookie = http.cookie_jar.filter_cookies(URL(console.url("/hr/")))["offerbot_hr"].value
    replica, runner = await start_console(console.db, tmp_path / "r", share=True)
    try:
        async with (
            aiohttp.ClientSession() as other,
            other.get(
                replica.url("/hr/"), cookies={"offerbot_hr": cookie}, allow_redirects=False
            ) as response,
        ):
            assert response.status == 200
            assert "293" in await response.text()
    finally:
        await runner.cleanup()
        await replica.app.aclose()


async def test_record_a_receipt_and_see_it_in_offerbot_status(
    console: Console, new_page: Any
) -> None:
    console.clock.set(parse_instant("2003-07-10T11:00:00-07:00"))  # the intent is from 9:00
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.goto(console.url("/hr/receive?employee=E1001"))
    assert await page.get_by_label("Employee id").input_value() == "E1001"
    default = await page.get_by_label("Received at (Pacific time, PDT)").input_value()
    assert default == "2003-07-10T11:00"  # now, Pacific
    await page.get_by_label("Received at (Pacific time, PDT)").fill("2003-07-10T10:30")
    await page.get_by_label("Hand delivery").check()
    await page.get_by_role("button", name="Record the form").click()
    await page.wait_for_load_state()
    assert page.url == console.url("/hr/employees/E1001?notice=receipt"), await page.content()
    receipts = await page.locator("#receipts").inner_text()
    assert "election form, v1, received 2003-07-10 10:30 PDT by hand" in receipts
    assert "web:hr@example.com" in receipts

    status = offerbot_json(console.cwd, "status", "E1001", db=console.db, process=True)
    assert status["hr_receipt"]["via"] == "hand", status
    assert status["hr_receipt"]["received_at"] == "2003-07-10T10:30:00-07:00"
    assert status["hr_receipt"]["recorded_by"] == "web:hr@example.com"
    assert status["confirmation"] is not None
    trail = offerbot_json(console.cwd, "hr", "audit", "E1001", db=console.db)
    receipt = next(e for e in trail if e["action"] == "election.receipt")
    assert receipt["actor"] == "web:hr@example.com" and receipt["channel"] == "web-hr"

    # no worker sends it here: two business days later the confirmation is overdue
    console.clock.set(parse_instant("2003-07-16T09:00:00-07:00"))
    await sign_in(page, console, ADMIN, ADMIN_PW)  # six days idle: signed out meanwhile
    assert await page.locator("#overdue").inner_text() == "1"
    overdue = await page.locator("#overdue + ul").inner_text()
    assert overdue == "E1001 v1, due 2003-07-14 21:00 PDT", overdue  # midnight Eastern
    assert await page.locator("#funnel-form_received td").first.inner_text() == "1"
    assert await page.locator("#funnel-receipt_confirmed td").first.inner_text() == "0"


async def test_a_late_form_is_refused_with_the_cli_sentence(
    console: Console, new_page: Any
) -> None:
    after = "2003-07-25T09:00:00-07:00"
    console.clock.set(parse_instant(after))
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.goto(console.url("/hr/receive?employee=E1001"))
    await page.get_by_label("Received at (Pacific time, PDT)").fill("2003-07-24T17:05")
    await page.get_by_role("button", name="Record the form").click()
    shown = await page.locator("#error").inner_text()
    cli = offerbot(
        console.cwd, "hr", "receive", "E1001", "--form", "election", "--version", "1",
        "--received-at", "2003-07-24T17:05:00-07:00", "--via", "fax", "--json",
        db=console.db, now=after, check=False,
    )  # fmt: skip
    assert cli.returncode == 1
    assert shown == json.loads(cli.stdout)["error"]
    assert "late" in shown


async def test_a_viewer_sees_but_a_viewer_post_is_refused_and_audited(
    console: Console, new_page: Any
) -> None:
    page = await new_page()
    await sign_in(page, console, VIEWER, VIEWER_PW)
    assert await page.locator("#eligible-employees").inner_text() == "293"
    await page.goto(console.url("/hr/receive?employee=E1001"))
    await page.get_by_role("button", name="Record the form").click()
    assert "can see the console but not act" in await page.locator(".error").inner_text()
    async with console.app.uow() as uow:
        refused = await uow.audit.with_action("hr_console.refused")
        receipts = await uow.elections.receipts_for("E1001")
    assert [(e.actor, e.detail["path"]) for e in refused] == [
        ("web:viewer@example.com", "/hr/receive")
    ]
    assert receipts == []


async def test_a_post_without_the_csrf_token_is_refused(
    console: Console, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        console.url("/hr/login"), data={"email": ADMIN, "password": ADMIN_PW},
        allow_redirects=False,
    ) as response:  # fmt: skip
        assert response.status == 403
    console.clock.set(parse_instant("2003-07-10T11:00:00-07:00"))  # the intent is from 9:00
    assert await http_sign_in(http, console, ADMIN, ADMIN_PW) == 303
    form = {
        "employee_id": "E1001",
        "form": "election",
        "version": "1",
        "received_at": "2003-07-10T10:30",
        "via": "fax",
    }
    for extra in ({}, {"csrf_token": "forged"}):
        async with http.post(
            console.url("/hr/receive"), data={**form, **extra}, allow_redirects=False
        ) as response:
            assert response.status == 403
    async with console.app.uow() as uow:
        assert await uow.elections.receipts_for("E1001") == []
    token = await form_token(http, console.url("/hr/receive"))
    async with http.post(
        console.url("/hr/receive"), data={**form, "csrf_token": token}, allow_redirects=False
    ) as response:
        assert response.status == 303


async def test_signed_out_after_the_idle_timeout(console: Console, new_page: Any) -> None:
    idle = console.app.settings.hr_console_idle_minutes
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    console.clock.advance(minutes=idle - 1)
    await page.goto(console.url("/hr/employees"))
    assert page.url == console.url("/hr/employees")  # still signed in, and seen again now
    console.clock.advance(minutes=idle - 1)
    await page.goto(console.url("/hr/"))
    assert page.url == console.url("/hr/")
    console.clock.advance(minutes=idle + 1)
    await page.goto(console.url("/hr/"))
    assert page.url == console.url("/hr/login?next=/hr/")
    async with console.app.uow() as uow:
        ended = await uow.audit.with_action("hr_console.sign_out")
    assert [e.detail["reason"] for e in ended] == ["idle"]


async def test_sign_in_attempts_are_rate_limited(
    console: Console, http: aiohttp.ClientSession
) -> None:
    limit = console.app.settings.hr_console_max_failures
    for _ in range(limit):
        assert await http_sign_in(http, console, ADMIN, "wrong-password!") == 401
    token = await form_token(http, console.url("/hr/login"))
    async with http.post(
        console.url("/hr/login"),
        data={"csrf_token": token, "email": ADMIN, "password": ADMIN_PW},
        allow_redirects=False,
    ) as response:
        assert response.status == 401
        assert "Too many failed sign-ins" in await response.text()
    assert await http_sign_in(http, console, ADMIN2, ADMIN2_PW) == 303  # another account
    console.clock.advance(minutes=16)
    assert await http_sign_in(http, console, ADMIN, ADMIN_PW) == 303


async def test_extend_with_a_second_admin_approving(console: Console, new_page: Any) -> None:
    first = await new_page()
    await sign_in(first, console, ADMIN, ADMIN_PW)
    await first.goto(console.url("/hr/offer"))
    await first.get_by_label("New expiration (Pacific time)").fill("2003-08-07T17:00")
    await first.get_by_label("Note added to the extension's announcement (optional)").fill(
        "Two more weeks."
    )
    await first.get_by_role("button", name="Extend the offer").click()
    result = await first.locator("#result").inner_text()
    assert "5:00 p.m. PDT on Thursday, August 7, 2003" in result
    assert "waits for a second HR administrator" in result
    assert "August 7, 2003" in await first.locator("#expiration").inner_text()

    await first.get_by_role("button", name="Approve and announce #1").click()
    refused = await first.locator("#error").inner_text()
    assert "requested by web:hr@example.com" in refused

    second = await new_page()
    await sign_in(second, console, ADMIN2, ADMIN2_PW)
    await second.goto(console.url("/hr/offer"))
    await second.get_by_role("button", name="Approve and announce #1").click()
    assert "#amendment-1" not in await second.content()
    amendments = offerbot_json(console.cwd, "hr", "amendments", db=console.db)
    assert [(a["status"], a["requested_by"], a["approved_by"]) for a in amendments] == [
        ("applied", "web:hr@example.com", "web:hr2@example.com")
    ]


async def test_employees_search_filter_and_formula_safe_csv(
    console: Console, new_page: Any
) -> None:
    async with console.app.uow() as uow:
        await uow.employees.upsert_many(
            [
                Employee(
                    employee_id="E9001",
                    name='=HYPERLINK("http://evil.example","x")',
                    email="e9001@example.com",
                    country="US",
                    status=EmployeeStatus.ACTIVE,
                    employee_class=EmployeeClass.EMPLOYEE,
                )
            ]
        )
        await uow.commit()
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.goto(console.url("/hr/employees"))
    await page.get_by_label("State").select_option("intent_without_form")
    await page.get_by_role("button", name="Show").click()
    assert await page.locator("#count").inner_text() == "2 employees."
    await page.get_by_label("Search (id, name or e-mail)").fill("hyperlink")
    await page.get_by_label("State").select_option("")
    await page.get_by_role("button", name="Show").click()
    assert await page.locator("#count").inner_text() == "1 employee."
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download CSV").click()
    download = await download_info.value
    text = open(await download.path(), encoding="utf-8").read()  # noqa: SIM115
    lines = text.splitlines()
    assert lines[0].startswith("employee_id,name,email,state")
    assert len(lines) == 2 and "'=HYPERLINK" in lines[1]
    async with console.app.uow() as uow:
        exports = await uow.audit.with_action("hr_console.employees.export")
    assert [(e.actor, e.detail["rows"]) for e in exports] == [("web:hr@example.com", 1)]


async def test_employee_page_shows_grants_reasons_and_messages(
    console: Console, new_page: Any
) -> None:
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.goto(console.url("/hr/employees/E1001"))
    body = await page.locator("main").inner_text()
    assert "G00004" in body and "below the offer's minimum" in body
    assert "intent_confirmation v1" in body and "election.tender" in body
    await page.goto(console.url("/hr/employees/E9999"))
    assert "No employee 'E9999'" in await page.locator("main").inner_text()


async def test_admin_accounts_from_the_command_line(console: Console) -> None:
    listed = offerbot_json(console.cwd, "hr", "admin", "list", db=console.db)
    assert [(a["email"], a["role"]) for a in listed] == [  # by e-mail address
        (ADMIN2, "admin"),
        (ADMIN, "admin"),
        (VIEWER, "viewer"),
    ]
    short = offerbot(
        console.cwd, "hr", "admin", "add", "x@example.com", "--password-stdin", "--json",
        db=console.db, stdin="short\n", check=False,
    )  # fmt: skip
    assert short.returncode == 1 and "at least 12 characters" in short.stdout
    assert offerbot_json(console.cwd, "hr", "admin", "remove", VIEWER, db=console.db)["removed"]
    async with console.app.uow() as uow:
        assert await hr_console(uow).account(VIEWER) is None
        stored = await hr_console(uow).account(ADMIN)
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert ADMIN_PW not in stored.password_hash
    assert datetime.fromisoformat(listed[0]["created_at"]).tzinfo is not None
    assert listed[0]["created_by"].startswith("cli:")


async def test_questions_today_and_marking_one_answered(console: Console, new_page: Any) -> None:
    async with console.app.uow() as uow:
        for asked, text in (
            ("2003-07-09T16:00:00-07:00", "Yesterday's question about <b>taxes</b>?"),
            ("2003-07-10T08:15:00-07:00", "Can I tender half a grant?"),
        ):
            await uow.questions.record_unanswered(
                UnansweredQuestion(
                    asked_at=parse_instant(asked),
                    channel="slack",
                    actor="U123",
                    question=text,
                    confidence=0.1,
                    employee_id="E1001",
                )
            )
        await uow.commit()
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    assert await page.locator("#questions-today").inner_text() == "1"  # since midnight PDT
    await page.goto(console.url("/hr/questions"))
    rows = page.locator("td.question")
    assert await rows.all_inner_texts() == [
        "Can I tender half a grant?",
        "Yesterday's question about <b>taxes</b>?",  # shown as text, never as markup
    ]
    await page.get_by_role("button", name="Mark answered").first.click()
    assert await page.locator("td.question").all_inner_texts() == [
        "Yesterday's question about <b>taxes</b>?"
    ]
    await page.goto(console.url("/hr/"))
    assert await page.locator("#questions-today").inner_text() == "0"
    async with console.app.uow() as uow:
        marked = await uow.audit.with_action("hr_console.question.answered")
    assert [e.actor for e in marked] == ["web:hr@example.com"]


async def test_a_cookie_without_secure_only_on_loopback(console: Console) -> None:
    assert console.app.settings.hr_console_secure_cookie is False
    for host in ("0.0.0.0", "10.1.2.3", "example.com"):
        with pytest.raises(ConfigurationError, match="loopback"):
            add_console_routes(web.Application(), console.app, host=host)
    for host in ("127.0.0.1", "::1", "localhost"):
        add_console_routes(web.Application(), console.app, host=host)


async def test_amend_refused_with_the_cli_sentence_then_extended(
    console: Console, new_page: Any
) -> None:
    monday = "2003-07-21T09:00:00-07:00"  # ten business days from here pass July 24
    console.clock.set(parse_instant(monday))
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.goto(console.url("/hr/offer"))
    await page.get_by_label("What changed (kept verbatim for the filing)").fill("Price floor.")
    await page.get_by_role("button", name="Record the amendment").click()
    shown = await page.locator("#error").inner_text()
    cli = offerbot(
        console.cwd, "hr", "amend", "--description", "Price floor.", "--json",
        db=console.db, now=monday, check=False,
    )  # fmt: skip
    assert cli.returncode == 1 and shown == json.loads(cli.stdout)["error"]

    await page.get_by_label("What changed (kept verbatim for the filing)").fill("Price floor.")
    await page.get_by_label("Move the expiration if ten business days would not remain").check()
    await page.get_by_role("button", name="Record the amendment").click()
    result = await page.locator("#result").inner_text()
    assert "the offer now expires at 5:00 p.m. PDT on Friday, August 1, 2003" in result
    assert "“Price floor.”" in await page.locator("#amendment-1").inner_text()


async def test_bad_input_gets_a_clear_answer_never_a_500(
    console: Console, http: aiohttp.ClientSession
) -> None:
    console.clock.set(parse_instant("2003-07-10T11:00:00-07:00"))
    assert await http_sign_in(http, console, ADMIN, ADMIN_PW) == 303
    for path in (
        "/hr/employees?state=nonsense&q=" + "x" * 5000,
        "/hr/employees?start=-7",
        "/hr/employees?start=abc",
        "/hr/employees/%E2%80%AE%3Cscript%3E",
        "/hr/receive?employee=" + "E" * 500,
    ):
        async with http.get(console.url(path)) as response:
            assert response.status in (200, 404), (path, response.status)
            assert "<script>" not in await response.text()
    token = await form_token(http, console.url("/hr/receive"))
    cases = [
        ({"version": "one"}, 400, "its version (a number)"),
        ({"received_at": "yesterday"}, 400, "the received time"),
        ({"form": "ballot"}, 400, "election or withdrawal"),
        ({"employee_id": "E9999"}, 409, "No employee &#39;E9999&#39; in the roster."),
        ({"version": "7"}, 409, "version 7"),
    ]
    good = {"employee_id": "E1001", "form": "election", "version": "1",
            "received_at": "2003-07-10T10:30", "via": "fax", "csrf_token": token}  # fmt: skip
    for change, status, words in cases:
        async with http.post(
            console.url("/hr/receive"), data={**good, **change}, allow_redirects=False
        ) as response:
            text = await response.text()
            assert response.status == status, (change, text)
            assert words in text, (change, text)
    async with console.app.uow() as uow:
        assert await uow.elections.receipts_for("E1001") == []  # nothing recorded
    for path in ("/hr/questions/abc/answered", "/hr/questions/999999/answered"):
        async with http.post(
            console.url(path), data={"csrf_token": token}, allow_redirects=False
        ) as response:
            assert response.status == 404
