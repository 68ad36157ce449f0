"""Legal notices are never lost for good (issue 13, item 3), against real servers.

* A relay that answers 554 to everything: every announcement fails, and so does HR's e-mail
  alert about it (it goes through the same relay) — HR hears of it in Slack DMs instead;
  ``offerbot hr outbox`` lists what is undelivered, ``offerbot hr communications`` counts it,
  and once the relay is fixed ``offerbot hr outbox resend --all-failed`` sends each again with
  its original Message-ID.
* An SMTP server killed (``kill -9``) mid-DATA: the messages in flight are ambiguous. The legal
  and transactional ones are sent once more after the configured delay, with the same
  Message-ID; a reminder is not (HR is alerted); a notice ambiguous twice stays ambiguous, HR
  is alerted, and ``resend --id`` sends it.

Real aiosmtpd servers (one in a child process, for the kill), the Slack Web API played on
loopback, the ``offerbot`` CLI as a process, SQLite on disk; the storage queries also run on
PostgreSQL. The clock is simulated: the delay passes by advancing it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.clock import ManualClock
from bot.domain.communications import Communication
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.runtime.bootstrap import App
from bot.runtime.worker import _drain
from bot.services.messaging.communications import export_communications
from bot.services.messaging.outbox_recovery import list_undelivered, resend
from storage.uow import UnitOfWork
from tests.cli.runner import offerbot as in_process
from tests.email.conftest import HR, NOW, mail_settings, make_app
from tests.email.servers import SmtpRecorder, start_smtp
from tests.servers import free_port
from tests.services.elections_setup import HR as HR_AT_TERMINAL
from tests.slack.conftest import FakeSlack, _serve

ADMINS = ("U0HR01", "U0HR02")
ANNOUNCEMENTS = 12


@dataclass
class Relay(SmtpRecorder):
    """aiosmtpd's handler: answers 554 to every MAIL while ``broken``; ``die_in_data`` times,
    drops the connection after the final "." as a killed server would (no reply)."""

    broken: bool = False
    refused: int = 0
    die_in_data: int = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.broken:
            self.refused += 1
            return "554 5.7.1 Relay access denied"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.die_in_data:
            self.die_in_data -= 1
            assert server.transport is not None
            server.transport.abort()
            await asyncio.Future()  # cancelled with the connection
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def fake_slack() -> Any:
    fake = FakeSlack()
    api = web.Application()
    api.router.add_route("*", "/api/{method}", fake.handle)
    runner, port = await _serve(api)
    fake.base_url = f"http://127.0.0.1:{port}/"
    try:
        yield fake
    finally:
        await runner.cleanup()


async def offerbot(app: App, *args: str) -> Any:
    """``offerbot ARGS --json`` as HR runs it, on the app's database at the app's clock — the
    real command in the test process (:mod:`tests.cli.runner`), on a thread so this loop and
    its servers keep running."""
    env = {"OFFERBOT_DATABASE_URL": app.settings.database_url}
    env["OFFERBOT_NOW"] = app.clock.now().isoformat()
    ran = await asyncio.to_thread(in_process, Path.cwd(), *args, "--json", env=env)
    return json.loads(ran.stdout)


async def _announce(app: App, count: int) -> Communication:
    """What the broadcast job leaves: the communication once, a copy per person by e-mail."""
    now = app.clock.now()
    async with app.uow() as uow:
        comm = await uow.communications.record(
            Communication(
                key="amendment:1",
                kind="extension_announcement",
                subject="The offer is extended",
                body="Dear {name},\nthe offer now expires on July 31, 2003.",
                created_at=now,
            )
        )
        await uow.outbox.enqueue_many(
            OutboxMessage(
                idempotency_key=f"announce:1:P{i}:email",
                channel="email",
                recipient=f"p{i}@example.com",
                kind=MessageKind.EXTENSION_ANNOUNCEMENT,
                subject=comm.subject,
                body_text=comm.body,
                created_at=now,
                due_at=now,
                reference=comm.reference,
            )
            for i in range(count)
        )
        await uow.commit()
    return comm


async def _row(app: App, key: str) -> OutboxMessage:
    async with app.uow() as uow:
        found = await uow.deliveries.get(key)
    assert found is not None, key
    return found


async def test_a_relay_refusing_everything_loses_no_announcement(
    tmp_path: Path, clock: ManualClock, fake_slack: FakeSlack
) -> None:
    relay = Relay(broken=True)
    server, port = await start_smtp(relay)
    settings = mail_settings(
        tmp_path,
        smtp_port=port,
        imap_port=None,
        slack_bot_token="xoxb-test",
        slack_api_url=fake_slack.base_url + "api/",
        hr_admins=",".join(ADMINS),
    )
    app = await make_app(settings, clock)
    try:
        await _announce(app, ANNOUNCEMENTS)
        transports = app.outbox_transports()
        report = await _drain(app, transports)

        # every announcement and every e-mailed alert about one was refused …
        assert relay.accepted == [] and relay.refused == 2 * ANNOUNCEMENTS
        assert report.failed == 2 * ANNOUNCEMENTS
        # … and HR heard of each announcement in Slack, in each admin's DM
        posts = fake_slack.of("chat.postMessage")
        for admin in ADMINS:
            mine = [p for p in posts if p.params["channel"] == "D" + admin[1:]]
            assert len(mine) == ANNOUNCEMENTS
            assert all("could not be delivered" in str(p.params["text"]) for p in mine)
            assert all("offerbot hr outbox resend" in str(p.params["text"]) for p in mine)

        listed = await offerbot(app, "hr", "outbox")
        assert listed["count"] == 2 * ANNOUNCEMENTS
        assert {m["state"] for m in listed["messages"]} == {"failed"}
        failed = await list_undelivered(
            uow=app.uow(), state=DeliveryState.FAILED, kind=MessageKind.EXTENSION_ANNOUNCEMENT
        )
        assert len(failed) == ANNOUNCEMENTS
        message_ids = {m.recipient: m.message_id for m in failed}
        assert all(mid and mid.endswith("@offerbot.test>") for mid in message_ids.values())
        assert await list_undelivered(uow=app.uow(), state=DeliveryState.AMBIGUOUS) == []

        comms = await offerbot(app, "hr", "communications", "--out", str(tmp_path / "log"))
        [row] = comms["communications"]
        assert (row["queued"], row["sent"], row["failed"], row["ambiguous"]) == (
            ANNOUNCEMENTS,
            0,
            ANNOUNCEMENTS,
            0,
        )

        relay.broken = False  # the relay is fixed
        assert (await _drain(app, transports)).sent == 0  # nothing comes back by itself
        resent = await offerbot(app, "hr", "outbox", "resend", "--all-failed")
        assert resent["count"] == ANNOUNCEMENTS  # HR's alerts about them stay where they are
        assert {m["kind"] for m in resent["requeued"]} == {"extension_announcement"}

        report = await _drain(app, transports)
        assert report.sent == ANNOUNCEMENTS and report.failed == 0
        delivered = {rcpts[0]: data for _, rcpts, data in relay.accepted}
        assert set(delivered) == set(message_ids)
        for message in relay.messages():
            assert message["Message-ID"] == message_ids[message["To"]]  # the original one

        [item] = await export_communications(app.uow(), tmp_path / "log")
        assert (item.stats.sent, item.stats.failed, item.stats.ambiguous, item.pending) == (
            ANNOUNCEMENTS,
            0,
            0,
            0,
        )
        left = await list_undelivered(uow=app.uow())
        assert {m.kind for m in left} == {MessageKind.HR_ALERT}
        async with app.uow() as uow:
            [audit] = [a for a in await uow.audit.recent() if a.action == "outbox.resend"]
        assert len(audit.detail["ids"]) == ANNOUNCEMENTS and audit.actor.startswith("cli:")
    finally:
        await app.aclose()
        server.close()
        await server.wait_closed()


# A real SMTP server in its own process, to be killed with SIGKILL while messages are in DATA:
# it prints a line when a message's data has arrived and never answers it.
_DOOMED_SERVER = """
import asyncio, sys
from aiosmtpd.smtp import SMTP

