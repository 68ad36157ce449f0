"""Employees and their option grants, as HR's roster describes them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

__all__ = [
    "EMPLOYEE_COLUMNS",
    "GRANT_COLUMNS",
    "IDENTIFIER_PATTERN",
    "OPTIONAL_EMPLOYEE_COLUMNS",
    "CapitalizationAdjustment",
    "Employee",
    "EmployeeClass",
    "EmployeeStatus",
    "Grant",
    "OptionType",
    "file_name_part",
    "is_identifier",
]


# HR's roster files, column by column (docs/hr-guide.md, "Roster CSV reference"); shared by the
# importer and the demo roster writer so the two can never drift apart.
EMPLOYEE_COLUMNS = (
    "employee_id",
    "name",
    "email",
    "slack_user_id",
    "country",
    "status",
    "employee_class",
)
# Columns an employees.csv may leave out altogether (after EMPLOYEE_COLUMNS, which must all be
# in the header): files written before they existed still import, and the stored values of a
# column the file does not have are kept as they are.
OPTIONAL_EMPLOYEE_COLUMNS = ("department", "location", "manager_email")
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

# Employee ids and grant numbers (docs/hr-guide.md, "Roster CSV reference"): a letter or digit, then
# letters, digits, '.', '_' or '-', 64 characters at most. No '/', backslash, space or control
# character, and no leading '.', '-', '=', '+' or '@': an id can never become a path, a command
# line option or a spreadsheet formula wherever it is shown or used.
IDENTIFIER_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN, re.ASCII)
_NOT_FILE_SAFE = re.compile(r"[^A-Za-z0-9_-]+", re.ASCII)


def is_identifier(value: str) -> bool:
    return _IDENTIFIER.fullmatch(value) is not None


def file_name_part(value: str) -> str:
    """``value`` (an employee id, a grant number) as a safe part of one file name.

    Valid ids are kept as they are. Anything else (an id stored before ids were checked, say
    ``../../tmp/x``) keeps only letters, digits, '_' and '-', plus a short digest of the whole
    value so two different ids never share a file: never a separator, never ``..``.
    """
    if is_identifier(value) and ".." not in value:
        return value
    kept = _NOT_FILE_SAFE.sub("_", value).strip("_")[:40] or "id"
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{kept}-{digest}"


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
    # HR's own groupings, optional: the console and the report show figures by department and
    # by location when the roster has them; the manager's address is for HR's follow-up calls.
    department: str | None = None
    location: str | None = None
    manager_email: str | None = None


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
