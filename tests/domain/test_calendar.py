"""Business days as the offer defines them (Offer §2, p. 14; repeated in §15, p. 29).

"a 'business day' means any day other than a Saturday, Sunday or United States federal
holiday and consists of the time period from 12:01 a.m. through 12:00 midnight, Eastern Time."
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.calendar import BusinessCalendar

PACIFIC = ZoneInfo("America/Los_Angeles")
EASTERN = ZoneInfo("America/New_York")

# The offer window: Wednesday June 25 to Thursday July 24, 2003 (cover, p. i).
COMMENCEMENT = date(2003, 6, 25)
EXPIRATION_DAY = date(2003, 7, 24)
THU_JUL_3 = date(2003, 7, 3)
FRI_JUL_4 = date(2003, 7, 4)
SAT_JUL_5 = date(2003, 7, 5)
SUN_JUL_6 = date(2003, 7, 6)
MON_JUL_7 = date(2003, 7, 7)

dates = st.dates(min_value=date(1995, 1, 1), max_value=date(2035, 12, 31))
counts = st.integers(min_value=0, max_value=260)
calendar_settings = settings(deadline=None)  # the holidays package builds each year lazily


class TestBusinessDay:
    """Offer §2, p. 14: weekends and US federal holidays are not business days."""

    def test_weekdays_are_business_days(self, calendar: BusinessCalendar) -> None:
        assert calendar.is_business_day(COMMENCEMENT)  # Wednesday
        assert calendar.is_business_day(EXPIRATION_DAY)  # Thursday
        assert calendar.is_business_day(MON_JUL_7)

    def test_weekends_are_not(self, calendar: BusinessCalendar) -> None:
        assert not calendar.is_business_day(SAT_JUL_5)
        assert not calendar.is_business_day(SUN_JUL_6)
        assert calendar.holiday_name(SAT_JUL_5) is None

    def test_independence_day_inside_the_offer_window_is_not(
        self, calendar: BusinessCalendar
    ) -> None:
        assert COMMENCEMENT < FRI_JUL_4 < EXPIRATION_DAY
        assert FRI_JUL_4.weekday() == 4
        assert not calendar.is_business_day(FRI_JUL_4)
        assert calendar.holiday_name(FRI_JUL_4) == "Independence Day"

    def test_sunday_holiday_is_observed_on_monday(self, calendar: BusinessCalendar) -> None:
        # July 4, 2004 is a Sunday; the federal government observes it on Monday, July 5.
        assert date(2004, 7, 4).weekday() == 6
        assert calendar.holiday_name(date(2004, 7, 5)) == "Independence Day (observed)"
        assert not calendar.is_business_day(date(2004, 7, 5))
        assert calendar.is_business_day(date(2004, 7, 2))  # the Friday before stays open
        assert calendar.next_business_day(date(2004, 7, 2)) == date(2004, 7, 6)

    def test_saturday_holiday_is_observed_on_friday(self, calendar: BusinessCalendar) -> None:
        # July 4, 2009 is a Saturday, observed Friday July 3; New Year's Day 2005 (Saturday)
        # is observed Friday December 31, 2004 - in the previous calendar year.
        assert not calendar.is_business_day(date(2009, 7, 3))
        assert not calendar.is_business_day(date(2004, 12, 31))
        assert calendar.holiday_name(date(2004, 12, 31)) == "New Year's Day (observed)"
        assert calendar.holiday_name(date(2004, 12, 24)) == "Christmas Day (observed)"

    @pytest.mark.parametrize(
        ("day", "name"),
        [
            (date(2003, 9, 1), "Labor Day"),
            (date(2003, 10, 13), "Columbus Day"),
            (date(2003, 11, 11), "Veterans Day"),
            (date(2003, 11, 27), "Thanksgiving Day"),
            (date(2003, 12, 25), "Christmas Day"),
            (date(2004, 1, 1), "New Year's Day"),
            (date(2004, 1, 19), "Martin Luther King Jr. Day"),
            (date(2004, 2, 16), "Washington's Birthday"),
        ],
    )
    def test_federal_holidays_between_expiration_and_new_grant(
        self, calendar: BusinessCalendar, day: date, name: str
    ) -> None:
        assert calendar.holiday_name(day) == name
        assert not calendar.is_business_day(day)

    @pytest.mark.parametrize(
        "day",
        [
            date(2003, 11, 28),  # day after Thanksgiving: not a federal holiday
            date(2003, 12, 24),  # Christmas Eve
            date(2004, 4, 9),  # Good Friday
            date(2003, 3, 31),  # Cesar Chavez Day: a California state holiday only
        ],
    )
    def test_non_federal_days_off_are_business_days(
        self, calendar: BusinessCalendar, day: date
    ) -> None:
        assert calendar.is_business_day(day)

    def test_repr_names_zone_and_country(self, calendar: BusinessCalendar) -> None:
        assert repr(calendar) == "BusinessCalendar(zone='America/New_York', country='US')"


class TestNextAndPrevious:
    def test_next_business_day_skips_holiday_and_weekend(self, calendar: BusinessCalendar) -> None:
        assert calendar.next_business_day(THU_JUL_3) == MON_JUL_7
        assert calendar.next_business_day(FRI_JUL_4) == MON_JUL_7
        assert calendar.next_business_day(SUN_JUL_6) == MON_JUL_7
        assert calendar.next_business_day(MON_JUL_7) == date(2003, 7, 8)

    def test_next_business_day_is_strictly_after(self, calendar: BusinessCalendar) -> None:
        assert calendar.next_business_day(EXPIRATION_DAY) == date(2003, 7, 25)

    def test_previous_business_day_skips_weekend_and_holiday(
        self, calendar: BusinessCalendar
    ) -> None:
        assert calendar.previous_business_day(MON_JUL_7) == THU_JUL_3
        assert calendar.previous_business_day(SAT_JUL_5) == THU_JUL_3
        assert calendar.previous_business_day(date(2003, 7, 28)) == date(2003, 7, 25)

    def test_business_day_on_or_after(self, calendar: BusinessCalendar) -> None:
        assert calendar.business_day_on_or_after(THU_JUL_3) == THU_JUL_3
        assert calendar.business_day_on_or_after(FRI_JUL_4) == MON_JUL_7
        assert calendar.business_day_on_or_after(SAT_JUL_5) == MON_JUL_7


class TestArithmetic:
    """Counting business days across the July 4, 2003 long weekend (Fri holiday + weekend)."""

    def test_add_across_the_july_4_weekend(self, calendar: BusinessCalendar) -> None:
        assert calendar.add_business_days(date(2003, 7, 2), 1) == THU_JUL_3
        assert calendar.add_business_days(date(2003, 7, 2), 2) == MON_JUL_7
        assert calendar.add_business_days(THU_JUL_3, 1) == MON_JUL_7
        assert calendar.add_business_days(THU_JUL_3, 5) == date(2003, 7, 11)

    def test_subtract_across_the_july_4_weekend(self, calendar: BusinessCalendar) -> None:
        assert calendar.subtract_business_days(MON_JUL_7, 1) == THU_JUL_3
        assert calendar.subtract_business_days(MON_JUL_7, 2) == date(2003, 7, 2)
        assert calendar.add_business_days(MON_JUL_7, -1) == THU_JUL_3

    def test_starting_on_a_holiday(self, calendar: BusinessCalendar) -> None:
        assert calendar.add_business_days(FRI_JUL_4, 1) == MON_JUL_7
        assert calendar.add_business_days(FRI_JUL_4, -1) == THU_JUL_3

    def test_zero_returns_the_day_unchanged_even_when_not_a_business_day(
        self, calendar: BusinessCalendar
    ) -> None:
        assert calendar.add_business_days(FRI_JUL_4, 0) == FRI_JUL_4
        assert calendar.add_business_days(SAT_JUL_5, 0) == SAT_JUL_5

    def test_the_offer_window_spans_twenty_one_business_days(
        self, calendar: BusinessCalendar
    ) -> None:
        # Cover, p. i: June 25 to July 24, 2003, with July 4 excluded.
        assert calendar.business_days_between(COMMENCEMENT, EXPIRATION_DAY) == 20
        assert calendar.add_business_days(COMMENCEMENT, 20) == EXPIRATION_DAY
        assert calendar.nth_business_day_from(COMMENCEMENT, 21) == EXPIRATION_DAY

    def test_dates_do_not_shift_across_dst(self, calendar: BusinessCalendar) -> None:
        # Sunday October 26, 2003 is the fall-back day; Friday + 1 is still Monday.
        assert calendar.add_business_days(date(2003, 10, 24), 1) == date(2003, 10, 27)
        assert calendar.add_business_days(date(2003, 4, 4), 1) == date(2003, 4, 7)


class TestBusinessDaysBetween:
    """Counts business days ``d`` with ``start < d <= end``."""

    def test_start_excluded_end_included(self, calendar: BusinessCalendar) -> None:
        assert calendar.business_days_between(THU_JUL_3, MON_JUL_7) == 1
        assert calendar.business_days_between(date(2003, 7, 2), MON_JUL_7) == 2

    def test_holiday_and_weekend_count_nothing(self, calendar: BusinessCalendar) -> None:
        assert calendar.business_days_between(THU_JUL_3, SUN_JUL_6) == 0
        assert calendar.business_days_between(FRI_JUL_4, MON_JUL_7) == 1

    def test_same_day_is_zero(self, calendar: BusinessCalendar) -> None:
        assert calendar.business_days_between(MON_JUL_7, MON_JUL_7) == 0
        assert calendar.business_days_between(FRI_JUL_4, FRI_JUL_4) == 0

    def test_reversed_is_negative(self, calendar: BusinessCalendar) -> None:
        assert calendar.business_days_between(MON_JUL_7, THU_JUL_3) == -1
        assert calendar.business_days_between(EXPIRATION_DAY, COMMENCEMENT) == -20


class TestNthBusinessDayFrom:
    """Counting "the tenth business day from, and including, the date ..." (§2, p. 14)."""

    def test_a_business_day_counts_as_day_one(self, calendar: BusinessCalendar) -> None:
        assert calendar.nth_business_day_from(THU_JUL_3, 1) == THU_JUL_3
        assert calendar.nth_business_day_from(THU_JUL_3, 2) == MON_JUL_7

    def test_a_holiday_or_weekend_start_counts_from_the_next_business_day(
        self, calendar: BusinessCalendar
    ) -> None:
        assert calendar.nth_business_day_from(FRI_JUL_4, 1) == MON_JUL_7
        assert calendar.nth_business_day_from(SAT_JUL_5, 2) == date(2003, 7, 8)

    def test_tenth_business_day_with_july_4_in_the_span(self, calendar: BusinessCalendar) -> None:
        # Tue Jul 1 (1), 2, 3, [4 holiday], 7, 8, 9, 10, 11, 14, Tue Jul 15 (10).
        assert calendar.nth_business_day_from(date(2003, 7, 1), 10) == date(2003, 7, 15)

    @pytest.mark.parametrize("n", [0, -1])
    def test_n_must_be_positive(self, calendar: BusinessCalendar, n: int) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            calendar.nth_business_day_from(THU_JUL_3, n)


class TestDateOf:
    """A business day is a calendar day in Eastern Time (§2, p. 14), whatever the instant's zone."""

    def test_late_evening_pacific_is_already_tomorrow_in_new_york(
        self, calendar: BusinessCalendar
    ) -> None:
        assert calendar.date_of(datetime(2003, 7, 24, 22, 30, tzinfo=PACIFIC)) == date(2003, 7, 25)

    def test_the_eastern_midnight_boundary(self, calendar: BusinessCalendar) -> None:
        # 9:00 p.m. PDT is midnight EDT.
        assert calendar.date_of(datetime(2003, 7, 24, 20, 59, 59, tzinfo=PACIFIC)) == EXPIRATION_DAY
        assert calendar.date_of(datetime(2003, 7, 24, 21, 0, tzinfo=PACIFIC)) == date(2003, 7, 25)

    def test_the_expiration_instant_falls_on_july_24_in_new_york(
        self, calendar: BusinessCalendar
    ) -> None:
        # 5:00 p.m. PDT = 8:00 p.m. EDT = 00:00 UTC on July 25.
        assert calendar.date_of(datetime(2003, 7, 25, 0, 0, tzinfo=UTC)) == EXPIRATION_DAY

    def test_naive_instant_refused(self, calendar: BusinessCalendar) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            calendar.date_of(datetime(2003, 7, 24, 17, 0))

    @pytest.mark.parametrize(
        ("utc", "eastern_day"),
        [
            # Spring forward, Sunday April 6, 2003: EST (-05:00) until 07:00 UTC, then EDT.
            (datetime(2003, 4, 6, 4, 59, 59), date(2003, 4, 5)),
            (datetime(2003, 4, 6, 5, 0), date(2003, 4, 6)),
            (datetime(2003, 4, 7, 3, 59, 59), date(2003, 4, 6)),  # 23:59:59 EDT
            (datetime(2003, 4, 7, 4, 0), date(2003, 4, 7)),
            # Fall back, Sunday October 26, 2003: EDT (-04:00) until 06:00 UTC, then EST.
            (datetime(2003, 10, 26, 3, 59, 59), date(2003, 10, 25)),
            (datetime(2003, 10, 26, 4, 0), date(2003, 10, 26)),
            (datetime(2003, 10, 27, 4, 59, 59), date(2003, 10, 26)),  # 23:59:59 EST
            (datetime(2003, 10, 27, 5, 0), date(2003, 10, 27)),
        ],
    )
    def test_midnight_moves_with_dst(
        self, calendar: BusinessCalendar, utc: datetime, eastern_day: date
    ) -> None:
        assert calendar.date_of(utc.replace(tzinfo=UTC)) == eastern_day

    def test_ambiguous_fall_back_hour_in_pacific(self, calendar: BusinessCalendar) -> None:
        first = datetime(2003, 10, 26, 1, 30, tzinfo=PACIFIC)  # PDT
        second = datetime(2003, 10, 26, 1, 30, fold=1, tzinfo=PACIFIC)  # PST, an hour later
        assert first.utcoffset() == timedelta(hours=-7)
        assert second.utcoffset() == timedelta(hours=-8)
        assert calendar.date_of(first) == calendar.date_of(second) == date(2003, 10, 26)


