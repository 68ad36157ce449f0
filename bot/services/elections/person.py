"""One person's roster data for an election use case: the employee, their assessed grants and
the capitalisation adjustments, loaded inside an open unit of work; and the new-option shares of
the grants they tender, at the adjustments recorded so far.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.elections import IntentLine
from bot.domain.eligibility import PersonAssessment, assess
from bot.domain.new_option import new_option_shares
from bot.domain.roster import CapitalizationAdjustment, Employee
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork
from bot.services.errors import NotFoundError

__all__ = ["Person", "load_person", "new_shares_by_grant"]


@dataclass(frozen=True, slots=True)
class Person:
    employee: Employee
    assessment: PersonAssessment
    adjustments: tuple[CapitalizationAdjustment, ...]


async def load_person(uow: UnitOfWork, terms: OfferTerms, employee_id: str) -> Person:
    """The employee, their assessed grants and the adjustments (inside an open unit of work)."""
    employee = await uow.employees.get(employee_id)
    if employee is None:
        raise NotFoundError(f"No employee {employee_id!r} in the roster.")
    grants = await uow.grants.for_employee(employee_id)
    adjustments = tuple(await uow.adjustments.list_all())
    calendar = business_calendar(terms)
    assessment = assess(
        employee,
        grants,
        terms,
        cancellation=cancellation_date(terms),
        new_grant=new_grant_date(terms, calendar),
        adjustments=adjustments,
    )
    return Person(employee=employee, assessment=assessment, adjustments=adjustments)


def new_shares_by_grant(
    lines: Iterable[IntentLine],
    terms: OfferTerms,
    adjustments: Sequence[CapitalizationAdjustment],
) -> dict[str, int]:
    """New-option shares of each tendered grant with the adjustments recorded so far (Q7)."""
    cancellation = cancellation_date(terms)
    grant_day = new_grant_date(terms, business_calendar(terms))
    return {
        line.grant_number: new_option_shares(
            line.unexercised_shares,
            ratio=terms.exchange_ratio,
            adjustments=adjustments,
            cancellation=cancellation,
            new_grant=grant_day,
        )
        for line in lines
    }
