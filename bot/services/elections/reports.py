"""HR's view of the whole offer: the report, and the CSV for the stock administrator.

Both read each employee's standing from :func:`bot.services.elections.tender_books.standing_of`, the
function `hr close` acts on, so the shares the report counts as tendered, the rows the export
lists and the grants close accepts are always the same ones.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.elections import (
    ElectionIntent,
    FormKind,
    FormReceipt,
    IntentKind,
    latest_intent,
)
from bot.domain.eligibility import PersonAssessment, assess
from bot.domain.hr_records import MessageKind
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork
from bot.services.access import OPERATOR_CHANNELS, require_operator
from bot.services.elections.participation import (
    GroupKey,
    Place,
    eligible_by_group,
    funnel_by_group,
    group_key,
    places,
)
from bot.services.elections.person import new_shares_by_grant
from bot.services.elections.tender_books import (
    Standing,
    TenderStanding,
    Void,
    load_voids,
    standing_of,
    unvoided,
)
from bot.services.identity import Identity
from bot.services.spreadsheet import spreadsheet_writer
from storage.hr_console_repo import hr_console

__all__ = [
    "EXPORT_COLUMNS",
    "EligibleTotals",
    "OfferSnapshot",
    "eligible_totals",
    "export_csv",
    "hr_report",
    "load_report_snapshot",
    "load_snapshot",
]

EXPORT_COLUMNS = (
    "employee_id",
    "name",
    "email",
    "version",
    "form_received_at",
    "received_via",
    "grant_number",
    "grant_date",
    "option_type",
    "exercise_price",
    "unexercised_shares",
    "new_option_shares",
    "new_option_grant_date",
    "accepted",
)


@dataclass(frozen=True, slots=True)
class OfferSnapshot:
    """Everything the report and the export read, in one transaction."""

    assessments: dict[str, PersonAssessment]
    intents: dict[str, list[ElectionIntent]]
    receipts: dict[str, list[FormReceipt]]
    adjustments: tuple[Any, ...]
    open_tasks: list[Any]
    confirmations: list[Any]
    accepted: set[tuple[str, str]]  # (employee id, grant number) accepted on close
    voids: dict[str, Void]
    _index: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def standing(self, employee_id: str) -> TenderStanding:
        """What close would do with this employee's received forms (see tender_books)."""
        return standing_of(
            self.intents.get(employee_id, []),
            self.receipts.get(employee_id, []),
            assessment=self.assessments[employee_id],
            void=self.voids.get(employee_id),
            accepted=self._accepted_by().get(employee_id, set()),
        )

    def confirmed_employees(self) -> set[str]:
        """Who was sent their receipt confirmation: the funnel's last step, for the dashboard
        and the report alike (:mod:`bot.services.elections.participation`)."""
        return {m.employee_id for m in self.confirmations if m.sent_at and m.employee_id}

    def _accepted_by(self) -> dict[str, set[str]]:
        """``accepted`` by employee, built once: a scan of the whole set per employee made the
        report quadratic (15,000 tenders × 15,000 accepted grants)."""
        index = self._index
        if "accepted" not in index:
            by: dict[str, set[str]] = defaultdict(set)
            for eid, grant in self.accepted:
                by[eid].add(grant)
            index["accepted"] = dict(by)
        return index["accepted"]


async def load_snapshot(uow: UnitOfWork, terms: OfferTerms) -> OfferSnapshot:
    calendar = business_calendar(terms)
    async with uow:
        employees = await uow.employees.list_all()
        grants = await uow.grants.list_all()
        adjustments = tuple(await uow.adjustments.list_all())
        intents = await uow.elections.all_intents()
        receipts = await uow.elections.all_receipts()
        open_tasks = await uow.hr_tasks.open_tasks()
        confirmations = await uow.outbox.by_kind(MessageKind.RECEIPT_CONFIRMATION)
        accepted = {(a.employee_id, a.line.grant_number) for a in await uow.accepted.list_all()}
        voids = await load_voids(uow)
    by_employee = defaultdict(list)
    for g in grants:
        by_employee[g.employee_id].append(g)
    cancellation, grant_day = cancellation_date(terms), new_grant_date(terms, calendar)
    assessments = {
        e.employee_id: assess(
            e,
            by_employee[e.employee_id],
            terms,
            cancellation=cancellation,
            new_grant=grant_day,
            adjustments=adjustments,
        )
        for e in employees
    }
    intents_by: dict[str, list[ElectionIntent]] = defaultdict(list)
    for i in intents:
        intents_by[i.employee_id].append(i)
    receipts_by: dict[str, list[FormReceipt]] = defaultdict(list)
    for r in receipts:
        receipts_by[r.employee_id].append(r)
    return OfferSnapshot(
        assessments=assessments,
        intents=dict(intents_by),
        receipts=dict(receipts_by),
        adjustments=adjustments,
        open_tasks=open_tasks,
        confirmations=confirmations,
        accepted=accepted,
        voids=voids,
    )


