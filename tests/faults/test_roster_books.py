"""Issue 13, item 5: the books agree after a roster correction.

A re-import that moves a tendered grant to someone else, or lowers its shares below what was
tendered, is refused with the grant, the employee, the row and the column; ``--allow-reassign``
voids the old tender (an ``election.void`` audit row); and `hr report`, `hr export` and
`hr close` are checked against each other. Real databases (SQLite and PostgreSQL) for the
services, `offerbot` commands (in-process, typer's CliRunner) on a SQLite file for the issue's
own repro.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.elections import Delivery, FormKind
from bot.domain.roster import EMPLOYEE_COLUMNS, GRANT_COLUMNS, Employee, EmployeeStatus, Grant
from bot.domain.terms import OfferTerms
from bot.services import elections
from bot.services.roster.import_roster import RosterImportError, import_roster
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.cli.runner import Ran
from tests.cli.runner import offerbot as run_offerbot
from tests.services.close_setup import close as close_offer
from tests.services.elections_setup import EMPLOYEES, GRANTS, HR, NOW

NEXT_DAY = "2003-07-11T09:00:00-07:00"
AFTER_CLOSE = "2003-07-25T09:00:00-07:00"


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


def _cells(record: Employee | Grant, columns: tuple[str, ...]) -> list[str]:
    values = []
    for column in columns:
        value = getattr(record, column)
        values.append("" if value is None else getattr(value, "value", str(value)))
    return values


def write_roster(folder: Path, employees: list[Employee], grants: list[Grant]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "employees.csv", folder / "grants.csv"
    for path, columns, records in (
        (paths[0], EMPLOYEE_COLUMNS, employees),
        (paths[1], GRANT_COLUMNS, grants),
    ):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(_cells(r, columns) for r in records)
    return paths


def with_grant(number: str, **changes: Any) -> list[Grant]:
    return [replace(g, **changes) if g.grant_number == number else g for g in GRANTS]


async def reimport(uow: UnitOfWork, folder: Path, grants: list[Grant], **options: Any) -> Any:
    employees_csv, grants_csv = write_roster(folder, EMPLOYEES, grants)
    return await import_roster(
        offer_id="capstone-2003",
        uow=uow,
        employees_csv=employees_csv,
        grants_csv=grants_csv,
        now=NOW,
        **options,
    )


async def elect(uow: UnitOfWork, terms: OfferTerms, employee_id: str, grants: list[str]) -> int:
    result = await elections.record_intent(
        uow=uow, terms=terms, employee_id=employee_id, grant_numbers=grants, identity=HR, now=NOW
    )
    return result.intent.version


async def receive(uow: UnitOfWork, terms: OfferTerms, employee_id: str, version: int) -> None:
    at = NOW + timedelta(hours=1)
    await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id=employee_id,
        form=FormKind.ELECTION,
        version=version,
        received_at=at,
        via=Delivery.FAX,
        identity=HR,
        now=at,
    )


async def books(uow: UnitOfWork, terms: OfferTerms, *, close: bool) -> dict[str, Any]:
    """The report, the export rows and (at expiration) the close, as HR would run them."""
    at = terms.expiration if close else NOW
    closed = None
    if close:
        result = await close_offer(uow, terms, identity=HR, now=at)
        closed = elections.close_json(result, terms, {})
    report = await elections.hr_report(uow=uow, terms=terms, identity=HR, now=at)
    text, _ = await elections.export_csv(uow=uow, terms=terms, identity=HR)
    return {"report": report, "export": list(csv.DictReader(io.StringIO(text))), "close": closed}


def assert_books_agree(report: dict, export: list[dict], closed: dict | None) -> None:
    """The same tendered grants, holders and shares in all three; nothing counted twice."""
    assert all(report["checks"].values()), report["checks"]
    exported = {(r["employee_id"], r["grant_number"]): int(r["unexercised_shares"]) for r in export}
    assert len(exported) == len(export)
    assert len({grant for _, grant in exported}) == len(exported)  # one holder per grant
    assert sum(exported.values()) == report["shares"]["tendered"]
    if closed is None:
        by_person = report["eligible_employees_by_signed_form"]
        assert by_person["tendered"] == len({eid for eid, _ in exported})
        assert all(r["accepted"] == "no" for r in export)
        return
    accepted = {
        (a["employee_id"], o["cancelled_grant"]): o["cancelled_shares"]
        for a in closed["accepted"]
        for o in a["new_options"]
    }
    assert accepted == exported
    assert all(r["accepted"] == "yes" for r in export)
    assert report["accepted_grants"] == len(accepted)
    not_counted = {n["employee_id"] for n in report["tenders_not_counted"]}
    assert not_counted == {r["employee_id"] for r in closed["rejected"]}


# --- services, on SQLite and PostgreSQL -----------------------------------------------------


async def test_moving_a_tendered_grant_is_refused_and_allow_reassign_voids_the_old_tender(
    uow: UnitOfWork, terms: OfferTerms, tmp_path: Path
) -> None:
    await reimport(uow, tmp_path / "first", GRANTS)
    await receive(uow, terms, "E1", await elect(uow, terms, "E1", ["G2"]))

    moved = with_grant("G2", employee_id="E2")
    with pytest.raises(RosterImportError) as refused:
        await reimport(uow, tmp_path / "moved", moved)
    (error,) = refused.value.errors
    assert (error.file, error.row, error.column) == ("grants.csv", 3, "employee_id")
    assert "grant G2 is tendered by employee E1" in error.message
    assert "signed form received" in error.message and "--allow-reassign" in error.message
    async with uow:
        assert (await uow.grants.get("G2")).employee_id == "E1"  # nothing written

    result = await reimport(uow, tmp_path / "moved", moved, allow_reassign=True)
    assert result.voided == {"E1": ["G2"]}
    async with uow:
        (void,) = await uow.audit.with_action("election.void")
        assert void.subject == "E1" and void.detail["grants"] == ["G2"]
        assert (await uow.grants.get("G2")).employee_id == "E2"

    # The new holder tenders the grant too: it must be counted once, for them.
    await receive(uow, terms, "E2", await elect(uow, terms, "E2", ["G2"]))
    before = await books(uow, terms, close=False)
    assert before["report"]["shares"]["tendered"] == 1000  # not 2,000 of a 1,000-share grant
    assert before["report"]["eligible_employees_by_signed_form"]["void"] == 1
    assert_books_agree(before["report"], before["export"], None)

    after = await books(uow, terms, close=True)
    assert [a["employee_id"] for a in after["close"]["accepted"]] == ["E2"]
    (rejected,) = after["close"]["rejected"]
    assert rejected["employee_id"] == "E1" and "void" in rejected["reason"]
    assert_books_agree(after["report"], after["export"], after["close"])

    # E2 leaves after the cancellation date: the exchange is done, the books do not change.
    left = [
        replace(e, status=EmployeeStatus.TERMINATED) if e.employee_id == "E2" else e
        for e in EMPLOYEES
    ]
    employees_csv, grants_csv = write_roster(tmp_path / "left", left, moved)
    await import_roster(
        offer_id="capstone-2003",
        uow=uow,
        employees_csv=employees_csv,
        grants_csv=grants_csv,
        now=NOW,
    )
    again = await books(uow, terms, close=True)
    assert again["export"] == after["export"]
    assert again["close"]["accepted"][0]["newly_accepted_grants"] == 0
    assert_books_agree(again["report"], again["export"], again["close"])


async def test_lowering_shares_below_the_tender_is_refused(
    uow: UnitOfWork, terms: OfferTerms, tmp_path: Path
) -> None:
    await reimport(uow, tmp_path / "first", GRANTS)
    await elect(uow, terms, "E1", ["G2", "G3"])  # intent only: no form yet
    with pytest.raises(RosterImportError) as refused:
        await reimport(uow, tmp_path / "lower", with_grant("G3", shares_exercised=1500))
    (error,) = refused.value.errors
    assert (error.row, error.column) == (4, "shares_exercised")
    assert "grant G3 would have 500 unexercised shares" in error.message
    assert "2,000 employee E1 tendered (intent version 1)" in error.message
    # Raising them is no harm to the tender: accepted as before.
    await reimport(uow, tmp_path / "raise", with_grant("G3", shares_granted=2500))

    skipped = await reimport(
        uow, tmp_path / "skip", with_grant("G3", shares_granted=1000), skip_invalid=True
    )
    assert [(e.row, e.column) for e in skipped.skipped] == [(4, "shares_granted")]


async def test_an_accepted_grant_never_moves(
    uow: UnitOfWork, terms: OfferTerms, tmp_path: Path
) -> None:
    await reimport(uow, tmp_path / "first", GRANTS)
    await receive(uow, terms, "E1", await elect(uow, terms, "E1", ["G2"]))
    await close_offer(uow, terms, identity=HR, now=terms.expiration)
    with pytest.raises(RosterImportError) as refused:
        await reimport(
            uow, tmp_path / "moved", with_grant("G2", employee_id="E2"), allow_reassign=True
        )
    (error,) = refused.value.errors
    assert error.column == "employee_id"
    assert "grant G2 was accepted for exchange from employee E1" in error.message


async def test_books_agree_on_a_roster_changed_before_the_check_existed(
    uow: UnitOfWork, terms: OfferTerms, tmp_path: Path
) -> None:
    """A database where G2 already moved under E1's received form (as the issue's repro left
    it): the report does not count it, the export does not list it, close rejects it."""
    await reimport(uow, tmp_path / "first", GRANTS)
    await receive(uow, terms, "E1", await elect(uow, terms, "E1", ["G2", "G3"]))
    await receive(uow, terms, "E2", await elect(uow, terms, "E2", ["G5", "G6"]))
    async with uow:
        g2 = await uow.grants.get("G2")
        await uow.grants.upsert_many([replace(g2, employee_id="E2")])
        await uow.commit()
    before = await books(uow, terms, close=False)
    assert before["report"]["eligible_employees_by_signed_form"]["not_acceptable"] == 1
    assert_books_agree(before["report"], before["export"], None)
    after = await books(uow, terms, close=True)
    assert "grant G2 is no longer theirs in the roster" in after["close"]["rejected"][0]["reason"]
    assert_books_agree(after["report"], after["export"], after["close"])


# --- the issue's repro, with `offerbot` commands (tests/cli/runner.py) ---------------------


def offerbot(cwd: Path, *args: str, now: str | None = None) -> Ran:
    """`offerbot ARGS --json` as HR types it, run in this process (tests/cli/runner.py)."""
    env = {"OFFERBOT_NOW": now} if now else None
    return run_offerbot(cwd, *args, "--json", env=env, check=False)


def ok(cwd: Path, *args: str, now: str | None = None) -> Any:
    proc = offerbot(cwd, *args, now=now)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def moved_roster(cwd: Path, folder: str, **cells: str) -> tuple[str, str]:
    """The demo's grants.csv with G00002's cells changed."""
    demo = cwd / ".offerbot" / "demo"
    rows = list(csv.DictReader((demo / "grants.csv").open(encoding="utf-8")))
    for row in rows:
        if row["grant_number"] == "G00002":
            row.update(cells)
    target = cwd / folder
    target.mkdir()
    with open(target / "grants.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(demo / "employees.csv"), str(target / "grants.csv")


def test_the_issue_repro_report_export_and_close_agree(tmp_path: Path) -> None:
    cwd = tmp_path
    ok(cwd, "init", "--demo")
    received = ["--form", "election", "--version", "1", "--via", "fax"]
    ok(cwd, "elect", "E1001", "--grant", "G00002")
    at = ["--received-at", "2003-07-11T08:30:00-07:00"]
    ok(cwd, "hr", "receive", "E1001", *received, *at, now=NEXT_DAY)

    to_e1002 = moved_roster(cwd, "moved", employee_id="E1002")
    proc = offerbot(cwd, "import-roster", *to_e1002)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (detail,) = json.loads(proc.stdout)["details"]
    assert detail.startswith("grants.csv, row 3, column employee_id: grant G00002 is tendered")
    assert "employee E1001" in detail and "employee E1002" in detail

    imported = ok(cwd, "import-roster", *to_e1002, "--allow-reassign")
    assert imported["voided_tenders"] == {"E1001": ["G00002"]}  # audit row: service tests

    ok(cwd, "elect", "E1002", "--grant", "G00002")
    ok(cwd, "hr", "receive", "E1002", *received, *at, now=NEXT_DAY)

    report = ok(cwd, "hr", "report", now=NEXT_DAY)
    assert report["shares"]["tendered"] == 1000
    ok(cwd, "hr", "export", "--out", str(cwd / "before.csv"))
    before = list(csv.DictReader((cwd / "before.csv").open(encoding="utf-8")))
    assert [(r["employee_id"], r["grant_number"]) for r in before] == [("E1002", "G00002")]
    assert_books_agree(report, before, None)

    closed = ok(cwd, "hr", "close", "--out-dir", str(cwd / "promises"), now=AFTER_CLOSE)
    report = ok(cwd, "hr", "report", now=AFTER_CLOSE)
    ok(cwd, "hr", "export", "--out", str(cwd / "after.csv"))
    after = list(csv.DictReader((cwd / "after.csv").open(encoding="utf-8")))
    assert [r["employee_id"] for r in closed["rejected"]] == ["E1001"]
    assert_books_agree(report, after, closed)
