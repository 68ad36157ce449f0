"""Import HR's roster from two CSV files (employees, grants): check every row of both files
first, then write all of it in one transaction, or nothing.

Parsing is pure and lives in :mod:`bot.services.roster_csv` (CSV text in, domain objects and
:class:`RosterError` values out). :func:`import_roster` adds the checks that need both files or
the database (a grant's employee must exist) and does the write.

Errors::

    RosterError                       one problem at one place: file, row (header = row 1), column
    ServiceError
    └── RosterImportError (ValueError)   the import was refused; ``.errors`` lists every
                                         RosterError found in both files; nothing was written
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.domain.records import AuditEntry, UpsertCounts
from bot.domain.roster import Employee, Grant
from bot.services.errors import ServiceError
from bot.services.roster_csv import (
    EMPLOYEE_COLUMNS,
    GRANT_COLUMNS,
    ParsedRows,
    RosterError,
    normalized_email,
    parse_employees,
    parse_grants,
)
from storage.errors import ConstraintViolationError

__all__ = [
    "EMPLOYEE_COLUMNS",
    "GRANT_COLUMNS",
    "ImportResult",
    "ParsedRows",
    "RosterError",
    "RosterImportError",
    "import_roster",
    "parse_employees",
    "parse_grants",
]


class RosterImportError(ServiceError, ValueError):
    """The roster was refused as a whole; nothing was written. ``errors`` lists every problem."""

    def __init__(self, errors: list[RosterError]) -> None:
        self.errors = list(errors)
        files = sorted({e.file for e in self.errors})
        count = len(self.errors)
        super().__init__(
            f"The roster was not imported: {count} error{'s' if count != 1 else ''} in "
            f"{' and '.join(files)}. Nothing was changed."
        )


@dataclass(frozen=True, slots=True)
class ImportResult:
    employees: UpsertCounts
    grants: UpsertCounts
    skipped: list[RosterError] = field(default_factory=list)


# --- the use case ------------------------------------------------------------------------------


def _clashes_with_stored(
    employees: ParsedRows[Employee], stored: Iterable[Employee]
) -> ParsedRows[Employee]:
    """Refuse rows whose e-mail or Slack id belongs to a stored employee the file leaves as is
    (storage keeps both unique; this names the row instead of failing the whole write)."""
    updating = {e.employee_id for e in employees.items}
    emails: dict[str, str] = {}
    slack_ids: dict[str, str] = {}
    for other in stored:
        if other.employee_id not in updating:
            emails[normalized_email(other.email)] = other.employee_id
            if other.slack_user_id:
                slack_ids[other.slack_user_id] = other.employee_id
    result: ParsedRows[Employee] = ParsedRows(
        file=employees.file,
        errors=list(employees.errors),
        rejected_ids=dict(employees.rejected_ids),
    )
    for employee, row in zip(employees.items, employees.rows, strict=True):
        clashes = [
            RosterError(
                employees.file, row, column, f"{value!r} already belongs to employee {owner!r}"
            )
            for column, value, owner in (
                ("email", employee.email, emails.get(normalized_email(employee.email))),
                (
                    "slack_user_id",
                    employee.slack_user_id,
                    slack_ids.get(employee.slack_user_id or ""),
                ),
            )
            if owner is not None
        ]
        if clashes:
            result.errors.extend(clashes)
            result.rejected_ids.setdefault(employee.employee_id, row)
        else:
            result.items.append(employee)
            result.rows.append(row)
    return result


def _owner_errors(
    grants: ParsedRows[Grant], employees: ParsedRows[Employee], in_database: set[str]
) -> tuple[list[Grant], list[RosterError]]:
    """Grants whose employee is in the valid rows of employees.csv or already stored."""
    in_file = {e.employee_id for e in employees.items}
    kept: list[Grant] = []
    errors: list[RosterError] = []
    for grant, row in zip(grants.items, grants.rows, strict=True):
        owner = grant.employee_id
        if owner in in_file:
            kept.append(grant)
        elif owner in employees.rejected_ids:
            errors.append(
                RosterError(
                    grants.file,
                    row,
                    "employee_id",
                    f"employee {owner!r} is not imported: their row "
                    f"{employees.rejected_ids[owner]} in {employees.file} has errors",
                )
            )
        elif owner in in_database:
            kept.append(grant)
        else:
            errors.append(
                RosterError(
                    grants.file,
                    row,
                    "employee_id",
                    f"employee {owner!r} is neither in {employees.file} nor in the database",
                )
            )
    return kept, errors


def _sorted_errors(errors: Iterable[RosterError], order: dict[str, int]) -> list[RosterError]:
    """File by file, row by row; within a row, in the order the columns were checked."""
    return sorted(errors, key=lambda e: (order.get(e.file, len(order)), e.row or 0))


async def import_roster(
    *,
    uow: Any,
    employees_csv: Path,
    grants_csv: Path,
    skip_invalid: bool = False,
    actor: str = "cli",
    channel: str = "cli",
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Check both files, then upsert every row in one transaction.

    Any error refuses the whole import (:class:`RosterImportError` listing every error) and
    leaves the database as it was, unless ``skip_invalid``: then the valid rows are written and
    the refused ones returned in :attr:`ImportResult.skipped`. One audit entry records it.
    """
    employees_csv, grants_csv = Path(employees_csv), Path(grants_csv)
    employees = await asyncio.to_thread(parse_employees, employees_csv)
    grants = await asyncio.to_thread(parse_grants, grants_csv)
    order = {employees.file: 0, grants.file: 1}

    async with uow:
        stored = await uow.employees.list_all()
        employees = _clashes_with_stored(employees, stored)
        in_database = {e.employee_id for e in stored}
        kept_grants, owner_errors = _owner_errors(grants, employees, in_database)
        errors = _sorted_errors([*employees.errors, *grants.errors, *owner_errors], order)
        if errors and not skip_invalid:
            raise RosterImportError(errors)

        total = len(employees.items) + len(kept_grants)
        done = 0

        def tick(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, total)

        if progress is not None:
            progress(0, total)
        try:
            employee_counts = await uow.employees.upsert_many(employees.items, progress=tick)
            grant_counts = await uow.grants.upsert_many(kept_grants, progress=tick)
        except ConstraintViolationError as exc:
            # The checks above should leave nothing for the database to refuse; if it still
            # does (two rows swapping e-mail addresses, say), the transaction is gone: say so.
            raise RosterImportError(
                [RosterError(employees.file, None, None, f"the database refused the roster: {exc}")]
            ) from exc
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=actor,
                action="roster.import",
                channel=channel,
                detail={
                    "employees_file": employees.file,
                    "grants_file": grants.file,
                    "employees": asdict(employee_counts),
                    "grants": asdict(grant_counts),
                    "skipped": len(errors),
                    "skip_invalid": skip_invalid,
                },
            )
        )
        await uow.commit()
    return ImportResult(employees=employee_counts, grants=grant_counts, skipped=errors)