@dataclass(frozen=True, slots=True)
class EligibleTotals:
    """The report's eligible-population figures, summed as the roster is read."""

    employees: int = 0  # everyone on the roster
    eligible: frozenset[str] = frozenset()  # ids of eligible people holding an eligible grant
    grants: int = 0
    unexercised_shares: int = 0
    new_option_shares: int = 0
    # Only when some eligible person has a department or location (else both empty): their
    # department and location, and every eligible person's eligible unexercised shares, for
    # the funnel by group.
    groups: Mapping[str, GroupKey] = field(default_factory=dict)
    shares_by: Mapping[str, int] = field(default_factory=dict)
    # per dimension, per group: (eligible people, their shares); see participation
    by_group: Mapping[str, Mapping[str, tuple[int, int]]] = field(default_factory=dict)


class _GroupTally:
    """Collects :attr:`EligibleTotals.groups` and ``shares_by`` as the roster is read."""

    def __init__(self) -> None:
        self.groups: dict[str, GroupKey] = {}
        self.shares_by: dict[str, int] = {}

    def add(self, a: PersonAssessment, shares: int) -> None:
        eid = a.employee.employee_id
        self.shares_by[eid] = shares
        key = group_key(a.employee)
        if key[0] or key[1]:
            self.groups[eid] = key

    def result(
        self,
    ) -> tuple[dict[str, GroupKey], dict[str, int], dict[str, dict[str, tuple[int, int]]]]:
        if not self.groups:
            return {}, {}, {}
        return self.groups, self.shares_by, eligible_by_group(self.groups, self.shares_by)


def eligible_totals(assessments: Iterable[PersonAssessment]) -> EligibleTotals:
    """The report's eligible figures over these assessments (the whole roster's)."""
    return _totals(assessments)


def _totals(assessments: Iterable[PersonAssessment]) -> EligibleTotals:
    employees = grants = shares = new = 0
    eligible: set[str] = set()
    tally = _GroupTally()
    for a in assessments:
        employees += 1
        if a.eligible_person and a.eligible_grants:
            eligible.add(a.employee.employee_id)
            grants += len(a.eligible_grants)
            own = sum(g.grant.unexercised_shares for g in a.eligible_grants)
            shares += own
            new += sum(g.new_option_shares for g in a.eligible_grants)
            tally.add(a, own)
    return EligibleTotals(employees, frozenset(eligible), grants, shares, new, *tally.result())


async def load_report_snapshot(
    uow: UnitOfWork, terms: OfferTerms
) -> tuple[OfferSnapshot, EligibleTotals]:
    """What :func:`hr_report` and :func:`export_csv` read, in one transaction, with the roster
    streamed a page at a time (issue 15): the eligible figures are summed as each page is
    assessed, and only the people with an intent or a signed form keep their assessment. 100,000
    grants are never all in memory; the report is the same, byte for byte, as from
    :func:`load_snapshot` (a test holds the two equal)."""
    from bot.services.roster.audience import PAGE

    calendar = business_calendar(terms)
    cancellation, grant_day = cancellation_date(terms), new_grant_date(terms, calendar)
    assessments: dict[str, PersonAssessment] = {}
    employees = grants_count = shares = new = 0
    eligible: set[str] = set()
    tally = _GroupTally()
    async with uow:
        adjustments = tuple(await uow.adjustments.list_all())
        intents = await uow.elections.all_intents()
        receipts = await uow.elections.all_receipts()
        open_tasks = await uow.hr_tasks.open_tasks()
        confirmations = await uow.outbox.by_kind(MessageKind.RECEIPT_CONFIRMATION)
        accepted = {(a.employee_id, a.line.grant_number) for a in await uow.accepted.list_all()}
        voids = await load_voids(uow)
        participants = {i.employee_id for i in intents} | {r.employee_id for r in receipts}
        after: str | None = None
        while True:
            page = await uow.audience.page(after=after, limit=PAGE)
            if not page.employees:
                break
            after = page.last
            by_employee: dict[str, list[Any]] = defaultdict(list)
            for g in sorted(page.grants, key=lambda g: (g.grant_date, g.grant_number)):
                by_employee[g.employee_id].append(g)  # the order list_all gives
            for e in page.employees:
                a = assess(
                    e,
                    by_employee[e.employee_id],
                    terms,
                    cancellation=cancellation,
                    new_grant=grant_day,
                    adjustments=adjustments,
                )
                employees += 1
                if a.eligible_person and a.eligible_grants:
                    eligible.add(e.employee_id)
                    grants_count += len(a.eligible_grants)
                    own = sum(g.grant.unexercised_shares for g in a.eligible_grants)
                    shares += own
                    new += sum(g.new_option_shares for g in a.eligible_grants)
                    tally.add(a, own)
                if e.employee_id in participants:
                    assessments[e.employee_id] = a
    snapshot = OfferSnapshot(
        assessments=assessments,
        intents=_by_employee(intents),
        receipts=_by_employee(receipts),
        adjustments=adjustments,
        open_tasks=open_tasks,
        confirmations=confirmations,
        accepted=accepted,
        voids=voids,
    )
    totals = EligibleTotals(
        employees, frozenset(eligible), grants_count, shares, new, *tally.result()
    )
    return snapshot, totals


