"""The questions pages and the communications log end to end: Debian's chromium (Playwright)
against the console on loopback over a copy of the demo database; replies delivered by the real
outbox sender to aiosmtpd and to the local Slack Web API; the bank file checked with the
bank's own parser and with a real `offerbot hr suggestions export` process."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.clock import parse_instant
from bot.domain.communications import Communication
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.records import UnansweredQuestion
from bot.services.messaging.outbox import drain_outbox
from knowledge.bank import parse_bank_text
from tests.email.servers import SmtpRecorder, start_smtp
from tests.slack.conftest import FakeSlack
from tests.web.conftest import (
    ADMIN,
    ADMIN_PW,
    VIEWER,
    VIEWER_PW,
    Console,
    form_token,
    http_sign_in,
    offerbot,
    sign_in,
    start_console,
)

NOW = parse_instant("2003-07-10T09:00:00-07:00")


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpRecorder]:
    recorder = SmtpRecorder()
    server, port = await start_smtp(recorder)
    recorder.port = port  # type: ignore[attr-defined]
    try:
        yield recorder
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_route("*", "/api/{method}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"  # type: ignore[union-attr]
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def wired(
    console_db: Path, tmp_path: Path, smtp: SmtpRecorder, slack_api: FakeSlack
) -> AsyncIterator[Console]:
    """The console with the outbox's two channels: e-mail to aiosmtpd, Slack to the local API."""
    c, runner = await start_console(
        console_db,
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,  # type: ignore[attr-defined]
        smtp_tls="false",
        mail_from="Capstone offer assistant <offerbot@capstone.example>",
        mail_hostname="offerbot.test",
        hr_mailbox="hr@capstone.example",
        slack_bot_token="xoxb-test",
        slack_signing_secret="test-signing-secret",
        slack_api_url=slack_api.base_url + "api/",
    )
    try:
        yield c
    finally:
        await runner.cleanup()
        await c.app.aclose()


@pytest.fixture
async def console(console_db: Path, tmp_path: Path) -> AsyncIterator[Console]:
    c, runner = await start_console(console_db, tmp_path)
    try:
        yield c
    finally:
        await runner.cleanup()
        await c.app.aclose()


async def _ask(console: Console, text: str, *, channel: str, employee_id: str | None,
               actor: str, best: str | None = None) -> int:  # fmt: skip
    async with console.app.uow() as uow:
        qid = await uow.questions.record_unanswered(
            UnansweredQuestion(
                asked_at=NOW - timedelta(minutes=30), channel=channel, actor=actor,
                question=text, confidence=0.1, employee_id=employee_id, best_entry_id=best,
            )
        )  # fmt: skip
        await uow.commit()
    return qid


async def _drain(console: Console) -> None:
    await drain_outbox(
        uow=console.app.uow(),
        transports=console.app.outbox_transports(),
        clock=console.app.clock,
        concurrency=1,
    )


async def _http_sign_in(http: aiohttp.ClientSession, console: Console, email: str, pw: str) -> str:
    assert await http_sign_in(http, console, email, pw) == 303
    return await form_token(http, console.url("/hr/questions"))


async def test_reply_from_the_page_reaches_the_employee_by_email(
    wired: Console, new_page: Any, smtp: SmtpRecorder
) -> None:
    qid = await _ask(
        wired, "Can my wife fax the form from her office?", channel="email",
        employee_id="E1001", actor="e1001@example.com", best="Q21",
    )  # fmt: skip
    page = await new_page()
    await sign_in(page, wired, ADMIN, ADMIN_PW)
    await page.goto(wired.url("/hr/questions"))
    await page.get_by_role("link", name=f"Reply or suggest (question {qid})").click()
    assert await page.get_by_label("Cite a knowledge entry (optional)").input_value() == "Q21"
    await page.get_by_label("Reply").fill(
        "Yes: anyone may fax it, as long as you signed it. The fax number is on the form."
    )
    assert await page.get_by_role("button", name="Send reply").count() == 0  # preview first
    await page.get_by_role("button", name="Preview").click()
    preview = await page.locator("#preview").inner_text()
    assert "as long as you signed it" in preview and "Source: Q21 · " in preview
    await page.get_by_role("button", name="Send reply").click()
    await page.wait_for_url(re.compile(r"/hr/questions\?notice=replied$"))
    assert await page.locator(f"#question-{qid}").count() == 0  # answered: off the list

    await _drain(wired)
    (mail,) = smtp.to("e1001@example.com")  # the address on file for E1001
    assert mail["Subject"] == "Your question about the option exchange offer"
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "as long as you signed it" in body and "[Q21 · " in body  # cited as the bot cites
    await page.goto(wired.url("/hr/employees/E1001"))
    messages = await page.locator("section", has_text="Messages sent").inner_text()
    assert f"answer question:{qid}" in messages and "sent" in messages
    async with wired.app.uow() as uow:
        (entry,) = await uow.audit.with_action("hr_console.question.replied")
    assert entry.actor == "web:hr@example.com" and entry.subject == "E1001"
    assert "signed" not in str(entry.detail)  # the reply's words stay out of the audit log


