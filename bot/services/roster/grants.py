"""An employee's own grants: which are eligible, why the others are not, and what each would
become. Every display of personal grant data is written to the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.eligibility import REASON_TEXT, PersonAssessment, assess
from bot.domain.records import AuditEntry
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_money, format_shares
from bot.ports import UnitOfWork
from bot.replies import Action, Reply, Table
from bot.services.delivery_claims import DeliveryClaim, claim_within, mark_committed
from bot.services.errors import NotAuthorizedError, NotFoundError
from bot.services.identity import Identity

__all__ = ["eligible_grant_notes", "grants_json", "grants_reply", "my_grants"]

# Channels whose operator is HR at a terminal (the CLI): they may look up anyone.
_OPERATOR_CHANNELS = frozenset({"cli"})


async def my_grants(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    employee_id: str,
    identity: Identity,
    now: datetime,
    claim: DeliveryClaim | None = None,
) -> PersonAssessment:
    """Assess one employee's grants; only that employee (or HR at the CLI) may see them.

    ``claim``: a Slack delivery to claim in the audit row's transaction
    (:mod:`bot.services.delivery_claims`)."""
    if identity.channel not in _OPERATOR_CHANNELS and identity.employee_id != employee_id:
        raise NotAuthorizedError("You can only see your own grants.")
    calendar = business_calendar(terms)
    async with uow:
        await claim_within(uow, claim, at=now)
        employee = await uow.employees.get(employee_id)
        if employee is None:
            raise NotFoundError(f"No employee {employee_id!r} in the roster.")
        grants = await uow.grants.for_employee(employee_id)
        adjustments = await uow.adjustments.list_all()
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="grants.view",
                channel=identity.channel,
                subject=employee_id,
                detail={"grants": len(grants)},
            )
        )
        await uow.commit()
    mark_committed(claim)
    return assess(
        employee,
        grants,
        terms,
        cancellation=cancellation_date(terms),
        new_grant=new_grant_date(terms, calendar),
        adjustments=adjustments,
    )


def grants_json(a: PersonAssessment) -> dict[str, Any]:
    return {
        "employee_id": a.employee.employee_id,
        "name": a.employee.name,
        "eligible_person": a.eligible_person,
        "reasons": [r.value for r in a.reasons],
        "grants": [
            {
                "grant_number": g.grant.grant_number,
                "plan": g.grant.plan,
                "grant_date": g.grant.grant_date.isoformat(),
                "option_type": g.grant.option_type.value,
                "exercise_price": f"{g.grant.exercise_price:.2f}",
                "shares_granted": g.grant.shares_granted,
                "shares_exercised": g.grant.shares_exercised,
                "unexercised_shares": g.grant.unexercised_shares,
                "split_group": g.grant.split_group,
                "eligible": g.eligible,
                "reasons": [r.value for r in g.reasons],
                "new_option_shares": g.new_option_shares,
            }
            for g in a.grants
        ],
    }


def grants_reply(a: PersonAssessment, terms: OfferTerms) -> Reply:
    eligible = a.eligible_grants
    rows = tuple(
        (
            g.grant.grant_number,
            g.grant.grant_date.isoformat(),
            g.grant.option_type.value,
            format_money(g.grant.exercise_price),
            format_shares(g.grant.unexercised_shares),
            "yes" if g.eligible else "no",
            format_shares(g.new_option_shares) if g.eligible else "—",
        )
        for g in a.grants
    )
    table = Table(
        headers=("Grant", "Granted", "Type", "Price", "Unexercised", "Eligible", "New option"),
        rows=rows,
        title=f"Option grants of {a.employee.name} ({a.employee.employee_id})",
    )
    if not a.grants:
        text = "The roster shows no option grants for you."
    elif not a.eligible_person:
        why = "; ".join(REASON_TEXT[r] for r in a.reasons)
        text = f"You are not eligible to take part in this offer: {why}."
    elif not eligible:
        text = "None of your grants can be tendered in this offer."
    else:
        shares = sum(g.grant.unexercised_shares for g in eligible)
        text = (
            f"{len(eligible)} of your {len(a.grants)} grants can be tendered "
            f"({format_shares(shares)} unexercised shares). Each grant is all or none: you may "
            "tender any of them, but only all unexercised shares of a grant (Q12, p. 2)."
        )
    notes = []
    if a.eligible_person:
        for g in a.grants:
            if not g.eligible:
                why = "; ".join(REASON_TEXT[r] for r in g.reasons)
                notes.append(f"Grant {g.grant.grant_number} is not eligible: {why}.")
    notes.extend(eligible_grant_notes(a))
    return Reply(
        text=text,
        tables=(table,) if a.grants else (),
        notes=tuple(notes),
        actions=(Action("deadline", "Deadline"), Action("talk_to_hr", "Talk to HR")),
        kind="personal",
        data=grants_json(a),
    )


def eligible_grant_notes(a: PersonAssessment) -> list[str]:
    """What every view of someone's eligible grants adds (the grants reply, the employee
    overview): split grants go together (§1, p. 13), and what the new options are."""
    eligible = a.eligible_grants
    notes = []
    for group in sorted({g.grant.split_group for g in eligible if g.grant.split_group}):
        members = [g.grant.grant_number for g in eligible if g.grant.split_group == group]
        if len(members) > 1:
            notes.append(
                f"Grants {' and '.join(members)} are the incentive and non-statutory parts of "
                "one grant: tender both or neither (§1, p. 13)."
            )
    if eligible:
        notes.append(
            "New options are non-statutory, one new share per old share, priced at the closing "
            "price on the new grant date (Q7, Q11, Q18)."
        )
    return notes
