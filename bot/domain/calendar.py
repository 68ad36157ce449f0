"""Business days as the offer defines them.

Offer §2, p. 14: a "business day" means any day other than a Saturday, Sunday or United States
federal holiday and consists of the time period from 12:01 a.m. through 12:00 midnight,
Eastern Time. Holidays come from the ``holidays`` package (observed dates included: when a
holiday falls on a weekend the federal government observes it on the adjacent weekday), never
from a hand-written table.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["BusinessCalendar"]

_ONE_DAY = timedelta(days=1)


class BusinessCalendar:
    """Business-day arithmetic in one time zone, with one country's public holidays.

    ``add_business_days(d, n)`` and ``business_days_between(start, end)`` are inverse:
    ``business_days_between(d, add_business_days(d, n)) == n`` for every ``d`` and ``n >= 0``.
    """

    def __init__(self, *, zone: ZoneInfo, country: str = "US") -> None:
        self.zone = zone
        self.country = country
        # Imported here, not with the module: `holidays` loads every country's module (250,
        # 0.1 s of CPU) and the CLI imports this module for `offerbot --help` too.
        import holidays

        # Public (federal) holidays only: no state subdivision is given.
        self._holidays = holidays.country_holidays(country)

    def __repr__(self) -> str:
        return f"BusinessCalendar(zone={self.zone.key!r}, country={self.country!r})"

    def date_of(self, instant: datetime) -> date:
        """The calendar date of an aware instant in this calendar's zone."""
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        return instant.astimezone(self.zone).date()

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after ``day``."""
        return self.business_day_on_or_after(day + _ONE_DAY)

    def previous_business_day(self, day: date) -> date:
        """The last business day strictly before ``day``."""
        day -= _ONE_DAY
        while not self.is_business_day(day):
            day -= _ONE_DAY
        return day

    def business_day_on_or_after(self, day: date) -> date:
        while not self.is_business_day(day):
            day += _ONE_DAY
        return day

    def add_business_days(self, day: date, count: int) -> date:
        """Move ``count`` business days from ``day`` (``day`` itself is not counted).

        ``count`` may be negative; ``count == 0`` returns ``day`` unchanged, business day or not.
        """
        step = _ONE_DAY if count >= 0 else -_ONE_DAY
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_business_day(day):
                remaining -= 1
        return day

    def subtract_business_days(self, day: date, count: int) -> date:
        return self.add_business_days(day, -count)

    def business_days_between(self, start: date, end: date) -> int:
        """Business days ``d`` with ``start < d <= end`` (negative when ``end < start``)."""
        if end < start:
            return -self.business_days_between(end, start)
        count = 0
        day = start
        while day < end:
            day += _ONE_DAY
            if self.is_business_day(day):
                count += 1
        return count

    def nth_business_day_from(self, day: date, n: int) -> date:
        """The ``n``-th business day counting *from and including* ``day`` (n >= 1).

        Used for rules worded "the tenth business day from, and including, the date that
        notice ... is first published" (Offer §2, p. 14).
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        first = self.business_day_on_or_after(day)
        return self.add_business_days(first, n - 1)
