"""Business days as the offer defines them.

Offer §2, p. 14: a "business day" means any day other than a Saturday, Sunday or United States
federal holiday and consists of the time period from 12:01 a.m. through 12:00 midnight,
Eastern Time. Holidays come from the ``holidays`` package (observed dates included: when a
holiday falls on a weekend the federal government observes it on the adjacent weekday), never
from a hand-written table.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

__all__ = ["BusinessCalendar", "HolidayTable", "Holidays", "library_holidays"]

# The `holidays` modules of the countries loaded alone (see library_holidays): name → file.
_ALONE = {"US": ("holidays.countries.united_states", "UnitedStates")}

_ONE_DAY = timedelta(days=1)


class Holidays(Protocol):
    """What the calendar asks of a holiday set: the ``holidays`` package's objects have it."""

    def get(self, day: date) -> str | None: ...

    def __contains__(self, day: object) -> bool: ...


class HolidayTable:
    """The ``holidays`` package's answers for some years, kept as a table, and the package
    itself (loaded on first need) for any other year.

    Why: importing the package and building the country's holidays cost a fresh ``offerbot
    ask`` process 40 ms; the offer's deadlines need two or three years of them.
    ``bot.services.offer.holiday_cache`` keeps the table on disk, checked against the
    package's files; :meth:`of_library` fills it from the package, so the dates and names
    are the package's own (``tests/domain/test_calendar.py`` compares them over decades).
    """

    def __init__(self, country: str, days: Mapping[date, str], years: frozenset[int]) -> None:
        self.country = country
        self.days = dict(days)
        self.years = years
        self._library: Any = None

    @classmethod
    def of_library(cls, country: str, years: frozenset[int], library: Any = None) -> HolidayTable:
        """Every holiday the package gives in ``years`` (``library``: its object for
        ``country``, or a new one)."""
        library = library if library is not None else library_holidays(country)
        days = {}
        for year in sorted(years):
            day = date(year, 1, 1)
            while day.year == year:
                name = library.get(day)
                if name is not None:
                    days[day] = name
                day += _ONE_DAY
        table = cls(country, days, years)
        table._library = library
        return table

    def get(self, day: date) -> str | None:
        if day.year in self.years:
            return self.days.get(day)
        if self._library is None:
            self._library = library_holidays(self.country)
        name: str | None = self._library.get(day)
        return name

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.get(day) is not None


class BusinessCalendar:
    """Business-day arithmetic in one time zone, with one country's public holidays.

    ``add_business_days(d, n)`` and ``business_days_between(start, end)`` are inverse:
    ``business_days_between(d, add_business_days(d, n)) == n`` for every ``d`` and ``n >= 0``.
    ``holidays``: the country's holidays already at hand (a :class:`HolidayTable`); unset, the
    ``holidays`` package's.
    """

    def __init__(
        self, *, zone: ZoneInfo, country: str = "US", holidays: Holidays | None = None
    ) -> None:
        self.zone = zone
        self.country = country
        # Public (federal) holidays only: no state subdivision is given.
        self._holidays = holidays if holidays is not None else library_holidays(country)

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


def library_holidays(country: str) -> Any:
    """The country's public holidays: a ``holidays.HolidayBase``, filled per year on first use.

    Imported here, not with the module: the CLI imports this module for ``offerbot --help``.
    ``holidays.country_holidays`` imports the module of every country the package knows (250
    of them) to build one: 65 ms of CPU, a tenth of a fresh ``offerbot ask`` process. For the
    United States — the bundled offer's country — the package's own ``united_states`` module is
    loaded alone, from its file: the same class with the same defaults, so the same dates
    (``tests/domain/test_calendar.py`` compares them over decades). Any other country, or a
    package whose files are laid out otherwise, goes through ``country_holidays`` as before.
    """
    import holidays

    alone = _ALONE.get(country)
    if alone is not None:
        name, cls = alone
        module = sys.modules.get(name)
        if module is None:
            path = Path(holidays.__file__).parent / Path(*name.split(".")[1:]).with_suffix(".py")
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is not None and spec.loader is not None and path.is_file():
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module  # `import holidays.countries` later finds it
                try:
                    spec.loader.exec_module(module)
                except Exception:  # a layout this code does not know: the package's own way
                    del sys.modules[name]
                    module = None
        if module is not None and hasattr(module, cls):
            return getattr(module, cls)()
    return holidays.country_holidays(country)
