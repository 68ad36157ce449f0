"""When the offer is open, and the dates that follow from its expiration.

All functions take ``now`` (or an instant) as a parameter; none reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from bot.domain.calendar import BusinessCalendar
from bot.domain.errors import ExtensionError, OfferClosedError
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_instant

__all__ = [
    "ExtensionCheck",
    "OfferDeadlines",
    "business_calendar",
    "cancellation_date",
    "check_extension",
    "commencement_instant",
    "consideration_change_last_date",
    "end_of_business_day",
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


# An offer runs for weeks (Rule 14e-1 asks for at least twenty business days); a new expiration more
# than a year after the original one is a typing mistake, and planning reminders and digests up
# to it would run out of calendar (year 9999) long before it finished.
MAX_EXTENSION_AFTER_ORIGINAL = timedelta(days=366)
# Shorter than this, an "extension" is most likely a slip of the keyboard (one microsecond).
SHORT_EXTENSION = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ExtensionCheck:
    new_expiration: datetime
    previous_expiration: datetime
    announcement_due: datetime
    announcement_late: bool
    # The new expiration's date in the business-day zone when that day is not a business day.
    non_business_day: date | None = None
    non_business_reason: str = ""

    @property
    def added(self) -> timedelta:
        """How much later the offer now expires (in real time)."""
        return _utc(self.new_expiration) - _utc(self.previous_expiration)

    def warnings(self, zone: object) -> list[str]:
        found = []
        if self.announcement_late:
            found.append(
                "The offer says an extension is announced no later than "
                f"{format_instant(self.announcement_due, zone)} (Q20, p. 5); "  # type: ignore[arg-type]
                "this announcement is later than that."
            )
        if self.non_business_day is not None:
            found.append(
                f"The new expiration falls on {format_date(self.non_business_day)}, which is not "
                f"a business day ({self.non_business_reason}; §2, p. 14): employees cannot reach "
                "HR or deliver a form by hand that day. Is this the date you meant?"
            )
        if self.added < SHORT_EXTENSION:
            found.append(
                f"The offer is extended by only {_duration(self.added)}; an extension normally "
                "adds at least a business day. Is this the time you meant?"
            )
        if self.new_expiration.second or self.new_expiration.microsecond:
            found.append(
                "The new expiration is not on a whole minute; announcements show it to the "
                "minute, so the deadline would differ from what employees read."
            )
        return found


def _duration(span: timedelta) -> str:
    """``1 microsecond``, ``40 seconds``, ``3 hours 5 minutes``: a short span, for a warning."""
    if span < timedelta(seconds=1):
        micro = span.microseconds
        return f"{micro} microsecond{'s' if micro != 1 else ''}"
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "hour"), (minutes, "minute"), (secs, "second")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " ".join(words[:2])


def check_extension(
    terms: OfferTerms, new_expiration: datetime, *, now: datetime, calendar: BusinessCalendar
) -> ExtensionCheck:
    """Validate an extension (§15, p. 28): the new expiration must be later than the current.

    An extension may be announced after the old expiration passed (the offer allows until
    6:00 a.m. Pacific the next business day); a later announcement is allowed but flagged.
    So are an expiration on a day that is not a business day (§2, p. 14), one less than a day
    later than the current one, and one that is not on a whole minute. A new expiration more
    than a year after the original one is refused.
    """
    _require_aware(now)
    _require_aware(new_expiration, "new_expiration")
    # Aware datetimes subtract without converting, so 9999-12-31T23:59:59-12:00 cannot overflow.
    if new_expiration - terms.original_expiration > MAX_EXTENSION_AFTER_ORIGINAL:
        latest = format_date(
            (terms.original_expiration + MAX_EXTENSION_AFTER_ORIGINAL)
            .astimezone(terms.deadline_zone)
            .date()
        )
        raise ExtensionError(
            "The new expiration is more than a year after the original one; an extension can "
            f"move it to {latest} at the latest."
        )
    if _utc(new_expiration) <= _utc(terms.expiration):
        current = format_instant(terms.expiration, terms.deadline_zone)
        raise ExtensionError(f"The new expiration must be later than the current one ({current}).")
    if _utc(new_expiration) <= _utc(now):
        raise ExtensionError("The new expiration is already in the past.")
    due = extension_announcement_due(terms.expiration, terms, calendar)
    day = calendar.date_of(new_expiration)
    off_day = None if calendar.is_business_day(day) else day
    return ExtensionCheck(
        new_expiration=new_expiration,
        previous_expiration=terms.expiration,
        announcement_due=due,
        announcement_late=_utc(now) > _utc(due),
        non_business_day=off_day,
        non_business_reason=(
            "" if off_day is None else calendar.holiday_name(day) or f"a {day:%A}"
        ),
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


def end_of_business_day(day: date, terms: OfferTerms) -> datetime:
    """Midnight ending ``day`` on the business-day clock (Eastern; §2, p. 14)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=terms.business_day_zone)
