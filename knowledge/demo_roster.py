"""A deterministic synthetic roster for the demo, described by the offer's ``demo_roster.toml``.

The TOML holds the data (fixed people, plans, assumed prices, weights, invented names); this
module only draws from it with ``random.Random(seed)``, so a seed always gives the same
roster. Grant prices follow the offer's price table (§8, p. 21: ``OfferTerms.price_history``)
where it has the quarter, and the TOML's documented assumptions elsewhere.

:func:`write_csv` writes the two files in exactly the format ``offerbot import-roster`` reads
(see the README's roster reference), so the demo goes through the real import.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.domain.roster import (
    EMPLOYEE_COLUMNS,
    GRANT_COLUMNS,
    OPTIONAL_EMPLOYEE_COLUMNS,
    Employee,
    EmployeeClass,
    EmployeeStatus,
    Grant,
    OptionType,
)
from bot.domain.terms import OfferTerms, PricePoint
from knowledge.offer_terms import bundled_offer_dir
from knowledge.toml_tables import read_toml, require

__all__ = [
    "DemoRoster",
    "DemoRosterError",
    "demo_spec_path",
    "generate_demo_roster",
    "write_csv",
]

_CENT = Decimal("0.01")
_SENIOR = frozenset(
    {EmployeeClass.EXECUTIVE_OFFICER, EmployeeClass.EXECUTIVE_MANAGEMENT, EmployeeClass.DIRECTOR}
)


class DemoRosterError(ValueError):
    """demo_roster.toml is missing a key or cannot give the roster asked for."""


@dataclass(frozen=True, slots=True)
class DemoRoster:
    employees: list[Employee]
    grants: list[Grant]


def demo_spec_path(terms: OfferTerms) -> Path:
    """The bundled ``demo_roster.toml`` next to the offer's ``offer.toml``."""
    return bundled_offer_dir(terms.offer_id) / "demo_roster.toml"


def _price_band(
    day: date, terms: OfferTerms, assumed: list[dict[str, Any]]
) -> tuple[Decimal, Decimal]:
    """(low, high) for a grant on ``day``: its quarter in the offer's table, else an assumption."""
    point = _quarter(day, terms.price_history)
    if point is not None:
        return point.low, point.high
    for band in assumed:
        if band["start"] <= day <= band["end"]:
            return Decimal(str(band["low"])), Decimal(str(band["high"]))
    raise DemoRosterError(f"demo_roster.toml: no price for a grant on {day} (add assumed_prices)")


def _quarter(day: date, table: tuple[PricePoint, ...]) -> PricePoint | None:
    for point in table:
        end = point.quarter_end
        if end.year == day.year and (end.month - 1) // 3 == (day.month - 1) // 3:
            return point
    return None


# --- reading the spec --------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    return read_toml(path, error=DemoRosterError)


def _get(table: dict[str, Any], dotted: str) -> Any:
    return require(table, dotted, file="demo_roster.toml", error=DemoRosterError)


def _weights(table: dict[str, Any]) -> tuple[list[str], list[float]]:
    return list(table), [float(w) for w in table.values()]


# --- the generator -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    """A generated grant before its number is known (numbers follow grant dates)."""

    employee_id: str
    plan: str
    grant_date: date
    option_type: OptionType
    exercise_price: Decimal
    shares_granted: int
    shares_exercised: int
    expiration_date: date
    split_with: _Draft | None = None  # the ISO half this NSO half was split from


