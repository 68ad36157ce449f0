"""What the HR web console shows: the dashboard, the employee list and one employee's file.

The counts come from the same places as the command line's: the dashboard embeds
:func:`bot.services.elections.reports.hr_report` unchanged (``GET /hr/api/report`` returns it as
is, so it equals ``offerbot hr report --json``), and every employee's state is read from
:func:`bot.services.elections.tender_books.standing_of` through the report's
:class:`~bot.services.elections.reports.OfferSnapshot`, so the console, the report, the export
and ``hr close`` never disagree about who tendered what.

The participation funnel counts eligible employees only: eligible → saw their grants (an
employee looked at their own grants on Slack, e-mail or the console chat: a ``grants.view``
audit entry written through a non-HR channel) → intent recorded → signed form received →
receipt confirmation sent. Shares are eligible unexercised shares at the first two steps, the
shares in the latest intent at the third, and the shares of the effective received Election
Form after that.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.elections import ElectionIntent, FormReceipt, latest_intent
from bot.domain.eligibility import REASON_TEXT, PersonAssessment, assess
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.records import AuditEntry, UnansweredQuestion
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork
from bot.services.access import OPERATOR_CHANNELS, require_operator
from bot.services.elections.participation import (
    GROUP_DIMENSIONS,
    NOT_GIVEN,
    funnel,
    group_dimensions,
    group_key,
    group_name,
    group_order,
    places,
)
from bot.services.elections.reports import (
    EligibleTotals,
    OfferSnapshot,
    eligible_totals,
    hr_report,
)
from bot.services.elections.tender_books import Standing, load_voids, unvoided
from bot.services.errors import NotFoundError
from bot.services.identity import Identity
from bot.services.spreadsheet import spreadsheet_writer
from storage.hr_console_repo import FormScan, hr_console

__all__ = [
    "EMPLOYEE_CSV_COLUMNS",
    "NOT_GIVEN",
    "STATE_LABELS",
    "ConsoleState",
    "EmployeeFile",
    "EmployeeFilters",
    "EmployeeRow",
    "dashboard",
    "employee_file",
    "employees_csv",
    "export_employees",
    "list_employees",
    "mark_question_answered",
    "open_questions",
]


class ConsoleState(StrEnum):
    """Where an employee stands, as HR follows up on it."""

    NO_INTENT = "no_intent"
    INTENT_WITHOUT_FORM = "intent_without_form"
    FORM_RECEIVED = "form_received"
    WITHDRAWN = "withdrawn"
    INELIGIBLE = "ineligible"


STATE_LABELS = {
    ConsoleState.NO_INTENT: "No intent yet",
    ConsoleState.INTENT_WITHOUT_FORM: "Intent, no signed form",
    ConsoleState.FORM_RECEIVED: "Signed form received",
    ConsoleState.WITHDRAWN: "Withdrawn",
    ConsoleState.INELIGIBLE: "Ineligible",
}

EMPLOYEE_CSV_COLUMNS = (
    "employee_id",
    "name",
    "email",
    "state",
    "reason",
    "eligible_shares",
    "latest_intent_version",
    "latest_intent",
    "department",
    "location",
    "manager_email",
)


@dataclass(frozen=True, slots=True)
class EmployeeRow:
    employee_id: str
    name: str
    email: str
    state: ConsoleState
    reason: str  # why ineligible, or why a received form does not count
    eligible_shares: int
    latest_version: int | None
    latest_kind: str | None
    department: str | None = None
    location: str | None = None
    manager_email: str | None = None


def _eligible(a: PersonAssessment) -> bool:
    return a.eligible_person and bool(a.eligible_grants)


def _eligible_shares(a: PersonAssessment) -> int:
    return sum(g.grant.unexercised_shares for g in a.eligible_grants)


def _row(snap: OfferSnapshot, eid: str) -> EmployeeRow:
    a = snap.assessments[eid]
    history = unvoided(snap.intents.get(eid, []), snap.voids.get(eid))
    latest = latest_intent(history)
    standing = snap.standing(eid)
    reason = ""
    if not _eligible(a):
        state = ConsoleState.INELIGIBLE
        reasons = a.reasons or tuple(r for g in a.grants for r in g.reasons)
        reason = "; ".join(dict.fromkeys(REASON_TEXT[r] for r in reasons)) or "no grants"
    elif standing.standing is Standing.TENDERED:
        state = ConsoleState.FORM_RECEIVED
    elif standing.standing is Standing.WITHDRAWN:
        state = ConsoleState.WITHDRAWN
    elif latest is None:
        state = ConsoleState.NO_INTENT
    else:
        state = ConsoleState.INTENT_WITHOUT_FORM
        reason = standing.reason
    return EmployeeRow(
        employee_id=eid,
        name=a.employee.name,
        email=a.employee.email,
        state=state,
        reason=reason,
        eligible_shares=_eligible_shares(a) if _eligible(a) else 0,
        latest_version=latest.version if latest else None,
        latest_kind=latest.kind.value if latest else None,
        department=a.employee.department,
        location=a.employee.location,
        manager_email=a.employee.manager_email,
    )


# --- what the console derives from the roster, kept per roster revision ---------------------


@dataclass(frozen=True, slots=True)
class _Roster:
    """Everyone's eligibility, and what follows from it alone, for one roster revision and one
    set of terms. Assessing 20,000 people took seconds per page view (issue 16); the roster
    changes only on an import or an adjustment, so each process assesses it once per change."""

    revision: tuple[Any, ...]
    terms: OfferTerms
    adjustments: tuple[Any, ...]
    assessments: dict[str, PersonAssessment]  # by employee id, in id order
    totals: EligibleTotals
    base_rows: dict[str, EmployeeRow]  # each row as it reads with no intent, form or void
    haystacks: dict[str, tuple[str, str, str]]  # id, name, e-mail casefolded, for the search
    eligible_shares: dict[str, int]  # eligible unexercised shares of each eligible employee
    groups: dict[str, list[str]]  # department / location -> the names in use, sorted


# One entry per database (the revision names it): replicas each keep their own, and each reads
# the revision from the database on every page view, so an import anywhere is seen at once.
_ROSTERS: dict[str, _Roster] = {}
_DATABASES_KEPT = 4


def _build_roster(
    revision: tuple[Any, ...],
    terms: OfferTerms,
    employees: list[Any],
    grants: list[Any],
    adjustments: tuple[Any, ...],
) -> _Roster:
    calendar = business_calendar(terms)
    cancellation, grant_day = cancellation_date(terms), new_grant_date(terms, calendar)
    by_employee: dict[str, list[Any]] = {}
    for g in grants:
        by_employee.setdefault(g.employee_id, []).append(g)
    assessments = {
        e.employee_id: assess(
            e,
            by_employee.get(e.employee_id, []),
            terms,
            cancellation=cancellation,
            new_grant=grant_day,
            adjustments=adjustments,
        )
        for e in sorted(employees, key=lambda e: e.employee_id)
    }
    empty = OfferSnapshot(
        assessments=assessments,
        intents={},
        receipts={},
        adjustments=adjustments,
        open_tasks=[],
        confirmations=[],
        accepted=set(),
        voids={},
    )
    base_rows = {eid: _row(empty, eid) for eid in assessments}
    totals = eligible_totals(assessments.values())
    keys = [group_key(a.employee) for a in assessments.values()]
    present = group_dimensions(keys)
    return _Roster(
        revision=revision,
        terms=terms,
        adjustments=adjustments,
        assessments=assessments,
        totals=totals,
        base_rows=base_rows,
        haystacks={
            eid: (eid.casefold(), r.name.casefold(), r.email.casefold())
            for eid, r in base_rows.items()
        },
        eligible_shares={eid: _eligible_shares(assessments[eid]) for eid in totals.eligible},
        groups={
            d: sorted({group_name(k, i) for k in keys}, key=group_order)
            for i, d in enumerate(GROUP_DIMENSIONS)
            if d in present
        },
    )


async def _load(
    uow: UnitOfWork, terms: OfferTerms, *, dashboard: bool = False
) -> tuple[OfferSnapshot, _Roster]:
    """The report's snapshot with the roster part from the per-revision cache, and only the
    parts that change every day (intents, receipts, voids, acceptances; for the dashboard also
    open tasks and receipt confirmations) read per request, in one transaction.

    The revision is read before the roster: an import that commits in between is stored under
    the older revision and simply assessed again on the next view, never the reverse."""
    fresh: tuple[list[Any], list[Any], tuple[Any, ...]] | None = None
    async with uow:
        revision = await hr_console(uow).roster_revision()
        roster = _ROSTERS.get(revision[0])
        if roster is None or roster.revision != revision or roster.terms != terms:
            fresh = (
                await uow.employees.list_all(),
                await uow.grants.list_all(),
                tuple(await uow.adjustments.list_all()),
            )
        intents = await uow.elections.all_intents()
        receipts = await uow.elections.all_receipts()
        accepted = {(a.employee_id, a.line.grant_number) for a in await uow.accepted.list_all()}
        voids = await load_voids(uow)
        open_tasks = await uow.hr_tasks.open_tasks() if dashboard else []
        confirmations = (
            await uow.outbox.by_kind(MessageKind.RECEIPT_CONFIRMATION) if dashboard else []
        )
    if fresh is not None:  # assessed once the transaction is over
        roster = _build_roster(revision, terms, *fresh)
        if revision[0] not in _ROSTERS and len(_ROSTERS) >= _DATABASES_KEPT:
            del _ROSTERS[next(iter(_ROSTERS))]  # the oldest database's (tests open many)
        _ROSTERS[revision[0]] = roster
    assert roster is not None
    snap = OfferSnapshot(
        assessments=roster.assessments,
        intents=_by_employee(intents),
        receipts=_by_employee(receipts),
        adjustments=roster.adjustments,
        open_tasks=open_tasks,
        confirmations=confirmations,
        accepted=accepted,
        voids=voids,
    )
    return snap, roster


def _by_employee(records: Iterable[Any]) -> dict[str, list[Any]]:
    by: dict[str, list[Any]] = {}
    for r in records:
        by.setdefault(r.employee_id, []).append(r)
    return by


def _active(snap: OfferSnapshot) -> set[str]:
    """Those whose row depends on more than the roster: an intent, a form, a void or an
    acceptance. Everyone else's row is the cached one."""
    return (
        snap.intents.keys()
        | snap.receipts.keys()
        | snap.voids.keys()
        | {eid for eid, _ in snap.accepted}
    ) & snap.assessments.keys()


