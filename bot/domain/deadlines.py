"""When the offer is open, and the dates that follow from its expiration.

All functions take ``now`` (or an instant) as a parameter; none reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from bot.domain.calendar import BusinessCalendar
from bot.domain.errors import ExtensionError, OfferClosedError
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_instant

__all__ = [
    "ExtensionCheck",
    "OfferDeadlines",
    "business_calendar",
    "cancellation_date",
    "check_extension",
    "commencement_instant",
    "consideration_change_last_date",
    "ensure_open",
    "extension_announcement_due",
    "is_open",
    "needs_extension_for_consideration_change",
    "new_grant_date",
    "offer_deadlines",
    "receipt_confirmation_due",
]


def business_calendar(terms: OfferTerms) -> BusinessCalendar:
    """The calendar the offer's business-day rules use (Eastern Time, US federal holidays)."""
    return BusinessCalendar(zone=terms.business_day_zone, country=terms.holiday_country)


def _require_aware(instant: datetime, name: str = "now") -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _utc(instant: datetime) -> datetime:
    """``instant`` in UTC, for comparing and subtracting instants.

    Python compares and subtracts two datetimes that share one ``tzinfo`` object by wall
    clock, ignoring DST: 1:10 a.m. PST (fold=1) would sort before 1:30 a.m. PDT, and 5 p.m.
    PDT Saturday to 5 p.m. PST Monday would be 48 hours instead of 49.
    """
    return instant.astimezone(UTC)


def commencement_instant(terms: OfferTerms) -> datetime:
    """Midnight at the start of the commencement date, in the offer's zone (cover, p. i)."""
    return datetime.combine(terms.commencement, datetime.min.time(), tzinfo=terms.deadline_zone)


def is_open(terms: OfferTerms, now: datetime) -> bool:
    """Open from commencement until strictly before the expiration instant.

    The offer expires "at 5:00 p.m., Pacific Time" (cover, p. i; §2, p. 13) and documents must
    be received "before 5:00 p.m." (§4, p. 15): at 17:00:00 exactly it is closed.
    """
    _require_aware(now)
    return _utc(commencement_instant(terms)) <= _utc(now) < _utc(terms.expiration)


def ensure_open(terms: OfferTerms, now: datetime) -> None:
    """Raise :class:`OfferClosedError` quoting the deadline in the offer's zone."""
    if is_open(terms, now):
        return
    deadline = format_instant(terms.expiration, terms.deadline_zone)
    if _utc(now) < _utc(commencement_instant(terms)):
        raise OfferClosedError(
            f"The offer has not started yet; it opens on {terms.commencement:%B} "
            f"{terms.commencement.day}, {terms.commencement.year}."
        )
    raise OfferClosedError(
        f"The offer closed at {deadline}; nothing can be recorded after the deadline."
    )


def cancellation_date(terms: OfferTerms) -> date:
    """The day after expiration: "we expect to cancel options on July 25, 2003" (cover, p. i)."""
    local_expiration = terms.expiration.astimezone(terms.deadline_zone).date()
    return local_expiration + timedelta(days=terms.cancellation_days_after_expiration)


def new_grant_date(terms: OfferTerms, calendar: BusinessCalendar) -> date:
    """First business day that is at least six months and one day after cancellation.

    Cover, p. i; Q8, p. 2; §1, p. 13. Month arithmetic clamps to the end of shorter months
    (``relativedelta``): August 31 + 6 months = the last day of February.
    """
    earliest = cancellation_date(terms) + relativedelta(
        months=terms.new_grant_months_after_cancellation,
        days=terms.new_grant_days_after_cancellation,
    )
    return calendar.business_day_on_or_after(earliest)


def extension_announcement_due(
    previous_expiration: datetime, terms: OfferTerms, calendar: BusinessCalendar
) -> datetime:
    """6:00 a.m. Pacific on the next business day after the previously scheduled expiration.

    Q20, p. 5; §15, p. 28. "Next business day" follows the business-day definition (§2, p. 14),
    so the expiration instant is first placed on the Eastern calendar.
    """
    _require_aware(previous_expiration, "previous_expiration")
    next_day = calendar.next_business_day(calendar.date_of(previous_expiration))
    return datetime.combine(next_day, terms.extension_announcement_time, tzinfo=terms.deadline_zone)


