"""Where an employee's election stands, and the audit trail behind it.

Status: the current intent (grants, version, time), whether the pre-filled form was sent, HR's
receipt (time, channel), the receipt confirmation, what is left to do and the time left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.deadlines import OfferDeadlines, business_calendar, offer_deadlines
from bot.domain.elections import (
    EffectiveElection,
    ElectionIntent,
    FormReceipt,
    Step,
    effective_election,
    latest_intent,
    next_steps,
    receipt_for,
)
from bot.domain.hr_records import AcceptedTender, HrTask, MessageKind, OutboxMessage
from bot.domain.records import AuditEntry
from bot.domain.roster import Employee
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_duration, format_instant, format_shares
from bot.ports import UnitOfWork
from bot.replies import Action, Reply
from bot.services.access import authorize_self_or_operator, require_operator
from bot.services.delivery_claims import DeliveryClaim, claim_within, mark_committed
from bot.services.elections.intents import intent_tables
from bot.services.elections.person import load_person, new_shares_by_grant
from bot.services.elections.receipts import effective_summary
from bot.services.elections.wording import (
    FORM_TITLE,
    deadline_text,
    step_text,
)
from bot.services.errors import NotFoundError
from bot.services.identity import Identity

__all__ = [
    "ElectionStatus",
    "audit_json",
    "audit_trail",
    "employee_status",
    "status_json",
    "status_reply",
]


@dataclass(frozen=True, slots=True)
class ElectionStatus:
    employee: Employee
    history: tuple[ElectionIntent, ...]
    receipts: tuple[FormReceipt, ...]
    tasks: tuple[HrTask, ...]
    messages: tuple[OutboxMessage, ...]
    accepted: tuple[AcceptedTender, ...]
    new_option_shares: dict[str, int]  # of the latest intent's grants, at today's adjustments
    steps: tuple[Step, ...]
    deadlines: OfferDeadlines
    now: datetime

    @property
    def latest(self) -> ElectionIntent | None:
        return latest_intent(self.history)

    @property
    def effective(self) -> EffectiveElection | None:
        return effective_election(self.history, self.receipts)

    def message(self, kind: MessageKind, version: int) -> OutboxMessage | None:
        return next(
            (m for m in self.messages if m.kind is kind and m.reference == f"v{version}"), None
        )


async def employee_status(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    employee_id: str,
    identity: Identity,
    now: datetime,
    claim: DeliveryClaim | None = None,
) -> ElectionStatus:
    """One employee's election status; the view is audited (``claim``: a Slack delivery to
    claim in the audit row's transaction, :mod:`bot.services.delivery_claims`)."""
    authorize_self_or_operator(identity, employee_id)
    async with uow:
        await claim_within(uow, claim, at=now)
        person = await load_person(uow, terms, employee_id)
        history = tuple(await uow.elections.intents_for(employee_id))
        receipts = tuple(await uow.elections.receipts_for(employee_id))
        tasks = tuple(await uow.hr_tasks.for_employee(employee_id))
        messages = tuple(await uow.outbox.for_employee(employee_id))
        accepted = tuple(await uow.accepted.for_employee(employee_id))
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="election.status.view",
                channel=identity.channel,
                subject=employee_id,
            )
        )
        await uow.commit()
    mark_committed(claim)
    deadlines = offer_deadlines(terms, now=now, calendar=business_calendar(terms))
    latest = latest_intent(history)
    confirmation = None
    if latest is not None:
        confirmation = next(
            (
                m
                for m in messages
                if m.kind is MessageKind.RECEIPT_CONFIRMATION
                and m.reference == f"v{latest.version}"
            ),
            None,
        )
    steps = next_steps(
        history,
        receipts,
        is_open=deadlines.is_open,
        confirmation_sent=confirmation is not None and confirmation.sent_at is not None,
        confirmation_overdue=confirmation is not None and confirmation.overdue(now),
    )
    return ElectionStatus(
        employee=person.employee,
        history=history,
        receipts=receipts,
        tasks=tasks,
        messages=messages,
        accepted=accepted,
        new_option_shares=new_shares_by_grant(
            latest.lines if latest else (), terms, person.adjustments
        ),
        steps=steps,
        deadlines=deadlines,
        now=now,
    )


def _iso(instant: datetime | None, terms: OfferTerms) -> str | None:
    return None if instant is None else instant.astimezone(terms.deadline_zone).isoformat()


def _message_json(
    m: OutboxMessage | None, terms: OfferTerms, now: datetime
) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "status": "sent" if m.sent_at else "queued",
        "queued_at": _iso(m.created_at, terms),
        "due_at": _iso(m.due_at, terms),
        "sent_at": _iso(m.sent_at, terms),
        "overdue": m.overdue(now),
        "attachments": [a.filename for a in m.attachments],
    }


def _receipt_json(r: FormReceipt | None, terms: OfferTerms) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "version": r.version,
        "form": r.form.value,
        "received_at": _iso(r.received_at, terms),
        "via": r.via.value,
        "recorded_at": _iso(r.recorded_at, terms),
        "recorded_by": r.actor,
    }


