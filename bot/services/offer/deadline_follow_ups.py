"""People who were told the deadline hear it again when it changes.

When a verified employee asks about the deadline on Slack or by e-mail (or gets an answer that
states the expiration date), :func:`note_deadline_asked` writes an audit entry
``deadline.asked`` (subject: the employee, channel: where they asked). When an extension is
applied, :func:`enqueue_deadline_follow_ups` queues one short follow-up per such employee per
channel, in the transaction that applies it, keyed
``deadline_follow_up:<amendment id>:<employee id>:<channel>`` so a retry adds nothing twice.
The console and the CLI get none (there is nobody to write back to).

A follow-up is a written communication about the offer, so its text is also kept once as a
:class:`~bot.domain.communications.Communication` (the copies link to it by ``reference``).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime

from bot.domain.amendments import AmendmentKind, OfferAmendment
from bot.domain.communications import Communication
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.questions import Intent
from bot.domain.records import AuditEntry
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_instant
from bot.ports import UnitOfWork
from bot.replies import Action, Reply
from bot.services.delivery_claims import DeliveryClaim, claim_within, mark_committed
from bot.services.identity import Identity
from bot.services.offer.live_offer import current_terms

__all__ = [
    "DEADLINE_ASKED",
    "FOLLOW_UP_CHANNELS",
    "EmailRenderer",
    "enqueue_deadline_follow_ups",
    "follow_up_reply",
    "note_deadline_asked",
    "tells_the_deadline",
]

DEADLINE_ASKED = "deadline.asked"
FOLLOW_UP_CHANNELS = frozenset({"slack", "email"})
SUBJECT = "Update: the offer deadline has changed"

# (reply, subject) → (text, HTML) of an e-mail answer: the e-mail adapter's renderer, passed in
# by the edge (CLI, Slack) so this layer never knows about templates or MIME.
EmailRenderer = Callable[[Reply, str], tuple[str, str]]


def _long_date(instant: datetime, terms: OfferTerms) -> str:
    day = instant.astimezone(terms.deadline_zone).date()
    return f"{day:%B} {day.day}, {day.year}"


def tells_the_deadline(reply: Reply, terms: OfferTerms) -> bool:
    """Whether ``reply`` told the person when the offer expires (a deadline answer, or any
    answer that states the live expiration date)."""
    if reply.kind in {"error", "abstain"}:
        return False
    if reply.intent is Intent.DEADLINE:
        return True
    day = _long_date(terms.expiration, terms).lower()
    return any(day in part.lower() for part in (reply.text, *reply.notes))


async def note_deadline_asked(
    *,
    uow: UnitOfWork,
    identity: Identity,
    reply: Reply,
    base_terms: OfferTerms,
    now: datetime,
    terms: OfferTerms | None = None,
    claim: DeliveryClaim | None = None,
) -> bool:
    """Audit that a verified employee was told the deadline on Slack or e-mail; True if so.

    ``terms``: the live terms the reply was built from, when the caller has them (then the
    offer state is not read again). ``claim``: the Slack delivery, claimed in this audit's
    transaction when nothing before it wrote (:mod:`bot.services.delivery_claims`)."""
    if identity.employee_id is None or identity.channel not in FOLLOW_UP_CHANNELS:
        return False
    if reply.kind in {"error", "abstain"}:
        return False
    if terms is None:
        terms = await current_terms(uow=uow, terms=base_terms)
    if not tells_the_deadline(reply, terms):
        return False
    async with uow:
        await claim_within(uow, claim, at=now)
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action=DEADLINE_ASKED,
                channel=identity.channel,
                subject=identity.employee_id,
                detail={"expiration": terms.expiration.isoformat()},
            )
        )
        await uow.commit()
    mark_committed(claim)
    return True


def follow_up_reply(amendment: OfferAmendment, terms: OfferTerms) -> Reply:
    """The follow-up's words: the new deadline in the offer's zone, and that it was extended."""
    zone, hr = terms.deadline_zone, terms.hr_delivery
    what = (
        "the offer was amended and extended"
        if amendment.kind is AmendmentKind.CONSIDERATION
        else "the offer was extended"
    )
    return Reply(
        text=(
            f"An update to the deadline you asked about: {what}. It now expires at "
            f"{format_instant(amendment.new_expiration, zone)} (before: "
            f"{format_instant(amendment.previous_expiration, zone)}).\n"
            f"Signed forms must reach {hr.name} in {hr.department} by fax to {hr.fax} or by "
            "hand before the new deadline; e-mail is not accepted."
        ),
        actions=(Action("deadline", "Deadline"), Action("talk_to_hr", "Talk to HR")),
        kind="answer",
        data={"amendment_id": amendment.id},
        intent=Intent.DEADLINE,
    )


def _plain_html(text: str) -> str:
    return "".join(f"<p>{html.escape(p)}</p>\n" for p in text.split("\n") if p.strip())


async def enqueue_deadline_follow_ups(
    uow: UnitOfWork,
    *,
    amendment: OfferAmendment,
    terms: OfferTerms,
    now: datetime,
    render_email: EmailRenderer | None = None,
) -> int:
    """Queue the follow-ups of an applied amendment that moved the expiration; returns how many
    were added. Call inside the open unit of work that applies it (the caller commits).

    Only people told the deadline before the amendment was requested are written to: from that
    instant on, every answer already gave the new date.
    """
    if amendment.id is None:
        raise ValueError("the amendment is not stored yet")
    if amendment.new_expiration == amendment.previous_expiration:
        return 0
    asked = await uow.audit.with_action(DEADLINE_ASKED, before=amendment.requested_at)
    latest: dict[tuple[str, str], str] = {}  # (employee, channel) → who asked (Slack user id)
    for entry in asked:
        if entry.subject and entry.channel in FOLLOW_UP_CHANNELS:
            latest[(entry.subject, entry.channel)] = entry.actor
    if not latest:
        return 0
    reply = follow_up_reply(amendment, terms)
    record = await uow.communications.record(
        Communication(
            key=f"deadline_follow_up:{amendment.id}",
            kind="deadline_follow_up",
            subject=SUBJECT,
            body=reply.text,
            created_at=now,
        )
    )
    if render_email is not None:
        email_text, email_html = render_email(reply, SUBJECT)
    else:
        email_text, email_html = reply.text, _plain_html(reply.text)
    messages = []
    # everyone in one query: this runs inside the extension's locked transaction
    people = await uow.employees.get_many(employee_id for employee_id, _ in latest)
    for (employee_id, channel), actor in sorted(latest.items()):
        employee = people.get(employee_id)
        if employee is None:
            continue
        if channel == "email":
            recipient = employee.email.strip()  # the address on file, never another
            text, body_html = email_text, email_html
        else:
            recipient = employee.slack_user_id or actor
            text, body_html = reply.text, None
        if not recipient:
            continue
        messages.append(
            OutboxMessage(
                idempotency_key=f"deadline_follow_up:{amendment.id}:{employee_id}:{channel}",
                channel=channel,
                recipient=recipient,
                kind=MessageKind.ANSWER,
                subject=SUBJECT,
                body_text=text,
                body_html=body_html,
                created_at=now,
                due_at=now,
                employee_id=employee_id,
                reference=record.reference,
            )
        )
    added: int = await uow.outbox.enqueue_many(messages)
    return added
