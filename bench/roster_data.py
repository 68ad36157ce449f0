"""The benchmark roster: the demo roster grown to exactly N grants, plus one employee with many
grants (the App Home measure renders theirs), written as the two CSV files HR would send."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant
from knowledge.demo_roster import DemoRoster, generate_demo_roster, write_csv
from knowledge.offer_terms import load_offer_terms

__all__ = ["HEAVY_EMPLOYEE", "BenchRoster", "bench_roster", "write_bench_roster"]

# Not in the demo sequence (E1001, E1002, …), so it can never clash with a generated person.
HEAVY_EMPLOYEE = Employee(
    employee_id="E0000050",
    name="Bench Fiftygrants",
    email="e0000050@example.com",
    country="US",
    status=EmployeeStatus.ACTIVE,
    employee_class=EmployeeClass.EMPLOYEE,
    slack_user_id="U0000050",
)
_GRANTS_PER_EMPLOYEE = 1.5  # the demo roster has ~1.57: enough people, with a few to spare
_PART = 10_000  # people per demo roster: its names (20 per first+last pair) stay plentiful


@dataclass(frozen=True, slots=True)
class BenchRoster:
    roster: DemoRoster
    employees_csv: Path
    grants_csv: Path

    @property
    def rows(self) -> int:
        return len(self.roster.employees) + len(self.roster.grants)


def bench_roster(grants: int, *, heavy_grants: int = 50, seed: int = 2003) -> DemoRoster:
    """Exactly ``grants`` grants: demo rosters (seeded, so always the same) cut to size, and
    ``heavy_grants`` of them held by :data:`HEAVY_EMPLOYEE`.

    The demo generator gives every person a different name, and each first+last pair has only
    20 spellings, so a large roster is several demo rosters of at most :data:`_PART` people each
    (seeds ``seed``, ``seed + 1``, …), the ids of part k moved up by k × 1,000,000.
    """
    terms = load_offer_terms()
    wanted = max(grants - heavy_grants, 0)
    employees: list[Employee] = []
    kept: list[Grant] = []
    part = 0
    while len(kept) < wanted or not kept:
        people = max(20, min(_PART, math.ceil((wanted - len(kept)) / _GRANTS_PER_EMPLOYEE)))
        roster = generate_demo_roster(terms, seed=seed + part, employees=people)
        employees.extend(_moved(e, part) for e in roster.employees)
        kept.extend(_moved_grant(g, part) for g in roster.grants[: wanted - len(kept)])
        part += 1
    # The heavy employee's grants copy the shapes of real ones (prices, dates, plans), so the
    # App Home shows the same mix of eligible and ineligible grants as anyone's.
    templates = [g for g in kept if g.split_group is None][:heavy_grants]
    heavy = [
        replace(t, grant_number=f"H{i:07d}", employee_id=HEAVY_EMPLOYEE.employee_id)
        for i, t in enumerate(templates, start=1)
    ]
    return DemoRoster(employees=[*employees, HEAVY_EMPLOYEE], grants=[*kept, *heavy])


def _moved_id(employee_id: str, part: int) -> str:
    if part == 0:
        return employee_id
    prefix, digits = (
        employee_id.rstrip("0123456789"),
        employee_id.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    )
    return f"{prefix}{int(digits) + part * 1_000_000}"


def _moved(employee: Employee, part: int) -> Employee:
    if part == 0:
        return employee
    moved = _moved_id(employee.employee_id, part)
    digits = moved.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return replace(
        employee,
        employee_id=moved,
        email=f"{moved.lower()}@{employee.email.split('@', 1)[1]}",
        slack_user_id=f"U{digits}" if employee.slack_user_id else None,
    )


def _moved_grant(grant: Grant, part: int) -> Grant:
    if part == 0:
        return grant
    return replace(
        grant,
        grant_number=f"{grant.grant_number}-{part}",
        employee_id=_moved_id(grant.employee_id, part),
        split_group=f"{grant.split_group}-{part}" if grant.split_group else None,
    )


def write_bench_roster(folder: Path, grants: int, *, heavy_grants: int = 50) -> BenchRoster:
    roster = bench_roster(grants, heavy_grants=heavy_grants)
    employees_csv, grants_csv = folder / "employees.csv", folder / "grants.csv"
    write_csv(roster, employees_csv, grants_csv)
    return BenchRoster(roster=roster, employees_csv=employees_csv, grants_csv=grants_csv)
