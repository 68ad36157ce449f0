"""Record an employee's intent to tender, change or withdraw (Offer Q21-Q23, p. 5-6).

One transaction writes the new intent version, closes HR's task for the version it replaces,
opens a task "awaiting signed form", queues the employee's confirmation (with the pre-filled
PDF form) and HR's notice in the outbox, and writes the audit row. Nothing is sent inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.elections import (
    ElectionIntent,
    IntentLine,
    latest_intent,
    next_tender,
    next_withdrawal,
)
from bot.domain.hr_records import Attachment, HrTask, MessageKind, OutboxMessage, TaskStatus
from bot.domain.records import AuditEntry
from bot.domain.roster import Employee
from bot.domain.tender import validate_tender
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_shares
from bot.forms import render_pdf
from bot.ports import UnitOfWork
from bot.replies import Action, Reply, Table
from bot.services.access import authorize_self_or_operator
from bot.services.delivery_claims import DeliveryClaim, claim_within, mark_committed
from bot.services.elections.offer_closing import ensure_not_closing
from bot.services.elections.person import Person, load_person, new_shares_by_grant
from bot.services.elections.printed_forms import election_form_document
from bot.services.elections.wording import (
    FORM_TITLE,
    form_filename,
    hr_notice_text,
    intent_confirmation_text,
    intent_sentences,
)
from bot.services.errors import NotFoundError
from bot.services.identity import Identity
from bot.services.retry import retry_on_conflict

__all__ = [
    "HR_RECIPIENT",
    "IntentResult",
    "hr_alert_messages",
    "intent_json",
    "intent_reply",
    "intent_summary",
    "latest_form",
    "record_intent",
    "record_withdrawal",
    "render_intent_form",
]

# The outbox sender (e-mail issue) maps this role to HR's configured mailbox.
HR_RECIPIENT = "role:hr"
PDF = "application/pdf"


def hr_alert_messages(
    *,
    key: str,
    subject: str,
    body: str,
    employee_id: str | None,
    now: datetime,
    slack_admins: Iterable[str] = (),
) -> list[OutboxMessage]:
    """One HR alert to HR's mailbox and, when Slack is configured, one to each HR admin's DM
    (keys ``KEY`` and ``KEY:slack:ADMIN``), so an alert about a broken relay still arrives."""

    def alert(channel: str, recipient: str, suffix: str = "") -> OutboxMessage:
        return OutboxMessage(
            idempotency_key=key + suffix,
            channel=channel,
            recipient=recipient,
            kind=MessageKind.HR_ALERT,
            subject=subject,
            body_text=body,
            created_at=now,
            due_at=now,
            employee_id=employee_id,
        )

    admins = dict.fromkeys(slack_admins)
    return [alert("email", HR_RECIPIENT), *(alert("slack", a, f":slack:{a}") for a in admins)]


@dataclass(frozen=True, slots=True)
class IntentResult:
    intent: ElectionIntent
    previous: ElectionIntent | None
    employee: Employee
    new_option_shares: dict[str, int]
    form_pdf: bytes
    form_filename: str
    queued: tuple[str, ...]  # idempotency keys of the outbox messages written
    superseded_tasks: tuple[int, ...]


def intent_summary(intent: ElectionIntent | None) -> dict[str, Any] | None:
    """What the audit log keeps of an intent (before → after)."""
    if intent is None:
        return None
    return {
        "version": intent.version,
        "kind": intent.kind.value,
        "transition": intent.transition.value,
        "grants": list(intent.grant_numbers),
        "unexercised_shares": intent.unexercised_shares,
    }


def render_intent_form(intent: ElectionIntent, employee: Employee, terms: OfferTerms) -> bytes:
    """The pre-filled Election Form or Notice to Withdraw of ``intent`` (same bytes each time)."""
    return render_pdf(election_form_document(intent, employee, terms))


async def record_intent(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    employee_id: str,
    grant_numbers: Sequence[str],
    identity: Identity,
    now: datetime,
    claim: DeliveryClaim | None = None,
) -> IntentResult:
    """Tender, change or re-tender: a new version naming ``grant_numbers`` (whole grants).

    ``claim`` (a Slack delivery: a view submission, a chat message) is claimed in the same
    transaction unless an earlier write of the same answer claimed it: a second delivery
    records nothing and raises ``DuplicateDeliveryError``."""

    def plan(person: Person, history: Sequence[ElectionIntent]) -> ElectionIntent:
        selection = validate_tender(grant_numbers, person.assessment, terms, now=now)
        by_number = person.assessment.by_number()
        return next_tender(
            history,
            [IntentLine.of(by_number[n].grant) for n in selection.grant_numbers],
            employee_id=employee_id,
            terms=terms,
            now=now,
            actor=identity.actor,
            channel=identity.channel,
        )

    return await _record(uow, terms, employee_id, identity, now, plan, claim)


async def record_withdrawal(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    employee_id: str,
    identity: Identity,
    now: datetime,
    claim: DeliveryClaim | None = None,
) -> IntentResult:
    """Withdraw everything tendered (Q22, p. 5): a new version asking for a Notice to Withdraw;
    ``claim`` as for :func:`record_intent`."""

    def plan(person: Person, history: Sequence[ElectionIntent]) -> ElectionIntent:
        return next_withdrawal(
            history,
            employee_id=employee_id,
            terms=terms,
            now=now,
            actor=identity.actor,
            channel=identity.channel,
        )

    return await _record(uow, terms, employee_id, identity, now, plan, claim)


async def _record(
    uow: UnitOfWork,
    terms: OfferTerms,
    employee_id: str,
    identity: Identity,
    now: datetime,
    plan: Callable[[Person, Sequence[ElectionIntent]], ElectionIntent],
    claim: DeliveryClaim | None = None,
) -> IntentResult:
    authorize_self_or_operator(identity, employee_id)

    async def attempt() -> IntentResult:
        async with uow:
            # a repeated delivery stops here, having written nothing
            await claim_within(uow, claim, at=now)
            await ensure_not_closing(uow, terms.offer_id, "record an intent")
            person = await load_person(uow, terms, employee_id)
            history = await uow.elections.intents_for(employee_id)
            previous = latest_intent(history)
            intent = plan(person, history)
            # The first write: a concurrent request for the same employee loses here and retries.
            await uow.elections.add_intent(intent)
            superseded = await uow.hr_tasks.close(
                employee_id,
                versions=[i.version for i in history],
                status=TaskStatus.SUPERSEDED,
                at=now,
            )
            await uow.hr_tasks.add(
                HrTask(employee_id=employee_id, version=intent.version, created_at=now)
            )
            employee = person.employee
            pdf = render_intent_form(intent, employee, terms)
            filename = form_filename(intent)
            attachment = Attachment(filename=filename, content_type=PDF, content=pdf)
            queued = []
            subject, body = intent_confirmation_text(intent, employee, terms)
            to_employee = OutboxMessage(
                idempotency_key=f"intent_confirmation:{employee_id}:v{intent.version}",
                channel="email",
                recipient=employee.email,
                kind=MessageKind.INTENT_CONFIRMATION,
                subject=subject,
                body_text=body,
                created_at=now,
                due_at=now,
                employee_id=employee_id,
                reference=f"v{intent.version}",
                attachments=(attachment,),
            )
            subject, body = hr_notice_text(intent, employee, terms)
            to_hr = OutboxMessage(
                idempotency_key=f"hr_notice:{employee_id}:v{intent.version}",
                channel="email",
                recipient=HR_RECIPIENT,
                kind=MessageKind.HR_NOTICE,
                subject=subject,
                body_text=body,
                created_at=now,
                due_at=now,
                employee_id=employee_id,
                reference=f"v{intent.version}",
                attachments=(attachment,),
            )
            for message in (to_employee, to_hr):
                if await uow.outbox.enqueue(message):
                    queued.append(message.idempotency_key)
            await uow.audit.record(
                AuditEntry(
                    at=now,
                    actor=identity.actor,
                    action=f"election.{intent.kind.value}",
                    channel=identity.channel,
                    subject=employee_id,
                    detail={
                        "transition": intent.transition.value,
                        "before": intent_summary(previous),
                        "after": intent_summary(intent),
                        "tasks_superseded": superseded,
                        "queued": queued,
                    },
                )
            )
            await uow.commit()
            mark_committed(claim)
            return IntentResult(
                intent=intent,
                previous=previous,
                employee=employee,
                new_option_shares=new_shares_by_grant(intent.lines, terms, person.adjustments),
                form_pdf=pdf,
                form_filename=filename,
                queued=tuple(queued),
                superseded_tasks=tuple(superseded),
            )

    return await retry_on_conflict(attempt)


async def latest_form(
    *, uow: UnitOfWork, terms: OfferTerms, employee_id: str, identity: Identity, version: int | None
) -> tuple[ElectionIntent, bytes]:
    """The pre-filled form of the latest intent (or of ``version``)."""
    authorize_self_or_operator(identity, employee_id)
    async with uow:
        employee = await uow.employees.get(employee_id)
        if employee is None:
            raise NotFoundError(f"No employee {employee_id!r} in the roster.")
        history = await uow.elections.intents_for(employee_id)
    if version is None:
        intent = latest_intent(history)
    else:
        intent = next((i for i in history if i.version == version), None)
    if intent is None:
        raise NotFoundError(
            f"{employee_id} has no recorded intent"
            + (f" version {version}." if version is not None else "; record one with `elect`.")
        )
    return intent, render_intent_form(intent, employee, terms)


def intent_json(result: IntentResult, terms: OfferTerms) -> dict[str, Any]:
    intent = result.intent
    return {
        "employee_id": intent.employee_id,
        "version": intent.version,
        "kind": intent.kind.value,
        "transition": intent.transition.value,
        "recorded_at": intent.recorded_at.astimezone(terms.deadline_zone).isoformat(),
        "form": intent.form.value,
        "form_title": FORM_TITLE[intent.form],
        "form_filename": result.form_filename,
        "grants": [
            {
                "grant_number": line.grant_number,
                "grant_date": line.grant_date.isoformat(),
                "option_type": line.option_type,
                "exercise_price": f"{line.exercise_price:.2f}",
                "unexercised_shares": line.unexercised_shares,
                "new_option_shares": result.new_option_shares.get(line.grant_number, 0),
            }
            for line in intent.lines
        ],
        "unexercised_shares": intent.unexercised_shares,
        "new_option_shares": sum(result.new_option_shares.values()),
        "previous_version": result.previous.version if result.previous else None,
        "queued": list(result.queued),
        "deadline": terms.expiration.astimezone(terms.deadline_zone).isoformat(),
        "message": " ".join(intent_sentences(intent, terms)),
        "is_election": False,
    }


def intent_tables(
    intent: ElectionIntent | None, new_option_shares: dict[str, int], *, title: str
) -> tuple[Table, ...]:
    """The grants an intent names, as one table (none for a withdrawal)."""
    if intent is None or not intent.lines:
        return ()
    return (
        Table(
            headers=("Grant", "Granted", "Price", "Unexercised", "New option"),
            rows=tuple(
                (
                    line.grant_number,
                    line.grant_date.isoformat(),
                    f"${line.exercise_price:,.2f}",
                    format_shares(line.unexercised_shares),
                    format_shares(new_option_shares.get(line.grant_number, 0)),
                )
                for line in intent.lines
            ),
            title=title,
        ),
    )


def intent_reply(result: IntentResult, terms: OfferTerms) -> Reply:
    """The confirmation any channel shows right after an intent is recorded."""
    sentences = intent_sentences(result.intent, terms)
    tables = intent_tables(
        result.intent,
        result.new_option_shares,
        title=f"{FORM_TITLE[result.intent.form]}, version {result.intent.version}",
    )
    return Reply(
        text=" ".join(sentences[:3]),
        tables=tables,
        notes=tuple(sentences[3:]),
        actions=(Action("status", "My election status"), Action("talk_to_hr", "Talk to HR")),
        kind="personal",
        data=intent_json(result, terms),
    )
