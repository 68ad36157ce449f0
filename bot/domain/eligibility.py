"""Who may tender, and which grants (Offer Q1-Q3, p. 1; §1, p. 13).

Eligible persons "(i) reside in the United States, (ii) hold their options as of the
Commencement Date and through the Cancellation Date and (iii) are non-executive employees"
(§1, p. 13). Eligible options are "outstanding, unexercised options ... with exercise prices
equal to or greater than $2.00 per share issued under our 1993 Incentive Stock Plan or our 2000
Equity Plan" (Q1, p. 1). Every "no" carries a reason code so the bot can say why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from bot.domain.roster import (
    CapitalizationAdjustment,
    Employee,
    EmployeeClass,
    EmployeeStatus,
    Grant,
)
from bot.domain.terms import OfferTerms

__all__ = [
    "GrantAssessment",
    "PersonAssessment",
    "Reason",
    "assess",
    "assess_grant",
    "person_reasons",
]


class Reason(StrEnum):
    EXECUTIVE_OFFICER = "executive_officer"
    EXECUTIVE_MANAGEMENT = "executive_management"
    DIRECTOR = "director"
    CONSULTANT = "consultant"
    NOT_US_RESIDENT = "not_us_resident"
    NOT_ACTIVE = "not_active"
    PRICE_BELOW_MINIMUM = "exercise_price_below_minimum"
    PLAN_NOT_ELIGIBLE = "plan_not_eligible"
    NO_UNEXERCISED_SHARES = "no_unexercised_shares"
    GRANTED_AFTER_COMMENCEMENT = "granted_after_commencement"
    EXPIRES_BEFORE_CANCELLATION = "expires_before_cancellation"


# Why each reason applies, with the page of the offer it comes from (used in replies).
REASON_TEXT: dict[Reason, str] = {
    Reason.EXECUTIVE_OFFICER: "executive officers are not eligible (Q2, p. 1; §1, p. 13)",
    Reason.EXECUTIVE_MANAGEMENT: "executive management is not eligible (Q2, p. 1; §1, p. 13)",
    Reason.DIRECTOR: "members of the board of directors are not eligible (Q2, p. 1)",
    Reason.CONSULTANT: "consultants are not eligible (Q2, p. 1; §1, p. 13)",
    Reason.NOT_US_RESIDENT: "only persons residing in the United States may participate "
    "(Q3, p. 1; §1, p. 13)",
    Reason.NOT_ACTIVE: "you must remain an employee through the Cancellation Date (Q2, p. 1)",
    Reason.PRICE_BELOW_MINIMUM: "the exercise price is below the offer's minimum (Q1, p. 1)",
    Reason.PLAN_NOT_ELIGIBLE: "the grant was not made under an eligible plan (Q1, p. 1)",
    Reason.NO_UNEXERCISED_SHARES: "no unexercised shares remain under this grant (Q12, p. 2)",
    Reason.GRANTED_AFTER_COMMENCEMENT: "only options held on the Commencement Date can be "
    "tendered (§1, p. 13)",
    Reason.EXPIRES_BEFORE_CANCELLATION: "the option expires before the Cancellation Date "
    "(§1, p. 13)",
}

_CLASS_REASON = {
    EmployeeClass.EXECUTIVE_OFFICER: Reason.EXECUTIVE_OFFICER,
    EmployeeClass.EXECUTIVE_MANAGEMENT: Reason.EXECUTIVE_MANAGEMENT,
    EmployeeClass.DIRECTOR: Reason.DIRECTOR,
    EmployeeClass.CONSULTANT: Reason.CONSULTANT,
}


def person_reasons(employee: Employee, terms: OfferTerms) -> tuple[Reason, ...]:
    """Why this person may not take part; empty when they may."""
    reasons: list[Reason] = []
    if employee.employee_class.value not in terms.eligible_employee_classes:
        reasons.append(_CLASS_REASON.get(employee.employee_class, Reason.EXECUTIVE_MANAGEMENT))
    if employee.country.upper() not in terms.residence_countries:
        reasons.append(Reason.NOT_US_RESIDENT)
    if employee.status is EmployeeStatus.TERMINATED:
        reasons.append(Reason.NOT_ACTIVE)
    return tuple(reasons)


def grant_reasons(grant: Grant, terms: OfferTerms, *, cancellation: date) -> tuple[Reason, ...]:
    """Why this grant, on its own terms, cannot be tendered; empty when it can."""
    reasons: list[Reason] = []
    if grant.plan not in terms.eligible_plans:
        reasons.append(Reason.PLAN_NOT_ELIGIBLE)
    if grant.exercise_price < terms.minimum_exercise_price:
        reasons.append(Reason.PRICE_BELOW_MINIMUM)
    if grant.unexercised_shares <= 0:
        reasons.append(Reason.NO_UNEXERCISED_SHARES)
    if grant.grant_date > terms.commencement:
        reasons.append(Reason.GRANTED_AFTER_COMMENCEMENT)
    if grant.expiration_date is not None and grant.expiration_date <= cancellation:
        reasons.append(Reason.EXPIRES_BEFORE_CANCELLATION)
    return tuple(reasons)


@dataclass(frozen=True, slots=True)
class GrantAssessment:
    grant: Grant
    reasons: tuple[Reason, ...]  # the person's reasons first, then the grant's own
    new_option_shares: int  # what tendering it would give (0 when not eligible)

    @property
    def eligible(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class PersonAssessment:
    employee: Employee
    reasons: tuple[Reason, ...]
    grants: tuple[GrantAssessment, ...]

    @property
    def eligible_person(self) -> bool:
        return not self.reasons

    @property
    def eligible_grants(self) -> tuple[GrantAssessment, ...]:
        return tuple(g for g in self.grants if g.eligible)

    def by_number(self) -> dict[str, GrantAssessment]:
        return {g.grant.grant_number: g for g in self.grants}


def assess_grant(
    grant: Grant,
    terms: OfferTerms,
    *,
    person: Sequence[Reason],
    cancellation: date,
    new_grant: date,
    adjustments: Iterable[CapitalizationAdjustment] = (),
) -> GrantAssessment:
    from bot.domain.new_option import new_option_shares  # local: new_option imports nothing here

    reasons = (*person, *grant_reasons(grant, terms, cancellation=cancellation))
    shares = 0
    if not reasons:
        shares = new_option_shares(
            grant.unexercised_shares,
            ratio=terms.exchange_ratio,
            adjustments=adjustments,
            cancellation=cancellation,
            new_grant=new_grant,
        )
    return GrantAssessment(grant=grant, reasons=reasons, new_option_shares=shares)


def assess(
    employee: Employee,
    grants: Iterable[Grant],
    terms: OfferTerms,
    *,
    cancellation: date,
    new_grant: date,
    adjustments: Iterable[CapitalizationAdjustment] = (),
) -> PersonAssessment:
    """The person's eligibility and each grant's, sorted by grant date then number."""
    person = person_reasons(employee, terms)
    adjustments = tuple(adjustments)
    ordered = sorted(grants, key=lambda g: (g.grant_date, g.grant_number))
    return PersonAssessment(
        employee=employee,
        reasons=person,
        grants=tuple(
            assess_grant(
                g,
                terms,
                person=person,
                cancellation=cancellation,
                new_grant=new_grant,
                adjustments=adjustments,
            )
            for g in ordered
        ),
    )