def _rows(snap: OfferSnapshot, roster: _Roster) -> list[EmployeeRow]:
    active = _active(snap)
    return [_row(snap, eid) if eid in active else row for eid, row in roster.base_rows.items()]


def _daily(snap: OfferSnapshot, terms: OfferTerms, now: datetime) -> list[dict[str, Any]]:
    """Intent versions recorded and signed forms received per day (Pacific), from the
    commencement date to today or the expiration date, whichever is first."""
    zone = terms.deadline_zone
    last = min(now.astimezone(zone).date(), terms.expiration.astimezone(zone).date())
    first = min(terms.commencement, last)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    intents = Counter(
        i.recorded_at.astimezone(zone).date() for h in snap.intents.values() for i in h
    )
    forms = Counter(
        r.received_at.astimezone(zone).date() for rs in snap.receipts.values() for r in rs
    )
    return [{"day": d, "intents": intents[d], "forms": forms[d]} for d in days]


async def dashboard(
    *, uow: UnitOfWork, terms: OfferTerms, identity: Identity, now: datetime
) -> dict[str, Any]:
    """The report, the funnel, and what needs HR today."""
    require_operator(identity)
    snap, roster = await _load(uow, terms, dashboard=True)
    zone = terms.deadline_zone
    local_midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    async with uow:
        repo = hr_console(uow)
        viewed = await repo.employees_with_action(
            "grants.view", excluding_channels=set(OPERATOR_CHANNELS)
        )
        questions_today = await repo.open_questions_since(local_midnight)
        undelivered = await uow.deliveries.undelivered()
    placed = places(
        snap,
        roster.totals.eligible,
        viewed=viewed,
        confirmed=snap.confirmed_employees(),
        shares=roster.eligible_shares,
    )
    report = await hr_report(
        uow=uow,
        terms=terms,
        identity=identity,
        now=now,
        snapshot=snap,
        totals=roster.totals,
        placed=placed,
    )
    left = terms.expiration - now
    return {
        "report": report,
        "deadline": terms.expiration,
        "time_left": left if left > timedelta(0) else timedelta(0),
        "closed": left <= timedelta(0),
        "funnel": funnel(
            (len(roster.totals.eligible), roster.totals.unexercised_shares), placed.values()
        ),
        "by_group": report.get("by_group", {}),
        "daily": _daily(snap, terms, now),
        "overdue": [
            {**o, "due_at": datetime.fromisoformat(o["due_at"])}
            for o in report["receipt_confirmations"]["overdue_items"]
        ],
        "undelivered": undelivered,
        "questions_today": questions_today,
    }


