"""Import HR's roster from two CSV files (employees, grants): check every row of both files
first, then write all of it in one transaction, or nothing.

Parsing is pure and lives in :mod:`bot.services.roster.csv_files` (CSV text in, domain objects and
:class:`RosterError` values out). :func:`import_roster` adds the checks that need both files or
the database (a grant's employee must exist; a tendered grant keeps its holder and at least
the shares tendered, see :mod:`bot.services.elections.tender_books`) and does the write.

Errors::

    RosterError                       one problem at one place: file, row (header = row 1), column
    ServiceError
    └── RosterImportError (ValueError)   the import was refused; ``.errors`` lists every
                                         RosterError found in both files; nothing was written
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

from bot.domain.hr_records import AcceptedTender, TaskStatus
from bot.domain.records import AuditEntry, UpsertCounts
from bot.domain.roster import Employee, Grant
from bot.ports import UnitOfWork
from bot.services.elections.offer_closing import OfferClosingError, ensure_not_closing
from bot.services.elections.tender_books import VOID_ACTION, LiveTender, live_tenders, load_voids
from bot.services.errors import ServiceError
from bot.services.roster.csv_files import (
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
    voided: dict[str, list[str]] = field(default_factory=dict)  # employee id -> grants moved


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


def _keep_absent_columns(
    employees: ParsedRows[Employee], stored: Iterable[Employee]
) -> ParsedRows[Employee]:
    """An optional column the file does not have (department, location, manager_email in a
    file written before they existed) keeps each stored employee's value instead of erasing it."""
    if not employees.absent_columns:
        return employees
    before = {e.employee_id: e for e in stored}
    items = []
    for e in employees.items:
        old = before.get(e.employee_id)
        if old is not None:
            e = replace(e, **{c: getattr(old, c) for c in employees.absent_columns})
        items.append(e)
    return replace(employees, items=items)


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


@dataclass(slots=True)
class _Voiding:
    """One holder whose tender an ``--allow-reassign`` import voids."""

    through_version: int = 0
    grants: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)


def _tender_conflicts(
    file: str,
    grants: list[Grant],
    rows: dict[str, int],
    stored: dict[str, Grant],
    live: dict[str, list[LiveTender]],
    accepted: dict[str, AcceptedTender],
    *,
    allow_reassign: bool,
) -> tuple[list[Grant], list[RosterError], dict[str, _Voiding]]:
    """Grant rows that would move a tendered grant to another employee or lower its shares
    below what was tendered: errors, or (``allow_reassign``) kept with the old tender voided.
    A grant already accepted for exchange keeps its holder and shares whatever the flag."""
    kept: list[Grant] = []
    errors: list[RosterError] = []
    voiding: dict[str, _Voiding] = defaultdict(_Voiding)
    for grant in grants:
        number, row = grant.grant_number, rows[grant.grant_number]
        before = stored.get(number)
        shares_column = (
            "shares_granted"
            if before is not None and grant.shares_granted < before.shares_granted
            else "shares_exercised"
        )
        done = accepted.get(number)
        if done is not None and (
            done.employee_id != grant.employee_id
            or done.line.unexercised_shares != grant.unexercised_shares
        ):
            moved = done.employee_id != grant.employee_id
            errors.append(
                RosterError(
                    file,
                    row,
                    "employee_id" if moved else shares_column,
                    f"grant {number} was accepted for exchange from employee {done.employee_id} "
                    f"({done.line.unexercised_shares:,} shares); its holder and shares can no "
                    "longer change",
                )
            )
            continue
        problems: dict[tuple[str, str], tuple[LiveTender, str, str]] = {}
        for tender in live.get(number, ()):
            what = f"intent version {tender.version}" + (
                ", signed form received" if tender.form_received else ""
            )
            if tender.employee_id != grant.employee_id:
                problems.setdefault(
                    (tender.employee_id, "employee_id"),
                    (
                        tender,
                        f"grant {number} is tendered by employee {tender.employee_id} ({what}); "
                        f"the file gives it to employee {grant.employee_id}",
                        f"grant {number} was moved to employee {grant.employee_id} by a roster "
                        "import",
                    ),
                )
            elif grant.unexercised_shares < tender.unexercised_shares:
                problems.setdefault(
                    (tender.employee_id, shares_column),
                    (
                        tender,
                        f"grant {number} would have {grant.unexercised_shares:,} unexercised "
                        f"shares, fewer than the {tender.unexercised_shares:,} employee "
                        f"{tender.employee_id} tendered ({what})",
                        f"grant {number} was lowered to {grant.unexercised_shares:,} unexercised "
                        "shares by a roster import",
                    ),
                )
        if not problems:
            kept.append(grant)
        elif allow_reassign:
            kept.append(grant)
            for tender, _, reason in problems.values():
                void = voiding[tender.employee_id]
                void.through_version = max(void.through_version, tender.latest_version)
                void.grants.add(number)
                if reason not in void.reasons:
                    void.reasons.append(reason)
        else:
            for (owner, column), (_, message, _) in problems.items():
                errors.append(
                    RosterError(
                        file,
                        row,
                        column,
                        f"{message}. HR must resolve employee {owner}'s tender first, or import "
                        "with --allow-reassign to void it",
                    )
                )
    return kept, errors, dict(voiding)


