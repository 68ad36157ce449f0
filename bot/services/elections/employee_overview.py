"""One employee's situation at a glance: time left, the next step, the current intent and every
grant with what it would become — what a personal home screen (the Slack App Home) leads with.

Channel-neutral wording only; the Slack renderer decides the layout. Nothing here ranks the
choices or suggests one: the offer forbids recommending whether to tender (cover, p. i; Q29).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.deadlines import OfferDeadlines
from bot.domain.elections import Step, receipt_for
from bot.domain.eligibility import REASON_TEXT, GrantAssessment, PersonAssessment
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import (
    format_date,
    format_duration,
    format_instant,
    format_money,
    format_shares,
)
from bot.ports import UnitOfWork
from bot.services.elections.status import ElectionStatus, employee_status
from bot.services.elections.wording import FORM_TITLE, step_text
from bot.services.identity import Identity
from bot.services.offer.deadlines import deadlines_reply, get_deadlines
from bot.services.roster.grants import eligible_grant_notes, my_grants

__all__ = ["EmployeeOverview", "GrantRow", "employee_overview"]


@dataclass(frozen=True, slots=True)
class GrantRow:
    """One grant as a row: the figures the Election Form lists, and eligibility or the reason."""

    grant_number: str
    option_type: str
    granted: str  # "Apr 16, 2001"
    price: str  # "$29.07"
    unexercised: str  # "1,000"
    new_option_shares: str | None  # None when the grant cannot be tendered
    eligible: bool
    reason: str = ""  # why it cannot be tendered (with the offer's page)


@dataclass(frozen=True, slots=True)
class EmployeeOverview:
    """Everything a home screen shows, most urgent first."""

    time_left: str  # "14 days, 8 hours left" or "The offer is closed"
    deadline: str  # "The offer expires at 5:00 p.m. PDT on Thursday, July 24, 2003."
    deadline_notes: tuple[str, ...]  # e.g. "The offer was extended: …"
    dates: str  # cancellation and new grant dates, one sentence
    offer_open: bool
    verified: bool
    next_step: str = ""
    intent: str = ""  # the current intent and HR's receipt, one or two sentences
    intent_grants: tuple[str, ...] = ()  # grant numbers of the current tender (for pre-ticking)
    has_tender: bool = False  # the current intent tenders grants (it can be withdrawn)
    can_elect: bool = False  # open offer and at least one eligible grant
    grants_summary: str = ""
    grants: tuple[GrantRow, ...] = ()
    notes: tuple[str, ...] = ()  # split ISO/NSO pairs, what new options are


def _rounded(left: str) -> str:
    """ "14 days, 7 hours, 59 minutes" → "14 days, 7 hours": minutes matter only on the last day."""
    parts = left.split(", ")
    return ", ".join(parts[:2]) if "day" in parts[0] else left


def _row(g: GrantAssessment) -> GrantRow:
    return GrantRow(
        grant_number=g.grant.grant_number,
        option_type=g.grant.option_type.value,
        granted=f"{g.grant.grant_date:%b} {g.grant.grant_date.day}, {g.grant.grant_date.year}",
        price=format_money(g.grant.exercise_price),
        unexercised=format_shares(g.grant.unexercised_shares),
        new_option_shares=format_shares(g.new_option_shares) if g.eligible else None,
        eligible=g.eligible,
        reason="; ".join(REASON_TEXT[r] for r in g.reasons),
    )


def _grants_summary(a: PersonAssessment) -> str:
    eligible = a.eligible_grants
    if not a.grants:
        return "The roster shows no option grants for you."
    if not a.eligible_person:
        why = "; ".join(REASON_TEXT[r] for r in a.reasons)
        return f"You are not eligible to take part in this offer: {why}."
    if not eligible:
        return "None of your grants can be tendered in this offer."
    shares = sum(g.grant.unexercised_shares for g in eligible)
    return (
        f"{len(eligible)} of your {len(a.grants)} grants can be tendered "
        f"({format_shares(shares)} unexercised shares). Each grant is all or none (Q12, p. 2)."
    )


def _notes(a: PersonAssessment) -> tuple[str, ...]:
    return tuple(eligible_grant_notes(a))


def _intent_text(s: ElectionStatus, terms: OfferTerms) -> str:
    latest = s.latest
    if latest is None:
        return ""
    zone = terms.deadline_zone
    if latest.lines:
        count = len(latest.lines)
        what = (
            f"tender {count} grant{'s' * (count != 1)} "
            f"({', '.join(latest.grant_numbers)}; "
            f"{format_shares(latest.unexercised_shares)} unexercised shares)"
        )
    else:
        what = "withdraw from the offer"
    text = (
        f"Your current intent (version {latest.version}, recorded "
        f"{format_instant(latest.recorded_at, zone)}): {what}."
    )
    receipt = receipt_for(s.receipts, latest.version)
    if receipt is None:
        text += f" HR has not yet received your signed {FORM_TITLE[latest.form]}."
    else:
        text += (
            f" HR received your signed {FORM_TITLE[latest.form]} by {receipt.via.value} at "
            f"{format_instant(receipt.received_at, zone)}; receipt is not acceptance."
        )
    return text


def _next_step(
    s: ElectionStatus, a: PersonAssessment, terms: OfferTerms, deadlines: OfferDeadlines
) -> str:
    if s.steps and s.steps[0] is not Step.NOTHING_RECORDED:
        return step_text(s.steps[0], s.latest, terms)
    if not deadlines.is_open:
        return "Nothing: the offer is closed, and no intent to tender was recorded for you."
    if not a.eligible_person or not a.eligible_grants:
        return "There is nothing for you to do in this offer."
    return (
        "Nothing is recorded for you. If you decide to tender, record your intent (whole "
        "grants only), then sign the pre-filled Election Form and deliver it by fax or by hand "
        "before the deadline. If you do nothing, your options stay as they are."
    )


async def employee_overview(
    *, uow: UnitOfWork, terms: OfferTerms, identity: Identity, now: datetime
) -> EmployeeOverview:
    """The overview for ``identity``; without a verified employee, only the offer's dates."""
    deadlines = get_deadlines(terms, now=now)
    zone = terms.deadline_zone
    expiration = format_instant(deadlines.expiration, zone)
    if deadlines.is_open:
        time_left = f"{_rounded(format_duration(deadlines.time_left))} left"
        deadline = f"The offer expires at {expiration}."
    else:
        time_left = "The offer is closed"
        deadline = f"It expired at {expiration}."
    base = EmployeeOverview(
        time_left=time_left,
        deadline=deadline,
        deadline_notes=deadlines_reply(deadlines, terms, now=now).notes,
        dates=(
            "Options accepted for exchange are expected to be cancelled on "
            f"{format_date(deadlines.cancellation_date)}; new options will be granted no "
            f"earlier than {format_date(deadlines.new_grant_date)}."
        ),
        offer_open=deadlines.is_open,
        verified=False,
    )
    if not identity.verified or identity.employee_id is None:
        return base
    employee_id = identity.employee_id
    assessment = await my_grants(
        uow=uow, terms=terms, employee_id=employee_id, identity=identity, now=now
    )
    status = await employee_status(
        uow=uow, terms=terms, employee_id=employee_id, identity=identity, now=now
    )
    latest = status.latest
    return EmployeeOverview(
        time_left=base.time_left,
        deadline=base.deadline,
        deadline_notes=base.deadline_notes,
        dates=base.dates,
        offer_open=base.offer_open,
        verified=True,
        next_step=_next_step(status, assessment, terms, deadlines),
        intent=_intent_text(status, terms),
        intent_grants=latest.grant_numbers if latest is not None else (),
        has_tender=latest is not None and bool(latest.lines),
        can_elect=deadlines.is_open and bool(assessment.eligible_grants),
        grants_summary=_grants_summary(assessment),
        grants=tuple(_row(g) for g in assessment.grants),
        notes=_notes(assessment),
    )
