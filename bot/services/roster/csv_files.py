"""Read HR's roster CSV files (employees, grants) into domain objects, row by row.

Pure: CSV text in, :class:`~bot.domain.roster.Employee` / :class:`~bot.domain.roster.Grant`
values and :class:`RosterError` values out; nothing here touches the database. Every problem
is reported with its file, its row as a spreadsheet shows it (the header is row 1) and its
column, and every problem in a file is reported, not just the first.
"""

from __future__ import annotations

import csv
import gc
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Generic, TypeVar

from bot.domain.roster import (
    EMPLOYEE_COLUMNS,
    GRANT_COLUMNS,
    OPTIONAL_EMPLOYEE_COLUMNS,
    Employee,
    EmployeeClass,
    EmployeeStatus,
    Grant,
    OptionType,
    is_identifier,
)

__all__ = [
    "EMPLOYEE_COLUMNS",
    "GRANT_COLUMNS",
    "ParsedRows",
    "RosterError",
    "Source",
    "normalized_email",
    "parse_employees",
    "parse_grants",
]

_OPTIONAL = frozenset(
    {"slack_user_id", "expiration_date", "split_group", *OPTIONAL_EMPLOYEE_COLUMNS}
)

# Rows written per repository call; the progress callback fires after each batch.
# Column widths in storage, and bounds that keep a typo from becoming a plausible number.
_MAX_ID = 64
_MAX_TEXT = 200
_MAX_EMAIL = 254
_MAX_SHARES = 2_147_483_647
_MAX_PRICE = Decimal("1000000")
_MAX_PRICE_PLACES = 4

T = TypeVar("T")
Source = Path | str | os.PathLike[str] | Iterable[str]


@dataclass(frozen=True, slots=True)
class RosterError:
    """One problem in a roster file; ``row`` counts the header as 1, as a spreadsheet does."""

    file: str
    row: int | None  # None: the file as a whole (unreadable, empty)
    column: str | None
    message: str

    def __str__(self) -> str:
        place = [self.file]
        if self.row is not None:
            place.append(f"row {self.row}")
        if self.column is not None:
            place.append(f"column {self.column}")
        return f"{', '.join(place)}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedRows(Generic[T]):
    """What one file held: the valid items (with their rows) and the errors of the others."""

    file: str
    items: list[T] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # spreadsheet row of each item, in step
    errors: list[RosterError] = field(default_factory=list)
    rejected_ids: dict[str, int] = field(default_factory=dict)  # id of a refused row -> its row
    absent_columns: frozenset[str] = frozenset()  # optional columns the header did not have


# --- cell parsers: each returns the value or raises _CellError with the message to show ------


class _CellError(ValueError):
    pass


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


_SPACE = re.compile(r"\s")


def _identifier(value: str) -> str:
    if len(value) > _MAX_ID:
        raise _CellError(f"is longer than {_MAX_ID} characters")
    if _SPACE.search(value):
        raise _CellError(f"{_show(value)} contains a space")
    return value


