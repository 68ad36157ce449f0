"""Amendments to the offer after it was printed: an extension of the expiration, or a change in
the consideration or in the options sought (which reopens a 10-business-day window).

An amendment is evidence for the Schedule TO: who asked, who approved (the optional two-person
rule), what changed and when. It is written once and only moves forward in ``status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["AmendmentKind", "AmendmentStatus", "OfferAmendment"]


class AmendmentKind(StrEnum):
    EXTENSION = "extension"  # only the expiration moves
    CONSIDERATION = "consideration"  # the consideration or the options sought change


class AmendmentStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # two-person rule: a second HR admin must approve
    APPLIED = "applied"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class OfferAmendment:
    offer_id: str
    kind: AmendmentKind
    previous_expiration: datetime
    new_expiration: datetime
    description: str  # what changed, in HR's words (kept verbatim for the filing)
    message: str  # the optional note HR adds to the announcement ("" if none)
    announce: bool
    requested_by: str
    requested_at: datetime
    status: AmendmentStatus
    approved_by: str | None = None
    applied_at: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        for name in ("previous_expiration", "new_expiration", "requested_at"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