@dataclass(frozen=True, slots=True)
class EmployeeFilters:
    """What the employee list can be narrowed by; a group value of :data:`NOT_GIVEN` picks
    the people whose row leaves that column empty."""

    query: str = ""
    state: ConsoleState | None = None
    department: str = ""
    location: str = ""

    def as_params(self) -> dict[str, str]:
        return {
            "q": self.query,
            "state": self.state.value if self.state else "",
            "department": self.department,
            "location": self.location,
        }


def _in_group(value: str | None, wanted: str) -> bool:
    return not wanted or (value or NOT_GIVEN) == wanted


async def list_employees(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    identity: Identity,
    filters: EmployeeFilters | None = None,
) -> tuple[list[EmployeeRow], dict[ConsoleState, int], dict[str, list[str]]]:
    """Employees matching ``filters``; the count per state of all employees matching the rest
    of the filters (the state filter's badges); and the department and location names in the
    roster (the group filters' choices; empty when the roster has no such column)."""
    require_operator(identity)
    f = filters or EmployeeFilters()
    snap, roster = await _load(uow, terms)
    rows = _rows(snap, roster)
    if f.query:
        q = f.query.casefold()
        rows = [r for r in rows if any(q in v for v in roster.haystacks[r.employee_id])]
    if f.department or f.location:
        rows = [
            r
            for r in rows
            if _in_group(r.department, f.department) and _in_group(r.location, f.location)
        ]
    counts = {s: 0 for s in ConsoleState}
    for r in rows:
        counts[r.state] += 1
    return [r for r in rows if f.state is None or r.state is f.state], counts, roster.groups


