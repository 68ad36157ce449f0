"""After the offer: accept the properly received tenders and promise the new options (Offer §6,
p. 18); and record capitalisation adjustments (Q7, p. 2) that change new-option share counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.elections import IntentLine, ensure_closed
from bot.domain.hr_records import AcceptedTender, Attachment, MessageKind, OutboxMessage
from bot.domain.new_option import VestingTranche, vesting_schedule
from bot.domain.records import AuditEntry
from bot.domain.roster import CapitalizationAdjustment, Employee, file_name_part
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date
from bot.forms import render_pdf
from bot.services.election_support import (
    load_person,
    new_shares_by_grant,
    require_operator,
    retry_on_conflict,
)
from bot.services.election_wording import promise_document
from bot.services.errors import InvalidRequestError
from bot.services.identity import Identity
from bot.services.tender_books import Standing, load_voids, standing_of

__all__ = [
    "CloseResult",
    "Promise",
    "SplitResult",
    "close_json",
    "close_offer",
    "parse_ratio",
    "record_split",
    "split_json",
]


@dataclass(frozen=True, slots=True)
class Promise:
    employee: Employee
    version: int
    options: tuple[tuple[IntentLine, int], ...]  # cancelled grant, new-option shares
    schedules: dict[str, list[VestingTranche]]
    grant_date: date
    pdf: bytes
    filename: str
    newly_accepted: int


@dataclass(frozen=True, slots=True)
class CloseResult:
    promises: tuple[Promise, ...]
    rejected: tuple[tuple[str, str], ...]  # employee id, why
    withdrawn: tuple[str, ...]
    new_grant_date: date


async def close_offer(
    *, uow: Any, terms: OfferTerms, identity: Identity, now: datetime
) -> CloseResult:
    """At or after expiration: accept every effective (latest received) Election Form whose
    holder and grants are still eligible, and prepare each holder's Promise to Grant letter.

    Running it again accepts nothing twice and queues no letter twice.
    """
    require_operator(identity)
    ensure_closed(terms, now)
    grant_day = new_grant_date(terms, business_calendar(terms))

    async def attempt() -> CloseResult:
        async with uow:
            # An extension committed since ``terms`` was read reopens the offer: check the live
            # date under the lock that extensions take too.
            state = await uow.offers.lock(terms.offer_id)
            if state is not None:
                live = state.expiration.astimezone(terms.deadline_zone)
                ensure_closed(terms.with_expiration(live), now)
            intents = await uow.elections.all_intents()
            receipts = await uow.elections.all_receipts()
            voids = await load_voids(uow)
            accepted = {(a.employee_id, a.line.grant_number) for a in await uow.accepted.list_all()}
            promises: list[Promise] = []
            rejected: list[tuple[str, str]] = []
            withdrawn: list[str] = []
            for employee_id in sorted({r.employee_id for r in receipts}):
                person = await load_person(uow, terms, employee_id)
                # The same standing `hr report` counts and `hr export` lists (tender_books).
                standing = standing_of(
                    [i for i in intents if i.employee_id == employee_id],
                    [r for r in receipts if r.employee_id == employee_id],
                    assessment=person.assessment,
                    void=voids.get(employee_id),
                    accepted={grant for eid, grant in accepted if eid == employee_id},
                )
                if standing.standing is Standing.WITHDRAWN:
                    withdrawn.append(employee_id)
                    continue
                if standing.standing in (Standing.VOID, Standing.NOT_ACCEPTABLE):
                    rejected.append((employee_id, standing.reason))
                    continue
                effective = standing.effective
                if standing.standing is not Standing.TENDERED or effective is None:
                    continue
                shares = new_shares_by_grant(effective.intent.lines, terms, person.adjustments)
                options = tuple(
                    (line, shares[line.grant_number]) for line in effective.intent.lines
                )
                schedules = {
                    line.grant_number: vesting_schedule(n, grant_day, terms.vesting)
                    for line, n in options
                }
                added = await uow.accepted.add_missing(
                    AcceptedTender(
                        employee_id=employee_id,
                        version=effective.intent.version,
                        line=line,
                        accepted_at=now,
                    )
                    for line in effective.intent.lines
                )
                pdf = render_pdf(
                    promise_document(
                        employee=person.employee,
                        terms=terms,
                        options=options,
                        grant_date=grant_day,
                        schedules=schedules,
                        adjusted=_adjusted(person.adjustments, terms, grant_day),
                        issued_at=now,
                    )
                )
                filename = f"promise-to-grant-{file_name_part(employee_id)}.pdf"
                total = sum(n for _, n in options)
                await uow.outbox.enqueue(
                    OutboxMessage(
                        idempotency_key=(
                            f"promise_to_grant:{employee_id}:v{effective.intent.version}:{total}"
                        ),
                        channel="email",
                        recipient=person.employee.email,
                        kind=MessageKind.PROMISE_TO_GRANT,
                        subject=f"{terms.company_short_name}: Promise to Grant Stock Option(s)",
                        body_text=(
                            f"Dear {person.employee.name},\n\nYour tendered options were accepted "
                            "for exchange and cancelled. Your Promise to Grant Stock Option(s) is "
                            f"attached: new options for {total:,} shares on "
                            f"{format_date(grant_day)}, provided you are still an employee then "
                            "(§6, p. 18)."
                        ),
                        created_at=now,
                        due_at=now,
                        employee_id=employee_id,
                        reference=f"v{effective.intent.version}",
                        attachments=(Attachment(filename, "application/pdf", pdf),),
                    )
                )
                if added:
                    await uow.audit.record(
                        AuditEntry(
                            at=now,
                            actor=identity.actor,
                            action="election.accept",
                            channel=identity.channel,
                            subject=employee_id,
                            detail={
                                "version": effective.intent.version,
                                "before": {"state": "tendered", "accepted": False},
                                "after": {
                                    "state": "accepted",
                                    "grants": list(effective.intent.grant_numbers),
                                    "new_option_shares": total,
                                    "new_grant_date": grant_day.isoformat(),
                                },
                            },
                        )
                    )
                promises.append(
                    Promise(
                        employee=person.employee,
                        version=effective.intent.version,
                        options=options,
                        schedules=schedules,
                        grant_date=grant_day,
                        pdf=pdf,
                        filename=filename,
                        newly_accepted=added,
                    )
                )
            await uow.audit.record(
                AuditEntry(
                    at=now,
                    actor=identity.actor,
                    action="offer.close",
                    channel=identity.channel,
                    subject=None,
                    detail={
                        "accepted_employees": [p.employee.employee_id for p in promises],
                        "rejected": [eid for eid, _ in rejected],
                        "withdrawn": withdrawn,
                    },
                )
            )
            await uow.commit()
            return CloseResult(
                promises=tuple(promises),
                rejected=tuple(rejected),
                withdrawn=tuple(withdrawn),
                new_grant_date=grant_day,
            )

    return await retry_on_conflict(attempt)


def _adjusted(
    adjustments: tuple[CapitalizationAdjustment, ...], terms: OfferTerms, grant_day: date
) -> bool:
    cancellation = cancellation_date(terms)
    return any(cancellation < a.effective_date < grant_day for a in adjustments)


def close_json(result: CloseResult, terms: OfferTerms, files: dict[str, str]) -> dict[str, Any]:
    return {
        "new_grant_date": result.new_grant_date.isoformat(),
        "accepted": [
            {
                "employee_id": p.employee.employee_id,
                "name": p.employee.name,
                "version": p.version,
                "newly_accepted_grants": p.newly_accepted,
                "new_options": [
                    {
                        "cancelled_grant": line.grant_number,
                        "cancelled_shares": line.unexercised_shares,
                        "new_option_shares": shares,
                        "grant_date": p.grant_date.isoformat(),
                        "vesting": [
                            {
                                "date": t.date.isoformat(),
                                "shares": t.shares,
                                "cumulative": t.cumulative,
                            }
                            for t in p.schedules[line.grant_number]
                        ],
                    }
                    for line, shares in p.options
                ],
                "new_option_shares": sum(n for _, n in p.options),
                "promise_to_grant": files.get(p.employee.employee_id),
            }
            for p in result.promises
        ],
        "rejected": [{"employee_id": e, "reason": why} for e, why in result.rejected],
        "withdrawn": list(result.withdrawn),
    }


# --- capitalisation adjustments ------------------------------------------------------------

_RATIO = re.compile(r"\s*(\d+)\s*[:/]\s*(\d+)\s*")


def parse_ratio(text: str) -> tuple[int, int]:
    """``"1:10"`` → (1, 10): one new share for every ten old (a one-for-ten reverse split)."""
    match = _RATIO.fullmatch(text)
    if match is None:
        raise InvalidRequestError(
            f"{text!r} is not a ratio; write NEW:OLD, e.g. 1:10 for a one-for-ten reverse split."
        )
    new, old = int(match[1]), int(match[2])
    if new <= 0 or old <= 0:
        raise InvalidRequestError("Both sides of the ratio must be positive whole numbers.")
    if new == old:
        raise InvalidRequestError(f"{text} changes nothing.")
    return new, old


@dataclass(frozen=True, slots=True)
class SplitResult:
    adjustment: CapitalizationAdjustment
    affects_new_options: bool
    cancellation: date
    new_grant_date: date
    total_adjustments: int


async def record_split(
    *,
    uow: Any,
    terms: OfferTerms,
    ratio: str,
    effective: date,
    identity: Identity,
    now: datetime,
) -> SplitResult:
    """Record a split or reverse split. Only one effective after the cancellation date and
    before the new grant date changes new-option shares (Q7, p. 2); others are recorded and
    said not to."""
    require_operator(identity)
    new, old = parse_ratio(ratio)
    kind = "reverse split" if new < old else "split"
    adjustment = CapitalizationAdjustment(
        effective_date=effective,
        numerator=new,
        denominator=old,
        description=f"{new}-for-{old} {kind}",
    )
    cancellation = cancellation_date(terms)
    grant_day = new_grant_date(terms, business_calendar(terms))
    affects = cancellation < effective < grant_day

    async def attempt() -> SplitResult:
        async with uow:
            existing = await uow.adjustments.list_all()
            if any(a.effective_date == effective and a.ratio == adjustment.ratio for a in existing):
                raise InvalidRequestError(
                    f"A {adjustment.description} effective {effective.isoformat()} is already "
                    "recorded."
                )
            await uow.adjustments.add(adjustment)
            await uow.audit.record(
                AuditEntry(
                    at=now,
                    actor=identity.actor,
                    action="offer.split",
                    channel=identity.channel,
                    subject=None,
                    detail={
                        "before": {"adjustments": len(existing)},
                        "after": {
                            "adjustments": len(existing) + 1,
                            "ratio": f"{new}:{old}",
                            "effective": effective.isoformat(),
                            "affects_new_options": affects,
                        },
                    },
                )
            )
            await uow.commit()
            return SplitResult(
                adjustment=adjustment,
                affects_new_options=affects,
                cancellation=cancellation,
                new_grant_date=grant_day,
                total_adjustments=len(existing) + 1,
            )

    return await retry_on_conflict(attempt)


def split_json(result: SplitResult) -> dict[str, Any]:
    a = result.adjustment
    return {
        "ratio": f"{a.numerator}:{a.denominator}",
        "description": a.description,
        "effective": a.effective_date.isoformat(),
        "affects_new_options": result.affects_new_options,
        "applies_between": [result.cancellation.isoformat(), result.new_grant_date.isoformat()],
        "adjustments": result.total_adjustments,
        "message": (
            f"Recorded a {a.description} effective {format_date(a.effective_date)}. "
            + (
                "New-option share counts now include it (rounded down to whole shares)."
                if result.affects_new_options
                else "It is not between the cancellation date and the new grant date, so it "
                "does not change new-option share counts (Q7, p. 2)."
            )
        ),
    }