async def test_reply_to_a_slack_question_is_a_dm_through_the_slack_web_api(
    wired: Console, slack_api: FakeSlack, http: aiohttp.ClientSession
) -> None:
    qid = await _ask(
        wired, "is the 2.00 cutoff before or after the split", channel="slack",
        employee_id="E1002", actor="U1002",
    )  # fmt: skip
    token = await _http_sign_in(http, wired, ADMIN, ADMIN_PW)
    async with http.post(
        wired.url(f"/hr/questions/{qid}/reply"),
        data={"csrf_token": token, "step": "send", "reply": "The cutoff is $2.00.", "cite": ""},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
    await _drain(wired)
    assert [c.params["users"] for c in slack_api.of("conversations.open")] == ["U1002"]
    posts = slack_api.of("chat.postMessage")
    assert [p.params["channel"] for p in posts] == ["D1002"]  # the DM opened with U1002
    assert "The cutoff is $2.00." in posts[0].params["text"]
    # sending twice (a double click, a reload) queues nothing more
    async with http.post(
        wired.url(f"/hr/questions/{qid}/reply"),
        data={"csrf_token": token, "step": "send", "reply": "The cutoff is $2.00."},
    ) as response:
        assert response.status == 409
        assert "already answered" in await response.text()


async def test_no_reply_without_a_verified_employee_and_no_advice(
    console: Console, new_page: Any, http: aiohttp.ClientSession
) -> None:
    chat = await _ask(console, "hello?", channel="console", employee_id=None, actor="hr:x")
    stranger = await _ask(
        console, "what is my strike", channel="email", employee_id=None, actor="x@evil.example"
    )
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.goto(console.url(f"/hr/questions/{stranger}"))
    assert "could not match to an employee" in await page.locator("#no-reply").inner_text()
    assert await page.get_by_label("Reply").count() == 0
    await page.goto(console.url(f"/hr/questions/{chat}"))
    assert "has no inbox to reply to" in await page.locator("#no-reply").inner_text()
    token = await _http_sign_in(http, console, ADMIN, ADMIN_PW)
    async with http.post(
        console.url(f"/hr/questions/{stranger}/reply"),
        data={"csrf_token": token, "step": "send", "reply": "Your strike is $8."},
    ) as response:
        assert response.status == 409
        assert "could not match to an employee" in await response.text()
    verified = await _ask(
        console, "what do you think", channel="slack", employee_id="E1001", actor="U1001"
    )
    async with http.post(
        console.url(f"/hr/questions/{verified}/reply"),
        data={"csrf_token": token, "step": "preview", "reply": "I recommend you tender."},
    ) as response:
        assert response.status == 409
        assert "reads as a recommendation" in await response.text()
    async with console.app.uow() as uow:
        assert await uow.outbox.by_kind(MessageKind.ANSWER) == []


async def test_suggestion_accepted_shows_in_the_export(console: Console, new_page: Any) -> None:
    qid = await _ask(
        console, "My manager Bob says I can sign the form later, can I?", channel="slack",
        employee_id="E1001", actor="U1001",
    )  # fmt: skip
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.goto(console.url(f"/hr/questions/{qid}"))
    assert "Bob" in await page.get_by_label("Question as an example (one line)").input_value()
    await page.get_by_label("Question as an example (one line)").fill(
        "my manager says i can sign the election form after the deadline, is that true"
    )
    await page.get_by_label("What it asks about").select_option("Q21")
    await page.get_by_role("button", name="Suggest for the question bank").click()
    await page.wait_for_url(re.compile(r"/hr/questions/suggestions\?notice=suggested$"))
    row = page.locator("#suggestions tbody tr")
    assert await row.count() == 1 and "pending" in await row.inner_text()
    download = await page.request.get(console.url("/hr/questions/suggestions/hr-suggestions.txt"))
    assert parse_bank_text(await download.text(), file="x.txt") == []  # nothing accepted yet
    await page.get_by_role("button", name="Accept suggestion").click()
    await page.goto(console.url("/hr/questions/suggestions?status=accepted"))
    assert "accepted" in await page.locator("#suggestions tbody tr").inner_text()
    download = await page.request.get(console.url("/hr/questions/suggestions/hr-suggestions.txt"))
    assert download.headers["content-disposition"].endswith('"hr-suggestions.txt"')
    examples = parse_bank_text(await download.text(), file="hr-suggestions.txt")
    expected = "my manager says i can sign the election form after the deadline, is that true"
    assert [(e.label, e.text) for e in examples] == [("Q21", expected)]
    # the same file from the command line, into the offer's questions folder of a copy
    out = console.cwd / "hr-suggestions.txt"
    offerbot(console.cwd, "hr", "suggestions", "export", "--out", str(out), db=console.db)
    assert out.read_text(encoding="utf-8") == await download.text()


async def test_viewer_sees_but_cannot_reply_suggest_or_decide(
    console: Console, http: aiohttp.ClientSession, new_page: Any
) -> None:
    qid = await _ask(console, "when is payday", channel="slack", employee_id="E1001", actor="U1")
    token = await _http_sign_in(http, console, VIEWER, VIEWER_PW)
    for path, data in (
        (f"/hr/questions/{qid}/reply", {"step": "send", "reply": "Fridays."}),
        (f"/hr/questions/{qid}/suggest", {"text": "when is payday 2", "label": "out_of_scope"}),
        ("/hr/questions/suggestions/1/accept", {}),
    ):
        async with http.post(console.url(path), data={**data, "csrf_token": token}) as response:
            assert response.status == 403, path
    async with console.app.uow() as uow:
        refused = await uow.audit.with_action("hr_console.refused")
        assert await uow.outbox.by_kind(MessageKind.ANSWER) == []
    assert len(refused) == 3 and {e.actor for e in refused} == {"web:viewer@example.com"}
    page = await new_page()
    await sign_in(page, console, VIEWER, VIEWER_PW)
    await page.goto(console.url(f"/hr/questions/{qid}"))
    assert "Only an HR admin can reply." in await page.locator("main").inner_text()
    await page.goto(console.url("/hr/communications"))
    assert await page.locator("h1").inner_text() == "Communications log"


async def test_posts_without_the_csrf_token_are_refused(
    console: Console, http: aiohttp.ClientSession
) -> None:
    qid = await _ask(console, "q", channel="slack", employee_id="E1001", actor="U1001")
    await _http_sign_in(http, console, ADMIN, ADMIN_PW)
    for path, data in (
        (f"/hr/questions/{qid}/reply", {"step": "send", "reply": "Hi."}),
        (f"/hr/questions/{qid}/suggest", {"text": "a new example", "label": "out_of_scope"}),
    ):
        for extra in ({}, {"csrf_token": "forged"}):
            async with http.post(console.url(path), data={**data, **extra}) as response:
                assert response.status == 403
    async with console.app.uow() as uow:
        assert await uow.outbox.by_kind(MessageKind.ANSWER) == []
    async with http.get(console.url("/hr/questions/suggestions?status=all")) as response:
        assert "No suggestions here." in await response.text()


async def test_communications_log_page_and_downloads(console: Console, new_page: Any) -> None:
    async with console.app.uow() as uow:
        comm = await uow.communications.record(
            Communication(
                key="reminder:t", kind="reminder", subject="Two weeks left",
                body="Hello {name}, the offer expires July 24.", created_at=NOW,
            )
        )  # fmt: skip
        await uow.outbox.enqueue_many(
            OutboxMessage(
                idempotency_key=f"rem:{n}", channel="email", recipient=f"e{n}@example.com",
                kind=MessageKind.REMINDER, subject="Two weeks left", body_text="Hello",
                created_at=NOW, due_at=NOW, employee_id=f"E{n}", reference=comm.reference,
            )
            for n in range(1001, 1031)
        )  # fmt: skip
        await uow.commit()
    page = await new_page()
    await sign_in(page, console, ADMIN, ADMIN_PW)
    await page.get_by_role("link", name="Communications").click()
    row = page.locator(f"#group-comm-{comm.id}")
    assert "Two weeks left" in await row.inner_text()
    assert await row.locator("td.n-pending").inner_text() == "30"
    assert await row.locator("td.n-delivered").inner_text() == "0"
    # the demo's two intents queued their confirmations and HR notices: groups of their own
    text = await page.locator("#groups").inner_text()
    assert "Intent confirmations" in text and "HR notices" in text
    response = await page.request.get(console.url("/hr/communications/delivery-log.csv"))
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert sum(r["group"] == comm.reference for r in rows) == 30
    assert all(r["queued_at"].endswith(("PDT", "PST")) for r in rows)
    response = await page.request.get(console.url("/hr/communications/communications.csv"))
    (texts,) = list(csv.DictReader(io.StringIO(await response.text())))
    assert texts["body"] == "Hello {name}, the offer expires July 24." and texts["messages"] == "30"
