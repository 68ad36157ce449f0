"""How an amendment of the offer reads: the ``--json`` objects and the reply HR sees (the CLI's
text, Slack's ephemeral message) after :mod:`bot.services.offer.extension` did its work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.amendments import OfferAmendment
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_instant
from bot.replies import Reply
from bot.services.offer.extension import AmendmentResult

__all__ = ["amendment_json", "amendment_reply", "result_json"]


def amendment_json(amendment: OfferAmendment, terms: OfferTerms) -> dict[str, Any]:
    zone = terms.deadline_zone

    def local(instant: datetime | None) -> str | None:
        return None if instant is None else instant.astimezone(zone).isoformat()

    return {
        "id": amendment.id,
        "kind": amendment.kind.value,
        "status": amendment.status.value,
        "previous_expiration": local(amendment.previous_expiration),
        "new_expiration": local(amendment.new_expiration),
        "description": amendment.description,
        "message": amendment.message,
        "announce": amendment.announce,
        "requested_by": amendment.requested_by,
        "requested_at": local(amendment.requested_at),
        "approved_by": amendment.approved_by,
        "applied_at": local(amendment.applied_at),
    }


def result_json(result: AmendmentResult, queued: dict[str, int] | None = None) -> dict[str, Any]:
    """The ``--json`` output of ``hr extend``/``amend``/``approve``/``reject``."""
    terms = result.terms
    return {
        "amendment": amendment_json(result.amendment, terms),
        "expiration": terms.expiration.astimezone(terms.deadline_zone).isoformat(),
        "warnings": list(result.warnings),
        "announcement": {"status": result.announcement, "queued": dict(queued or {})},
        "follow_ups": result.follow_ups,
    }


_ANNOUNCEMENT_WORDS = {
    "queued": "The announcement to every eligible employee is queued.",
    "not_requested": "No announcement was requested.",
    "rejected": "The announcement was dropped.",
}


def amendment_reply(result: AmendmentResult, queued: dict[str, int] | None = None) -> Reply:
    """What HR reads after an amendment (CLI text, Slack ephemeral)."""
    a, terms = result.amendment, result.terms
    zone = terms.deadline_zone
    if a.new_expiration != a.previous_expiration:
        head = (
            f"Amendment {a.id} ({a.kind.value}): the offer now expires at "
            f"{format_instant(a.new_expiration, zone)} (it was to expire at "
            f"{format_instant(a.previous_expiration, zone)})."
        )
    else:
        head = (
            f"Amendment {a.id} ({a.kind.value}) recorded; the expiration stays at "
            f"{format_instant(a.new_expiration, zone)}."
        )
    if result.announcement == "awaiting_approval":
        announcement = (
            f"The announcement waits for a second HR administrator: offerbot hr approve {a.id} "
            f"--by NAME (or /offer-admin approve {a.id})."
        )
    else:
        announcement = _ANNOUNCEMENT_WORDS[result.announcement]
    lines = [head, announcement]
    if queued:
        counts = ", ".join(f"{n} by {channel}" for channel, n in sorted(queued.items()))
        lines.append(f"Announcements queued: {counts}. The worker delivers them.")
    if result.follow_ups:
        lines.append(
            f"{result.follow_ups} follow-up(s) queued to people who asked about the deadline."
        )
    return Reply(
        text="\n".join(lines),
        notes=result.warnings,
        kind="answer",
        data=result_json(result, queued),
    )