class _Generator:
    def __init__(self, terms: OfferTerms, spec: dict[str, Any], rng: random.Random) -> None:
        self.terms, self.spec, self.rng = terms, spec, rng
        self.latest: date = _get(spec, "grants.latest")
        if self.latest >= terms.commencement:
            raise DemoRosterError("demo_roster.toml: grants.latest must be before commencement")
        self.assumed: list[dict[str, Any]] = list(spec.get("assumed_prices", []))
        self.used_names: set[str] = set()

    # people ------------------------------------------------------------------------------

    def person(self, employee_id: str) -> Employee:
        people = _get(self.spec, "people")
        return Employee(
            employee_id=employee_id,
            name=self.name(),
            email=_email(employee_id, self.spec),
            country=self._pick(_get(people, "country")).upper(),
            status=EmployeeStatus(self._pick(_get(people, "status"))),
            employee_class=EmployeeClass(self._pick(_get(people, "employee_class"))),
            slack_user_id=_slack_id(employee_id, self.spec),
        )

    def name(self) -> str:
        first, last = _get(self.spec, "names.first"), _get(self.spec, "names.last")
        name = f"{self.rng.choice(first)} {self.rng.choice(last)}"
        tries = 0
        while name in self.used_names:
            given, family = name.split(" ", 1)
            name = f"{given} {self.rng.choice('ABCDEFGHJKLMNPRSTVW')}. {family.split(' ')[-1]}"
            tries += 1
            if tries > 50:  # every initial taken (large rosters): a numbered suffix always is new
                name = f"{given} {family.split(' ')[-1]} {len(self.used_names) + 1}"
        self.used_names.add(name)
        return name

    # grants ------------------------------------------------------------------------------

    def grants(self, person: Employee) -> list[_Draft]:
        rng, spec = self.rng, _get(self.spec, "grants")
        if rng.random() < float(_get(spec, "without_grants")):
            return []
        periods = _get(self.spec, "hire_periods")
        period = rng.choices(periods, weights=[float(p["weight"]) for p in periods])[0]
        hired = self._day(period["start"], min(period["end"], self.latest))
        last_day, expires = self.latest, None
        if person.status is EmployeeStatus.TERMINATED:
            leaver = _get(self.spec, "people.terminated")
            last_day = self._day(leaver["earliest"], leaver["latest"])
            expires = last_day + timedelta(days=int(leaver["option_expiry_days"]))
            if hired > last_day - timedelta(days=30):  # hired at least a month before leaving
                hired = self._day(period["start"], last_day - timedelta(days=30))
        dates = [hired]
        extra_from = hired + timedelta(days=int(_get(spec, "extra_grant_delay_days")))
        if extra_from <= last_day:
            count = int(self._pick(_get(spec, "extra_grants")))
            dates += sorted(self._day(extra_from, last_day) for _ in range(count))
        drafts: list[_Draft] = []
        for day in dates:
            drafts.extend(self.grant(person, day, expires))
        return drafts

    def grant(self, person: Employee, day: date, expires: date | None) -> list[_Draft]:
        rng, spec = self.rng, _get(self.spec, "grants")
        low, high = _price_band(day, self.terms, self.assumed)
        price = (Decimal(rng.randint(int(low * 100), int(high * 100))) * _CENT).quantize(_CENT)
        shares = int(self._pick(_get(spec, "shares")))
        if person.employee_class in _SENIOR:
            shares *= int(_get(spec, "senior_share_multiplier"))
        plans = _get(self.spec, "plans")
        plan = plans["before_ipo"] if day < plans["ipo_date"] else plans["from_ipo"]
        if day >= plans["ipo_date"] and rng.random() < float(_get(spec, "non_plan_share")):
            plan = _get(spec, "non_plan_name")
        may_hold_iso = (
            person.employee_class is not EmployeeClass.CONSULTANT
            and person.employee_class is not EmployeeClass.DIRECTOR
            and person.country == "US"
            and plan != _get(spec, "non_plan_name")
        )
        iso = may_hold_iso and rng.random() < float(_get(spec, "iso_share"))
        expiration = expires or _years_later(day, int(_get(spec, "term_years")))
        first = _Draft(
            employee_id=person.employee_id,
            plan=plan,
            grant_date=day,
            option_type=OptionType.ISO if iso else OptionType.NSO,
            exercise_price=price,
            shares_granted=shares,
            shares_exercised=0,
            expiration_date=expiration,
        )
        drafts = [first]
        if iso and shares >= 500 and rng.random() < float(_get(spec, "split_share")):
            iso_shares = shares * rng.randint(3, 7) // 10 // 50 * 50
            first.shares_granted = iso_shares
            drafts.append(
                _Draft(
                    employee_id=person.employee_id,
                    plan=plan,
                    grant_date=day,
                    option_type=OptionType.NSO,
                    exercise_price=price,
                    shares_granted=shares - iso_shares,
                    shares_exercised=0,
                    expiration_date=expiration,
                    split_with=first,
                )
            )
        for draft in drafts:
            draft.shares_exercised = self.exercised(draft)
        return drafts

    def exercised(self, draft: _Draft) -> int:
        """Exercise only pays on cheap pre-IPO grants; leave most of them unexercised."""
        rule = _get(self.spec, "grants.exercise")
        cheap = draft.exercise_price <= Decimal(str(rule["max_price"]))
        if not (cheap and draft.grant_date < rule["granted_before"]):
            return 0
        if self.rng.random() >= float(rule["probability"]):
            return 0
        step = int(rule["round_to"])
        fraction = self.rng.uniform(float(rule["min_fraction"]), float(rule["max_fraction"]))
        shares = int(draft.shares_granted * fraction) // step * step
        return min(draft.shares_granted - step, max(step, shares))

    # drawing -----------------------------------------------------------------------------

    def _pick(self, weights: dict[str, Any]) -> str:
        keys, values = _weights(weights)
        return self.rng.choices(keys, weights=values)[0]

    def _day(self, start: date, end: date) -> date:
        """A weekday between start and end (inclusive)."""
        day = start + timedelta(days=self.rng.randint(0, max(0, (end - start).days)))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        while day > end or day.weekday() >= 5:
            day -= timedelta(days=1)
        return day


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _email(employee_id: str, spec: dict[str, Any]) -> str:
    return f"{employee_id.lower()}@{_get(spec, 'people.email_domain')}"