def _by_employee(records: Iterable[Any]) -> dict[str, list[Any]]:
    by: dict[str, list[Any]] = defaultdict(list)
    for r in records:
        by[r.employee_id].append(r)
    return dict(by)


async def hr_report(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    identity: Identity,
    now: datetime,
    snapshot: OfferSnapshot | None = None,
    totals: EligibleTotals | None = None,
    placed: Mapping[str, Place] | None = None,
) -> dict[str, Any]:
    """Counts HR asks for; ``checks`` shows that the breakdowns add up. ``snapshot``: one the
    caller already loaded (the HR console's dashboard reads it for its funnel too), and
    ``totals``, its eligible figures if the caller already summed them (the console keeps them
    per roster revision); ``placed``, each eligible employee's place on the participation
    funnel if the caller has it (:mod:`bot.services.elections.participation`).

    ``by_group`` (the funnel by department and by location) is there only when the roster has
    such a column filled in for someone, so a roster without groups reports what it always
    did."""
    require_operator(identity)
    if snapshot is None:
        snap, totals = await load_report_snapshot(uow, terms)
    else:
        snap = snapshot
        totals = totals if totals is not None else _totals(snapshot.assessments.values())
    zone = terms.deadline_zone
    eligible = totals.eligible
    eligible_shares = totals.unexercised_shares
    eligible_new = totals.new_option_shares

    latest_kinds = {
        eid: latest_intent(unvoided(h, snap.voids.get(eid))) for eid, h in snap.intents.items()
    }
    intended = [i for i in latest_kinds.values() if i and i.kind is IntentKind.TENDER]
    state = {s.value: 0 for s in Standing}
    tendered_shares = tendered_new = 0
    tendered_grants: list[str] = []
    not_counted = []
    for eid in sorted(snap.intents.keys() | snap.receipts.keys()):
        standing = snap.standing(eid)
        if standing.standing in (Standing.VOID, Standing.NOT_ACCEPTABLE):
            not_counted.append(
                {"employee_id": eid, "standing": standing.standing.value, "reason": standing.reason}
            )
        if eid in eligible:
            state[standing.standing.value] += 1
        effective = standing.effective
        # Counted whoever it is: a tender close accepted stays tendered if the holder has
        # left since, and the export lists it (tender_books).
        if standing.standing is Standing.TENDERED and effective is not None:
            tendered_shares += effective.intent.unexercised_shares
            tendered_grants.extend(effective.intent.grant_numbers)
            tendered_new += sum(
                new_shares_by_grant(effective.intent.lines, terms, snap.adjustments).values()
            )
    state[Standing.NO_SIGNED_FORM.value] += sum(
        1 for eid in eligible if eid not in snap.intents and eid not in snap.receipts
    )
    all_receipts = [r for rs in snap.receipts.values() for r in rs]
    overdue = [m for m in snap.confirmations if m.overdue(now)]
    latest_version = {eid: i.version for eid, i in latest_kinds.items() if i is not None}
    pending = [t for t in snap.open_tasks if latest_version.get(t.employee_id) == t.version]
    by_group: dict[str, Any] = {}
    if totals.by_group:
        if placed is None:
            placed = await _places(uow, snap, totals)
        by_group = {
            "by_group": {
                d: funnel_by_group(base, placed, totals.groups, d)
                for d, base in totals.by_group.items()
            }
        }
    return {
        "now": now.astimezone(zone).isoformat(),
        "deadline": terms.expiration.astimezone(zone).isoformat(),
        "employees": totals.employees,
        "eligible": {
            "employees": len(eligible),
            "grants": totals.grants,
            "unexercised_shares": eligible_shares,
            "new_option_shares": eligible_new,
        },
        "intents": {
            "employees": len(snap.intents),
            "versions": sum(len(h) for h in snap.intents.values()),
            "latest_tender": len(intended),
            "latest_withdraw": sum(
                1 for i in latest_kinds.values() if i and i.kind is IntentKind.WITHDRAW
            ),
            "unexercised_shares_intended": sum(i.unexercised_shares for i in intended),
        },
        "signed_forms_received": {
            "total": len(all_receipts),
            "election_forms": sum(1 for r in all_receipts if r.form is FormKind.ELECTION),
            "notices_to_withdraw": sum(1 for r in all_receipts if r.form is FormKind.WITHDRAWAL),
            "employees": len(snap.receipts),
        },
        "eligible_employees_by_signed_form": state,
        "shares": {
            "eligible": eligible_shares,
            "tendered": tendered_shares,
            "tendered_percent": round(100 * tendered_shares / eligible_shares, 2)
            if eligible_shares
            else 0.0,
            "new_option_shares_tendered": tendered_new,
        },
        "pending_signatures": {
            "count": len(pending),
            "items": [
                {
                    "employee_id": t.employee_id,
                    "version": t.version,
                    "since": t.created_at.astimezone(zone).isoformat(),
                }
                for t in pending
            ],
        },
        "receipt_confirmations": {
            "queued": sum(1 for m in snap.confirmations if m.sent_at is None),
            "sent": sum(1 for m in snap.confirmations if m.sent_at is not None),
            "overdue": len(overdue),
            "overdue_items": [
                {
                    "employee_id": m.employee_id,
                    "reference": m.reference,
                    "due_at": m.due_at.astimezone(zone).isoformat(),
                }
                for m in overdue
            ],
        },
        "tenders_not_counted": not_counted,
        "accepted_grants": len(snap.accepted),
        **by_group,
        "checks": {
            "eligible_employees_add_up": sum(state.values()) == len(eligible),
            "receipts_add_up": len(all_receipts)
            == sum(1 for r in all_receipts if r.form is FormKind.ELECTION)
            + sum(1 for r in all_receipts if r.form is FormKind.WITHDRAWAL),
            "tendered_within_eligible": tendered_shares <= eligible_shares,
            "each_grant_tendered_once": len(tendered_grants) == len(set(tendered_grants)),
        },
    }


