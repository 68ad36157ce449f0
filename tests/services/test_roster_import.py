"""Roster import: pure parsing of both CSV files, and the all-or-nothing import into a real
database (SQLite, and PostgreSQL where the server is installed)."""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.records import UpsertCounts
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from bot.services.roster.import_roster import (
    EMPLOYEE_COLUMNS,
    GRANT_COLUMNS,
    ImportResult,
    RosterError,
    RosterImportError,
    import_roster,
    parse_employees,
    parse_grants,
)
from knowledge.demo_roster import generate_demo_roster, write_csv
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork

NOW = datetime(2003, 7, 1, 16, 0, tzinfo=UTC)
PLAN = "2000 Equity Incentive Plan"

EMPLOYEES = [
    ["E1", "Ada Quillmore", "e1@example.com", "U1", "US", "active", "employee"],
    ["E2", "Bram Tindleby", "e2@example.com", "", "gb", "Leave", "employee"],
    ["E3", "Cara Velloway", "E3@Example.com", "U3", "US", "active", "executive_officer"],
]
GRANTS = [
    ["G1", "E1", PLAN, "2001-05-01", "ISO", "29.07", "1000", "700", "2011-05-01", ""],
    ["G2", "E1", PLAN, "2001-11-01", "nqso", "$3.33", "1,000", "0", "", ""],
    ["G3", "E2", PLAN, "2002-04-15", "incentive", "2.50", "2000", "0", "2012-04-15", "S1"],
    ["G4", "E2", PLAN, "2002-04-15", "non-statutory", "2.50", "500", "0", "2012-04-15", "S1"],
]


