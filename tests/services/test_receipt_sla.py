"""The receipt-confirmation SLA on a manual clock, over the real jobs and outbox tables (SQLite
and PostgreSQL): the confirmation goes out at once; HR is alerted before its deadline, exactly
once, only when it is not sent — and again when the deadline passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.domain.elections import Delivery, FormKind
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.domain.jobs import JobState
from bot.domain.terms import OfferTerms
from bot.ports import PermanentDeliveryError
from bot.runtime.scheduler import JobContext, run_due_jobs
from bot.services import elections
from bot.services.messaging.outbox import drain_outbox
from bot.services.messaging.receipt_sla import run_sla_check
from bot.services.offer.live_offer import load_offer
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.services.elections_setup import HR, NOW, seed

RECEIVED = NOW + timedelta(hours=1)  # Thursday, July 10, 2003, 10:00 a.m. PDT
# Thursday + 2 business days = Monday, July 14: due at midnight ending it (Eastern).
DUE = datetime(2003, 7, 15, 4, 0, tzinfo=UTC)
ALERT = DUE - timedelta(hours=15)  # 9:00 a.m. EDT on Monday, July 14
KEY = "receipt_confirmation:E1:v1"


class FakeTransport:
    """An outbox channel that delivers, or refuses everything (a dead SMTP relay)."""

    def __init__(self, channel: str, *, refuse: str | None = None) -> None:
        self.channel, self.refuse = channel, refuse
        self.sent: list[OutboxMessage] = []

    async def send(self, message: OutboxMessage) -> str | None:
        if self.refuse is not None:
            raise PermanentDeliveryError(self.refuse)
        self.sent.append(message)
        return f"<{message.idempotency_key}@test>"


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


@pytest.fixture
async def received(uow: UnitOfWork, terms: OfferTerms) -> UnitOfWork:
    """E1 tendered G2 and HR recorded the signed form an hour later."""
    await seed(uow)
    await load_offer(uow=uow, terms=terms, digest="d", now=NOW)
    await elections.record_intent(
        uow=uow, terms=terms, employee_id="E1", grant_numbers=["G2"], identity=HR, now=NOW
    )
    await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id="E1",
        form=FormKind.ELECTION,
        version=1,
        received_at=RECEIVED,
        via=Delivery.FAX,
        identity=HR,
        now=RECEIVED,
    )
    return uow


async def _jobs(uow: UnitOfWork, clock: ManualClock, terms: OfferTerms, **settings: object):
    return await run_due_jobs(
        uow=uow, clock=clock, settings=Settings(**settings), base_terms=terms, kinds=["sla_check"]
    )


async def _alerts(uow: UnitOfWork) -> list[OutboxMessage]:
    async with uow:
        return [
            m
            for m in await uow.outbox.by_kind(MessageKind.HR_ALERT)
            if m.idempotency_key.startswith("sla_alert:")
        ]


async def test_confirmation_is_sent_at_once_and_the_checks_are_planned(
    received: UnitOfWork, terms: OfferTerms
) -> None:
    email = FakeTransport("email")
    report = await drain_outbox(
        uow=received, transports={"email": email}, clock=ManualClock(RECEIVED)
    )
    assert KEY in [m.idempotency_key for m in email.sent]  # not held until the deadline
    assert report.outcomes[KEY] == "sent"
    async with received:
        row = await received.deliveries.get(KEY)
        risk = await received.jobs.get("sla_check:E1:1")
        missed = await received.jobs.get("sla_check:E1:1:missed")
    assert row is not None and row.due_at == DUE  # the SLA stays its deadline
    assert risk is not None and risk.kind == "sla_check" and risk.due_at == ALERT
    assert risk.payload == {
        "employee_id": "E1",
        "version": 1,
        "confirmation_key": KEY,
        "due_at": "2003-07-15T00:00:00-04:00",  # midnight ending Monday, Eastern
        "stage": "risk",
    }
    assert missed is not None and missed.due_at == DUE and missed.payload["stage"] == "missed"


async def test_confirmation_sent_in_time_raises_no_alert(
    received: UnitOfWork, terms: OfferTerms
) -> None:
    clock = ManualClock(RECEIVED)
    await drain_outbox(uow=received, transports={"email": FakeTransport("email")}, clock=clock)
    clock.set(DUE + timedelta(hours=1))
    report = await _jobs(received, clock, terms)
    assert report.outcomes == {"sla_check:E1:1": "done", "sla_check:E1:1:missed": "done"}
    assert await _alerts(received) == []
    async with received:
        audit = await received.audit.recent(subject="E1")
    assert "sla.receipt_confirmation.missed" not in [e.action for e in audit]


async def test_no_mail_transport_alerts_hr_before_the_deadline_exactly_once(
    received: UnitOfWork, terms: OfferTerms
) -> None:
    clock = ManualClock(ALERT - timedelta(minutes=1))
    slack = {"slack_bot_token": "xoxb-test", "hr_admins": "UHR1,UHR2"}
    assert (await _jobs(received, clock, terms, **slack)).outcomes == {}
    clock.set(ALERT)
    assert (await _jobs(received, clock, terms, **slack)).outcomes == {"sla_check:E1:1": "done"}
    alerts = await _alerts(received)
    assert sorted((a.channel, a.recipient) for a in alerts) == [
        ("email", "role:hr"),
        ("slack", "UHR1"),
        ("slack", "UHR2"),
    ]
    email = next(a for a in alerts if a.channel == "email")
    assert email.idempotency_key == "sla_alert:E1:1" and email.kind is MessageKind.HR_ALERT
    assert email.created_at < DUE and "at risk" in email.subject
    body = email.body_text
    assert "E1 (Rosalind Ashcombe), version 1" in body and "Election Form" in body
    assert "by the end of Monday, July 14, 2003, Eastern Time" in body
    assert "9:00 p.m. PDT on Monday, July 14, 2003" in body  # the due instant, Pacific
    assert "12:00 a.m. EDT on Tuesday, July 15, 2003" in body  # and Eastern
    assert "never attempted" in body and "OFFERBOT_SMTP_HOST" in body

    # The same check again (a runner whose lease ran out): nothing more is queued.
    async with received:
        job = await received.jobs.get("sla_check:E1:1")
    assert job is not None and job.state is JobState.DONE
    ctx = JobContext(
        uow=received,
        clock=clock,
        settings=Settings(**slack),  # type: ignore[arg-type]
        base_terms=terms,
        owner="again",
    )
    await run_sla_check(job, ctx)
    assert len(await _alerts(received)) == 3

    # At the deadline, still not sent: the miss is alerted and recorded.
    clock.set(DUE)
    assert (await _jobs(received, clock, terms)).outcomes == {"sla_check:E1:1:missed": "done"}
    missed = [a for a in await _alerts(received) if a.idempotency_key == "sla_alert:E1:1:missed"]
    assert len(missed) == 1 and "MISSED" in missed[0].subject
    assert "was not sent in time" in missed[0].body_text
    async with received:
        audit = await received.audit.recent(subject="E1")
    [miss] = [e for e in audit if e.action == "sla.receipt_confirmation.missed"]
    assert miss.detail["states"] == {KEY: "pending"} and miss.channel == "scheduler"


async def test_failed_delivery_is_named_in_the_alert(
    received: UnitOfWork, terms: OfferTerms
) -> None:
    clock = ManualClock(RECEIVED)
    refused = FakeTransport("email", refuse="550 5.1.1 mailbox unavailable")
    report = await drain_outbox(uow=received, transports={"email": refused}, clock=clock)
    assert report.outcomes[KEY] == DeliveryState.FAILED.value
    clock.set(ALERT + timedelta(minutes=5))
    await _jobs(received, clock, terms)
    [alert] = await _alerts(received)  # e-mail only: Slack is not configured
    assert alert.channel == "email" and alert.created_at < DUE
    assert "failed after 1 attempt(s)" in alert.body_text
    assert "last error: 550 5.1.1 mailbox unavailable" in alert.body_text


async def test_a_slack_copy_that_got_through_counts_as_confirmed(
    received: UnitOfWork, terms: OfferTerms
) -> None:
    clock = ManualClock(RECEIVED)
    transports = {
        "email": FakeTransport("email", refuse="554 relay denied"),
        "slack": FakeTransport("slack"),
    }
    await drain_outbox(uow=received, transports=transports, clock=clock)  # e-mail fails
    await drain_outbox(uow=received, transports=transports, clock=clock)  # Slack copy goes
    assert f"slack_fallback:{KEY}" in [m.idempotency_key for m in transports["slack"].sent]
    clock.set(DUE + timedelta(minutes=1))
    await _jobs(received, clock, terms)
    assert await _alerts(received) == []


async def test_a_receipt_recorded_after_its_alert_point_is_checked_after_a_grace(
    uow: UnitOfWork, terms: OfferTerms
) -> None:
    await seed(uow)
    await load_offer(uow=uow, terms=terms, digest="d", now=NOW)
    await elections.record_intent(
        uow=uow, terms=terms, employee_id="E2", grant_numbers=["G5", "G6"], identity=HR, now=NOW
    )
    late = ALERT + timedelta(hours=2)  # HR records Thursday's fax on Monday at 11:00 EDT
    result = await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id="E2",
        form=FormKind.ELECTION,
        version=1,
        received_at=RECEIVED,
        via=Delivery.FAX,
        identity=HR,
        now=late,
    )
    assert result.confirmation_due == DUE
    async with uow:
        risk = await uow.jobs.get("sla_check:E2:1")
    assert risk is not None and risk.due_at == late + timedelta(minutes=15)
