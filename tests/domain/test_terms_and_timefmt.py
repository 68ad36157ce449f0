"""The offer's terms as values, and how instants are written for people.

Deadlines are quoted in Pacific Time with PDT/PST because the offer's deadline is "5:00 p.m.,
Pacific Time" (cover, p. i; §2, p. 13).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from bot.domain.terms import OfferTerms, VestingTerms
from bot.domain.timefmt import format_date, format_instant, format_money, format_shares

PACIFIC = ZoneInfo("America/Los_Angeles")
EASTERN = ZoneInfo("America/New_York")


class TestTerms:
    def test_values_from_the_document(self, terms: OfferTerms) -> None:
        assert terms.commencement == date(2003, 6, 25)  # cover, p. i
        assert terms.expiration == datetime(2003, 7, 24, 17, 0, tzinfo=PACIFIC)  # §2, p. 13
        assert terms.deadline_zone == PACIFIC
        assert terms.business_day_zone == EASTERN  # §2, p. 14
        assert terms.holiday_country == "US"
        assert terms.minimum_exercise_price == Decimal("2.00")  # Q1, p. 1
        assert terms.exchange_ratio == Fraction(1)  # Q7, p. 2
        assert terms.vesting == VestingTerms(6, 1, 48, 42)  # Q13, p. 3
        assert terms.extension_announcement_time == time(6, 0)  # Q20, p. 5
        assert terms.receipt_confirmation_business_days == 2  # §4, p. 16
        assert terms.min_business_days_after_consideration_change == 10  # §2, p. 14
        assert terms.residence_countries == ("US",)
        assert terms.eligible_employee_classes == ("employee",)

    def test_with_expiration_moves_only_the_expiration(self, terms: OfferTerms) -> None:
        new = datetime(2003, 8, 7, 17, 0, tzinfo=PACIFIC)
        extended = terms.with_expiration(new)
        assert extended.expiration == new
        assert extended.original_expiration == terms.expiration
        assert extended.is_extended
        assert not terms.is_extended
        assert terms.expiration == datetime(2003, 7, 24, 17, 0, tzinfo=PACIFIC)  # unchanged
        assert extended.commencement == terms.commencement

    def test_same_instant_in_another_zone_is_not_an_extension(self, terms: OfferTerms) -> None:
        assert not terms.with_expiration(datetime(2003, 7, 25, 0, 0, tzinfo=UTC)).is_extended

    def test_naive_expiration_refused(self, terms: OfferTerms) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            terms.with_expiration(datetime(2003, 8, 7, 17, 0))


class TestFormatInstant:
    def test_the_deadline(self) -> None:
        assert (
            format_instant(datetime(2003, 7, 24, 17, 0, tzinfo=PACIFIC), PACIFIC)
            == "5:00 p.m. PDT on Thursday, July 24, 2003"
        )

    def test_converts_to_the_requested_zone(self) -> None:
        utc = datetime(2003, 7, 25, 0, 0, tzinfo=UTC)
        assert format_instant(utc, PACIFIC) == "5:00 p.m. PDT on Thursday, July 24, 2003"
        assert format_instant(utc, EASTERN) == "8:00 p.m. EDT on Thursday, July 24, 2003"

    def test_standard_time_after_the_fall_back(self) -> None:
        assert (
            format_instant(datetime(2003, 11, 6, 17, 0, tzinfo=PACIFIC), PACIFIC)
            == "5:00 p.m. PST on Thursday, November 6, 2003"
        )

    def test_the_repeated_hour_is_told_apart(self) -> None:
        first = datetime(2003, 10, 26, 8, 30, tzinfo=UTC)
        assert format_instant(first, PACIFIC) == "1:30 a.m. PDT on Sunday, October 26, 2003"
        second = first + timedelta(hours=1)
        assert format_instant(second, PACIFIC) == "1:30 a.m. PST on Sunday, October 26, 2003"

    @pytest.mark.parametrize(
        ("hour", "minute", "text"),
        [
            (0, 0, "12:00 a.m."),
            (0, 30, "12:30 a.m."),
            (6, 0, "6:00 a.m."),
            (9, 5, "9:05 a.m."),
            (11, 59, "11:59 a.m."),
            (12, 0, "12:00 p.m."),
            (12, 59, "12:59 p.m."),
            (13, 5, "1:05 p.m."),
            (23, 59, "11:59 p.m."),
        ],
    )
    def test_twelve_hour_clock(self, hour: int, minute: int, text: str) -> None:
        instant = datetime(2003, 7, 10, hour, minute, tzinfo=PACIFIC)
        assert format_instant(instant, PACIFIC) == f"{text} PDT on Thursday, July 10, 2003"


class TestOtherFormats:
    def test_format_date(self) -> None:
        assert format_date(date(2004, 1, 26)) == "Monday, January 26, 2004"
        assert format_date(date(2003, 7, 4)) == "Friday, July 4, 2003"

    @pytest.mark.parametrize(
        ("amount", "text"),
        [
            (Decimal("2.00"), "$2.00"),
            (Decimal("29.07"), "$29.07"),
            (Decimal("1234567.8"), "$1,234,567.80"),
        ],
    )
    def test_format_money(self, amount: Decimal, text: str) -> None:
        assert format_money(amount) == text

    def test_format_shares(self) -> None:
        assert format_shares(2_400) == "2,400"
        assert format_shares(300) == "300"
        assert format_shares(1_026_013) == "1,026,013"