async def _import(
    uow: UnitOfWork,
    employees_csv: Path,
    grants_csv: Path,
    *,
    skip_invalid: bool = False,
    actor: str = "cli",
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """:func:`import_roster` as every test here runs it: the bundled offer, at ``NOW``."""
    return await import_roster(
        offer_id="capstone-2003",
        uow=uow,
        employees_csv=employees_csv,
        grants_csv=grants_csv,
        now=NOW,
        skip_invalid=skip_invalid,
        actor=actor,
        progress=progress,
    )


def _csv_text(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _write(
    folder: Path,
    employees: list[list[str]] | None = None,
    grants: list[list[str]] | None = None,
    *,
    employee_header: Iterable[str] = EMPLOYEE_COLUMNS,
    grant_header: Iterable[str] = GRANT_COLUMNS,
    encoding: str = "utf-8",
) -> tuple[Path, Path]:
    employees_csv, grants_csv = folder / "employees.csv", folder / "grants.csv"
    employees_csv.write_text(
        _csv_text(employee_header, EMPLOYEES if employees is None else employees),
        encoding=encoding,
    )
    grants_csv.write_text(
        _csv_text(grant_header, GRANTS if grants is None else grants), encoding=encoding
    )
    return employees_csv, grants_csv


def _lines(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    # As a file opened with newline="" yields them (str.splitlines would also split on \x1e…).
    return list(io.StringIO(_csv_text(header, rows), newline=""))


# --- parsing (pure) -----------------------------------------------------------------------------


def test_parse_employees_normalises_case_and_keeps_empty_slack_ids_empty() -> None:
    parsed = parse_employees(_lines(EMPLOYEE_COLUMNS, EMPLOYEES), file_name="employees.csv")
    assert parsed.errors == []
    assert parsed.rows == [2, 3, 4]
    assert parsed.items[1] == Employee(
        employee_id="E2",
        name="Bram Tindleby",
        email="e2@example.com",
        country="GB",
        status=EmployeeStatus.LEAVE,
        employee_class=EmployeeClass.EMPLOYEE,
        slack_user_id=None,
    )


def test_parse_grants_accepts_dollar_signs_thousands_commas_and_option_type_synonyms() -> None:
    parsed = parse_grants(_lines(GRANT_COLUMNS, GRANTS), file_name="grants.csv")
    assert parsed.errors == []
    g1, g2, g3, g4 = parsed.items
    assert g1 == Grant(
        grant_number="G1",
        employee_id="E1",
        plan=PLAN,
        grant_date=date(2001, 5, 1),
        option_type=OptionType.ISO,
        exercise_price=Decimal("29.07"),
        shares_granted=1000,
        shares_exercised=700,
        expiration_date=date(2011, 5, 1),
    )
    assert (g2.option_type, g2.exercise_price, g2.shares_granted) == (
        OptionType.NSO,
        Decimal("3.33"),
        1000,
    )
    assert g2.expiration_date is None and g2.split_group is None
    assert [g3.option_type, g4.option_type] == [OptionType.ISO, OptionType.NSO]
    assert g3.split_group == g4.split_group == "S1"


def test_error_names_file_row_and_column_like_a_spreadsheet() -> None:
    rows = [*GRANTS, ["G5", "E1", PLAN, "2001-05-01", "NSO", "2,5O", "10", "0", "", ""]]
    parsed = parse_grants(_lines(GRANT_COLUMNS, rows), file_name="grants.csv")
    assert [str(e) for e in parsed.errors] == [
        "grants.csv, row 6, column exercise_price: '2,5O' is not a number"
    ]
    assert [g.grant_number for g in parsed.items] == ["G1", "G2", "G3", "G4"]
    assert parsed.rejected_ids == {"G5": 6}


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("exercise_price", "0", "must be greater than 0"),
        ("exercise_price", "-2.00", "must be greater than 0"),
        ("exercise_price", "2,50", "is not a number"),
        ("exercise_price", "2.123456", "decimal places"),
        ("shares_granted", "1.5", "is not a whole number"),
        ("shares_granted", "١٢", "is not a whole number"),  # digits, but not 0-9
        ("shares_granted", "-10", "must be 0 or more"),
        ("shares_granted", "99999999999", "plausible"),
        ("shares_exercised", "1,001", "more than 1,000 granted"),
        ("grant_date", "05/01/2001", "is not a date (YYYY-MM-DD)"),
        ("grant_date", "2001-02-30", "is not a date"),
        ("option_type", "warrant", "is not an option type"),
        ("expiration_date", "2000-01-01", "is not after the grant date"),
        ("grant_number", "", "a value is required"),
        ("plan", "", "a value is required"),
    ],
)
def test_each_bad_grant_cell_is_named(column: str, value: str, message: str) -> None:
    row = ["G1", "E1", PLAN, "2001-05-01", "NSO", "5.00", "1000", "0", "2011-05-01", ""]
    row[GRANT_COLUMNS.index(column)] = value
    parsed = parse_grants(_lines(GRANT_COLUMNS, [row]), file_name="grants.csv")
    assert parsed.items == []
    (error,) = parsed.errors
    assert (error.file, error.row, error.column) == ("grants.csv", 2, column)
    assert message in error.message


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("email", "not-an-address", "is not an e-mail address"),
        ("country", "USA", "two-letter country code"),
        ("status", "retired", "is not one of: active, leave, terminated"),
        ("employee_class", "intern", "is not one of"),
        ("employee_id", "E 1", "contains a space"),
        ("name", "", "a value is required"),
        ("slack_user_id", "@ada", "is not a Slack user id"),
    ],
)
def test_each_bad_employee_cell_is_named(column: str, value: str, message: str) -> None:
    row = list(EMPLOYEES[0])
    row[EMPLOYEE_COLUMNS.index(column)] = value
    parsed = parse_employees(_lines(EMPLOYEE_COLUMNS, [row]), file_name="people.csv")
    (error,) = parsed.errors
    assert (error.file, error.row, error.column) == ("people.csv", 2, column)
    assert message in error.message
    assert parsed.items == [] and parsed.rejected_ids == {row[0]: 2}