def _slack_id(employee_id: str, spec: dict[str, Any]) -> str:
    return _get(spec, "people.slack_prefix") + "".join(c for c in employee_id if c.isdigit())


def _fixed(spec: dict[str, Any]) -> tuple[list[Employee], list[Grant]]:
    employees: list[Employee] = []
    grants: list[Grant] = []
    for person in spec.get("fixed", []):
        eid = person["employee_id"]
        employees.append(
            Employee(
                employee_id=eid,
                name=person["name"],
                email=_email(eid, spec),
                country=person["country"].upper(),
                status=EmployeeStatus(person["status"]),
                employee_class=EmployeeClass(person["employee_class"]),
                slack_user_id=_slack_id(eid, spec),
            )
        )
        for g in person.get("grants", []):
            grants.append(
                Grant(
                    grant_number=g["grant_number"],
                    employee_id=eid,
                    plan=g["plan"],
                    grant_date=g["grant_date"],
                    option_type=OptionType(g["option_type"]),
                    exercise_price=Decimal(str(g["exercise_price"])),
                    shares_granted=int(g["shares_granted"]),
                    shares_exercised=int(g["shares_exercised"]),
                    expiration_date=g.get("expiration_date"),
                    split_group=g.get("split_group") or None,
                )
            )
    return employees, grants


def generate_demo_roster(
    terms: OfferTerms, spec_path: Path | None = None, *, seed: int = 2003, employees: int = 600
) -> DemoRoster:
    """``employees`` people (the TOML's fixed ones first, ids in sequence) and their grants."""
    spec = _load(spec_path or demo_spec_path(terms))
    fixed_people, fixed_grants = _fixed(spec)
    if employees < len(fixed_people):
        raise DemoRosterError(f"the demo roster needs at least {len(fixed_people)} employees")
    rng = random.Random(seed)
    generator = _Generator(terms, spec, rng)
    generator.used_names.update(p.name for p in fixed_people)

    prefix, next_id = _get(spec, "people.id_prefix"), int(_get(spec, "people.first_id"))
    taken = {p.employee_id for p in fixed_people}
    people = list(fixed_people)
    drafts: list[_Draft] = []
    while len(people) < employees:
        employee_id, next_id = f"{prefix}{next_id}", next_id + 1
        if employee_id in taken:
            continue
        person = generator.person(employee_id)
        people.append(person)
        drafts.extend(generator.grants(person))

    grants = list(fixed_grants)
    number_format = _get(spec, "grants.number_format")
    number = int(_get(spec, "grants.first_generated_number"))
    numbers: dict[int, str] = {}
    order = {p.employee_id: i for i, p in enumerate(people)}
    for draft in sorted(drafts, key=lambda d: (d.grant_date, order[d.employee_id])):
        numbers[id(draft)] = number_format.format(number)
        number += 1
    split_from = {id(d.split_with) for d in drafts if d.split_with is not None}
    for draft in drafts:
        own = numbers[id(draft)]
        group = None
        if draft.split_with is not None:
            group = numbers[id(draft.split_with)]
        elif id(draft) in split_from:
            group = own
        grants.append(
            Grant(
                grant_number=own,
                employee_id=draft.employee_id,
                plan=draft.plan,
                grant_date=draft.grant_date,
                option_type=draft.option_type,
                exercise_price=draft.exercise_price,
                shares_granted=draft.shares_granted,
                shares_exercised=draft.shares_exercised,
                expiration_date=draft.expiration_date,
                split_group=group,
            )
        )
    grants.sort(key=lambda g: g.grant_number)
    return DemoRoster(
        employees=_with_groups(people, spec, seed, fixed=len(fixed_people)), grants=grants
    )