async def _check_tenders(
    uow: UnitOfWork, grants: ParsedRows[Grant], kept: list[Grant], *, allow_reassign: bool
) -> tuple[list[Grant], list[RosterError], dict[str, _Voiding]]:
    intents = await uow.elections.all_intents()
    if not intents:  # the usual first import: nothing can be tendered yet
        return kept, [], {}
    live = live_tenders(intents, await uow.elections.all_receipts(), await load_voids(uow))
    accepted = {a.line.grant_number: a for a in await uow.accepted.list_all()}
    watched = {g.grant_number for g in kept} & (live.keys() | accepted.keys())
    stored = {n: g for n in sorted(watched) if (g := await uow.grants.get(n)) is not None}
    rows = dict(zip((g.grant_number for g in grants.items), grants.rows, strict=True))
    return _tender_conflicts(
        grants.file, kept, rows, stored, live, accepted, allow_reassign=allow_reassign
    )


async def _void_tenders(
    uow: UnitOfWork, voiding: dict[str, _Voiding], *, actor: str, channel: str, now: datetime
) -> None:
    """Record each void (the audit row is what voids it) and retire its open HR tasks."""
    for employee_id, void in sorted(voiding.items()):
        versions = range(1, void.through_version + 1)
        await uow.hr_tasks.close(
            employee_id, versions=versions, status=TaskStatus.SUPERSEDED, at=now
        )
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=actor,
                action=VOID_ACTION,
                channel=channel,
                subject=employee_id,
                detail={
                    "through_version": void.through_version,
                    "grants": sorted(void.grants),
                    "reason": "; ".join(void.reasons) + " (--allow-reassign)",
                    "before": {"state": "tender counts"},
                    "after": {"state": "void"},
                },
            )
        )


def _sorted_errors(errors: Iterable[RosterError], order: dict[str, int]) -> list[RosterError]:
    """File by file, row by row; within a row, in the order the columns were checked."""
    return sorted(errors, key=lambda e: (order.get(e.file, len(order)), e.row or 0))


async def import_roster(
    *,
    uow: UnitOfWork,
    offer_id: str,
    employees_csv: Path,
    grants_csv: Path,
    skip_invalid: bool = False,
    allow_reassign: bool = False,
    actor: str = "cli",
    channel: str = "cli",
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Check both files, then upsert every row in one transaction.

    Any error refuses the whole import (:class:`RosterImportError` listing every error) and
    leaves the database as it was, unless ``skip_invalid``: then the valid rows are written and
    the refused ones returned in :attr:`ImportResult.skipped`. One audit entry records it.

    A row that moves a tendered grant (latest intent or received form) to another employee, or
    lowers its unexercised shares below those tendered, is such an error, unless
    ``allow_reassign``: then the old holder's tender is voided (``election.void`` audit row,
    see :mod:`bot.services.elections.tender_books`) in the same transaction.

    While ``offerbot hr close`` is running (a close run started and not finished) nothing is
    imported (:class:`OfferClosingError`): the close reads the grants batch by batch, and a
    roster written between two batches would change what it accepts. Once a close started,
    no import may void a tender either — the close accepted them. The import takes the offer's
    lock, as the close's start does, so the two take turns.
    """
    employees_csv, grants_csv = Path(employees_csv), Path(grants_csv)
    employees = await asyncio.to_thread(parse_employees, employees_csv)
    grants = await asyncio.to_thread(parse_grants, grants_csv)
    order = {employees.file: 0, grants.file: 1}

    async with uow:
        await uow.offers.lock(offer_id)
        if await uow.close_runs.unfinished(offer_id) is not None:
            raise OfferClosingError(
                "HR is closing the offer (offerbot hr close has started and not finished), so "
                "the roster cannot change now; finish the close (run offerbot hr close again "
                "if it stopped), then import."
            )
        stored = await uow.employees.list_all()
        employees = _clashes_with_stored(_keep_absent_columns(employees, stored), stored)
        in_database = {e.employee_id for e in stored}
        kept_grants, owner_errors = _owner_errors(grants, employees, in_database)
        kept_grants, tender_errors, voiding = await _check_tenders(
            uow, grants, kept_grants, allow_reassign=allow_reassign
        )
        errors = _sorted_errors(
            [*employees.errors, *grants.errors, *owner_errors, *tender_errors], order
        )
        if errors and not skip_invalid:
            raise RosterImportError(errors)
        if voiding:
            await ensure_not_closing(uow, offer_id, "void a tender")

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
        await _void_tenders(uow, voiding, actor=actor, channel=channel, now=now)
        voided = {eid: sorted(v.grants) for eid, v in sorted(voiding.items())}
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
                    # present when --allow-reassign voided tenders (one election.void row each)
                    **({"voided_tenders": voided} if voided else {}),
                },
            )
        )
        await uow.commit()
    return ImportResult(
        employees=employee_counts,
        grants=grant_counts,
        skipped=errors,
        voided=voided,
    )