def test_duplicate_ids_emails_and_slack_ids_within_a_file_are_errors_on_every_row() -> None:
    rows = [
        *EMPLOYEES,
        ["E1", "Other Person", "other@example.com", "U9", "US", "active", "employee"],
        ["E4", "Dee Zellwood", "E1@EXAMPLE.COM", "U3", "US", "active", "employee"],
    ]
    parsed = parse_employees(_lines(EMPLOYEE_COLUMNS, rows), file_name="employees.csv")
    found = {(e.row, e.column) for e in parsed.errors}
    assert found == {
        (2, "employee_id"),
        (5, "employee_id"),
        (2, "email"),
        (6, "email"),
        (4, "slack_user_id"),
        (6, "slack_user_id"),
    }
    assert [e.employee_id for e in parsed.items] == ["E2"]
    grants = parse_grants(_lines(GRANT_COLUMNS, [GRANTS[0], GRANTS[0]]), file_name="grants.csv")
    assert {(e.row, e.column) for e in grants.errors} == {(2, "grant_number"), (3, "grant_number")}
    assert "more than one row (2, 3)" in grants.errors[0].message


def test_split_halves_must_belong_to_one_employee() -> None:
    rows = [GRANTS[2], [*GRANTS[3][:1], "E1", *GRANTS[3][2:]]]
    parsed = parse_grants(_lines(GRANT_COLUMNS, rows), file_name="grants.csv")
    assert {(e.row, e.column) for e in parsed.errors} == {(2, "split_group"), (3, "split_group")}


def test_header_missing_and_unknown_columns_are_reported_and_columns_may_come_in_any_order() -> (
    None
):
    header = [c for c in EMPLOYEE_COLUMNS if c != "email"] + ["cost_center"]
    parsed = parse_employees(_lines(header, []), file_name="employees.csv")
    assert [str(e) for e in parsed.errors] == [
        "employees.csv, row 1, column email: required column is missing",
        "employees.csv, row 1, column cost_center: unknown column (expected only: "
        + ", ".join(EMPLOYEE_COLUMNS)
        + "; optional: department, location, manager_email)",
    ]
    shuffled = list(reversed(EMPLOYEE_COLUMNS))
    rows = [list(reversed(r)) for r in EMPLOYEES]
    parsed = parse_employees(_lines([c.upper() for c in shuffled], rows), file_name="e.csv")
    assert parsed.errors == [] and len(parsed.items) == 3


def test_a_broken_quote_is_reported_with_its_row_and_says_what_was_not_read() -> None:
    lines = _lines(EMPLOYEE_COLUMNS, EMPLOYEES[:1])
    lines += [
        'E2,"Bram" Tindleby,e2@example.com,,US,active,employee\n',
        *_lines([], [EMPLOYEES[2]]),
    ]
    parsed = parse_employees(lines, file_name="employees.csv")
    (error,) = parsed.errors
    assert (error.row, error.column) == (3, None)
    assert "not valid CSV" in error.message and "rows after it were not read" in error.message
    assert [e.employee_id for e in parsed.items] == ["E1"]


def test_runs_of_spaces_in_names_and_plans_are_collapsed() -> None:
    row = ["G1", "E1", " 2000  Equity Incentive\tPlan ", "2001-05-01", "NSO", "5", "1", "0", "", ""]
    (grant,) = parse_grants(_lines(GRANT_COLUMNS, [row])).items
    assert grant.plan == PLAN


def test_blank_lines_are_skipped_but_still_counted_as_rows() -> None:
    lines = _lines(EMPLOYEE_COLUMNS, EMPLOYEES[:1])
    lines += ["\n", ",,,,,,\n", "E2,Bram,bad,,US,active,employee\n"]
    parsed = parse_employees(lines, file_name="employees.csv")
    (error,) = parsed.errors
    assert (error.row, error.column) == (5, "email")


def test_too_many_values_in_a_row_is_an_error_but_trailing_empty_cells_are_not() -> None:
    lines = _lines(EMPLOYEE_COLUMNS, [])
    lines += [
        "E1,Ada,e1@example.com,U1,US,active,employee,,\n",
        "E2,Bram,e2@example.com,U2,US,active,employee,surprise\n",
    ]
    parsed = parse_employees(lines, file_name="employees.csv")
    (error,) = parsed.errors
    assert (error.row, error.column) == (3, None)
    assert "has 8 values but the header has 7" in str(error)


