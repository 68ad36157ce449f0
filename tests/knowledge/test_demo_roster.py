"""The demo roster: deterministic, fits the offer's price table, holds the people the README and
the demo talk about, and goes through the real CSV import unchanged."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.eligibility import PersonAssessment, Reason, assess
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from bot.domain.terms import PricePoint
from bot.services.roster import import_roster as roster_import
from knowledge.demo_roster import (
    DemoRoster,
    DemoRosterError,
    demo_spec_path,
    generate_demo_roster,
    write_csv,
)
from knowledge.offer_terms import load_offer_terms

TERMS = load_offer_terms()
SPEC = tomllib.loads(demo_spec_path(TERMS).read_text(encoding="utf-8"))
PLAN_1993, PLAN_2000 = TERMS.eligible_plans
IPO = date(2000, 6, 29)


@pytest.fixture(scope="module")
def roster() -> DemoRoster:
    return generate_demo_roster(TERMS)


@pytest.fixture(scope="module")
def assessments(roster: DemoRoster) -> dict[str, PersonAssessment]:
    by_owner: dict[str, list[Grant]] = defaultdict(list)
    for g in roster.grants:
        by_owner[g.employee_id].append(g)
    calendar = business_calendar(TERMS)
    cancellation = cancellation_date(TERMS)
    new_grant = new_grant_date(TERMS, calendar)
    return {
        e.employee_id: assess(
            e, by_owner[e.employee_id], TERMS, cancellation=cancellation, new_grant=new_grant
        )
        for e in roster.employees
    }


def _grants_of(roster: DemoRoster, employee_id: str) -> list[Grant]:
    return sorted(
        (g for g in roster.grants if g.employee_id == employee_id), key=lambda g: g.grant_number
    )


def _quarter(day: date, table: tuple[PricePoint, ...]) -> PricePoint | None:
    for point in table:
        q = point.quarter_end
        if q.year == day.year and (q.month - 1) // 3 == (day.month - 1) // 3:
            return point
    return None


# --- determinism and size -----------------------------------------------------------------------


def test_the_same_seed_gives_the_same_roster_and_another_seed_another(roster: DemoRoster) -> None:
    assert generate_demo_roster(TERMS, seed=2003) == roster
    other = generate_demo_roster(TERMS, seed=7)
    assert other != roster
    assert other.employees[:7] == roster.employees[:7], "the fixed people do not depend on seed"


def test_about_six_hundred_people_with_sequential_ids(roster: DemoRoster) -> None:
    assert len(roster.employees) == 600
    assert [e.employee_id for e in roster.employees] == [f"E{n}" for n in range(1001, 1601)]
    assert 600 <= len(roster.grants) <= 2400
    numbers = [g.grant_number for g in roster.grants]
    assert len(set(numbers)) == len(numbers)
    assert len({e.name for e in roster.employees}) == 600, "no two people share a name"


def test_size_is_a_parameter_but_the_fixed_people_always_come_first() -> None:
    small = generate_demo_roster(TERMS, employees=10)
    assert [e.employee_id for e in small.employees] == [f"E{n}" for n in range(1001, 1011)]
    with pytest.raises(DemoRosterError):
        generate_demo_roster(TERMS, employees=5)


def test_emails_and_slack_ids_follow_the_id(roster: DemoRoster) -> None:
    for e in roster.employees:
        digits = e.employee_id[1:]
        assert e.email == f"{e.employee_id.lower()}@example.com"
        assert e.slack_user_id == f"U{digits}"


# --- the fixed people ---------------------------------------------------------------------------


def test_e1001_holds_the_offers_q12_example_plus_one_grant_below_two_dollars(
    roster: DemoRoster,
) -> None:
    assert roster.employees[0] == Employee(
        employee_id="E1001",
        name="Rosalind Ashcombe",
        email="e1001@example.com",
        country="US",
        status=EmployeeStatus.ACTIVE,
        employee_class=EmployeeClass.EMPLOYEE,
        slack_user_id="U1001",
        department="Sales & Service",  # the optional roster groups (figures by group)
        location="Chatsworth, CA",
        manager_email="e1004@example.com",  # E1004, the chief executive
    )
    grants = _grants_of(roster, "E1001")
    assert [(g.exercise_price, g.shares_granted, g.shares_exercised) for g in grants] == [
        (Decimal("29.07"), 1_000, 700),
        (Decimal("3.33"), 1_000, 0),
        (Decimal("2.50"), 2_000, 0),
        (Decimal("1.89"), 1_500, 0),
    ]
    for g in grants:
        assert g.plan in TERMS.eligible_plans
        assert g.grant_date < TERMS.commencement
        assert g.expiration_date is not None and g.expiration_date > date(2003, 7, 25)


def test_the_other_fixed_people(roster: DemoRoster) -> None:
    people = {e.employee_id: e for e in roster.employees[:7]}
    assert people["E1003"].country == "GB"
    assert people["E1004"].employee_class is EmployeeClass.EXECUTIVE_OFFICER
    assert people["E1005"].employee_class is EmployeeClass.CONSULTANT
    assert people["E1006"].status is EmployeeStatus.TERMINATED
    assert people["E1007"].employee_class is EmployeeClass.DIRECTOR
    for eid in ("E1002", "E1004", "E1005", "E1006", "E1007"):
        assert people[eid].country == "US"
    assert all(e.name for e in people.values())

    iso, nso = _grants_of(roster, "E1002")
    assert (iso.option_type, nso.option_type) == (OptionType.ISO, OptionType.NSO)
    assert iso.split_group == nso.split_group is not None
    assert iso.grant_date == nso.grant_date and iso.exercise_price == nso.exercise_price
    assert [g.shares_granted for g in (iso, nso)] == [3_000, 1_500]
    for eid, count in [("E1003", 1), ("E1004", 2), ("E1005", 1), ("E1006", 1), ("E1007", 2)]:
        assert len(_grants_of(roster, eid)) == count, eid


def test_eligibility_of_the_fixed_people(assessments: dict[str, PersonAssessment]) -> None:
    e1001 = assessments["E1001"]
    assert e1001.eligible_person
    assert sorted(g.grant.unexercised_shares for g in e1001.eligible_grants) == [300, 1_000, 2_000]
    (low,) = [g for g in e1001.grants if not g.eligible]
    assert low.grant.exercise_price == Decimal("1.89")
    assert low.reasons == (Reason.PRICE_BELOW_MINIMUM,)

    assert assessments["E1002"].eligible_person
    assert len(assessments["E1002"].eligible_grants) == 2
    assert assessments["E1003"].reasons == (Reason.NOT_US_RESIDENT,)
    e1004 = assessments["E1004"]
    assert e1004.reasons == (Reason.EXECUTIVE_OFFICER,)
    assert all(g.reasons == (Reason.EXECUTIVE_OFFICER,) for g in e1004.grants), (
        "its grants are otherwise eligible: the class is the only reason"
    )
    assert assessments["E1005"].reasons == (Reason.CONSULTANT,)
    assert assessments["E1006"].reasons == (Reason.NOT_ACTIVE,)
    assert assessments["E1007"].reasons == (Reason.DIRECTOR,)


# --- every grant ----------------------------------------------------------------------------------


def test_every_price_is_inside_its_quarters_band_from_the_offer(roster: DemoRoster) -> None:
    inside_table = 0
    for g in roster.grants:
        point = _quarter(g.grant_date, TERMS.price_history)
        if point is None:
            continue
        inside_table += 1
        assert point.low <= g.exercise_price <= point.high, g
    assert inside_table > len(roster.grants) // 2


def test_prices_outside_the_table_follow_the_documented_assumptions(roster: DemoRoster) -> None:
    bands = SPEC["assumed_prices"]
    assert all(b["why"] for b in bands)
    for g in roster.grants:
        if _quarter(g.grant_date, TERMS.price_history) is not None:
            continue
        (band,) = [b for b in bands if b["start"] <= g.grant_date <= b["end"]]
        assert Decimal(band["low"]) <= g.exercise_price <= Decimal(band["high"]), g


def test_every_grant_is_a_valid_domain_grant(roster: DemoRoster) -> None:
    owners = {e.employee_id for e in roster.employees}
    for g in roster.grants:
        assert dataclasses.replace(g) == g  # runs Grant's own checks again
        assert g.employee_id in owners
        assert 0 <= g.shares_exercised < g.shares_granted
        assert g.exercise_price > 0 and g.exercise_price == g.exercise_price.quantize(
            Decimal("0.01")
        )
        assert date(1999, 1, 1) <= g.grant_date < TERMS.commencement
        assert g.expiration_date is not None and g.expiration_date > g.grant_date
        assert re.fullmatch(r"G\d{5}", g.grant_number)


def test_plans_follow_the_ipo_and_a_few_grants_are_outside_the_plans(roster: DemoRoster) -> None:
    plans = Counter(g.plan for g in roster.grants)
    for g in roster.grants:
        if g.grant_date < IPO:
            assert g.plan == PLAN_1993, g
        else:
            assert g.plan != PLAN_1993, g
    outside = [p for p in plans if p not in TERMS.eligible_plans]
    assert outside and sum(plans[p] for p in outside) < len(roster.grants) * 0.05


def test_split_pairs_share_date_price_and_owner(roster: DemoRoster) -> None:
    groups: dict[str, list[Grant]] = defaultdict(list)
    for g in roster.grants:
        if g.split_group:
            groups[g.split_group].append(g)
    assert len(groups) >= 5
    for members in groups.values():
        assert sorted(g.option_type for g in members) == [OptionType.ISO, OptionType.NSO]
        assert len({(g.employee_id, g.grant_date, g.exercise_price, g.plan) for g in members}) == 1


def test_the_mix_of_options_and_people(roster: DemoRoster) -> None:
    types = Counter(g.option_type for g in roster.grants)
    assert types[OptionType.ISO] > 50 and types[OptionType.NSO] > 50
    exercised = [g for g in roster.grants if g.shares_exercised]
    assert len(exercised) >= 10
    cheap = Decimal(SPEC["grants"]["exercise"]["max_price"])
    assert all(g.exercise_price <= cheap for g in exercised if g.grant_number != "G00001")
    people = roster.employees
    status = Counter(e.status for e in people)
    classes = Counter(e.employee_class for e in people)
    countries = Counter(e.country for e in people)
    assert status[EmployeeStatus.ACTIVE] > 500
    assert 0 < status[EmployeeStatus.LEAVE] < 60 and 0 < status[EmployeeStatus.TERMINATED] < 60
    assert classes[EmployeeClass.EMPLOYEE] > 500
    for kind in (EmployeeClass.CONSULTANT, EmployeeClass.DIRECTOR, EmployeeClass.EXECUTIVE_OFFICER):
        assert 0 < classes[kind] < 30
    assert countries["US"] > 500 and {"GB", "JP", "MX"} <= set(countries)
    for e in people:
        if e.country != "US" or e.employee_class in (
            EmployeeClass.CONSULTANT,
            EmployeeClass.DIRECTOR,
        ):
            assert all(
                g.option_type is OptionType.NSO
                for g in roster.grants
                if g.employee_id == e.employee_id
            ), "ISOs only for US employees"


def test_a_reasonable_share_of_people_hold_an_eligible_grant(
    assessments: dict[str, PersonAssessment],
) -> None:
    holders = sum(1 for a in assessments.values() if a.eligible_grants)
    assert 0.2 <= holders / len(assessments) <= 0.6
    reasons = {r for a in assessments.values() for g in a.grants for r in g.reasons}
    assert {
        Reason.PRICE_BELOW_MINIMUM,
        Reason.PLAN_NOT_ELIGIBLE,
        Reason.NOT_US_RESIDENT,
        Reason.NOT_ACTIVE,
        Reason.EXPIRES_BEFORE_CANCELLATION,
    } <= reasons


# --- through the real import ----------------------------------------------------------------------


def test_write_csv_then_parse_gives_back_the_same_objects(
    roster: DemoRoster, tmp_path: Path
) -> None:
    employees_csv, grants_csv = tmp_path / "employees.csv", tmp_path / "grants.csv"
    write_csv(roster, employees_csv, grants_csv)
    employees = roster_import.parse_employees(employees_csv)
    grants = roster_import.parse_grants(grants_csv)
    assert employees.errors == [] and grants.errors == []
    assert employees.items == roster.employees
    assert grants.items == roster.grants
    assert grants_csv.read_text(encoding="utf-8").splitlines()[1].startswith("G00001,E1001,")


def test_a_spec_without_a_price_for_a_date_is_refused(tmp_path: Path) -> None:
    text = demo_spec_path(TERMS).read_text(encoding="utf-8")
    broken = tmp_path / "demo_roster.toml"
    broken.write_text(
        text.replace("start = 1999-01-01\nend = 2000-06-28", "start = 1999-01-01\nend = 1999-01-02")
    )
    with pytest.raises(DemoRosterError, match="no price"):
        generate_demo_roster(TERMS, broken)