def _record_id(value: str) -> str:
    """An employee id or grant number: the pattern of :data:`bot.domain.roster.IDENTIFIER_PATTERN`
    (they name files and end up in spreadsheets, so nothing that could become a path)."""
    _identifier(value)
    if not is_identifier(value):
        raise _CellError(
            f"{_show(value)} is not a valid id: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return value


def _text(value: str) -> str:
    value = " ".join(value.split())  # "2000  Equity Incentive Plan" is still the plan
    if len(value) > _MAX_TEXT:
        raise _CellError(f"is longer than {_MAX_TEXT} characters")
    return value


_EMAIL = re.compile(r"[^@\s,;<>\"']+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _email(value: str) -> str:
    if len(value) > _MAX_EMAIL or not _EMAIL.fullmatch(value):
        raise _CellError(f"{_show(value)} is not an e-mail address")
    return value


_SLACK_ID = re.compile(r"[A-Za-z0-9]+", re.ASCII)


def _slack_user_id(value: str) -> str:
    if len(value) > _MAX_ID or not _SLACK_ID.fullmatch(value):
        raise _CellError(f"{_show(value)} is not a Slack user id (like U1001)")
    return value


_COUNTRY = re.compile(r"[A-Z]{2}")


def _country(value: str) -> str:
    code = value.upper()
    if not _COUNTRY.fullmatch(code):
        raise _CellError(f"{_show(value)} is not a two-letter country code (ISO 3166-1, e.g. US)")
    return code


_SEPARATORS = re.compile(r"[\s-]+")
E = TypeVar("E", EmployeeStatus, EmployeeClass)


def _choice(value: str, allowed: type[E]) -> E:
    """One of an enum's values, whatever the case, with spaces or dashes for underscores."""
    member = _MEMBERS[allowed].get(value)  # as written: the usual case, one dict lookup
    if member is None:
        member = _MEMBERS[allowed].get(_SEPARATORS.sub("_", value.lower()))
    if member is None:
        raise _CellError(f"{_show(value)} is not one of: {', '.join(m.value for m in allowed)}")
    return member


_MEMBERS: dict[type[Any], dict[str, Any]] = {
    enum: {member.value: member for member in enum} for enum in (EmployeeStatus, EmployeeClass)
}


def _status(value: str) -> EmployeeStatus:
    return _choice(value, EmployeeStatus)


def _employee_class(value: str) -> EmployeeClass:
    return _choice(value, EmployeeClass)


_OPTION_TYPES = {
    "iso": OptionType.ISO,
    "incentive": OptionType.ISO,
    "incentivestockoption": OptionType.ISO,
    "nso": OptionType.NSO,
    "nqso": OptionType.NSO,
    "nonstatutory": OptionType.NSO,
    "nonstatutorystockoption": OptionType.NSO,
    "nonqualified": OptionType.NSO,
    "nonqualifiedstockoption": OptionType.NSO,
}


_NOT_LETTERS = re.compile(r"[^a-z]")


def _option_type(value: str) -> OptionType:
    option_type = _OPTION_TYPES.get(value.lower()) or _OPTION_TYPES.get(
        _NOT_LETTERS.sub("", value.lower())
    )
    if option_type is None:
        raise _CellError(f"{_show(value)} is not an option type (ISO or NSO)")
    return option_type


_NUMBER = re.compile(
    r"(?P<minus>-)?\$?(?P<digits>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)", re.ASCII
)


def _price(value: str) -> Decimal:
    match = _NUMBER.fullmatch(value.replace(" ", ""))
    if match is None:
        raise _CellError(f"{_show(value)} is not a number")
    amount = Decimal(match["digits"].replace(",", ""))
    if match["minus"] or amount <= 0:
        raise _CellError(f"{_show(value)} must be greater than 0")
    if amount >= _MAX_PRICE:
        raise _CellError(f"{_show(value)} is not a plausible price per share")
    if amount != amount.quantize(Decimal(1).scaleb(-_MAX_PRICE_PLACES)):
        raise _CellError(f"{_show(value)} has more than {_MAX_PRICE_PLACES} decimal places")
    return amount


def _shares(value: str) -> int:
    if value.isascii() and value.isdigit():  # the usual case: plain digits
        amount_int = int(value)
        if amount_int > _MAX_SHARES:
            raise _CellError(f"{_show(value)} is not a plausible number of shares")
        return amount_int
    match = _NUMBER.fullmatch(value.replace(" ", ""))
    if match is None or "$" in value:
        raise _CellError(f"{_show(value)} is not a whole number")
    try:
        amount = Decimal(match["digits"].replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise _CellError(f"{_show(value)} is not a whole number") from None
    if amount != amount.to_integral_value():
        raise _CellError(f"{_show(value)} is not a whole number")
    if match["minus"] and amount != 0:
        raise _CellError(f"{_show(value)} must be 0 or more")
    if amount > _MAX_SHARES:
        raise _CellError(f"{_show(value)} is not a plausible number of shares")
    return int(amount)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _date(value: str) -> date:
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise _CellError(f"{_show(value)} is not a date (YYYY-MM-DD)") from None


# --- reading a CSV file into numbered rows --------------------------------------------------


_NONE: frozenset[str] = frozenset()


class _Row:
    """One data row: cells by column; ``take`` parses a cell and remembers what went wrong.

    A 100,000-row file keeps 100,000 of these alive at once, so they are slotted and make
    their error list and set only when needed: fewer objects for the garbage collector to
    walk, which otherwise costs more than the parsing itself.
    """

    __slots__ = ("cells", "errors", "file", "number", "unreadable")

    def __init__(self, file: str, number: int, cells: dict[str, str]) -> None:
        self.file, self.number, self.cells = file, number, cells
        self.errors: list[RosterError] | tuple[()] = ()
        self.unreadable: frozenset[str] | set[str] = _NONE  # columns already reported

    def error(self, column: str | None, message: str) -> None:
        if not self.errors:
            self.errors = []
        self.errors.append(RosterError(self.file, self.number, column, message))

    def take(self, column: str, parse: Callable[[str], Any]) -> Any:
        raw = self.cells.get(column, "")  # an optional column the file does not have
        if self.unreadable and column in self.unreadable:
            return None
        if raw == "":
            if column not in _OPTIONAL:
                self.error(column, "a value is required")
            return None
        try:
            return parse(raw)
        except _CellError as exc:
            self.error(column, str(exc))
            return None


# Anything _bad_characters would refuse: undecodable bytes (as surrogate escapes), control
# characters other than tab, DEL and the C1 controls. One search per row; most rows pass.
_SUSPECT = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\udc80-\udcff]")


def _bad_characters(value: str) -> str | None:
    if not _SUSPECT.search(value):
        return None
    if any("\udc80" <= c <= "\udcff" for c in value):
        return "is not valid UTF-8 text (save the file as 'CSV UTF-8')"
    if any((ord(c) < 32 and c != "\t") or 127 <= ord(c) < 160 for c in value):
        return f"{_show(value)} contains a line break or control character"
    return None


def _records(source: Source) -> Iterator[list[str]]:
    if isinstance(source, str | os.PathLike):
        # surrogateescape: an undecodable byte becomes a marker the row check reports with its
        # row and column, instead of one exception that stops the whole file.
        with open(source, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            yield from csv.reader(handle, strict=True)
    else:
        yield from csv.reader(source, strict=True)


def _read(
    source: Source,
    file: str,
    columns: tuple[str, ...],
    errors: list[RosterError],
    optional: tuple[str, ...] = (),
) -> list[_Row]:
    """Rows of the file with their spreadsheet numbers; header and reading errors go to
    ``errors`` (a bad header stops there: the columns of the rows cannot be trusted)."""
    rows: list[_Row] = []
    header: list[str] | None = None
    number = 0
    try:
        for number, cells in enumerate(_records(source), start=1):
            if header is None:
                header = _header(cells, file, columns, errors, optional)
                if header is None:
                    return []
                continue
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if len(cells) < len(header):
                cells += [""] * (len(header) - len(cells))
            row = _Row(file, number, dict(zip(header, map(str.strip, cells), strict=False)))
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                row.error(None, f"has {len(cells)} values but the header has {len(header)}")
            if _SUSPECT.search("\t".join(cells)):  # tab is allowed, so it cannot mislead
                row.unreadable = set()
                for column, value in row.cells.items():
                    problem = _bad_characters(value)
                    if problem:
                        row.error(column, problem)
                        row.unreadable.add(column)
            rows.append(row)
    except OSError as exc:
        errors.append(RosterError(file, None, None, f"cannot read the file: {exc.strerror}"))
        return []
    except csv.Error as exc:
        errors.append(
            RosterError(
                file, number + 1, None, f"is not valid CSV ({exc}); the rows after it were not read"
            )
        )
    if header is None:
        errors.append(RosterError(file, None, None, "the file is empty (no header row)"))
    return rows


def _header(
    cells: list[str],
    file: str,
    columns: tuple[str, ...],
    errors: list[RosterError],
    optional: tuple[str, ...] = (),
) -> list[str] | None:
    """The column names in file order; ``columns`` must all be there, ``optional`` may be."""
    names = [c.strip().lstrip("\ufeff").strip().lower() for c in cells]
    while names and not names[-1]:
        names.pop()  # trailing empty header cells, as spreadsheets sometimes write them
    before = len(errors)
    for column in columns:
        if column not in names:
            errors.append(RosterError(file, 1, column, "required column is missing"))
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if name in seen:
            errors.append(RosterError(file, 1, name, "column appears more than once"))
        elif name not in columns and name not in optional:
            label = name if not _bad_characters(name) and name else f"#{position}"
            expected = ", ".join(columns)
            if optional:
                expected += f"; optional: {', '.join(optional)}"
            errors.append(
                RosterError(file, 1, label, f"unknown column (expected only: {expected})")
            )
        seen.add(name)
    return None if len(errors) > before else names


def _duplicates(rows: list[_Row], key: str, normalize: Callable[[str], str] = str) -> None:
    """Every row whose ``key`` (normalised) is also on another row gets an error."""
    where: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        if row.cells.get(key):
            where[normalize(row.cells[key])].append(row)
    for same in where.values():
        if len(same) > 1:
            listed = ", ".join(str(other.number) for other in same)
            for row in same:
                row.error(key, f"{_show(row.cells[key])} is on more than one row ({listed})")


def _collect(
    file: str,
    rows: list[_Row],
    key: str,
    build: Callable[[_Row], T | None],
    errors: list[RosterError],
) -> ParsedRows[T]:
    parsed: ParsedRows[T] = ParsedRows(file=file, errors=errors)
    for row in rows:
        item = build(row)  # None exactly when the row has errors
        if item is None:
            parsed.errors.extend(row.errors)
            if row.cells.get(key):
                parsed.rejected_ids.setdefault(row.cells[key], row.number)
        else:
            parsed.items.append(item)
            parsed.rows.append(row.number)
    return parsed


# --- the two files -----------------------------------------------------------------------------


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a file is read.

    Reading 100,000 rows makes several hundred thousand objects that all stay alive, none of
    them garbage; the collector would walk the growing heap again and again, which took 40%
    of the time of reading the files. Reference counting still frees everything as usual;
    the collector resumes (if it was running) when the file is read.
    """
    was_running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_running:
            gc.enable()


@_collector_paused()
def parse_employees(source: Source, *, file_name: str | None = None) -> ParsedRows[Employee]:
    """Read employees.csv (a path, or the lines of its text); pure apart from reading the file."""
    file = file_name or _default_name(source, "employees.csv")
    errors: list[RosterError] = []
    rows = _read(source, file, EMPLOYEE_COLUMNS, errors, OPTIONAL_EMPLOYEE_COLUMNS)
    present = set(rows[0].cells) if rows else set(OPTIONAL_EMPLOYEE_COLUMNS)
    _duplicates(rows, "employee_id")
    _duplicates(rows, "email", normalized_email)  # storage keeps both unique
    _duplicates(rows, "slack_user_id")

    def build(row: _Row) -> Employee | None:
        values = {
            "employee_id": row.take("employee_id", _record_id),
            "name": row.take("name", _text),
            "email": row.take("email", _email),
            "slack_user_id": row.take("slack_user_id", _slack_user_id),
            "country": row.take("country", _country),
            "status": row.take("status", _status),
            "employee_class": row.take("employee_class", _employee_class),
            "department": row.take("department", _text),
            "location": row.take("location", _text),
            "manager_email": row.take("manager_email", _email),
        }
        return None if row.errors else Employee(**values)

    parsed = _collect(file, rows, "employee_id", build, errors)
    return replace(
        parsed, absent_columns=frozenset(c for c in OPTIONAL_EMPLOYEE_COLUMNS if c not in present)
    )


@_collector_paused()
def parse_grants(source: Source, *, file_name: str | None = None) -> ParsedRows[Grant]:
    """Read grants.csv (a path, or the lines of its text). Whether each grant's employee exists
    needs the employees file and the database: :func:`import_roster` checks that."""
    file = file_name or _default_name(source, "grants.csv")
    errors: list[RosterError] = []
    rows = _read(source, file, GRANT_COLUMNS, errors)
    _duplicates(rows, "grant_number")
    _split_groups_within_one_employee(rows)

    def build(row: _Row) -> Grant | None:
        values = {
            "grant_number": row.take("grant_number", _record_id),
            "employee_id": row.take("employee_id", _record_id),
            "plan": row.take("plan", _text),
            "grant_date": row.take("grant_date", _date),
            "option_type": row.take("option_type", _option_type),
            "exercise_price": row.take("exercise_price", _price),
            "shares_granted": row.take("shares_granted", _shares),
            "shares_exercised": row.take("shares_exercised", _shares),
            "expiration_date": row.take("expiration_date", _date),
            "split_group": row.take("split_group", _identifier),
        }
        granted, exercised = values["shares_granted"], values["shares_exercised"]
        if granted is not None and exercised is not None and exercised > granted:
            row.error(
                "shares_exercised", f"{exercised:,} exercised is more than {granted:,} granted"
            )
        start, end = values["grant_date"], values["expiration_date"]
        if start is not None and end is not None and end <= start:
            row.error("expiration_date", f"{end} is not after the grant date {start}")
        return None if row.errors else Grant(**values)

    return _collect(file, rows, "grant_number", build, errors)


def _split_groups_within_one_employee(rows: list[_Row]) -> None:
    """The two halves of a split grant belong to one person (Offer §1, p. 13)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.cells.get("split_group"):
            owners[row.cells["split_group"]].add(row.cells.get("employee_id", ""))
    for row in rows:
        group = row.cells.get("split_group", "")
        if len(owners.get(group, ())) > 1:
            people = ", ".join(sorted(o or "(none)" for o in owners[group]))
            row.error(
                "split_group", f"{_show(group)} joins grants of different employees ({people})"
            )


def normalized_email(email: str) -> str:
    """How addresses are compared (and kept unique in storage): trimmed, lower-cased."""
    return email.strip().lower()


def _default_name(source: Source, fallback: str) -> str:
    return Path(source).name if isinstance(source, str | os.PathLike) else fallback