def test_excel_bom_is_accepted(tmp_path: Path) -> None:
    employees_csv, grants_csv = _write(tmp_path, encoding="utf-8-sig")
    assert employees_csv.read_bytes().startswith(b"\xef\xbb\xbf")
    assert parse_employees(employees_csv).errors == []
    assert parse_grants(grants_csv).errors == []


def test_bytes_that_are_not_utf8_name_the_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    text = _csv_text(EMPLOYEE_COLUMNS, EMPLOYEES).encode()
    path.write_bytes(text.replace(b"Bram Tindleby", b"Br\xe4m Tindleby"))
    parsed = parse_employees(path)
    (error,) = parsed.errors
    assert (error.file, error.row, error.column) == ("staff.csv", 3, "name")
    assert "not valid UTF-8" in error.message
    assert [e.employee_id for e in parsed.items] == ["E1", "E3"]


def test_a_control_character_inside_a_cell_is_named_but_one_at_its_edge_is_trimmed() -> None:
    employees = [list(r) for r in EMPLOYEES]
    employees[0][1] = "Ada\x07Quillmore"  # a bell inside the name
    employees[1][1] = "\x1cBram Tindleby\x1f"  # separators Python counts as white space
    employees[2][4] = "U\x85S"  # a C1 control inside the country
    parsed = parse_employees(_lines(EMPLOYEE_COLUMNS, employees), file_name="employees.csv")
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "name"), (4, "country")]
    assert all("control character" in e.message for e in parsed.errors)
    (kept,) = parsed.items
    assert kept.name == "Bram Tindleby"


def test_parsing_leaves_the_garbage_collector_as_it_found_it() -> None:
    """Reading pauses the cyclic collector (it only slows a large file down), then resumes it;
    a caller that had it off keeps it off."""
    lines = _lines(GRANT_COLUMNS, GRANTS)
    assert gc.isenabled()
    parse_grants(lines)
    assert gc.isenabled()
    gc.disable()
    try:
        parse_employees(_lines(EMPLOYEE_COLUMNS, EMPLOYEES))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_missing_or_empty_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    (error,) = parse_grants(tmp_path / "nowhere.csv").errors
    assert (error.file, error.row) == ("nowhere.csv", None)
    assert "cannot read the file" in str(error)
    empty = tmp_path / "grants.csv"
    empty.write_text("")
    (error,) = parse_grants(empty).errors
    assert str(error) == "grants.csv: the file is empty (no header row)"


def test_roster_error_text_leaves_out_what_it_does_not_know() -> None:
    assert (
        str(RosterError("g.csv", 7, "exercise_price", "x"))
        == "g.csv, row 7, column exercise_price: x"
    )
    assert str(RosterError("g.csv", 1, None, "x")) == "g.csv, row 1: x"
    assert str(RosterError("g.csv", None, None, "x")) == "g.csv: x"


_GOOD_GRANT = ["G1", "E1", PLAN, "2001-05-01", "NSO", "5.00", "1000", "0", "2011-05-01", "S1"]
_GOOD_EMPLOYEE = EMPLOYEES[0]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    column=st.sampled_from(GRANT_COLUMNS),
    garbage=st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
    | st.sampled_from(["$", "$,", "1,,000", "1e5", "NaN", "Infinity", "-0", "0x10", "٣", "１２"]),
)
def test_garbage_in_any_grant_cell_never_crashes(column: str, garbage: str) -> None:
    row = list(_GOOD_GRANT)
    row[GRANT_COLUMNS.index(column)] = garbage
    parsed = parse_grants(_lines(GRANT_COLUMNS, [row]), file_name="grants.csv")
    assert len(parsed.items) + (1 if parsed.errors else 0) == 1
    for error in parsed.errors:
        assert isinstance(error, RosterError) and error.file == "grants.csv"
        assert error.row == 2 and error.column in GRANT_COLUMNS
    for grant in parsed.items:
        assert grant.exercise_price > 0 and 0 <= grant.shares_exercised <= grant.shares_granted


