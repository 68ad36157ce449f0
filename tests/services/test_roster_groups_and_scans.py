"""Roster groups (department, location, manager e-mail) through the real import, the report's
funnel by group, and scanned signed forms stored with their receipt — on SQLite and
PostgreSQL (the ``uow`` fixture runs each test on both)."""

from __future__ import annotations

import csv
import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.elections import Delivery, FormKind
from bot.domain.errors import DomainError
from bot.domain.records import AuditEntry
from bot.domain.roster import EMPLOYEE_COLUMNS, GRANT_COLUMNS, OPTIONAL_EMPLOYEE_COLUMNS
from bot.domain.terms import OfferTerms
from bot.services import elections
from bot.services.elections.participation import NOT_GIVEN
from bot.services.errors import NotFoundError
from bot.services.hr.form_scans import ScanRefusedError, download_scan, scanned_form, scans_of
from bot.services.identity import Identity
from bot.services.roster.import_roster import RosterImportError, import_roster
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.services.elections_setup import HR, NOW

GROUPS = ("department", "location", "manager_email")
PEOPLE = [
    # id, name, class, department, location, manager
    ("E1", "Rosalind Ashcombe", "employee", "Engineering", "Chatsworth, CA", "e3@example.com"),
    ("E2", "Dorian Fallowby", "employee", "Engineering", "Van Nuys, CA", "e3@example.com"),
    ("E3", "Gideon Thistlewood", "employee", "Sales & Service", "Chatsworth, CA", ""),
    ("E4", "Imara Kettleworth", "employee", "", "", ""),
]
GRANT_ROWS = [
    ("G1", "E1", "3.33", "1000"),
    ("G2", "E2", "12.34", "3000"),
    ("G3", "E3", "2.50", "2000"),
    ("G4", "E4", "4.00", "500"),
]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
VIEWER = Identity(channel="web-hr", actor="web:viewer@example.com")


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


