"""Small builders for roster objects used by the storage tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType


def employee(employee_id: str, **changes: object) -> Employee:
    base = Employee(
        employee_id=employee_id,
        name=f"Person {employee_id}",
        email=f"{employee_id.lower()}@example.com",
        country="US",
        status=EmployeeStatus.ACTIVE,
        employee_class=EmployeeClass.EMPLOYEE,
        slack_user_id=f"U{employee_id}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def grant(grant_number: str, employee_id: str, **changes: object) -> Grant:
    base = Grant(
        grant_number=grant_number,
        employee_id=employee_id,
        plan="1999 Stock Plan",
        grant_date=date(2001, 5, 1),
        option_type=OptionType.NSO,
        exercise_price=Decimal("29.07"),
        shares_granted=1000,
        shares_exercised=0,
        expiration_date=date(2011, 5, 1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]