@dataclass(frozen=True, slots=True)
class ExtensionCheck:
    new_expiration: datetime
    previous_expiration: datetime
    announcement_due: datetime
    announcement_late: bool

    def warnings(self, zone: object) -> list[str]:
        if not self.announcement_late:
            return []
        return [
            "The offer says an extension is announced no later than "
            f"{format_instant(self.announcement_due, zone)} (Q20, p. 5); "  # type: ignore[arg-type]
            "this announcement is later than that."
        ]


def check_extension(
    terms: OfferTerms, new_expiration: datetime, *, now: datetime, calendar: BusinessCalendar
) -> ExtensionCheck:
    """Validate an extension (§15, p. 28): the new expiration must be later than the current.

    An extension may be announced after the old expiration passed (the offer allows until
    6:00 a.m. Pacific the next business day); a later announcement is allowed but flagged.
    """
    _require_aware(now)
    _require_aware(new_expiration, "new_expiration")
    if _utc(new_expiration) <= _utc(terms.expiration):
        current = format_instant(terms.expiration, terms.deadline_zone)
        raise ExtensionError(f"The new expiration must be later than the current one ({current}).")
    if _utc(new_expiration) <= _utc(now):
        raise ExtensionError("The new expiration is already in the past.")
    due = extension_announcement_due(terms.expiration, terms, calendar)
    return ExtensionCheck(
        new_expiration=new_expiration,
        previous_expiration=terms.expiration,
        announcement_due=due,
        announcement_late=_utc(now) > _utc(due),
    )


def consideration_change_last_date(
    notice: datetime, terms: OfferTerms, calendar: BusinessCalendar
) -> date:
    """The earliest date the offer may expire after a change in consideration is announced.

    §2, p. 13-14: if the offer would expire "earlier than the tenth business day from, and
    including, the date that notice ... is first published", it is extended so that it stays
    open at least ten business days. The notice date counts as day one when it is a business
    day (Eastern Time).
    """
    _require_aware(notice, "notice")
    return calendar.nth_business_day_from(
        calendar.date_of(notice), terms.min_business_days_after_consideration_change
    )


def needs_extension_for_consideration_change(
    terms: OfferTerms, notice: datetime, calendar: BusinessCalendar
) -> bool:
    last_date = consideration_change_last_date(notice, terms, calendar)
    return calendar.date_of(terms.expiration) < last_date


def receipt_confirmation_due(
    received_at: datetime, terms: OfferTerms, calendar: BusinessCalendar
) -> date:
    """HR confirms receipt "within two business days of receipt" (§4, p. 16; §5, p. 18).

    Returns the last business day (Eastern) on which the confirmation is still on time.
    """
    _require_aware(received_at, "received_at")
    return calendar.add_business_days(
        calendar.date_of(received_at), terms.receipt_confirmation_business_days
    )


@dataclass(frozen=True, slots=True)
class OfferDeadlines:
    expiration: datetime
    original_expiration: datetime
    is_extended: bool
    cancellation_date: date
    new_grant_date: date
    extension_announcement_due: datetime
    is_open: bool
    time_left: timedelta


def offer_deadlines(
    terms: OfferTerms, *, now: datetime, calendar: BusinessCalendar
) -> OfferDeadlines:
    """Every deadline an employee or HR asks about, at ``now``."""
    _require_aware(now)
    return OfferDeadlines(
        expiration=terms.expiration,
        original_expiration=terms.original_expiration,
        is_extended=terms.is_extended,
        cancellation_date=cancellation_date(terms),
        new_grant_date=new_grant_date(terms, calendar),
        extension_announcement_due=extension_announcement_due(terms.expiration, terms, calendar),
        is_open=is_open(terms, now),
        time_left=max(_utc(terms.expiration) - _utc(now), timedelta(0)),
    )
