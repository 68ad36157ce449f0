"""HR records that a signed form arrived (Offer §4, p. 15-16; §5, p. 17-18; §6, p. 19).

Late forms are refused, quoting the deadline. A form of an older version received after a later
one is recorded but does not replace it. Recording queues the receipt confirmation e-mail, sent
at once and due by the end of the second business day after receipt (the SLA, watched by
:mod:`bot.services.messaging.receipt_sla`), and closes HR's task for that version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.domain.deadlines import business_calendar, end_of_business_day, receipt_confirmation_due
from bot.domain.elections import (
    Delivery,
    EffectiveElection,
    FormKind,
    FormReceipt,
    check_receipt,
    effective_election,
)
from bot.domain.hr_records import MessageKind, OutboxMessage, TaskStatus
from bot.domain.records import AuditEntry
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_instant
from bot.ports import UnitOfWork
from bot.replies import Reply
from bot.services.access import require_operator
from bot.services.elections.offer_closing import ensure_not_closing
from bot.services.elections.wording import FORM_TITLE, receipt_confirmation_text
from bot.services.errors import NotFoundError
from bot.services.identity import Identity
from bot.services.messaging.receipt_sla import DEFAULT_ALERT_BEFORE, track_confirmation
from bot.services.retry import retry_on_conflict

if TYPE_CHECKING:
    from bot.services.hr.form_scans import ScannedForm

__all__ = ["ReceiptResult", "effective_summary", "receipt_json", "receipt_reply", "record_receipt"]


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    receipt: FormReceipt
    becomes_effective: bool
    superseded_by: int | None
    effective: EffectiveElection | None
    confirmation_key: str
    confirmation_due: datetime  # the end of confirmation_due_day (Eastern)
    confirmation_due_day: date
    scan_id: int | None = None  # the stored scanned form, when one came with the receipt


def effective_summary(effective: EffectiveElection | None) -> dict[str, Any] | None:
    if effective is None:
        return None
    return {
        "version": effective.intent.version,
        "form": effective.receipt.form.value,
        "state": "tendered" if effective.tendered else "withdrawn",
        "grants": list(effective.intent.grant_numbers),
    }


async def record_receipt(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    employee_id: str,
    form: FormKind,
    version: int,
    received_at: datetime,
    via: Delivery,
    identity: Identity,
    now: datetime,
    sla_alert_before: timedelta = DEFAULT_ALERT_BEFORE,
    scan: ScannedForm | None = None,
) -> ReceiptResult:
    """``sla_alert_before``: how long before the confirmation's deadline HR is alerted if it
    is not sent yet (``Settings.receipt_sla_alert_hours``). ``scan``: the scanned signed form
    (checked, see :func:`bot.services.hr.form_scans.scanned_form`), stored in the same
    transaction as the receipt, so there is never a receipt whose upload was lost or a scan
    of a receipt that was refused."""
    require_operator(identity)
    calendar = business_calendar(terms)

    async def attempt() -> ReceiptResult:
        async with uow:
            await ensure_not_closing(uow, terms.offer_id, "record a signed form")
            employee = await uow.employees.get(employee_id)
            if employee is None:
                raise NotFoundError(f"No employee {employee_id!r} in the roster.")
            history = await uow.elections.intents_for(employee_id)
            receipts = await uow.elections.receipts_for(employee_id)
            check = check_receipt(
                history,
                receipts,
                form=form,
                version=version,
                received_at=received_at,
                terms=terms,
                now=now,
            )
            before = effective_election(history, receipts)
            receipt = FormReceipt(
                employee_id=employee_id,
                version=version,
                form=form,
                received_at=received_at,
                via=via,
                recorded_at=now,
                actor=identity.actor,
                channel=identity.channel,
            )
            await uow.elections.add_receipt(receipt)
            scan_id = None
            if scan is not None:
                # Here, not with the module: it loads SQLAlchemy, and the election status a
                # question shows imports this module (``offerbot ask`` stays without it).
                from storage.hr_console_repo import FormScan, hr_console

                scan_id = await hr_console(uow).add_scan(
                    FormScan(
                        id=0,
                        employee_id=employee_id,
                        version=version,
                        filename=scan.filename,
                        sha256=scan.sha256,
                        size=scan.size,
                        uploaded_at=now,
                        uploaded_by=identity.actor,
                        content=scan.content,
                    )
                )
            after = effective_election(history, [*receipts, receipt])
            # A task superseded by a later intent is done too once its own form arrives.
            done = await uow.hr_tasks.close(
                employee_id,
                versions=[version],
                status=TaskStatus.DONE,
                at=now,
                only=(TaskStatus.OPEN, TaskStatus.SUPERSEDED),
            )
            due_day = receipt_confirmation_due(received_at, terms, calendar)
            due_at = end_of_business_day(due_day, terms)
            subject, body = receipt_confirmation_text(
                receipt,
                employee,
                terms,
                intent=next((i for i in history if i.version == version), None),
                superseded_by=check.superseded_by,
            )
            key = f"receipt_confirmation:{employee_id}:v{version}"
            await uow.outbox.enqueue(
                OutboxMessage(
                    idempotency_key=key,
                    channel="email",
                    recipient=employee.email,
                    kind=MessageKind.RECEIPT_CONFIRMATION,
                    subject=subject,
                    body_text=body,
                    created_at=now,
                    due_at=due_at,
                    send_at=now,
                    employee_id=employee_id,
                    reference=f"v{version}",
                )
            )
            await track_confirmation(
                uow,
                employee_id=employee_id,
                version=version,
                confirmation_key=key,
                due_at=due_at,
                now=now,
                alert_before=sla_alert_before,
            )
            await uow.audit.record(
                AuditEntry(
                    at=now,
                    actor=identity.actor,
                    action="election.receipt",
                    channel=identity.channel,
                    subject=employee_id,
                    detail={
                        "version": version,
                        "form": form.value,
                        "via": via.value,
                        "received_at": received_at.isoformat(),
                        "becomes_effective": check.becomes_effective,
                        "superseded_by": check.superseded_by,
                        "before": effective_summary(before),
                        "after": effective_summary(after),
                        "tasks_done": done,
                        "queued": [key],
                        **(
                            {"scan": {"id": scan_id, "sha256": scan.sha256, "size": scan.size}}
                            if scan is not None
                            else {}
                        ),
                    },
                )
            )
            await uow.commit()
            return ReceiptResult(
                receipt=receipt,
                becomes_effective=check.becomes_effective,
                superseded_by=check.superseded_by,
                effective=after,
                confirmation_key=key,
                confirmation_due=due_at,
                confirmation_due_day=due_day,
                scan_id=scan_id,
            )

    return await retry_on_conflict(attempt)


def receipt_json(result: ReceiptResult, terms: OfferTerms) -> dict[str, Any]:
    zone = terms.deadline_zone
    r = result.receipt
    return {
        "employee_id": r.employee_id,
        "version": r.version,
        "form": r.form.value,
        "received_at": r.received_at.astimezone(zone).isoformat(),
        "via": r.via.value,
        "recorded_at": r.recorded_at.astimezone(zone).isoformat(),
        "becomes_effective": result.becomes_effective,
        "superseded_by": result.superseded_by,
        "effective_election": effective_summary(result.effective),
        "confirmation": {
            "idempotency_key": result.confirmation_key,
            "status": "queued",
            "due_by": result.confirmation_due_day.isoformat(),
            "due_at": result.confirmation_due.astimezone(zone).isoformat(),
        },
        "receipt_is_acceptance": False,
    }


def receipt_reply(result: ReceiptResult, terms: OfferTerms) -> Reply:
    r = result.receipt
    zone = terms.deadline_zone
    text = (
        f"Recorded: the signed {FORM_TITLE[r.form]} of {r.employee_id} (version {r.version}) "
        f"arrived by {r.via.value} at {format_instant(r.received_at, zone)}. The receipt "
        "confirmation e-mail is queued, due by "
        f"{format_date(result.confirmation_due_day)} (end of day, Eastern). "
        "Receipt is not acceptance."
    )
    notes: tuple[str, ...] = ()
    if result.superseded_by is not None:
        notes = (
            f"The signed form of version {result.superseded_by} was already received and stays "
            "the effective election; this earlier form does not replace it.",
        )
    return Reply(text=text, notes=notes, kind="answer", data=receipt_json(result, terms))
