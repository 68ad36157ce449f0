"""Where each employee's tender stands: decided once, here, for `hr report`, `hr export` and
`hr close`, so the three can never disagree; and which grants a roster re-import must not move.

A received Election Form counts only while the roster still backs it: the holder is eligible and
every grant on the form is still theirs with the shares the form lists (Offer §6, p. 18). When
HR re-imports a roster that moves a tendered grant to someone else, or lowers its shares below
what was tendered, the import is refused (:mod:`bot.services.roster.import_roster`); with
``--allow-reassign`` it goes ahead and the old holder's tender is *void*: an ``election.void``
audit row (the legal record of the decision) makes every intent version up to the one it names
count for nothing. The holder may record a new intent and deliver a new signed form.

Standings, one per employee with any intent::

    tendered         the effective form is a tender that close accepts
    withdrawn        the effective form is a Notice to Withdraw
    no_signed_form   no form received (or only forms of voided versions, see void)
    void             the effective form belonged to a tender HR voided on a roster correction
    not_acceptable   the roster changed under the signed form (a grant moved, shares differ,
                     the holder left): close rejects it, the report and export do not count it

Once close has accepted a tender it stays ``tendered`` whatever the roster says later (the
holder leaving after the cancellation date changes nothing: the options were cancelled).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.elections import (
    EffectiveElection,
    ElectionIntent,
    FormReceipt,
    IntentKind,
    IntentLine,
    effective_election,
    latest_intent,
    receipt_for,
)
from bot.domain.eligibility import REASON_TEXT, PersonAssessment
from bot.domain.records import AuditEntry
from bot.ports import UnitOfWork

__all__ = [
    "VOID_ACTION",
    "LiveTender",
    "Standing",
    "TenderStanding",
    "Void",
    "live_tenders",
    "load_voids",
    "not_acceptable",
    "standing_of",
    "unvoided",
    "voids_from",
]

VOID_ACTION = "election.void"


class Standing(StrEnum):
    TENDERED = "tendered"
    WITHDRAWN = "withdrawn"
    NO_SIGNED_FORM = "no_signed_form"
    VOID = "void"
    NOT_ACCEPTABLE = "not_acceptable"


@dataclass(frozen=True, slots=True)
class Void:
    """Intent versions up to ``through_version`` count for nothing (HR's roster correction)."""

    through_version: int
    reason: str


@dataclass(frozen=True, slots=True)
class TenderStanding:
    standing: Standing
    effective: EffectiveElection | None = None
    reason: str = ""


def voids_from(entries: Iterable[AuditEntry]) -> dict[str, Void]:
    """The latest void per employee from ``election.void`` audit entries."""
    voids: dict[str, Void] = {}
    for entry in entries:
        if entry.action != VOID_ACTION or entry.subject is None:
            continue
        through = int(entry.detail.get("through_version", 0))
        known = voids.get(entry.subject)
        if known is None or through >= known.through_version:
            voids[entry.subject] = Void(through, str(entry.detail.get("reason", "")))
    return voids


async def load_voids(uow: UnitOfWork) -> dict[str, Void]:
    """Inside an open unit of work."""
    return voids_from(await uow.audit.with_action(VOID_ACTION))


def unvoided(history: Sequence[ElectionIntent], void: Void | None) -> list[ElectionIntent]:
    """The intent versions that still count."""
    if void is None:
        return list(history)
    return [i for i in history if i.version > void.through_version]


def not_acceptable(assessment: PersonAssessment, lines: Sequence[IntentLine]) -> str:
    """Why a received tender cannot be accepted now (the holder left, a grant changed); ""
    when it can."""
    if not assessment.eligible_person:
        return "; ".join(REASON_TEXT[r] for r in assessment.reasons)
    by_number = assessment.by_number()
    for line in lines:
        g = by_number.get(line.grant_number)
        if g is None:
            return f"grant {line.grant_number} is no longer theirs in the roster"
        if not g.eligible:
            return f"grant {line.grant_number}: " + "; ".join(REASON_TEXT[r] for r in g.reasons)
        if g.grant.unexercised_shares != line.unexercised_shares:
            return (
                f"grant {line.grant_number} now has {g.grant.unexercised_shares:,} unexercised "
                f"shares, not the {line.unexercised_shares:,} on the signed form"
            )
    return ""


def standing_of(
    history: Sequence[ElectionIntent],
    receipts: Sequence[FormReceipt],
    *,
    assessment: PersonAssessment,
    void: Void | None = None,
    accepted: Collection[str] = (),
) -> TenderStanding:
    """One employee's standing; the report counts it, the export lists it and close acts on it.
    ``accepted``: the grant numbers close already accepted from this employee."""
    effective = effective_election(unvoided(history, void), receipts)
    if effective is None:
        if void is not None and effective_election(history, receipts) is not None:
            return TenderStanding(Standing.VOID, reason=f"the tender is void: {void.reason}")
        return TenderStanding(Standing.NO_SIGNED_FORM)
    if not effective.tendered:
        return TenderStanding(Standing.WITHDRAWN, effective)
    done = all(n in accepted for n in effective.intent.grant_numbers)
    why = "" if done else not_acceptable(assessment, effective.intent.lines)
    if why:
        return TenderStanding(Standing.NOT_ACCEPTABLE, effective, why)
    return TenderStanding(Standing.TENDERED, effective)


@dataclass(frozen=True, slots=True)
class LiveTender:
    """A grant an employee's still-counting intent or received form lists."""

    employee_id: str
    grant_number: str
    unexercised_shares: int
    version: int
    form_received: bool
    latest_version: int  # the employee's newest intent version (what a void goes up to)


def live_tenders(
    intents: Iterable[ElectionIntent],
    receipts: Iterable[FormReceipt],
    voids: dict[str, Void],
) -> dict[str, list[LiveTender]]:
    """Grant number → the tenders that list it: in each employee's latest intent (if a tender)
    and in their effective received form (if a tender), leaving out voided versions."""
    histories: dict[str, list[ElectionIntent]] = defaultdict(list)
    for intent in intents:
        histories[intent.employee_id].append(intent)
    received: dict[str, list[FormReceipt]] = defaultdict(list)
    for receipt in receipts:
        received[receipt.employee_id].append(receipt)
    found: dict[str, list[LiveTender]] = defaultdict(list)
    for employee_id, history in histories.items():
        newest = max(i.version for i in history)
        live = unvoided(history, voids.get(employee_id))
        effective = effective_election(live, received[employee_id])
        candidates = {
            i.version: i for i in (effective and effective.intent, latest_intent(live)) if i
        }
        for intent in candidates.values():
            if intent.kind is not IntentKind.TENDER:
                continue
            form_received = receipt_for(received[employee_id], intent.version) is not None
            for line in intent.lines:
                found[line.grant_number].append(
                    LiveTender(
                        employee_id=employee_id,
                        grant_number=line.grant_number,
                        unexercised_shares=line.unexercised_shares,
                        version=intent.version,
                        form_received=form_received,
                        latest_version=newest,
                    )
                )
    return dict(found)
