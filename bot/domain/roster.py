"""Employees and their option grants, as HR's roster describes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "EMPLOYEE_COLUMNS",
    "GRANT_COLUMNS",
    "CapitalizationAdjustment",
    "Employee",
    "EmployeeClass",
    "EmployeeStatus",
    "Grant",
    "OptionType",
]


# HR's roster files, column by column (README "Roster CSV reference"); shared by the importer
# and the demo roster writer so the two can never drift apart.
EMPLOYEE_COLUMNS = (
    "employee_id",
    "name",
    "email",
    "slack_user_id",
    "country",
    "status",
    "employee_class",
)
GRANT_COLUMNS = (
    "grant_number",
    "employee_id",
    "plan",
    "grant_date",
    "option_type",
    "exercise_price",
    "shares_granted",
    "shares_exercised",
    "expiration_date",
    "split_group",
)


class EmployeeStatus(StrEnum):
    ACTIVE = "active"
    LEAVE = "leave"  # on leave: still an employee
    TERMINATED = "terminated"


class EmployeeClass(StrEnum):
    EMPLOYEE = "employee"
    EXECUTIVE_OFFICER = "executive_officer"
    EXECUTIVE_MANAGEMENT = "executive_management"
    DIRECTOR = "director"
    CONSULTANT = "consultant"


class OptionType(StrEnum):
    ISO = "ISO"  # incentive stock option
    NSO = "NSO"  # non-statutory stock option


@dataclass(frozen=True, slots=True)
class Employee:
    employee_id: str
    name: str
    email: str
    country: str  # ISO 3166-1 alpha-2 of residence
    status: EmployeeStatus
    employee_class: EmployeeClass
    slack_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    grant_number: str
    employee_id: str
    plan: str
    grant_date: date
    option_type: OptionType
    exercise_price: Decimal
    shares_granted: int
    shares_exercised: int
    expiration_date: date | None = None
    split_group: str | None = None  # same value on the ISO and NSO halves of one split grant

    def __post_init__(self) -> None:
        if self.shares_granted < 0 or self.shares_exercised < 0:
            raise ValueError("share counts cannot be negative")
        if self.shares_exercised > self.shares_granted:
            raise ValueError("more shares exercised than granted")

    @property
    def unexercised_shares(self) -> int:
        return self.shares_granted - self.shares_exercised


@dataclass(frozen=True, slots=True)
class CapitalizationAdjustment:
    """A stock split, reverse split or stock dividend: ``new = old × numerator / denominator``.

    A 1-for-5 reverse split is ``numerator=1, denominator=5`` (Offer Q7, p. 2; §9, p. 24).
    """

    effective_date: date
    numerator: int
    denominator: int
    description: str = ""

    def __post_init__(self) -> None:
        if self.numerator <= 0 or self.denominator <= 0:
            raise ValueError("split ratio terms must be positive")

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.numerator, self.denominator)
