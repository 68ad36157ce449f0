"""Records the bot keeps that are not part of the roster: the live offer state and the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["AuditEntry", "OfferState", "UnansweredQuestion", "UpsertCounts"]


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class OfferState:
    """What has changed since the document was printed: the live expiration instant.

    ``terms_digest`` identifies the offer.toml the state was loaded from, so a changed terms
    file is noticed instead of silently mixed with an old state.
    """

    offer_id: str
    expiration: datetime
    original_expiration: datetime
    terms_digest: str
    updated_at: datetime

    def __post_init__(self) -> None:
        for name in ("expiration", "original_expiration", "updated_at"):
            _aware(getattr(self, name), name)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did or saw what, when, through which channel (legal evidence: never updated)."""

    at: datetime
    actor: str  # employee id, Slack user id, "hr:<name>", "system"
    action: str  # e.g. "roster.import", "grants.view", "offer.extend"
    channel: str  # "cli", "console", "slack", "email", "scheduler"
    subject: str | None = None  # whose data, e.g. an employee id
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _aware(self.at, "at")


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class UnansweredQuestion:
    """A question the bot abstained on, kept for HR (``offerbot hr unanswered``)."""

    asked_at: datetime
    channel: str
    actor: str
    question: str
    confidence: float
    employee_id: str | None = None
    best_entry_id: str | None = None  # the closest passage, below the confidence bar
    reason: str = "low_confidence"  # or "out_of_scope", "tax_or_financial", "others_records"
    id: int | None = None

    def __post_init__(self) -> None:
        _aware(self.asked_at, "asked_at")