async def _places(uow: UnitOfWork, snap: OfferSnapshot, totals: EligibleTotals) -> dict[str, Place]:
    """Each eligible employee's place on the funnel; who looked at their own grants is read
    here (the snapshot does not hold the audit log)."""
    async with uow:
        viewed = await hr_console(uow).employees_with_action(
            "grants.view", excluding_channels=set(OPERATOR_CHANNELS)
        )
    return places(
        snap,
        totals.eligible,
        viewed=viewed,
        confirmed=snap.confirmed_employees(),
        shares=totals.shares_by,
    )


async def export_csv(*, uow: UnitOfWork, terms: OfferTerms, identity: Identity) -> tuple[str, int]:
    """One row per grant in each employee's effective (received) Election Form that close
    accepts (or accepted): what the stock administrator cancels. Returns the CSV text (cells
    made safe for spreadsheets) and the number of rows."""
    require_operator(identity)
    snap, _ = await load_report_snapshot(uow, terms)
    grant_day = new_grant_date(terms, business_calendar(terms)).isoformat()
    buffer = io.StringIO()
    writer = spreadsheet_writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    rows = 0
    for eid in sorted(snap.intents):
        standing = snap.standing(eid)
        effective = standing.effective
        if standing.standing is not Standing.TENDERED or effective is None:
            continue
        employee = snap.assessments[eid].employee
        shares = new_shares_by_grant(effective.intent.lines, terms, snap.adjustments)
        for line in effective.intent.lines:
            writer.writerow(
                (
                    eid,
                    employee.name,
                    employee.email,
                    effective.intent.version,
                    effective.receipt.received_at.astimezone(terms.deadline_zone).isoformat(),
                    effective.receipt.via.value,
                    line.grant_number,
                    line.grant_date.isoformat(),
                    line.option_type,
                    f"{line.exercise_price:.2f}",
                    line.unexercised_shares,
                    shares[line.grant_number],
                    grant_day,
                    "yes" if (eid, line.grant_number) in snap.accepted else "no",
                )
            )
            rows += 1
    return buffer.getvalue(), rows