class Stuck:
    async def handle_DATA(self, server, session, envelope):
        print("DATA", envelope.rcpt_tos[0], flush=True)
        await asyncio.Future()

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Stuck()), "127.0.0.1", int(sys.argv[1]))
    print("READY", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


async def _killed_mid_data(port: int, send: Any, in_flight: int) -> Any:
    """Start the doomed server on ``port``, run ``send()``, SIGKILL the server once
    ``in_flight`` messages are in DATA; returns what ``send()`` returned."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _DOOMED_SERVER, str(port), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    try:
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"READY\n"
        sending = asyncio.create_task(send())
        for _ in range(in_flight):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line.startswith(b"DATA "), line
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    return await asyncio.wait_for(sending, 60)


async def test_a_server_killed_mid_data_gets_legal_notices_retried_once(
    tmp_path: Path, clock: ManualClock
) -> None:
    port = free_port()
    settings = mail_settings(
        tmp_path,
        smtp_port=port,
        imap_port=None,
        outbox_concurrency=4,
        outbox_ambiguous_retry_minutes=15,
    )
    app = await make_app(settings, clock)
    relay = Relay()
    server = None
    try:
        now = clock.now()
        kinds = {
            "receipt": MessageKind.RECEIPT_CONFIRMATION,
            "confirmation": MessageKind.INTENT_CONFIRMATION,
            "announcement": MessageKind.EXTENSION_ANNOUNCEMENT,
            "reminder": MessageKind.REMINDER,  # bulk, not a legal notice: never sent twice
        }
        async with app.uow() as uow:
            for name, kind in kinds.items():
                await uow.outbox.enqueue(
                    OutboxMessage(
                        idempotency_key=name,
                        channel="email",
                        recipient=f"{name}@example.com",
                        kind=kind,
                        subject=f"your {name}",
                        body_text=f"the {name}",
                        created_at=now,
                        due_at=now,
                    )
                )
            await uow.commit()

        # the four go out at once (four connections) and the server dies with all in DATA
        transports = app.outbox_transports()
        report = await _killed_mid_data(port, lambda: _drain(app, transports), in_flight=len(kinds))
        assert report.ambiguous == 1  # the reminder; the notices are retried

        before = {name: await _row(app, name) for name in kinds}
        for name in ("receipt", "confirmation", "announcement"):
            row = before[name]
            assert row.state is DeliveryState.PENDING and row.requeues == 1, row
            assert (row.last_error or "").startswith(
                "ambiguous, sent once more at 2003-07-10T16:15"
            )
            assert row.message_id and row.message_id.endswith("@offerbot.test>")
        assert before["reminder"].state is DeliveryState.AMBIGUOUS

        # the server comes back on its port; the notices wait for the configured delay
        server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(relay, hostname="smtp.test"), "127.0.0.1", port
        )
        clock.advance(minutes=14)
        await _drain(app, transports)
        [alert] = relay.to(HR)  # the reminder's alert (its first try met the dead server)
        assert "may or may not have been delivered (reminder)" in alert["Subject"]
        assert [rcpts for _, rcpts, _ in relay.accepted] == [[HR]]

        clock.advance(minutes=1)
        report = await _drain(app, transports)
        assert report.sent == 3
        for name in ("receipt", "confirmation", "announcement"):
            [mail] = relay.to(f"{name}@example.com")
            assert mail["Message-ID"] == before[name].message_id  # the same Message-ID
            assert (await _row(app, name)).state is DeliveryState.SENT
        assert relay.to("reminder@example.com") == []
        assert len(relay.to(HR)) == 1  # no alert about the notices: they arrived

        # once only: a notice ambiguous on its second attempt too stays ambiguous, HR is told
        async with app.uow() as uow:
            await uow.outbox.enqueue(
                OutboxMessage(
                    idempotency_key="receipt-2",
                    channel="email",
                    recipient="late@example.com",
                    kind=MessageKind.RECEIPT_CONFIRMATION,
                    subject="your receipt",
                    body_text="the receipt",
                    created_at=clock.now(),
                    due_at=clock.now(),
                )
            )
            await uow.commit()
        relay.die_in_data = 2
        await _drain(app, transports)
        assert (await _row(app, "receipt-2")).state is DeliveryState.PENDING
        clock.advance(minutes=15)
        await _drain(app, transports)
        twice = await _row(app, "receipt-2")
        assert twice.state is DeliveryState.AMBIGUOUS and twice.requeues == 1
        alerts = [m for m in relay.to(HR) if "receipt_confirmation" in m["Subject"]]
        assert len(alerts) == 1 and "may or may not" in alerts[0]["Subject"]
        clock.advance(hours=2)
        await _drain(app, transports)
        assert relay.to("late@example.com") == []  # not a third time by itself

        listed = await list_undelivered(uow=app.uow(), state=DeliveryState.AMBIGUOUS)
        assert sorted(m.idempotency_key for m in listed) == ["receipt-2", "reminder"]
        resent = await offerbot(app, "hr", "outbox", "resend", "--id", str(twice.id))
        assert [m["key"] for m in resent["requeued"]] == ["receipt-2"]
        await _drain(app, transports)
        [mail] = relay.to("late@example.com")
        assert mail["Message-ID"] == twice.message_id
    finally:
        await app.aclose()
        if server is not None:
            server.close()
            await server.wait_closed()


async def test_outbox_recovery_queries_on_each_backend(uow: UnitOfWork) -> None:
    """The storage side of the above on SQLite and PostgreSQL: list by state and kind, requeue
    only what was given up on, retry an ambiguous one once."""
    now = NOW

    def message(key: str, kind: MessageKind) -> OutboxMessage:
        return OutboxMessage(
            idempotency_key=key,
            channel="email",
            recipient=f"{key}@example.com",
            kind=kind,
            subject=key,
            body_text=key,
            created_at=now,
            due_at=now,
            message_id=f"<{key}@offerbot.test>",
        )

    async with uow:
        for key, kind in (
            ("a", MessageKind.EXTENSION_ANNOUNCEMENT),
            ("b", MessageKind.RECEIPT_CONFIRMATION),
            ("c", MessageKind.HR_ALERT),
            ("d", MessageKind.REMINDER),
        ):
            await uow.outbox.enqueue(message(key, kind))
        rows = {k: await uow.deliveries.get(k) for k in "abcd"}
        ids = {k: r.id for k, r in rows.items() if r is not None and r.id is not None}
        await uow.deliveries.give_up(ids["a"], state=DeliveryState.FAILED, error="554")
        await uow.deliveries.give_up(ids["b"], state=DeliveryState.AMBIGUOUS, error="lost")
        await uow.deliveries.give_up(ids["c"], state=DeliveryState.FAILED, error="554")
        await uow.deliveries.retry_after_ambiguity(
            ids["d"], when=now + timedelta(minutes=30), error="ambiguous"
        )
        await uow.commit()

    async with uow:
        both = await uow.deliveries.undelivered()
        assert [m.idempotency_key for m in both] == ["a", "b", "c"]
        failed = await uow.deliveries.undelivered(
            states=[DeliveryState.FAILED], kinds=[MessageKind.EXTENSION_ANNOUNCEMENT]
        )
        assert [m.idempotency_key for m in failed] == ["a"]
        retried = await uow.deliveries.get("d")
        assert retried is not None and retried.requeues == 1
        assert retried.state is DeliveryState.PENDING

    result = await resend(uow=uow, identity=HR_AT_TERMINAL, now=now, all_failed=True)
    assert [m.idempotency_key for m in result.requeued] == ["a"]  # not HR's alert
    result = await resend(uow=uow, identity=HR_AT_TERMINAL, now=now, ids=[ids["b"], ids["d"]])
    assert [m.idempotency_key for m in result.requeued] == ["b"] and result.not_found == [ids["d"]]
    async with uow:
        for key in "ab":
            row = await uow.deliveries.get(key)
            assert row is not None and row.state is DeliveryState.PENDING
            assert row.attempts == 0 and row.requeues == 1
            assert row.message_id == f"<{key}@offerbot.test>"
        alert = await uow.deliveries.get("c")
        assert alert is not None and alert.state is DeliveryState.FAILED
