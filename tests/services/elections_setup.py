"""A small roster shaped like the demo's fixed people, for the election service tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from bot.services.identity import Identity
from storage.uow import UnitOfWork

NOW = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)  # 9:00 a.m. PDT
PLAN = "2000 Equity Incentive Plan"
HR = Identity(channel="cli", actor="cli:hr")
DEADLINE_TEXT = "5:00 p.m. PDT on Thursday, July 24, 2003"


def person(employee_id: str, name: str, cls: EmployeeClass = EmployeeClass.EMPLOYEE) -> Employee:
    return Employee(
        employee_id=employee_id,
        name=name,
        email=f"{employee_id.lower()}@example.com",
        country="US",
        status=EmployeeStatus.ACTIVE,
        employee_class=cls,
        slack_user_id=f"U{employee_id[1:]}",
    )


def option(
    number: str,
    employee_id: str,
    price: str,
    granted: int,
    exercised: int = 0,
    day: date = date(2001, 11, 1),
    kind: OptionType = OptionType.ISO,
    split_group: str | None = None,
) -> Grant:
    return Grant(
        grant_number=number,
        employee_id=employee_id,
        plan=PLAN,
        grant_date=day,
        option_type=kind,
        exercise_price=Decimal(price),
        shares_granted=granted,
        shares_exercised=exercised,
        expiration_date=date(day.year + 10, day.month, day.day),
        split_group=split_group,
    )


EMPLOYEES = [
    person("E1", "Rosalind Ashcombe"),
    person("E2", "Dorian Fallowby"),
    person("E3", "Gideon Thistlewood", EmployeeClass.EXECUTIVE_OFFICER),
]
GRANTS = [
    option("G1", "E1", "29.07", 1000, 700, date(2001, 4, 16)),  # Offer Q12's example holder
    option("G2", "E1", "3.33", 1000),
    option("G3", "E1", "2.50", 2000, day=date(2002, 4, 15)),
    option("G4", "E1", "1.89", 1500, day=date(2002, 6, 3)),  # below $2.00: not eligible
    option("G5", "E2", "12.34", 3000, day=date(2001, 8, 6), split_group="S"),
    option("G6", "E2", "12.34", 1500, day=date(2001, 8, 6), kind=OptionType.NSO, split_group="S"),
    option("G7", "E3", "62.50", 20000, day=date(2000, 9, 18)),
]


async def seed(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many(EMPLOYEES)
        await uow.grants.upsert_many(GRANTS)
        await uow.commit()


def employee_identity(employee_id: str) -> Identity:
    return Identity(channel="slack", actor=f"U{employee_id[1:]}", employee_id=employee_id)
