"""What the election use cases share: retrying a lost write race, who may do what, loading one
person's roster data inside an open unit of work, and new-option shares at today's adjustments.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.elections import IntentLine
from bot.domain.eligibility import PersonAssessment, assess
from bot.domain.new_option import new_option_shares
from bot.domain.roster import CapitalizationAdjustment, Employee
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork
from bot.services.errors import NotAuthorizedError, NotFoundError
from bot.services.identity import Identity
from storage.errors import WriteConflictError

__all__ = [
    "OPERATOR_CHANNELS",
    "Person",
    "authorize_self_or_operator",
    "end_of_business_day",
    "load_person",
    "new_shares_by_grant",
    "require_operator",
    "retry_on_conflict",
]

T = TypeVar("T")

# Channels whose user is HR: at a terminal (the CLI), or a Slack user the Slack adapter found in
# OFFERBOT_HR_ADMINS for this very request ("slack-hr"), or an HR account signed in to the web
# console ("web-hr", handlers/web). They act for anyone.
OPERATOR_CHANNELS = frozenset({"cli", "slack-hr", "web-hr"})
_ATTEMPTS = 12


async def retry_on_conflict(work: Callable[[], Awaitable[T]], *, attempts: int = _ATTEMPTS) -> T:
    """Run ``work`` (one whole unit of work) again when a concurrent writer won the race.

    Two requests for one employee (Slack and e-mail at once) both read version n and both try
    to write n + 1; the unique (employee_id, version) constraint (or SQLite's write lock) lets
    one win, and the other re-reads and becomes n + 2. Backoff is short and jittered.
    """
    for attempt in range(attempts):
        try:
            return await work()
        except WriteConflictError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))
    raise AssertionError("unreachable")  # pragma: no cover


def authorize_self_or_operator(identity: Identity, employee_id: str) -> None:
    if identity.channel in OPERATOR_CHANNELS:
        return
    if identity.employee_id != employee_id:
        raise NotAuthorizedError("You can only see or change your own election.")


def require_operator(identity: Identity) -> None:
    if identity.channel not in OPERATOR_CHANNELS:
        raise NotAuthorizedError("Only HR can do this, from the offerbot command line.")


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


def end_of_business_day(day: date, terms: OfferTerms) -> datetime:
    """Midnight ending ``day`` on the business-day clock (Eastern; §2, p. 14)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=terms.business_day_zone)