def _write(
    folder: Path, *, with_groups: bool, people=PEOPLE, grants=GRANT_ROWS
) -> tuple[Path, Path]:
    employees_csv, grants_csv = folder / "employees.csv", folder / "grants.csv"
    header = [*EMPLOYEE_COLUMNS, *(OPTIONAL_EMPLOYEE_COLUMNS if with_groups else ())]
    with open(employees_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for eid, name, cls, dept, loc, manager in people:
            row = [eid, name, f"{eid.lower()}@example.com", "", "US", "active", cls]
            w.writerow(row + ([dept, loc, manager] if with_groups else []))
    with open(grants_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(GRANT_COLUMNS)
        for number, eid, price, shares in grants:
            w.writerow(
                [number, eid, "2000 Equity Incentive Plan", "2001-11-01", "NSO", price, shares,
                 "0", "2011-11-01", ""]
            )  # fmt: skip
    return employees_csv, grants_csv


async def _import(uow: UnitOfWork, files: tuple[Path, Path]) -> None:
    await import_roster(
        offer_id="capstone-2003", uow=uow, employees_csv=files[0], grants_csv=files[1], now=NOW
    )


async def test_import_with_and_without_the_group_columns(uow: UnitOfWork, tmp_path: Path) -> None:
    await _import(uow, _write(tmp_path, with_groups=True))
    async with uow:
        e1, e4 = await uow.employees.get("E1"), await uow.employees.get("E4")
    assert e1 is not None and e4 is not None
    assert (e1.department, e1.location, e1.manager_email) == (
        "Engineering",
        "Chatsworth, CA",
        "e3@example.com",
    )
    assert (e4.department, e4.location, e4.manager_email) == (None, None, None)

    # A file written before the columns existed still imports, and keeps what is stored.
    renamed = [("E1", "Rosalind Ashcombe-Hale", *PEOPLE[0][2:]), *PEOPLE[1:]]
    await _import(uow, _write(tmp_path, with_groups=False, people=renamed))
    async with uow:
        e1 = await uow.employees.get("E1")
    assert e1 is not None and e1.name == "Rosalind Ashcombe-Hale"
    assert (e1.department, e1.location) == ("Engineering", "Chatsworth, CA")

    # With the columns, an empty cell clears the value.
    moved = [("E1", "Rosalind Ashcombe-Hale", "employee", "", "Remote (US)", ""), *PEOPLE[1:]]
    await _import(uow, _write(tmp_path, with_groups=True, people=moved))
    async with uow:
        e1 = await uow.employees.get("E1")
    assert e1 is not None and (e1.department, e1.location, e1.manager_email) == (
        None,
        "Remote (US)",
        None,
    )


async def test_a_malformed_manager_email_names_its_row_and_column(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    bad = [*PEOPLE[:2], ("E3", "Gideon Thistlewood", "employee", "Sales", "LA", "not-an-address")]
    with pytest.raises(RosterImportError) as refused:
        await _import(uow, _write(tmp_path, with_groups=True, people=bad, grants=GRANT_ROWS[:3]))
    error, grant_error = refused.value.errors
    assert str(error) == (
        "employees.csv, row 4, column manager_email: 'not-an-address' is not an e-mail address"
    )
    assert (grant_error.file, grant_error.row, grant_error.column) == (
        "grants.csv",
        4,
        "employee_id",
    )
    async with uow:
        assert await uow.employees.count() == 0  # nothing was imported


async def test_report_by_group_adds_up_to_the_funnel(
    uow: UnitOfWork, tmp_path: Path, terms: OfferTerms
) -> None:
    await _import(uow, _write(tmp_path, with_groups=False))
    plain = await elections.hr_report(uow=uow, terms=terms, identity=HR, now=NOW)
    assert "by_group" not in plain  # a roster without groups reports what it always did

    await _import(uow, _write(tmp_path, with_groups=True))
    await elections.record_intent(
        uow=uow, terms=terms, employee_id="E1", grant_numbers=["G1"], identity=HR, now=NOW
    )
    await elections.record_intent(
        uow=uow, terms=terms, employee_id="E3", grant_numbers=["G3"], identity=HR, now=NOW
    )
    at = NOW + timedelta(hours=1)
    await elections.record_receipt(
        uow=uow, terms=terms, employee_id="E1", form=FormKind.ELECTION, version=1,
        received_at=at, via=Delivery.FAX, identity=HR, now=at,
    )  # fmt: skip
    async with uow:  # E2 looked at their own grants on Slack; HR looking at E3's does not count
        for subject, channel in (("E2", "slack"), ("E3", "web-hr")):
            await uow.audit.record(
                AuditEntry(at=NOW, actor="x", action="grants.view", channel=channel,
                           subject=subject, detail={})
            )  # fmt: skip
        await uow.commit()
    report = await elections.hr_report(uow=uow, terms=terms, identity=HR, now=at)
    by_department = {g["group"]: g for g in report["by_group"]["department"]}
    assert list(by_department) == ["Engineering", "Sales & Service", NOT_GIVEN]
    eng = by_department["Engineering"]
    assert eng["eligible"] == {"people": 2, "shares": 4000}
    assert eng["saw_grants"] == {"people": 1, "shares": 3000}
    assert eng["intent_recorded"] == {"people": 1, "shares": 1000}
    assert eng["form_received"] == {"people": 1, "shares": 1000}
    assert eng["receipt_confirmed"] == {"people": 0, "shares": 0}  # not sent yet
    assert by_department["Sales & Service"]["intent_recorded"] == {"people": 1, "shares": 2000}
    assert by_department[NOT_GIVEN]["eligible"] == {"people": 1, "shares": 500}
    for dimension in ("department", "location"):
        rows = report["by_group"][dimension]
        assert sum(g["eligible"]["people"] for g in rows) == report["eligible"]["employees"]
        assert sum(g["eligible"]["shares"] for g in rows) == report["shares"]["eligible"]
        assert sum(g["intent_recorded"]["people"] for g in rows) == 2
    locations = [g["group"] for g in report["by_group"]["location"]]
    assert locations == ["Chatsworth, CA", "Van Nuys, CA", NOT_GIVEN]


def test_only_a_pdf_within_the_limit_is_taken() -> None:
    scan = scanned_form(filename="C:\\scans\\form.pdf", content=PDF, max_bytes=1024)
    assert scan.filename == "form.pdf" and scan.sha256 == hashlib.sha256(PDF).hexdigest()
    with pytest.raises(
        ScanRefusedError, match=re.escape("must be a PDF file; 'notes.txt' is not one")
    ):
        scanned_form(filename="notes.txt", content=b"hello", max_bytes=1024)
    with pytest.raises(ScanRefusedError, match="must be a PDF"):
        scanned_form(filename="fake.pdf", content=b"<html>%PDF-", max_bytes=1024)
    with pytest.raises(ScanRefusedError, match=re.escape("'big.pdf' is larger than 2 KB")):
        scanned_form(filename="big.pdf", content=PDF, max_bytes=2048, truncated=True)
    with pytest.raises(ScanRefusedError, match="is empty"):
        scanned_form(filename="empty.pdf", content=b"", max_bytes=1024)


async def test_a_scan_is_stored_with_its_receipt_and_each_download_audited(
    uow: UnitOfWork, tmp_path: Path, terms: OfferTerms
) -> None:
    await _import(uow, _write(tmp_path, with_groups=True))
    await elections.record_intent(
        uow=uow, terms=terms, employee_id="E1", grant_numbers=["G1"], identity=HR, now=NOW
    )
    content = PDF + bytes(range(256)) * 40  # binary bytes come back unchanged
    scan = scanned_form(filename="e1-v1.pdf", content=content, max_bytes=1 << 20)
    at = NOW + timedelta(hours=1)
    late = terms.expiration + timedelta(minutes=1)
    with pytest.raises(DomainError):  # a refused receipt keeps no scan either
        await elections.record_receipt(
            uow=uow, terms=terms, employee_id="E1", form=FormKind.ELECTION, version=1,
            received_at=late, via=Delivery.FAX, identity=HR, now=late, scan=scan,
        )  # fmt: skip
    assert await scans_of(uow=uow, identity=HR, employee_id="E1") == []
    result = await elections.record_receipt(
        uow=uow, terms=terms, employee_id="E1", form=FormKind.ELECTION, version=1,
        received_at=at, via=Delivery.FAX, identity=HR, now=at, scan=scan,
    )  # fmt: skip
    (listed,) = await scans_of(uow=uow, identity=HR, employee_id="E1")
    assert listed.id == result.scan_id and listed.content == b""  # a listing carries no bytes
    assert (listed.version, listed.size, listed.sha256) == (1, len(content), scan.sha256)
    got = await download_scan(uow=uow, identity=VIEWER, employee_id="E1", scan_id=listed.id, now=at)
    assert got.content == content
    with pytest.raises(NotFoundError):  # a scan is only reached through its own employee
        await download_scan(uow=uow, identity=HR, employee_id="E2", scan_id=listed.id, now=at)
    async with uow:
        trail = await uow.audit.recent(limit=20, subject="E1")
    receipt = next(a for a in trail if a.action == "election.receipt")
    assert receipt.detail["scan"] == {
        "id": listed.id,
        "sha256": scan.sha256,
        "size": len(content),
    }
    (download,) = [a for a in trail if a.action == "hr_console.scan.download"]
    assert download.actor == "web:viewer@example.com"
    assert download.detail["sha256"] == scan.sha256


async def test_the_console_sees_a_department_change_at_once(
    uow: UnitOfWork, tmp_path: Path, terms: OfferTerms
) -> None:
    """The console keeps the roster per revision; moving someone to another department is a
    change of the roster like any other, so the next view shows it."""
    from bot.services.hr.web_console import EmployeeFilters, dashboard, list_employees

    await _import(uow, _write(tmp_path, with_groups=True))
    before = await dashboard(uow=uow, terms=terms, identity=HR, now=NOW)
    assert [g["group"] for g in before["by_group"]["department"]] == [
        "Engineering",
        "Sales & Service",
        NOT_GIVEN,
    ]
    moved = [*PEOPLE[:3], ("E4", "Imara Kettleworth", "employee", "Operations", "Munich", "")]
    await _import(uow, _write(tmp_path, with_groups=True, people=moved))
    after = await dashboard(uow=uow, terms=terms, identity=HR, now=NOW)
    assert [g["group"] for g in after["by_group"]["department"]] == [
        "Engineering",
        "Operations",
        "Sales & Service",
    ]
    assert after["report"] == await elections.hr_report(uow=uow, terms=terms, identity=HR, now=NOW)
    rows, _, groups = await list_employees(
        uow=uow, terms=terms, identity=HR, filters=EmployeeFilters(location="Munich")
    )
    assert [r.employee_id for r in rows] == ["E4"] and "Munich" in groups["location"]
