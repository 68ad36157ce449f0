"""The receipt-confirmation SLA: HR hears before a confirmation would be late, and when it was.

HR confirms each signed form "within two business days of receipt" (§4, p. 16; §5, p. 18;
:func:`bot.domain.deadlines.receipt_confirmation_due`). Recording a receipt queues the
confirmation for delivery at once and, in the same transaction, :func:`track_confirmation`
plans two ``sla_check`` jobs:

* ``sla_check:<employee>:<version>`` at the *alert point*, by default 15 hours before the due
  instant — 9:00 a.m. Eastern on the last business day of the SLA
  (``OFFERBOT_RECEIPT_SLA_ALERT_HOURS``): not sent yet → HR is told it is at risk;
* ``sla_check:<employee>:<version>:missed`` at the due instant: still not sent → the miss is
  recorded (an audit row) and HR is told again.

A confirmation counts as sent when one of its outbox rows (the e-mail, or the Slack copy the
sender queues after a failed e-mail) is sent. Alerts go to HR's mailbox (``HR_ALERT``) and, when
Slack is configured, as a DM to each HR admin; their idempotency keys make a job that runs twice
(a lease that ran out) send nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.domain.hr_records import DeliveryState, OutboxMessage
from bot.domain.jobs import Job
from bot.domain.records import AuditEntry
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_instant
from bot.ports import UnitOfWork
from bot.services.elections.intents import hr_alert_messages
from bot.services.elections.wording import FORM_TITLE
from bot.services.retry import retry_on_conflict

if TYPE_CHECKING:
    from bot.runtime.scheduler import JobContext

__all__ = [
    "DEFAULT_ALERT_BEFORE",
    "SEND_GRACE",
    "ConfirmationDelivery",
    "run_sla_check",
    "sla_alert_text",
    "track_confirmation",
]

logger = logging.getLogger(__name__)

# Midnight ending the last business day (Eastern) minus 15 hours = 9:00 a.m. that day.
DEFAULT_ALERT_BEFORE = timedelta(hours=15)
# A receipt recorded after its alert point: give the outbox sender one pass before alerting.
SEND_GRACE = timedelta(minutes=15)

RISK, MISSED = "risk", "missed"


async def track_confirmation(
    uow: UnitOfWork,
    *,
    employee_id: str,
    version: int,
    confirmation_key: str,
    due_at: datetime,
    now: datetime,
    alert_before: timedelta = DEFAULT_ALERT_BEFORE,
) -> None:
    """Plan the SLA checks of a just-queued confirmation (inside the caller's open unit of
    work, no commit). The confirmation itself is queued to go out at once (``send_at``)."""
    payload = {
        "employee_id": employee_id,
        "version": version,
        "confirmation_key": confirmation_key,
        "due_at": due_at.isoformat(),
    }
    base = f"sla_check:{employee_id}:{version}"
    risk_at = max(due_at - alert_before, now + SEND_GRACE)
    if risk_at < due_at:
        await uow.jobs.schedule(
            Job(key=base, kind="sla_check", due_at=risk_at, payload={**payload, "stage": RISK}),
            now=now,
        )
    await uow.jobs.schedule(
        Job(
            key=f"{base}:{MISSED}",
            kind="sla_check",
            due_at=due_at,
            payload={**payload, "stage": MISSED},
        ),
        now=now,
    )


@dataclass(frozen=True, slots=True)
class ConfirmationDelivery:
    """Where one outbox row of a confirmation stands, in words HR can act on."""

    key: str
    channel: str
    state: DeliveryState | None  # None: no such row
    attempts: int
    last_error: str | None

    def explain(self) -> str:
        if self.state is None:
            return f"{self.key}: not in the outbox"
        if self.state is DeliveryState.FAILED:
            what = f"failed after {self.attempts} attempt(s)"
        elif self.state is DeliveryState.AMBIGUOUS:
            what = "may or may not have been delivered (the connection broke at the end)"
        elif self.attempts == 0:
            what = (
                "still queued, never attempted: is delivery on this channel configured "
                "(OFFERBOT_SMTP_HOST for e-mail) and is the worker running?"
            )
        else:
            what = f"still queued, being retried after {self.attempts} attempt(s)"
        error = self.last_error or "none"
        return f"{self.channel} ({self.key}): {what}; last error: {error}"


def sla_alert_text(
    *,
    stage: str,
    employee_id: str,
    employee_name: str | None,
    version: int,
    form_title: str | None,
    received_at: datetime | None,
    due_at: datetime,
    deliveries: list[ConfirmationDelivery],
    terms: OfferTerms,
) -> tuple[str, str]:
    """Subject and body of the alert (HR only: names are fine here, never in logs)."""
    who = f"{employee_id} ({employee_name})" if employee_name else employee_id
    last_day = (due_at - timedelta(microseconds=1)).astimezone(terms.business_day_zone).date()
    due_text = (
        f"by the end of {format_date(last_day)}, Eastern Time: "
        f"{format_instant(due_at, terms.deadline_zone)} / "
        f"{format_instant(due_at, terms.business_day_zone)}"
    )
    form = form_title or "signed form"
    received = (
        f" received at {format_instant(received_at, terms.deadline_zone)}"
        if received_at is not None
        else ""
    )
    if stage == MISSED:
        subject = f"offerbot: receipt confirmation MISSED for {employee_id} v{version}"
        opening = (
            f"The receipt confirmation for the {form} of {who}, version {version}{received}, "
            f"was not sent in time. It was due {due_text} (two business days after receipt, "
            "Offer §4, p. 16)."
        )
        action = (
            "> Next step: confirm receipt to the employee another way (phone, in person) now "
            "and keep a note of it; the miss is recorded in the audit trail."
        )
    else:
        subject = f"offerbot: receipt confirmation at risk for {employee_id} v{version}"
        opening = (
            f"The receipt confirmation for the {form} of {who}, version {version}{received}, "
            f"has not been sent yet. It is due {due_text} (two business days after receipt, "
            "Offer §4, p. 16)."
        )
        action = (
            "> Next step: fix the delivery (`offerbot hr outbox`) or confirm receipt to the "
            "employee another way before it is due."
        )
    why = "\n".join(f"- {d.explain()}" for d in deliveries)
    body = f"{opening}\n\nDelivery state:\n{why}\n\n{action}"
    return subject, body


async def run_sla_check(job: Job, ctx: JobContext) -> None:
    """``sla_check`` handler: alert HR when the confirmation is still not sent."""
    payload = job.payload
    employee_id = str(payload["employee_id"])
    version = int(payload["version"])
    key = str(payload["confirmation_key"])
    due_at = datetime.fromisoformat(str(payload["due_at"]))
    stage = str(payload.get("stage", RISK))
    terms = await ctx.terms()
    settings = ctx.settings
    slack_admins = settings.hr_admins if settings.slack_bot_token is not None else ()
    uow = ctx.uow

    async def attempt() -> None:
        now = ctx.clock.now()
        async with uow:
            deliveries = await _deliveries(uow, key)
            if any(d.state is DeliveryState.SENT for d in deliveries):
                return
            employee = await uow.employees.get(employee_id)
            receipt = next(
                (r for r in await uow.elections.receipts_for(employee_id) if r.version == version),
                None,
            )
            subject, body = sla_alert_text(
                stage=stage,
                employee_id=employee_id,
                employee_name=employee.name if employee is not None else None,
                version=version,
                form_title=_form_title(receipt),
                received_at=receipt.received_at if receipt is not None else None,
                due_at=due_at,
                deliveries=deliveries,
                terms=terms,
            )
            alert_key = f"sla_alert:{employee_id}:{version}" + (
                f":{MISSED}" if stage == MISSED else ""
            )
            to_hr, *to_admins = hr_alert_messages(
                key=alert_key,
                subject=subject,
                body=body,
                employee_id=employee_id,
                now=now,
                slack_admins=slack_admins,
            )
            added = await uow.outbox.enqueue(to_hr)
            for alert in to_admins:
                await uow.outbox.enqueue(alert)
            if added and stage == MISSED:
                await uow.audit.record(
                    AuditEntry(
                        at=now,
                        actor="system",
                        action="sla.receipt_confirmation.missed",
                        channel="scheduler",
                        subject=employee_id,
                        detail={
                            "version": version,
                            "confirmation_key": key,
                            "due_at": due_at.isoformat(),
                            "states": {
                                d.key: d.state.value if d.state else None for d in deliveries
                            },
                        },
                    )
                )
            await uow.commit()
            if added:
                logger.warning(
                    "receipt confirmation %s %s: %s",
                    key,
                    "missed its deadline" if stage == MISSED else "at risk",
                    ", ".join(
                        f"{d.channel}={d.state.value if d.state else 'missing'}" for d in deliveries
                    ),
                )

    await retry_on_conflict(attempt)


async def _deliveries(uow: UnitOfWork, key: str) -> list[ConfirmationDelivery]:
    """The confirmation's e-mail row and, when the sender queued one, its Slack copy."""
    found = []
    for candidate in (key, f"slack_fallback:{key}"):
        message = await uow.deliveries.get(candidate)
        if message is not None:
            found.append(_delivery(message))
        elif candidate == key:
            found.append(ConfirmationDelivery(key, "email", None, 0, None))
    return found


def _delivery(message: OutboxMessage) -> ConfirmationDelivery:
    return ConfirmationDelivery(
        key=message.idempotency_key,
        channel=message.channel,
        state=message.state,
        attempts=message.attempts,
        last_error=message.last_error,
    )


def _form_title(receipt: Any) -> str | None:
    return None if receipt is None else FORM_TITLE[receipt.form]
