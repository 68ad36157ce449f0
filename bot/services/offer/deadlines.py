"""Deadlines as employees and HR ask about them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.deadlines import OfferDeadlines, offer_deadlines
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_duration, format_instant
from bot.replies import Action, Reply
from bot.services.offer.holiday_cache import offer_calendar

__all__ = ["deadlines_json", "deadlines_reply", "get_deadlines"]


def get_deadlines(terms: OfferTerms, *, now: datetime) -> OfferDeadlines:
    """The offer's deadlines at ``now``; the calendar's holidays from the table on disk when it
    is there (``holiday_cache``: the package's own dates, without importing it)."""
    return offer_deadlines(terms, now=now, calendar=offer_calendar(terms))


def _local_iso(instant: datetime, terms: OfferTerms) -> str:
    return instant.astimezone(terms.deadline_zone).isoformat()


def deadlines_json(d: OfferDeadlines, terms: OfferTerms, *, now: datetime) -> dict[str, Any]:
    return {
        "offer_id": terms.offer_id,
        "now": _local_iso(now, terms),
        "expiration": _local_iso(d.expiration, terms),
        "original_expiration": _local_iso(d.original_expiration, terms),
        "is_extended": d.is_extended,
        "cancellation_date": d.cancellation_date.isoformat(),
        "new_grant_date": d.new_grant_date.isoformat(),
        "extension_announcement_due": _local_iso(d.extension_announcement_due, terms),
        "is_open": d.is_open,
        "seconds_left": int(d.time_left.total_seconds()),
        "deadline_timezone": terms.deadline_zone.key,
        "business_day_timezone": terms.business_day_zone.key,
    }


def deadlines_reply(d: OfferDeadlines, terms: OfferTerms, *, now: datetime) -> Reply:
    zone = terms.deadline_zone
    hr = terms.hr_delivery
    expiration = format_instant(d.expiration, zone)
    if d.is_open:
        head = (
            f"The offer expires at {expiration}. Your signed Election Form must reach "
            f"{hr.name} in {hr.department} by fax to {hr.fax} or by hand before then; "
            f"e-mail is not accepted. Time left: {format_duration(d.time_left)}."
        )
    else:
        head = f"The offer is closed. It expired at {expiration}."
    notes = []
    if d.is_extended:
        notes.append(
            "The offer was extended: the document's original date, "
            f"{format_instant(d.original_expiration, zone)}, no longer holds."
        )
    lines = [
        head,
        f"Options accepted for exchange are expected to be cancelled on "
        f"{format_date(d.cancellation_date)}.",
        f"New options will be granted no earlier than {format_date(d.new_grant_date)} (the first "
        "business day at least six months and one day after cancellation).",
    ]
    return Reply(
        text="\n".join(lines),
        notes=tuple(notes),
        actions=(Action("grants", "My grants"), Action("talk_to_hr", "Talk to HR")),
        kind="answer",
        data=deadlines_json(d, terms, now=now),
    )