_EXECUTIVE = frozenset({EmployeeClass.EXECUTIVE_OFFICER, EmployeeClass.EXECUTIVE_MANAGEMENT})


def _with_groups(
    people: list[Employee], spec: dict[str, Any], seed: int, *, fixed: int
) -> list[Employee]:
    """Department, location and manager for everyone, from the TOML's ``[groups]`` with a
    ``random.Random`` of their own: the draws above (and so every grant) stay as they were. The
    first ``fixed`` people (the TOML's, which the docs and tests name) draw theirs from a
    generator that ignores the seed, as everything else about them does."""
    groups = spec.get("groups")
    if not groups:
        return people
    fixed_rng, seeded_rng = random.Random("fixed:groups"), random.Random(f"{seed}:groups")
    departments = _weights(_get(groups, "department"))
    sites = _weights(_get(groups, "location"))
    offices: dict[str, str] = _get(groups, "offices")
    drawn: list[tuple[Employee, str, str]] = []
    for index, person in enumerate(people):
        rng = fixed_rng if index < fixed else seeded_rng
        if person.employee_class in _EXECUTIVE:
            department = "Executive"
        elif person.employee_class is EmployeeClass.DIRECTOR:
            department = "Board of Directors"
        else:
            department = rng.choices(departments[0], weights=departments[1])[0]
        site = rng.choices(sites[0], weights=sites[1])[0]
        location = site if person.country == "US" else offices.get(person.country, person.country)
        drawn.append((person, department, location))
    chief = next((p for p in people if p.employee_class is EmployeeClass.EXECUTIVE_OFFICER), None)
    heads: dict[str, Employee] = {}
    for person, department, _ in drawn:
        if person.status is EmployeeStatus.ACTIVE:
            heads.setdefault(department, person)
    result = []
    for person, department, location in drawn:
        head = heads.get(department, chief)
        if person is chief or department == "Board of Directors":
            manager = None
        elif person is head or department == "Executive":
            manager = chief
        else:
            manager = head
        result.append(
            replace(
                person,
                department=department,
                location=location,
                manager_email=manager.email if manager is not None else None,
            )
        )
    return result


def write_csv(roster: DemoRoster, employees_csv: Path, grants_csv: Path) -> None:
    """The roster as the two CSV files ``offerbot import-roster`` reads (UTF-8, header row)."""
    with open(employees_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((*EMPLOYEE_COLUMNS, *OPTIONAL_EMPLOYEE_COLUMNS))
        for e in roster.employees:
            writer.writerow(
                [
                    e.employee_id,
                    e.name,
                    e.email,
                    e.slack_user_id or "",
                    e.country,
                    e.status.value,
                    e.employee_class.value,
                    e.department or "",
                    e.location or "",
                    e.manager_email or "",
                ]
            )
    with open(grants_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(GRANT_COLUMNS)
        for g in roster.grants:
            writer.writerow(
                [
                    g.grant_number,
                    g.employee_id,
                    g.plan,
                    g.grant_date.isoformat(),
                    g.option_type.value,
                    format(g.exercise_price, "f"),
                    g.shares_granted,
                    g.shares_exercised,
                    g.expiration_date.isoformat() if g.expiration_date else "",
                    g.split_group or "",
                ]
            )
