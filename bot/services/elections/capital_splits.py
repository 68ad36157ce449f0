"""Capitalisation adjustments (Offer Q7, p. 2): a split or reverse split recorded by HR changes
new-option share counts only when it takes effect after the cancellation date and before the
new grant date; others are recorded and said not to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.records import AuditEntry
from bot.domain.roster import CapitalizationAdjustment
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date
from bot.ports import UnitOfWork
from bot.services.access import require_operator
from bot.services.errors import InvalidRequestError
from bot.services.identity import Identity
from bot.services.retry import retry_on_conflict

__all__ = ["SplitResult", "parse_ratio", "record_split", "split_json"]


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
    uow: UnitOfWork,
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
