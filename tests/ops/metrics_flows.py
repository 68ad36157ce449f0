"""Real operations for the metrics tests, with the counts they must produce."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from bot.clock import ManualClock
from bot.domain.elections import Delivery, FormKind
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.runtime.bootstrap import App
from bot.runtime.worker import run_worker
from bot.services import elections
from bot.services.questions.conversation import respond
from tests.email.conftest import NOW, mail_settings, make_app
from tests.email.servers import SmtpRecorder
from tests.services.elections_setup import HR, employee_identity

# What :func:`operate` does, as the metrics must count it.
QUESTIONS = 5  # every respond() reaches the answerer once
ABSTENTIONS = 2
INTENTS = {"tender": 2, "withdraw": 1}
FORMS = {"election": 1, "withdrawal": 0}
BACKLOG = {"email": 0, "slack": 1}  # a Slack row with no Slack transport configured
FAILURES = {"failed": 1, "ambiguous": 0}  # E2's server refuses one message


@asynccontextmanager
async def metrics_app(
    tmp_path: Path, smtp_port: int, db_url: str | None = None
) -> AsyncIterator[App]:
    extra = {"database_url": db_url} if db_url else {}
    settings = mail_settings(tmp_path, smtp_port=smtp_port, imap_port=None, **extra)
    app = await make_app(settings, ManualClock(NOW))
    try:
        yield app
    finally:
        await app.aclose()


async def operate(app: App, recorder: SmtpRecorder) -> None:
    e1, e2 = employee_identity("E1"), employee_identity("E2")

    async def say(text: str, who: object) -> str:
        reply = await respond(text=text, identity=who, deps=app.conversation())  # type: ignore[arg-type]
        assert reply.kind != "error", reply.text
        return reply.kind

    assert await say("Does the zorblax quasiplasm clause apply to me?", e1) == "abstain"
    assert await say("Is the velvetine periwinkle rider binding?", e2) == "abstain"
    await say("tender G2", e1)
    await say("withdraw confirm", e1)
    await say("tender G5 G6", e2)
    assert isinstance(app.clock, ManualClock)
    now = app.clock.advance(hours=2)  # the signed form comes back by fax an hour later
    await elections.record_receipt(
        uow=app.uow(),
        terms=app.base_terms,
        employee_id="E2",
        form=FormKind.ELECTION,
        version=1,
        received_at=now - timedelta(hours=1),
        via=Delivery.FAX,
        identity=HR,
        now=now,
    )
    async with app.uow() as uow:
        for key, channel, due in (
            ("ops:slack-now", "slack", now),
            ("ops:email-tomorrow", "email", now + timedelta(days=1)),
        ):
            await uow.outbox.enqueue(
                OutboxMessage(
                    idempotency_key=key,
                    channel=channel,
                    recipient="U1" if channel == "slack" else "e1@example.com",
                    kind=MessageKind.REMINDER,
                    subject="reminder",
                    body_text="reminder",
                    created_at=now,
                    due_at=due,
                    employee_id="E1",
                )
            )
        await uow.commit()
    recorder.scripted["e2@example.com"] = ["550 5.1.1 User unknown"]
    await run_worker(app, once=True)