# --- properties -------------------------------------------------------------------------------


@calendar_settings
@given(day=dates, n=counts)
def test_between_inverts_add(calendar: BusinessCalendar, day: date, n: int) -> None:
    """The contract in BusinessCalendar's docstring, for every start day."""
    assert calendar.business_days_between(day, calendar.add_business_days(day, n)) == n


@calendar_settings
@given(day=dates, n=counts)
def test_add_then_subtract_round_trips_from_a_business_day(
    calendar: BusinessCalendar, day: date, n: int
) -> None:
    start = calendar.business_day_on_or_after(day)
    assert calendar.subtract_business_days(calendar.add_business_days(start, n), n) == start


@calendar_settings
@given(day=dates, n=st.integers(min_value=1, max_value=260))
def test_add_lands_on_a_business_day(calendar: BusinessCalendar, day: date, n: int) -> None:
    assert calendar.is_business_day(calendar.add_business_days(day, n))
    assert calendar.is_business_day(calendar.add_business_days(day, -n))


@calendar_settings
@given(day=dates, n1=counts, n2=counts)
def test_add_is_strictly_increasing_in_count(
    calendar: BusinessCalendar, day: date, n1: int, n2: int
) -> None:
    low, high = sorted((n1, n2))
    if low == high:
        assert calendar.add_business_days(day, low) == calendar.add_business_days(day, high)
    else:
        assert calendar.add_business_days(day, low) < calendar.add_business_days(day, high)