@settings(max_examples=200, deadline=None)
@given(
    column=st.sampled_from(EMPLOYEE_COLUMNS),
    garbage=st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
)
def test_garbage_in_any_employee_cell_never_crashes(column: str, garbage: str) -> None:
    row = list(_GOOD_EMPLOYEE)
    row[EMPLOYEE_COLUMNS.index(column)] = garbage
    parsed = parse_employees(_lines(EMPLOYEE_COLUMNS, [row]), file_name="employees.csv")
    assert len(parsed.items) + (1 if parsed.errors else 0) == 1
    assert all(e.row == 2 and e.column == column for e in parsed.errors)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=300))
def test_any_bytes_as_a_file_never_crash(
    raw: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "grants.csv"
    path.write_bytes(_csv_text(GRANT_COLUMNS, []).encode() + raw)
    parsed = parse_grants(path)
    assert all(isinstance(e, RosterError) for e in parsed.errors)


# --- the import, through a real database ---------------------------------------------------


# `uow` is the suite's shared storage fixture (tests/conftest.py): a migrated database, once
# on SQLite and once on PostgreSQL.


async def _counts(uow: UnitOfWork) -> tuple[int, int]:
    async with uow:
        return await uow.employees.count(), await uow.grants.count()


async def test_import_writes_employees_and_grants_and_reports_progress(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    employees_csv, grants_csv = _write(tmp_path)
    ticks: list[tuple[int, int]] = []
    result = await _import(
        uow,
        employees_csv,
        grants_csv,
        actor="hr:test",
        progress=lambda done, total: ticks.append((done, total)),
    )
    assert result.employees == UpsertCounts(inserted=3)
    assert result.grants == UpsertCounts(inserted=4)
    assert result.skipped == []
    assert ticks[0] == (0, 7) and ticks[-1] == (7, 7)
    assert [d for d, _ in ticks] == sorted(d for d, _ in ticks)
    async with uow:
        e2 = await uow.employees.get("E2")
        grants = await uow.grants.for_employee("E2")
    assert e2 is not None and (e2.country, e2.status) == ("GB", EmployeeStatus.LEAVE)
    assert {g.grant_number: g.option_type for g in grants} == {
        "G3": OptionType.ISO,
        "G4": OptionType.NSO,
    }


async def test_reimport_counts_unchanged_and_an_edited_row_as_updated(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    employees_csv, grants_csv = _write(tmp_path)
    await _import(uow, employees_csv, grants_csv)
    again = await _import(uow, employees_csv, grants_csv)
    assert again.employees == UpsertCounts(unchanged=3)
    assert again.grants == UpsertCounts(unchanged=4)

    employees = [list(r) for r in EMPLOYEES]
    employees[0][1] = "Ada Q. Quillmore"
    grants = [list(r) for r in GRANTS]
    grants[0][7] = "800"  # 100 more shares exercised
    _write(tmp_path, employees, grants)
    edited = await _import(uow, employees_csv, grants_csv)
    assert edited.employees == UpsertCounts(updated=1, unchanged=2)
    assert edited.grants == UpsertCounts(updated=1, unchanged=3)
    async with uow:
        g1 = await uow.grants.get("G1")
    assert g1 is not None and g1.unexercised_shares == 200


async def test_a_malformed_row_refuses_everything_and_the_database_is_unchanged(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    employees_csv, grants_csv = _write(tmp_path)
    await _import(uow, employees_csv, grants_csv)
    before = await _counts(uow)

    employees = [*EMPLOYEES, ["E9", "New Hire", "e9@example.com", "", "US", "active", "employee"]]
    employees[0] = [*EMPLOYEES[0][:1], "Renamed", *EMPLOYEES[0][2:]]
    grants = [
        *GRANTS,
        ["G9", "E9", PLAN, "2001-05-01", "NSO", "12.00", "100", "0", "", ""],
        ["G10", "E9", PLAN, "2001-05-01", "NSO", "2,5O", "100", "0", "", ""],
    ]
    _write(tmp_path, employees, grants)
    with pytest.raises(RosterImportError) as caught:
        await _import(uow, employees_csv, grants_csv)
    assert [str(e) for e in caught.value.errors] == [
        "grants.csv, row 7, column exercise_price: '2,5O' is not a number"
    ]
    assert "grants.csv" in str(caught.value) and "Nothing was changed" in str(caught.value)
    assert await _counts(uow) == before
    async with uow:
        e1 = await uow.employees.get("E1")
        assert await uow.employees.get("E9") is None
    assert e1 is not None and e1.name == "Ada Quillmore"


async def test_every_error_in_both_files_is_reported_in_file_and_row_order(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    employees = [list(r) for r in EMPLOYEES]
    employees[1][2] = "nobody"  # row 3
    employees[2][4] = "Mars"  # row 4
    grants = [list(r) for r in GRANTS]
    grants[0][6] = "lots"  # row 2
    grants[1][3] = "yesterday"  # row 3
    grants.append(["G5", "E404", PLAN, "2001-05-01", "NSO", "5", "10", "0", "", ""])  # row 6
    employees_csv, grants_csv = _write(tmp_path, employees, grants)
    with pytest.raises(RosterImportError) as caught:
        await _import(uow, employees_csv, grants_csv)
    found = [(e.file, e.row, e.column) for e in caught.value.errors]
    assert found == [
        ("employees.csv", 3, "email"),
        ("employees.csv", 4, "country"),
        ("grants.csv", 2, "shares_granted"),
        ("grants.csv", 3, "grant_date"),
        ("grants.csv", 4, "employee_id"),  # E2's row is refused, so are its grants
        ("grants.csv", 5, "employee_id"),
        ("grants.csv", 6, "employee_id"),
    ]
    assert "row 3 in employees.csv has errors" in caught.value.errors[4].message
    assert "'E404' is neither in employees.csv nor in the database" in str(caught.value.errors[6])
    assert await _counts(uow) == (0, 0)


async def test_skip_invalid_imports_the_valid_rows_and_lists_the_rest(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    employees = [list(r) for r in EMPLOYEES]
    employees[1][5] = "fired"  # E2 refused: its grants G3, G4 are skipped too
    grants = [list(r) for r in GRANTS]
    grants[0][5] = "free"  # G1 refused
    employees_csv, grants_csv = _write(tmp_path, employees, grants)
    result = await _import(
        uow,
        employees_csv,
        grants_csv,
        skip_invalid=True,
    )
    assert result.employees == UpsertCounts(inserted=2)
    assert result.grants == UpsertCounts(inserted=1)
    assert [(e.file, e.row, e.column) for e in result.skipped] == [
        ("employees.csv", 3, "status"),
        ("grants.csv", 2, "exercise_price"),
        ("grants.csv", 4, "employee_id"),
        ("grants.csv", 5, "employee_id"),
    ]
    async with uow:
        assert await uow.employees.get("E2") is None
        assert [g.grant_number for g in await uow.grants.for_employee("E1")] == ["G2"]


async def test_a_grant_may_belong_to_an_employee_already_in_the_database(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    employees_csv, grants_csv = _write(tmp_path)
    await _import(uow, employees_csv, grants_csv)
    new_grant = ["G7", "E3", PLAN, "2002-01-07", "NSO", "4.00", "100", "0", "", ""]
    _write(tmp_path, employees=[], grants=[new_grant])
    result = await _import(uow, employees_csv, grants_csv)
    assert result.grants == UpsertCounts(inserted=1)
    assert await _counts(uow) == (3, 5)


async def test_an_address_already_used_by_another_stored_employee_is_named(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    employees_csv, grants_csv = _write(tmp_path)
    await _import(uow, employees_csv, grants_csv)
    newcomer = ["E8", "Eve Northfen", "E1@example.COM", "U1", "US", "active", "employee"]
    _write(tmp_path, employees=[newcomer], grants=[])
    with pytest.raises(RosterImportError) as caught:
        await _import(uow, employees_csv, grants_csv)
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "email"), (2, "slack_user_id")]
    assert "already belongs to employee 'E1'" in caught.value.errors[0].message


async def test_missing_column_refuses_the_import(uow: UnitOfWork, tmp_path: Path) -> None:
    header = [c for c in GRANT_COLUMNS if c != "plan"]
    rows = [[v for i, v in enumerate(r) if i != GRANT_COLUMNS.index("plan")] for r in GRANTS]
    employees_csv, grants_csv = _write(tmp_path, grants=rows, grant_header=header)
    with pytest.raises(RosterImportError) as caught:
        await _import(uow, employees_csv, grants_csv)
    assert [str(e) for e in caught.value.errors] == [
        "grants.csv, row 1, column plan: required column is missing"
    ]
    assert await _counts(uow) == (0, 0)


async def test_import_with_bom_files(uow: UnitOfWork, tmp_path: Path) -> None:
    employees_csv, grants_csv = _write(tmp_path, encoding="utf-8-sig")
    result = await _import(uow, employees_csv, grants_csv)
    assert (result.employees.inserted, result.grants.inserted) == (3, 4)


async def test_the_demo_roster_imports_cleanly_and_reimports_unchanged(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    roster = generate_demo_roster(load_offer_terms())
    employees_csv, grants_csv = tmp_path / "employees.csv", tmp_path / "grants.csv"
    write_csv(roster, employees_csv, grants_csv)
    first = await _import(uow, employees_csv, grants_csv)
    assert first.employees == UpsertCounts(inserted=len(roster.employees))
    assert first.grants == UpsertCounts(inserted=len(roster.grants))
    again = await _import(uow, employees_csv, grants_csv)
    assert again.employees == UpsertCounts(unchanged=len(roster.employees))
    assert again.grants == UpsertCounts(unchanged=len(roster.grants))
    async with uow:
        assert await uow.grants.for_employee("E1001") == [
            g for g in roster.grants if g.employee_id == "E1001"
        ]


async def test_the_import_is_audited_once_with_its_counts(uow: UnitOfWork, tmp_path: Path) -> None:
    employees_csv, grants_csv = _write(tmp_path)
    await _import(
        uow,
        employees_csv,
        grants_csv,
        actor="hr:pat",
    )
    async with uow:
        (entry,) = await uow.audit.recent()
    assert (entry.at, entry.actor, entry.action, entry.channel) == (
        NOW,
        "hr:pat",
        "roster.import",
        "cli",
    )
    assert entry.detail == {
        "employees_file": "employees.csv",
        "grants_file": "grants.csv",
        "employees": {"inserted": 3, "updated": 0, "unchanged": 0},
        "grants": {"inserted": 4, "updated": 0, "unchanged": 0},
        "skipped": 0,
        "skip_invalid": False,
    }


async def test_a_refusal_by_the_database_itself_still_changes_nothing(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    employees_csv, grants_csv = _write(tmp_path)
    await _import(uow, employees_csv, grants_csv)
    swapped = [list(r) for r in EMPLOYEES]
    swapped[0][2], swapped[1][2] = swapped[1][2], swapped[0][2]  # E1 and E2 swap addresses
    _write(tmp_path, swapped)
    with pytest.raises(RosterImportError) as caught:
        await _import(uow, employees_csv, grants_csv)
    (error,) = caught.value.errors
    assert error.file == "employees.csv" and "database refused" in error.message
    async with uow:
        e1 = await uow.employees.get("E1")
        assert len(await uow.audit.recent()) == 1
    assert e1 is not None and e1.email == "e1@example.com"
