"""The outbox sender through the real SMTP transport against a real aiosmtpd server."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event

from bot.clock import ManualClock
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.runtime.bootstrap import App
from bot.runtime.worker import _drain
from bot.services.elections.intents import record_intent
from bot.services.messaging.outbox import drain_outbox
from handlers.email.assembly import message_id_factory
from tests.email.conftest import HR, mail_settings, make_app
from tests.email.servers import SmtpRecorder
from tests.servers import free_port
from tests.services.elections_setup import employee_identity

E1 = "e1@example.com"


async def _tender(app: App) -> None:
    await record_intent(
        uow=app.uow(),
        terms=app.base_terms,
        employee_id="E1",
        grant_numbers=["G2"],
        identity=employee_identity("E1"),
        now=app.clock.now(),
    )


async def _row(app: App, key: str) -> OutboxMessage:
    async with app.uow() as uow:
        found = await uow.deliveries.get(key)
    assert found is not None
    return found


def _message(key: str, kind: MessageKind, app: App, recipient: str = E1) -> OutboxMessage:
    now = app.clock.now()
    return OutboxMessage(
        idempotency_key=key,
        channel="email",
        recipient=recipient,
        kind=kind,
        subject=f"subject {key}",
        body_text=f"body of {key}",
        created_at=now,
        due_at=now,
        employee_id="E1",
    )


async def _enqueue(app: App, *messages: OutboxMessage) -> None:
    async with app.uow() as uow:
        for m in messages:
            await uow.outbox.enqueue(m)
        await uow.commit()


async def test_intent_confirmation_goes_out_as_text_html_and_pdf(
    smtp_app: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp
    await _tender(smtp_app)
    report = await _drain(smtp_app, smtp_app.outbox_transports())
    assert (report.sent, report.failed, report.retried) == (2, 0, 0)
    [mine] = recorder.to(E1)
    [to_hr] = recorder.to(HR)
    assert mine["Auto-Submitted"] == "auto-generated"
    assert mine.get_body(("plain",)) is not None and mine.get_body(("html",)) is not None
    [pdf] = [p for p in mine.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename().endswith("-E1-v1.pdf")
    assert pdf.get_content().startswith(b"%PDF")
    assert "not itself an election" in mine.get_body(("plain",)).get_content()
    row = await _row(smtp_app, "intent_confirmation:E1:v1")
    assert row.state is DeliveryState.SENT and row.message_id == mine["Message-ID"]
    assert row.message_id.endswith("@offerbot.test>")
    assert to_hr["Message-ID"] != mine["Message-ID"]


async def test_451_is_retried_later_with_the_same_message_id(
    smtp_app: App, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> None:
    recorder, _ = smtp
    recorder.scripted[E1] = ["451 4.3.0 Try again later"]
    await _enqueue(smtp_app, _message("r1", MessageKind.RECEIPT_CONFIRMATION, smtp_app))
    transports = smtp_app.outbox_transports()
    first = await _drain(smtp_app, transports)
    assert first.retried == 1 and recorder.accepted == []
    pending = await _row(smtp_app, "r1")
    assert pending.state is DeliveryState.PENDING and pending.attempts == 1
    assert "451" in (pending.last_error or "")
    assert (await _drain(smtp_app, transports)).outcomes == {}  # not due yet: backoff
    clock.advance(minutes=1)
    second = await _drain(smtp_app, transports)
    assert second.sent == 1
    [sent] = recorder.to(E1)
    assert sent["Message-ID"] == pending.message_id  # fixed before attempt 1, reused


async def test_550_fails_and_alerts_hr(smtp_app: App, smtp: tuple[SmtpRecorder, int]) -> None:
    recorder, _ = smtp
    recorder.scripted[E1] = ["550 5.1.1 No such user"]
    await _enqueue(smtp_app, _message("c1", MessageKind.RECEIPT_CONFIRMATION, smtp_app))
    report = await _drain(smtp_app, smtp_app.outbox_transports())
    assert report.failed == 1 and report.sent == 1  # the alert to HR, in the same drain
    row = await _row(smtp_app, "c1")
    assert row.state is DeliveryState.FAILED and "550" in (row.last_error or "")
    [alert] = recorder.to(HR)
    assert "could not be delivered" in alert["Subject"]
    assert E1 in alert.get_body(("plain",)).get_content()


async def test_a_second_drain_and_a_second_enqueue_send_nothing_more(
    smtp_app: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp
    message = _message("once", MessageKind.RECEIPT_CONFIRMATION, smtp_app)
    await _enqueue(smtp_app, message)
    transports = smtp_app.outbox_transports()
    await _drain(smtp_app, transports)
    await _drain(smtp_app, transports)
    async with smtp_app.uow() as uow:
        assert await uow.outbox.enqueue(message) is False
    assert len(recorder.to(E1)) == 1


async def test_timeout_after_the_final_dot_is_ambiguous(
    tmp_path: Path, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> None:
    """A reminder is not sent twice (a legal notice is retried once: tests/faults)."""
    recorder, port = smtp
    app = await make_app(
        mail_settings(tmp_path, smtp_port=port, imap_port=None, smtp_timeout=0.5), clock
    )
    try:
        recorder.stall_seconds = 2.0
        await _enqueue(app, _message("slow", MessageKind.REMINDER, app))
        report = await _drain(app, app.outbox_transports())
        assert report.ambiguous == 1
        row = await _row(app, "slow")
        assert row.state is DeliveryState.AMBIGUOUS
        clock.advance(hours=1)
        await _drain(app, app.outbox_transports())
        assert recorder.to(E1) == []  # never retried: it may have been delivered
        [alert] = recorder.to(HR)
        assert "may or may not have been delivered" in alert["Subject"]
    finally:
        await app.aclose()


async def test_connection_refused_is_retried(tmp_path: Path, clock: ManualClock) -> None:
    app = await make_app(mail_settings(tmp_path, smtp_port=free_port(), imap_port=None), clock)
    try:
        await _enqueue(app, _message("down", MessageKind.RECEIPT_CONFIRMATION, app))
        report = await _drain(app, app.outbox_transports())
        assert report.retried == 1
        assert (await _row(app, "down")).state is DeliveryState.PENDING
    finally:
        await app.aclose()


async def test_transactional_mail_goes_before_bulk(
    smtp_app: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp
    await _enqueue(
        smtp_app,
        _message("bulk-1", MessageKind.REMINDER, smtp_app),
        _message("bulk-2", MessageKind.EXTENSION_ANNOUNCEMENT, smtp_app),
        _message("receipt", MessageKind.RECEIPT_CONFIRMATION, smtp_app),
    )
    await drain_outbox(
        uow=smtp_app.uow(),
        transports=smtp_app.outbox_transports(),
        clock=smtp_app.clock,
        concurrency=1,
        batch=1,
    )
    assert [m["Subject"] for m in recorder.messages()] == [
        "subject receipt",
        "subject bulk-1",
        "subject bulk-2",
    ]


async def test_a_crash_between_send_and_mark_resends_after_the_lease_with_the_same_id(
    smtp_app: App, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> None:
    recorder, _ = smtp
    await _enqueue(smtp_app, _message("crash", MessageKind.RECEIPT_CONFIRMATION, smtp_app))
    transports = smtp_app.outbox_transports()
    async with smtp_app.uow() as uow:  # a sender claims it, sends it, and dies before marking
        [claimed] = await uow.deliveries.claim_due(
            now=clock.now(),
            owner="dead",
            lease=timedelta(minutes=10),
            limit=10,
            channels=["email"],
            message_id_for=message_id_factory(smtp_app),  # type: ignore[arg-type]
        )
        await uow.commit()
    await transports["email"].send(claimed)
    assert (await _drain(smtp_app, transports)).outcomes == {}  # still leased
    clock.advance(minutes=11)
    assert (await _drain(smtp_app, transports)).sent == 1
    first, second = recorder.to(E1)
    assert first["Message-ID"] == second["Message-ID"] == claimed.message_id


async def test_one_connection_is_reused_for_many_messages(
    smtp_app: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp
    n = 200
    await _enqueue(
        smtp_app,
        *(_message(f"m{i}", MessageKind.RECEIPT_CONFIRMATION, smtp_app) for i in range(n)),
    )
    transports = smtp_app.outbox_transports()
    started = time.perf_counter()
    report = await drain_outbox(
        uow=smtp_app.uow(), transports=transports, clock=smtp_app.clock, concurrency=4
    )
    elapsed = time.perf_counter() - started
    assert report.sent == n and len(recorder.accepted) == n
    assert recorder.connections <= 4
    print(f"\n{n} messages over {recorder.connections} connection(s): {n / elapsed:.0f} msg/s")


async def test_550_falls_back_to_slack_for_the_employee(
    tmp_path: Path, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> None:
    """With Slack configured, a permanently failed e-mail is queued again as a Slack DM to the
    employee's Slack user id (same kind and text), in the transaction that marks it failed.
    The Slack API here is a closed port: the DM itself stays pending (retried), which is
    the Slack transport's business, not this test's."""
    recorder, port = smtp
    app = await make_app(
        mail_settings(
            tmp_path,
            smtp_port=port,
            imap_port=None,
            slack_bot_token="xoxb-test",
            slack_api_url=f"http://127.0.0.1:{free_port()}/api/",
        ),
        clock,
    )
    try:
        recorder.scripted[E1] = ["550 5.1.1 No such user"]
        message = _message("c1", MessageKind.RECEIPT_CONFIRMATION, app)
        await _enqueue(app, message)
        transports = app.outbox_transports()
        assert set(transports) == {"email", "slack"}
        report = await _drain(app, transports)
        assert report.failed == 1
        assert (await _row(app, "c1")).state is DeliveryState.FAILED
        fallback = await _row(app, "slack_fallback:c1")
        assert fallback.channel == "slack"
        assert fallback.recipient == "U1"  # E1's Slack user id on the roster, not the address
        assert fallback.kind is MessageKind.RECEIPT_CONFIRMATION
        assert fallback.employee_id == "E1"
        assert fallback.body_text == message.body_text
        assert fallback.state is not DeliveryState.FAILED
        [alert] = recorder.to(HR)  # HR is alerted as well
        assert "could not be delivered" in alert["Subject"]
    finally:
        await app.aclose()


async def test_550_without_slack_queues_no_fallback(
    smtp_app: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp
    recorder.scripted[E1] = ["550 5.1.1 No such user"]
    await _enqueue(smtp_app, _message("c2", MessageKind.RECEIPT_CONFIRMATION, smtp_app))
    await _drain(smtp_app, smtp_app.outbox_transports())
    async with smtp_app.uow() as uow:
        assert await uow.deliveries.get("slack_fallback:c2") is None


async def test_delivered_rows_are_marked_in_batches_not_one_transaction_each(
    smtp_app: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp
    n = 60
    await _enqueue(smtp_app, *(_message(f"b{i}", MessageKind.REMINDER, smtp_app) for i in range(n)))
    commits = 0

    def count(_connection: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(smtp_app.engine.sync_engine, "commit", count)
    try:
        report = await drain_outbox(
            uow=smtp_app.uow(),
            transports=smtp_app.outbox_transports(),
            clock=smtp_app.clock,
            message_id_for=message_id_factory(smtp_app),  # type: ignore[arg-type]
            concurrency=4,
            batch=30,
            mark_every=20,
        )
    finally:
        event.remove(smtp_app.engine.sync_engine, "commit", count)
    assert report.sent == n and len(recorder.accepted) == n
    # 2 claims of 30 + a last look, and the "sent" marks in batches of 20: a handful of
    # commits, where one transaction per message would be 60 more
    assert commits <= 12
    rows = [await _row(smtp_app, f"b{i}") for i in range(n)]
    assert all(r.state is DeliveryState.SENT and r.sent_at is not None for r in rows)
    assert {r.message_id for r in rows} == {m["Message-ID"] for m in recorder.messages()}


def _dms(app: App, n: int) -> list[OutboxMessage]:
    """``n`` Slack reminders to U1, due now: ``dm0`` … ``dm{n-1}``."""
    now = app.clock.now()
    return [
        OutboxMessage(
            idempotency_key=f"dm{i}",
            channel="slack",
            recipient="U1",
            kind=MessageKind.REMINDER,
            subject="s",
            body_text="b",
            created_at=now,
            due_at=now,
        )
        for i in range(n)
    ]


class _HeldSlack:
    """A Slack transport that sends nothing until released (a slow, rate-limited channel)."""

    channel = "slack"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, message: OutboxMessage) -> str | None:
        await self.release.wait()
        self.sent.append(message.idempotency_key)
        return f"ts-{len(self.sent)}"


async def test_a_slow_slack_channel_does_not_hold_up_email(
    smtp_app: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp
    dms = _dms(smtp_app, 5)
    mails = [_message(f"m{i}", MessageKind.REMINDER, smtp_app) for i in range(20)]
    await _enqueue(smtp_app, *dms, *mails)  # the DMs first: older, yet they must not block
    slack = _HeldSlack()
    drain = asyncio.create_task(
        drain_outbox(
            uow=smtp_app.uow(),
            transports={"email": smtp_app.outbox_transports()["email"], "slack": slack},
            clock=smtp_app.clock,
            message_id_for=message_id_factory(smtp_app),  # type: ignore[arg-type]
            concurrency=2,
        )
    )
    while len(recorder.accepted) < 20:  # every e-mail goes out while Slack is stuck
        assert not drain.done()
        await asyncio.sleep(0.01)
    assert slack.sent == []
    slack.release.set()
    report = await drain
    assert report.sent == 25 and sorted(slack.sent) == [f"dm{i}" for i in range(5)]
    dm = await _row(smtp_app, "dm0")
    assert dm.state is DeliveryState.SENT and dm.message_id is None  # no Message-ID on Slack


class _StartedSlack(_HeldSlack):
    started = 0

    async def send(self, message: OutboxMessage) -> str | None:
        self.started += 1
        return await super().send(message)


async def test_a_stop_ends_the_pass_after_what_is_claimed_and_leaves_the_rest_queued(
    smtp_app: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    """``offerbot serve`` on SIGTERM: the pass claims nothing more, sends and marks what it
    claimed, and returns; nothing is left claimed, and the next pass sends the rest."""
    dms = _dms(smtp_app, 12)
    await _enqueue(smtp_app, *dms)
    slack, stop = _StartedSlack(), asyncio.Event()
    drain = asyncio.create_task(
        drain_outbox(
            uow=smtp_app.uow(),
            transports={"slack": slack},
            clock=smtp_app.clock,
            concurrency=1,
            batch=4,
            stop=stop,
        )
    )
    while not slack.started:  # the first claim (4 DMs) is in flight
        await asyncio.sleep(0.01)
    stop.set()
    slack.release.set()
    report = await drain
    assert report.sent == 4 and len(slack.sent) == 4
    rows = [await _row(smtp_app, f"dm{i}") for i in range(12)]
    assert sum(r.state is DeliveryState.SENT for r in rows) == 4
    assert sum(r.state is DeliveryState.PENDING for r in rows) == 8  # not claimed, not leased
    rest = await drain_outbox(
        uow=smtp_app.uow(), transports={"slack": slack}, clock=smtp_app.clock, batch=4
    )
    assert rest.sent == 8 and sorted(slack.sent) == sorted(f"dm{i}" for i in range(12))