@calendar_settings
@given(d1=dates, d2=dates, n=counts)
def test_add_is_monotonic_in_start_day(
    calendar: BusinessCalendar, d1: date, d2: date, n: int
) -> None:
    early, late = sorted((d1, d2))
    assert calendar.add_business_days(early, n) <= calendar.add_business_days(late, n)


@calendar_settings
@given(start=dates, a=st.integers(0, 400), b=st.integers(0, 400))
def test_between_is_monotonic_and_additive(
    calendar: BusinessCalendar, start: date, a: int, b: int
) -> None:
    mid, end = start + timedelta(days=min(a, b)), start + timedelta(days=max(a, b))
    assert (
        0
        <= calendar.business_days_between(start, mid)
        <= calendar.business_days_between(start, end)
    )
    assert calendar.business_days_between(start, mid) + calendar.business_days_between(
        mid, end
    ) == calendar.business_days_between(start, end)
    assert calendar.business_days_between(end, start) == -calendar.business_days_between(start, end)


@calendar_settings
@given(day=dates)
def test_next_and_previous_are_one_business_day_away(calendar: BusinessCalendar, day: date) -> None:
    following = calendar.next_business_day(day)
    preceding = calendar.previous_business_day(day)
    assert following == calendar.add_business_days(day, 1)
    assert preceding == calendar.add_business_days(day, -1)
    assert preceding < day < following
    assert calendar.business_days_between(preceding, following) == 1 + calendar.is_business_day(day)


