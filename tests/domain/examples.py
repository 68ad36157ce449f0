"""Plain roster objects for the domain tests (no I/O): builders and the offer's own examples."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType

PLAN_1993 = "1993 Incentive Stock Plan"
PLAN_2000 = "2000 Equity Incentive Plan"


def employee(**changes: Any) -> Employee:
    """A non-executive employee living in the United States: eligible (Offer §1, p. 13)."""
    base = Employee(
        employee_id="E100",
        name="Pat Example",
        email="pat@example.com",
        country="US",
        status=EmployeeStatus.ACTIVE,
        employee_class=EmployeeClass.EMPLOYEE,
    )
    return dataclasses.replace(base, **changes)


def grant(number: str = "G1", **changes: Any) -> Grant:
    """An outstanding 1,000-share option at $5.00 granted before commencement: eligible."""
    base = Grant(
        grant_number=number,
        employee_id="E100",
        plan=PLAN_2000,
        grant_date=date(2001, 3, 1),
        option_type=OptionType.NSO,
        exercise_price=Decimal("5.00"),
        shares_granted=1_000,
        shares_exercised=0,
        expiration_date=date(2011, 3, 1),
    )
    return dataclasses.replace(base, **changes)


def q12_grants() -> tuple[Grant, Grant, Grant]:
    """The holder in Q12, p. 2-3: 1,000 @ $29.07 (700 exercised), 1,000 @ $3.33, 2,000 @ $2.50."""
    return (
        grant(
            "Q12-A",
            plan=PLAN_1993,
            grant_date=date(2000, 6, 1),
            exercise_price=Decimal("29.07"),
            shares_granted=1_000,
            shares_exercised=700,
        ),
        grant(
            "Q12-B",
            grant_date=date(2001, 10, 1),
            exercise_price=Decimal("3.33"),
            shares_granted=1_000,
        ),
        grant(
            "Q12-C",
            grant_date=date(2002, 3, 1),
            exercise_price=Decimal("2.50"),
            shares_granted=2_000,
        ),
    )
