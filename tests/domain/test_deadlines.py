"""When the offer is open and the dates that follow from its expiration.

Expiration: "5:00 p.m., Pacific Time, on July 24, 2003" (cover, p. i; §2, p. 13); documents
must be received "before 5:00 p.m." (§4, p. 15). Cancellation July 25, 2003 (cover, p. i; §6,
p. 18). New grant "no earlier than the first business day that is six months and one day
after" cancellation, January 26, 2004 if not extended (cover, p. i; Q8, p. 2; §1, p. 13).
Extensions announced "no later than 6:00 a.m., Pacific Time, on the next business day"
(Q20, p. 5; §15, p. 28). Ten business days after a change in consideration (§2, p. 13-14).
Receipt confirmed "within two business days of receipt" (§4, p. 16; §5, p. 18; §6, p. 19).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.calendar import BusinessCalendar
from bot.domain.deadlines import (
    cancellation_date,
    check_extension,
    commencement_instant,
    consideration_change_last_date,
    ensure_open,
    extension_announcement_due,
    is_open,
    needs_extension_for_consideration_change,
    new_grant_date,
    offer_deadlines,
    receipt_confirmation_due,
)
from bot.domain.errors import DomainError, ExtensionError, OfferClosedError
from bot.domain.terms import OfferTerms

PACIFIC = ZoneInfo("America/Los_Angeles")
EASTERN = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
PDT = timezone(timedelta(hours=-7), "PDT")

EXPIRATION = datetime(2003, 7, 24, 17, 0, tzinfo=PACIFIC)
JUST_BEFORE = EXPIRATION - timedelta(microseconds=1)
DEADLINE_TEXT = "5:00 p.m. PDT on Thursday, July 24, 2003"


def pacific(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PACIFIC, fold=fold)  # type: ignore[misc]


def expiring(terms: OfferTerms, *args: int) -> OfferTerms:
    """The offer as if extended (or set) to 5:00 p.m. Pacific on the given day."""
    return terms.with_expiration(pacific(*args, 17, 0))


class TestTheBundledTerms:
    def test_expiration_is_5_pm_pdt_on_july_24_2003(self, terms: OfferTerms) -> None:
        assert terms.expiration == EXPIRATION
        assert terms.expiration.utcoffset() == timedelta(hours=-7)
        assert terms.expiration == datetime(2003, 7, 25, 0, 0, tzinfo=UTC)

    def test_commencement_is_midnight_pacific_june_25(self, terms: OfferTerms) -> None:
        assert commencement_instant(terms) == pacific(2003, 6, 25, 0, 0)


class TestIsOpen:
    """Open from commencement until strictly before 5:00 p.m. Pacific (§4, p. 15)."""

    def test_one_microsecond_before_five_is_open(self, terms: OfferTerms) -> None:
        assert pacific(2003, 7, 24, 16, 59, 59, 999_999) == JUST_BEFORE
        assert is_open(terms, JUST_BEFORE)

    def test_five_pm_exactly_is_closed(self, terms: OfferTerms) -> None:
        assert not is_open(terms, pacific(2003, 7, 24, 17, 0))

    @pytest.mark.parametrize(
        "instant",
        [
            datetime(2003, 7, 25, 0, 0, tzinfo=UTC),
            datetime(2003, 7, 24, 20, 0, tzinfo=EASTERN),
            datetime(2003, 7, 24, 17, 0, tzinfo=PDT),
            datetime(2003, 7, 25, 9, 0, tzinfo=TOKYO),
        ],
    )
    def test_the_expiration_instant_in_any_zone_is_closed(
        self, terms: OfferTerms, instant: datetime
    ) -> None:
        assert instant == EXPIRATION
        assert not is_open(terms, instant)
        assert is_open(terms, instant - timedelta(microseconds=1))

    def test_open_in_the_middle_of_the_window(self, terms: OfferTerms) -> None:
        assert is_open(terms, pacific(2003, 7, 4, 12, 0))  # a holiday does not close it

    def test_closed_before_commencement(self, terms: OfferTerms) -> None:
        assert not is_open(terms, pacific(2003, 6, 24, 23, 59, 59, 999_999))
        assert is_open(terms, pacific(2003, 6, 25, 0, 0))

    def test_naive_now_refused(self, terms: OfferTerms) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            is_open(terms, datetime(2003, 7, 10, 12, 0))

    def test_extension_into_november_closes_at_5_pm_pst(self, terms: OfferTerms) -> None:
        extended = expiring(terms, 2003, 11, 6)
        assert extended.expiration.utcoffset() == timedelta(hours=-8)
        assert extended.expiration == datetime(2003, 11, 7, 1, 0, tzinfo=UTC)
        assert is_open(extended, datetime(2003, 11, 7, 0, 59, 59, tzinfo=UTC))
        assert not is_open(extended, datetime(2003, 11, 7, 1, 0, tzinfo=UTC))

    def test_real_time_order_in_the_ambiguous_fall_back_hour(self, terms: OfferTerms) -> None:
        # Same wall clock, different instants: 1:30 PDT comes an hour before 1:30 PST. A
        # 1:10 PST reading is *after* a 1:30 PDT expiration although its wall time is earlier.
        extended = terms.with_expiration(pacific(2003, 10, 26, 1, 30))
        assert not is_open(extended, pacific(2003, 10, 26, 1, 10, fold=1))
        assert is_open(extended, pacific(2003, 10, 26, 1, 10))


class TestEnsureOpen:
    def test_open_returns_none(self, terms: OfferTerms) -> None:
        assert ensure_open(terms, JUST_BEFORE) is None

    def test_closed_quotes_the_deadline_in_pacific_time(self, terms: OfferTerms) -> None:
        with pytest.raises(OfferClosedError) as caught:
            ensure_open(terms, datetime(2003, 7, 25, 0, 0, tzinfo=UTC))
        assert DEADLINE_TEXT in str(caught.value)
        assert isinstance(caught.value, DomainError)

    def test_not_yet_open_says_when_it_opens(self, terms: OfferTerms) -> None:
        with pytest.raises(OfferClosedError, match="opens on June 25, 2003"):
            ensure_open(terms, pacific(2003, 6, 24, 12, 0))

    def test_extended_deadline_quoted_in_pst(self, terms: OfferTerms) -> None:
        with pytest.raises(OfferClosedError) as caught:
            ensure_open(expiring(terms, 2003, 11, 6), pacific(2003, 11, 6, 17, 0))
        assert "5:00 p.m. PST on Thursday, November 6, 2003" in str(caught.value)


class TestCancellationAndNewGrant:
    def test_cancellation_is_july_25_2003(self, terms: OfferTerms) -> None:
        assert cancellation_date(terms) == date(2003, 7, 25)

    def test_new_grant_is_january_26_2004(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # Q8, p. 2: July 25 + 6 months = Sunday January 25; + 1 day = Monday January 26.
        assert new_grant_date(terms, calendar) == date(2004, 1, 26)

    def test_six_months_and_a_day_on_a_saturday_moves_to_monday(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # Expires Thu Nov 6, 2003; cancel Fri Nov 7; + 6 months + 1 day = Sat May 8, 2004.
        extended = expiring(terms, 2003, 11, 6)
        assert cancellation_date(extended) == date(2003, 11, 7)
        assert new_grant_date(extended, calendar) == date(2004, 5, 10)

    def test_six_months_and_a_day_on_a_federal_holiday_moves_on(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # Expires Thu Aug 14, 2003; cancel Aug 15; + 6 months + 1 day = Mon Feb 16, 2004,
        # Washington's Birthday: the grant moves to Tuesday February 17.
        extended = expiring(terms, 2003, 8, 14)
        assert new_grant_date(extended, calendar) == date(2004, 2, 17)

    def test_six_months_and_a_day_on_sunday_before_observed_holiday(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # Cancel Jan 3, 2004 -> Sun Jul 4, 2004; Mon Jul 5 is observed: the grant is Tue Jul 6.
        extended = expiring(terms, 2004, 1, 2)
        assert new_grant_date(extended, calendar) == date(2004, 7, 6)

    @pytest.mark.parametrize(
        ("expiration_day", "grant_day"),
        [
            # Cancel Aug 31, 2003: + 6 months clamps to Feb 29, 2004 (leap); + 1 day = Mon Mar 1.
            (date(2003, 8, 30), date(2004, 3, 1)),
            # Cancel Aug 31, 2004: + 6 months clamps to Feb 28, 2005; + 1 day = Tue Mar 1.
            (date(2004, 8, 30), date(2005, 3, 1)),
            # Cancel Aug 30, 2004: Feb 28, 2005 + 1 day = Tue Mar 1 (months first, then the day).
            (date(2004, 8, 29), date(2005, 3, 1)),
        ],
    )
    def test_month_end_clamp(
        self,
        terms: OfferTerms,
        calendar: BusinessCalendar,
        expiration_day: date,
        grant_day: date,
    ) -> None:
        extended = expiring(terms, expiration_day.year, expiration_day.month, expiration_day.day)
        assert new_grant_date(extended, calendar) == grant_day

    def test_cancellation_uses_the_pacific_date(self, terms: OfferTerms) -> None:
        # A 10:30 p.m. Pacific expiration is already the next day in New York; the cancellation
        # is still "the day after" the Pacific expiration date.
        late = terms.with_expiration(pacific(2003, 7, 24, 22, 30))
        assert cancellation_date(late) == date(2003, 7, 25)


class TestExtensionAnnouncementDue:
    """6:00 a.m. Pacific on the next business day after the previous expiration (Q20, p. 5)."""

    def test_after_the_printed_expiration(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        due = extension_announcement_due(terms.expiration, terms, calendar)
        assert due == datetime.fromisoformat("2003-07-25T06:00:00-07:00")
        assert due == pacific(2003, 7, 25, 6, 0)

    def test_friday_expiration_is_announced_by_monday(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        due = extension_announcement_due(pacific(2003, 7, 25, 17, 0), terms, calendar)
        assert due == pacific(2003, 7, 28, 6, 0)

    def test_federal_holiday_next_day_is_skipped(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # Thursday July 3, 2003: Friday is Independence Day, so Monday July 7.
        due = extension_announcement_due(pacific(2003, 7, 3, 17, 0), terms, calendar)
        assert due == pacific(2003, 7, 7, 6, 0)

    def test_across_the_fall_back_weekend_the_time_stays_6_am_local(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        due = extension_announcement_due(pacific(2003, 10, 24, 17, 0), terms, calendar)
        assert due == pacific(2003, 10, 27, 6, 0)
        assert due.utcoffset() == timedelta(hours=-8)
        assert due.astimezone(PACIFIC).time() == time(6, 0)

    def test_naive_previous_expiration_refused(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            extension_announcement_due(datetime(2003, 7, 24, 17), terms, calendar)


class TestCheckExtension:
    """§15, p. 28: an extension must move the expiration later; late announcements flagged."""

    NEW = pacific(2003, 8, 7, 17, 0)

    def test_valid_extension_before_expiration(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        check = check_extension(terms, self.NEW, now=pacific(2003, 7, 23, 9, 0), calendar=calendar)
        assert check.new_expiration == self.NEW
        assert check.previous_expiration == EXPIRATION
        assert check.announcement_due == pacific(2003, 7, 25, 6, 0)
        assert not check.announcement_late
        assert check.warnings(PACIFIC) == []

    def test_after_expiration_but_by_6_am_next_business_day_is_on_time(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        check = check_extension(terms, self.NEW, now=pacific(2003, 7, 25, 6, 0), calendar=calendar)
        assert not check.announcement_late

    def test_after_6_am_is_allowed_but_flagged(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        now = pacific(2003, 7, 25, 6, 0) + timedelta(microseconds=1)
        check = check_extension(terms, self.NEW, now=now, calendar=calendar)
        assert check.announcement_late
        [warning] = check.warnings(PACIFIC)
        assert "6:00 a.m. PDT on Friday, July 25, 2003" in warning
        assert "Q20" in warning

    @pytest.mark.parametrize("new", [EXPIRATION, EXPIRATION - timedelta(days=1)])
    def test_equal_or_earlier_expiration_refused(
        self, terms: OfferTerms, calendar: BusinessCalendar, new: datetime
    ) -> None:
        with pytest.raises(ExtensionError, match=re.escape(DEADLINE_TEXT)):
            check_extension(terms, new, now=pacific(2003, 7, 20, 9, 0), calendar=calendar)

    def test_same_instant_in_utc_is_not_later(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        with pytest.raises(ExtensionError):
            check_extension(
                terms,
                datetime(2003, 7, 25, 0, 0, tzinfo=UTC),
                now=pacific(2003, 7, 20, 9, 0),
                calendar=calendar,
            )

    @pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=1)])
    def test_new_expiration_in_the_past_refused(
        self, terms: OfferTerms, calendar: BusinessCalendar, offset: timedelta
    ) -> None:
        new = pacific(2003, 7, 24, 18, 0)
        with pytest.raises(ExtensionError, match="already in the past"):
            check_extension(terms, new, now=new + offset, calendar=calendar)

    def test_naive_instants_refused(self, terms: OfferTerms, calendar: BusinessCalendar) -> None:
        with pytest.raises(ValueError):
            check_extension(terms, self.NEW, now=datetime(2003, 7, 20), calendar=calendar)
        with pytest.raises(ValueError):
            check_extension(
                terms, datetime(2003, 8, 7, 17), now=pacific(2003, 7, 20, 9, 0), calendar=calendar
            )

    def test_announcement_due_follows_the_current_extended_expiration(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # "the last previously scheduled or announced expiration date" (§15, p. 28).
        extended = expiring(terms, 2003, 8, 7)  # a Thursday
        check = check_extension(
            extended, pacific(2003, 8, 21, 17, 0), now=pacific(2003, 8, 1, 9, 0), calendar=calendar
        )
        assert check.previous_expiration == pacific(2003, 8, 7, 17, 0)
        assert check.announcement_due == pacific(2003, 8, 8, 6, 0)

    def test_later_in_real_time_within_the_fall_back_hour_is_an_extension(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        current = terms.with_expiration(pacific(2003, 10, 26, 1, 30))  # PDT
        later = pacific(2003, 10, 26, 1, 10, fold=1)  # PST: 40 minutes later in real time
        check = check_extension(current, later, now=pacific(2003, 10, 20, 9, 0), calendar=calendar)
        assert check.new_expiration == later


class TestConsiderationChange:
    """§2, p. 13-14: open at least ten business days from, and including, the notice date."""

    def test_holiday_inside_the_ten_days(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # Mon Jun 30 (1), Jul 1, 2, 3, [4 holiday], 7, 8, 9, 10, 11, Mon Jul 14 (10).
        notice = pacific(2003, 6, 30, 10, 0)
        assert consideration_change_last_date(notice, terms, calendar) == date(2003, 7, 14)
        assert not needs_extension_for_consideration_change(terms, notice, calendar)

    def test_notice_ten_business_days_before_expiration_needs_no_extension(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # Fri Jul 11 (1), 14, 15, 16, 17, 18, 21, 22, 23, Thu Jul 24 (10).
        notice = pacific(2003, 7, 11, 9, 0)
        assert consideration_change_last_date(notice, terms, calendar) == date(2003, 7, 24)
        assert not needs_extension_for_consideration_change(terms, notice, calendar)

    def test_notice_nine_business_days_before_expiration_needs_one(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        notice = pacific(2003, 7, 14, 9, 0)
        assert consideration_change_last_date(notice, terms, calendar) == date(2003, 7, 25)
        assert needs_extension_for_consideration_change(terms, notice, calendar)

    def test_notice_date_is_the_eastern_date(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # 10:00 p.m. PDT Friday July 11 is 1:00 a.m. EDT Saturday: day one is Monday July 14.
        notice = pacific(2003, 7, 11, 22, 0)
        assert consideration_change_last_date(notice, terms, calendar) == date(2003, 7, 25)
        assert needs_extension_for_consideration_change(terms, notice, calendar)

    def test_naive_notice_refused(self, terms: OfferTerms, calendar: BusinessCalendar) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            consideration_change_last_date(datetime(2003, 7, 1), terms, calendar)


class TestReceiptConfirmation:
    """Confirmed "within two business days of receipt" (§4, p. 16; §5, p. 18)."""

    @pytest.mark.parametrize(
        ("received", "due"),
        [
            (pacific(2003, 7, 1, 10, 0), date(2003, 7, 3)),  # Tue -> Thu
            (pacific(2003, 7, 2, 10, 0), date(2003, 7, 7)),  # Wed -> Thu, [Fri 4th], Mon
            (pacific(2003, 7, 3, 10, 0), date(2003, 7, 8)),  # Thu -> Mon, Tue
            (pacific(2003, 7, 4, 10, 0), date(2003, 7, 8)),  # faxed on the holiday
            (pacific(2003, 7, 24, 16, 59), date(2003, 7, 28)),  # last minute -> Fri, Mon
            (pacific(2003, 7, 18, 22, 30), date(2003, 7, 22)),  # Fri night = Sat in New York
        ],
    )
    def test_two_business_days(
        self, terms: OfferTerms, calendar: BusinessCalendar, received: datetime, due: date
    ) -> None:
        assert receipt_confirmation_due(received, terms, calendar) == due

    def test_naive_receipt_refused(self, terms: OfferTerms, calendar: BusinessCalendar) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            receipt_confirmation_due(datetime(2003, 7, 1, 10), terms, calendar)


class TestOfferDeadlines:
    def test_in_the_window(self, terms: OfferTerms, calendar: BusinessCalendar) -> None:
        d = offer_deadlines(terms, now=pacific(2003, 7, 10, 12, 0), calendar=calendar)
        assert d.expiration == d.original_expiration == EXPIRATION
        assert not d.is_extended
        assert d.cancellation_date == date(2003, 7, 25)
        assert d.new_grant_date == date(2004, 1, 26)
        assert d.extension_announcement_due == pacific(2003, 7, 25, 6, 0)
        assert d.is_open
        assert d.time_left == timedelta(days=14, hours=5)

    def test_after_expiration_no_time_left(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        d = offer_deadlines(terms, now=EXPIRATION, calendar=calendar)
        assert not d.is_open
        assert d.time_left == timedelta(0)
        later = offer_deadlines(terms, now=EXPIRATION + timedelta(days=3), calendar=calendar)
        assert later.time_left == timedelta(0)

    def test_extended(self, terms: OfferTerms, calendar: BusinessCalendar) -> None:
        extended = expiring(terms, 2003, 11, 6)
        d = offer_deadlines(extended, now=pacific(2003, 11, 1, 9, 0), calendar=calendar)
        assert d.is_extended
        assert d.original_expiration == EXPIRATION
        assert d.cancellation_date == date(2003, 11, 7)
        assert d.new_grant_date == date(2004, 5, 10)
        assert d.extension_announcement_due == pacific(2003, 11, 7, 6, 0)

    def test_time_left_across_the_dst_change_is_elapsed_time(
        self, terms: OfferTerms, calendar: BusinessCalendar
    ) -> None:
        # Saturday 5 p.m. PDT to Monday 5 p.m. PST is 49 hours, not 48 (clocks fell back).
        extended = expiring(terms, 2003, 10, 27)
        now = pacific(2003, 10, 25, 17, 0)
        d = offer_deadlines(extended, now=now, calendar=calendar)
        assert d.time_left == timedelta(hours=49)

    def test_naive_now_refused(self, terms: OfferTerms, calendar: BusinessCalendar) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            offer_deadlines(terms, now=datetime(2003, 7, 10), calendar=calendar)


# --- properties -------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2003, 6, 1), max_value=datetime(2003, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from([UTC, PACIFIC, EASTERN, TOKYO, PDT])


@settings(deadline=None)
@given(now=instants, zone=zones)
def test_is_open_does_not_depend_on_the_zone_now_is_written_in(
    terms: OfferTerms, now: datetime, zone: timezone | ZoneInfo
) -> None:
    local = now.astimezone(zone)
    assert is_open(terms, local) == is_open(terms, now)
    assert is_open(terms, now) == (datetime(2003, 6, 25, 7, 0, tzinfo=UTC) <= now < EXPIRATION)


@settings(deadline=None)
@given(now=instants, zone=zones)
def test_time_left_does_not_depend_on_the_zone_now_is_written_in(
    terms: OfferTerms, calendar: BusinessCalendar, now: datetime, zone: timezone | ZoneInfo
) -> None:
    extended = expiring(terms, 2003, 11, 6)  # PST, after the October 26 fall-back
    in_zone = offer_deadlines(extended, now=now.astimezone(zone), calendar=calendar)
    in_utc = offer_deadlines(extended, now=now, calendar=calendar)
    assert (
        in_zone.time_left
        == in_utc.time_left
        == max(extended.expiration.astimezone(UTC) - now, timedelta(0))
    )


@settings(deadline=None)
@given(day=st.dates(min_value=date(2003, 6, 25), max_value=date(2030, 12, 31)))
def test_new_grant_is_the_first_business_day_on_or_after_six_months_and_a_day(
    terms: OfferTerms, calendar: BusinessCalendar, day: date
) -> None:
    extended = expiring(terms, day.year, day.month, day.day)
    cancel = cancellation_date(extended)
    grant = new_grant_date(extended, calendar)
    six_months = date(
        cancel.year + (cancel.month + 5) // 12, (cancel.month + 5) % 12 + 1, 1
    )  # first of the month six months on
    assert calendar.is_business_day(grant)
    assert grant > cancel
    assert (grant.year, grant.month) >= (six_months.year, six_months.month)
    assert grant - cancel <= timedelta(days=184 + 1 + 4)  # six months is at most 184 days