async def export_employees(
    *,
    uow: UnitOfWork,
    identity: Identity,
    rows: list[EmployeeRow],
    filters: dict[str, str],
    now: datetime,
) -> str:
    """:func:`employees_csv`, and an audit entry: personal data left the console."""
    require_operator(identity)
    async with uow:
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="hr_console.employees.export",
                channel=identity.channel,
                subject=None,
                detail={"rows": len(rows), **filters},
            )
        )
        await uow.commit()
    return employees_csv(rows)


def employees_csv(rows: Iterable[EmployeeRow]) -> str:
    """The list for follow-up calls; every cell made safe for spreadsheets."""
    buffer = io.StringIO()
    writer = spreadsheet_writer(buffer)
    writer.writerow(EMPLOYEE_CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            (
                r.employee_id,
                r.name,
                r.email,
                r.state.value,
                r.reason,
                r.eligible_shares,
                r.latest_version or "",
                r.latest_kind or "",
                r.department or "",
                r.location or "",
                r.manager_email or "",
            )
        )
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class EmployeeFile:
    row: EmployeeRow
    assessment: PersonAssessment
    reason_text: dict[str, str]
    intents: list[ElectionIntent]
    receipts: list[FormReceipt]
    messages: list[OutboxMessage]
    audit: list[AuditEntry]
    confirmations: list[OutboxMessage] = field(default_factory=list)
    scans: list[FormScan] = field(default_factory=list)  # without their bytes


async def employee_file(
    *, uow: UnitOfWork, terms: OfferTerms, identity: Identity, employee_id: str, now: datetime
) -> EmployeeFile:
    """Everything about one employee; HR's looking at it is itself audited."""
    require_operator(identity)
    snap, _ = await _load(uow, terms)
    if employee_id not in snap.assessments:
        raise NotFoundError(f"No employee {employee_id!r} in the roster.")
    async with uow:
        messages = await uow.outbox.for_employee(employee_id)
        scans = await hr_console(uow).scans_for(employee_id)
        trail = await uow.audit.recent(limit=500, subject=employee_id)
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="hr_console.employee.view",
                channel=identity.channel,
                subject=employee_id,
                detail={},
            )
        )
        await uow.commit()
    a = snap.assessments[employee_id]
    return EmployeeFile(
        row=_row(snap, employee_id),
        assessment=a,
        reason_text={r.value: REASON_TEXT[r] for g in a.grants for r in g.reasons},
        intents=sorted(snap.intents.get(employee_id, []), key=lambda i: i.version),
        receipts=sorted(snap.receipts.get(employee_id, []), key=lambda r: r.recorded_at),
        messages=sorted(messages, key=lambda m: m.created_at),
        audit=list(reversed(trail)),
        confirmations=[m for m in messages if m.kind is MessageKind.RECEIPT_CONFIRMATION],
        scans=scans,
    )


async def open_questions(
    *, uow: UnitOfWork, identity: Identity, limit: int = 200
) -> list[UnansweredQuestion]:
    """Questions the bot could not answer that HR has not marked answered, newest first."""
    require_operator(identity)
    async with uow:
        answered = await hr_console(uow).answered_question_ids()
        found = await uow.questions.unanswered(limit=limit + len(answered))
    return [q for q in found if q.id not in answered][:limit]


async def mark_question_answered(
    *, uow: UnitOfWork, identity: Identity, question_id: int, now: datetime
) -> None:
    require_operator(identity)
    async with uow:
        if not await hr_console(uow).mark_answered(question_id, at=now, by=identity.actor):
            raise NotFoundError(f"No open question #{question_id}.")
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="hr_console.question.answered",
                channel=identity.channel,
                subject=None,
                detail={"question_id": question_id},
            )
        )
        await uow.commit()
