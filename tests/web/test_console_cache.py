"""The HR console keeps everyone's eligibility per roster revision (issue 16): a roster import
or an adjustment made by another process (here: another engine on the same database, so no
in-process signal can reach the console) is seen on the next page view, on SQLite and
PostgreSQL, and what the pages show is what assessing everyone afresh gives."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from bot.domain.deadlines import cancellation_date
from bot.domain.roster import CapitalizationAdjustment, EmployeeStatus
from bot.services import elections
from bot.services.elections.reports import load_snapshot
from bot.services.hr import web_console
from bot.services.hr.web_console import ConsoleState, dashboard, list_employees
from bot.services.offer.live_offer import load_offer
from bot.services.roster.import_roster import import_roster
from knowledge.demo_roster import DemoRoster, generate_demo_roster, write_csv
from knowledge.offer_terms import load_offer_terms
from storage.db import create_engine, session_factory
from storage.uow import UnitOfWork
from tests.services.elections_setup import HR, NOW

TERMS = load_offer_terms()


async def _import(uow: UnitOfWork, roster: DemoRoster, folder: Path) -> None:
    folder.mkdir()
    write_csv(roster, folder / "e.csv", folder / "g.csv")
    await import_roster(
        offer_id="capstone-2003",
        uow=uow,
        employees_csv=folder / "e.csv",
        grants_csv=folder / "g.csv",
        now=NOW,
    )


async def _fresh_rows(uow: UnitOfWork) -> list[web_console.EmployeeRow]:
    """Every row as the console computed it before the cache: everyone assessed now."""
    snap = await load_snapshot(uow, TERMS)
    return [web_console._row(snap, eid) for eid in sorted(snap.assessments)]


async def test_an_import_by_another_process_is_seen_on_the_next_view(
    uow: UnitOfWork, db_url: str, tmp_path: Path
) -> None:
    await load_offer(uow=uow, terms=TERMS, digest="test", now=NOW)
    roster = generate_demo_roster(TERMS, seed=2003, employees=120)
    await _import(uow, roster, tmp_path / "first")
    rows, _, _ = await list_employees(uow=uow, terms=TERMS, identity=HR)
    eligible = [r for r in rows if r.state is ConsoleState.NO_INTENT]
    tenderer, leaver = eligible[0], eligible[1]
    assessed = (await load_snapshot(uow, TERMS)).assessments[tenderer.employee_id]
    mine = [g.grant.grant_number for g in assessed.eligible_grants]
    await elections.record_intent(
        uow=uow, terms=TERMS, employee_id=tenderer.employee_id, grant_numbers=mine,
        identity=HR, now=NOW,
    )  # fmt: skip
    rows, counts, _ = await list_employees(uow=uow, terms=TERMS, identity=HR)
    cached = web_console._ROSTERS[_key(db_url)]
    assert rows == await _fresh_rows(uow)
    assert counts[ConsoleState.INTENT_WITHOUT_FORM] == 1
    await list_employees(uow=uow, terms=TERMS, identity=HR)
    assert web_console._ROSTERS[_key(db_url)] is cached  # nothing changed: nobody re-assessed

    # Another process (its own engine and connections) imports a changed roster, same `now`.
    other_engine = create_engine(db_url)
    try:
        other = UnitOfWork(session_factory(other_engine))
        people = [
            dataclasses.replace(e, name="Renamed Person")
            if e.employee_id == tenderer.employee_id
            else dataclasses.replace(e, status=EmployeeStatus.TERMINATED)
            if e.employee_id == leaver.employee_id
            else e
            for e in roster.employees
        ]
        await _import(other, DemoRoster(people, roster.grants), tmp_path / "second")
        rows, counts, _ = await list_employees(uow=uow, terms=TERMS, identity=HR)
        by_id = {r.employee_id: r for r in rows}
        assert by_id[tenderer.employee_id].name == "Renamed Person"
        assert by_id[tenderer.employee_id].state is ConsoleState.INTENT_WITHOUT_FORM
        assert by_id[leaver.employee_id].state is ConsoleState.INELIGIBLE
        assert by_id[leaver.employee_id].eligible_shares == 0
        assert rows == await _fresh_rows(uow)
        assert web_console._ROSTERS[_key(db_url)] is not cached

        # A 2-for-1 split between cancellation and the new grant doubles new option shares.
        before = await dashboard(uow=uow, terms=TERMS, identity=HR, now=NOW)
        split = cancellation_date(TERMS) + timedelta(days=1)
        async with other:
            await other.adjustments.add(CapitalizationAdjustment(split, 2, 1))
            await other.commit()
    finally:
        await other_engine.dispose()
    after = await dashboard(uow=uow, terms=TERMS, identity=HR, now=NOW)
    fresh = await elections.hr_report(uow=uow, terms=TERMS, identity=HR, now=NOW)
    assert after["report"] == fresh
    new_shares = before["report"]["eligible"]["new_option_shares"]
    assert after["report"]["eligible"]["new_option_shares"] == 2 * new_shares > 0
    assert (await list_employees(uow=uow, terms=TERMS, identity=HR))[0] == await _fresh_rows(uow)


def _key(db_url: str) -> str:
    """The cache's entry for this database (its URL, as the revision names it)."""
    from sqlalchemy.engine import make_url

    return make_url(db_url).render_as_string(hide_password=True)