@calendar_settings
@given(day=dates, n=st.integers(min_value=1, max_value=60))
def test_nth_business_day_counts_the_start_day(
    calendar: BusinessCalendar, day: date, n: int
) -> None:
    nth = calendar.nth_business_day_from(day, n)
    assert calendar.is_business_day(nth)
    assert calendar.business_days_between(day - timedelta(days=1), nth) == n


def test_the_us_holidays_loaded_alone_are_the_packages_own() -> None:
    """bot.domain.calendar loads the `holidays` package's United States module alone (not the
    250 countries `country_holidays` imports): in a fresh process, where nothing imported them
    before, the holidays are those of `holidays.country_holidays("US")`, name for name."""
    import json
    import subprocess
    import sys

    import holidays

    listing = (
        "import json, sys\n"
        "from datetime import date, timedelta\n"
        "from zoneinfo import ZoneInfo\n"
        "from bot.domain.calendar import BusinessCalendar\n"
        "calendar = BusinessCalendar(zone=ZoneInfo('America/New_York'))\n"
        "day, found = date(1990, 1, 1), {}\n"
        "while day.year < 2041:\n"
        "    name = calendar.holiday_name(day)\n"
        "    if name is not None:\n"
        "        found[day.isoformat()] = name\n"
        "    day += timedelta(days=1)\n"
        "print(json.dumps({'alone': 'holidays.countries' not in sys.modules, 'days': found}))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(ran.stdout)
    assert result["alone"] is True  # the 250 countries were not imported
    reference = holidays.country_holidays("US", years=range(1990, 2041))
    assert result["days"] == {day.isoformat(): name for day, name in sorted(reference.items())}
    assert len(result["days"]) > 500  # ~11 a year, observed days included


def test_a_holiday_table_gives_the_packages_answer_for_every_day() -> None:
    """`HolidayTable.of_library` keeps, for its years, what the package says of each day (name
    for name, observed days included); other years are asked of the package."""
    import holidays

    from bot.domain.calendar import HolidayTable

    reference = holidays.country_holidays("US")
    table = HolidayTable.of_library("US", frozenset(range(1990, 2041)))
    copied = HolidayTable("US", table.days, table.years)  # as read back from a file
    day = date(1985, 1, 1)
    while day.year < 2046:  # five years each side answered by the package itself
        assert copied.get(day) == reference.get(day), day
        assert (day in copied) == (day in reference), day
        day += timedelta(days=1)
    assert len(table.days) > 500
    assert "2003-07-04" not in copied  # not a date: not a holiday
    calendar = BusinessCalendar(zone=EASTERN, holidays=copied)
    assert calendar.holiday_name(FRI_JUL_4) == "Independence Day"
    assert calendar.next_business_day(THU_JUL_3) == MON_JUL_7