def status_json(s: ElectionStatus, terms: OfferTerms) -> dict[str, Any]:
    latest = s.latest
    current: dict[str, Any] | None = None
    form_sent = receipt = confirmation = None
    if latest is not None:
        current = {
            "version": latest.version,
            "kind": latest.kind.value,
            "transition": latest.transition.value,
            "recorded_at": _iso(latest.recorded_at, terms),
            "recorded_via": latest.channel,
            "form": latest.form.value,
            "form_title": FORM_TITLE[latest.form],
            "grants": [
                {
                    "grant_number": line.grant_number,
                    "grant_date": line.grant_date.isoformat(),
                    "exercise_price": f"{line.exercise_price:.2f}",
                    "unexercised_shares": line.unexercised_shares,
                    "new_option_shares": s.new_option_shares.get(line.grant_number, 0),
                }
                for line in latest.lines
            ],
            "unexercised_shares": latest.unexercised_shares,
            "new_option_shares": sum(s.new_option_shares.values()),
        }
        form_sent = _message_json(
            s.message(MessageKind.INTENT_CONFIRMATION, latest.version), terms, s.now
        )
        receipt = _receipt_json(receipt_for(s.receipts, latest.version), terms)
        confirmation = _message_json(
            s.message(MessageKind.RECEIPT_CONFIRMATION, latest.version), terms, s.now
        )
    task = next((t for t in s.tasks if latest and t.version == latest.version), None)
    return {
        "employee_id": s.employee.employee_id,
        "name": s.employee.name,
        "current_intent": current,
        "form_sent": form_sent,
        "hr_receipt": receipt,
        "confirmation": confirmation,
        "hr_task": None
        if task is None
        else {"version": task.version, "kind": task.kind, "status": task.status.value},
        "effective_election": effective_summary(s.effective),
        "accepted": [
            {"grant_number": a.line.grant_number, "accepted_at": _iso(a.accepted_at, terms)}
            for a in s.accepted
        ],
        "to_do": [step.value for step in s.steps],
        "to_do_text": [step_text(step, latest, terms) for step in s.steps],
        "history": [
            {
                "version": i.version,
                "kind": i.kind.value,
                "transition": i.transition.value,
                "recorded_at": _iso(i.recorded_at, terms),
                "grants": list(i.grant_numbers),
                "received": receipt_for(s.receipts, i.version) is not None,
            }
            for i in s.history
        ],
        "receipts": [_receipt_json(r, terms) for r in s.receipts],
        "deadline": _iso(s.deadlines.expiration, terms),
        "is_open": s.deadlines.is_open,
        "seconds_left": int(s.deadlines.time_left.total_seconds()),
        "time_left": format_duration(s.deadlines.time_left),
    }


def status_reply(s: ElectionStatus, terms: OfferTerms) -> Reply:
    latest = s.latest
    zone = terms.deadline_zone
    if latest is None:
        head = "You have not recorded an intent to tender."
    else:
        what = (
            f"to tender {len(latest.lines)} grant{'s' * (len(latest.lines) != 1)} "
            f"({format_shares(latest.unexercised_shares)} unexercised shares)"
            if latest.lines
            else "to withdraw from the offer"
        )
        head = (
            f"Your latest intent (version {latest.version}, "
            f"{format_instant(latest.recorded_at, zone)}) is {what}. An intent is not an "
            f"election: only a signed {FORM_TITLE[latest.form]} received by HR counts."
        )
        r = receipt_for(s.receipts, latest.version)
        if r is not None:
            head += (
                f" HR received it by {r.via.value} at {format_instant(r.received_at, zone)}; "
                "receipt is not acceptance."
            )
    if s.deadlines.is_open:
        head += (
            f" The offer expires at {deadline_text(terms)} "
            f"({format_duration(s.deadlines.time_left)} left)."
        )
    else:
        head += f" The offer closed at {deadline_text(terms)}."
    tables = intent_tables(
        latest, s.new_option_shares, title=f"Version {latest.version}" if latest else ""
    )
    return Reply(
        text=head,
        tables=tables,
        notes=tuple(step_text(step, latest, terms) for step in s.steps),
        actions=(Action("deadline", "Deadline"), Action("talk_to_hr", "Talk to HR")),
        kind="personal",
        data=status_json(s, terms),
    )


async def audit_trail(
    *, uow: UnitOfWork, employee_id: str, identity: Identity, limit: int = 10_000
) -> list[AuditEntry]:
    """Every audit entry about ``employee_id``, oldest first (HR only)."""
    require_operator(identity)
    async with uow:
        if await uow.employees.get(employee_id) is None:
            raise NotFoundError(f"No employee {employee_id!r} in the roster.")
        entries = await uow.audit.recent(limit=limit, subject=employee_id)
    return list(reversed(entries))


def audit_json(entries: list[AuditEntry], terms: OfferTerms) -> list[dict[str, Any]]:
    return [
        {
            "at": _iso(e.at, terms),
            "actor": e.actor,
            "action": e.action,
            "channel": e.channel,
            "subject": e.subject,
            "before": e.detail.get("before"),
            "after": e.detail.get("after"),
            "detail": e.detail,
        }
        for e in entries
    ]
