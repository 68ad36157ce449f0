"""Shares and vesting of the new options (Offer Q7, p. 2; Q13, p. 3; §9, p. 22).

Q7: "one new share-for-one old share basis ... subject to adjustment for any stock splits,
reverse stock splits ... that occur after the Cancellation Date but before the New Option Grant
Date". Q13: "6/48 (or 12.5%) ... vested on the New Option Grant Date, and 1/48 ... monthly
after ..., such that each new option will be fully vested on the 42-month anniversary".
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from itertools import pairwise

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.new_option import VestingTranche, new_option_shares, vesting_schedule
from bot.domain.roster import CapitalizationAdjustment
from bot.domain.terms import OfferTerms, VestingTerms

CANCELLATION = date(2003, 7, 25)
NEW_GRANT = date(2004, 1, 26)


def shares(
    unexercised: int, *adjustments: CapitalizationAdjustment, ratio: Fraction = Fraction(1)
) -> int:
    return new_option_shares(
        unexercised,
        ratio=ratio,
        adjustments=adjustments,
        cancellation=CANCELLATION,
        new_grant=NEW_GRANT,
    )


def reverse_1_for_5(on: date) -> CapitalizationAdjustment:
    return CapitalizationAdjustment(effective_date=on, numerator=1, denominator=5)


class TestNewOptionShares:
    def test_the_offer_ratio_is_one_for_one(self, terms: OfferTerms) -> None:
        assert terms.exchange_ratio == Fraction(1)
        assert shares(300, ratio=terms.exchange_ratio) == 300
        assert shares(0) == 0

    def test_reverse_split_between_cancellation_and_grant_rounds_down(self) -> None:
        # 1,003 / 5 = 200.6 -> 200: a fraction of a share is never granted.
        assert shares(1_003, reverse_1_for_5(date(2003, 10, 1))) == 200
        assert shares(4, reverse_1_for_5(date(2003, 10, 1))) == 0

    @pytest.mark.parametrize(
        "on",
        [
            date(2003, 7, 1),  # during the offer
            CANCELLATION,  # "after the Cancellation Date": not on it
            NEW_GRANT,  # "before the New Option Grant Date": not on it
            date(2004, 6, 1),
        ],
    )
    def test_split_outside_the_window_is_ignored(self, on: date) -> None:
        assert shares(1_003, reverse_1_for_5(on)) == 1_003

    def test_just_inside_the_window(self) -> None:
        assert shares(1_000, reverse_1_for_5(date(2003, 7, 26))) == 200
        assert shares(1_000, reverse_1_for_5(date(2004, 1, 25))) == 200

    def test_several_events_compound_before_rounding(self) -> None:
        # 7 x 1/5 x 3/2 = 2.1 -> 2 (rounding after each event would give 1).
        three_for_two = CapitalizationAdjustment(
            effective_date=date(2003, 12, 1), numerator=3, denominator=2
        )
        assert shares(7, three_for_two, reverse_1_for_5(date(2003, 9, 1))) == 2

    def test_negative_shares_refused(self) -> None:
        with pytest.raises(ValueError):
            shares(-1)

    def test_split_terms_must_be_positive(self) -> None:
        with pytest.raises(ValueError):
            CapitalizationAdjustment(effective_date=date(2003, 9, 1), numerator=0, denominator=5)


class TestVestingSchedule:
    def test_the_q13_example(self, terms: OfferTerms) -> None:
        """2,400 shares granted January 26, 2004 (Q13, p. 3)."""
        schedule = vesting_schedule(2_400, NEW_GRANT, terms.vesting)
        assert schedule[0] == VestingTranche(date=date(2004, 1, 26), shares=300, cumulative=300)
        assert schedule[1] == VestingTranche(date=date(2004, 2, 26), shares=50, cumulative=350)
        assert all(t.shares == 50 for t in schedule[1:])
        assert all(t.date.day == 26 for t in schedule)
        assert schedule[-1] == VestingTranche(date=date(2007, 7, 26), shares=50, cumulative=2_400)
        assert len(schedule) == 43
        assert sum(t.shares for t in schedule) == 2_400

    def test_grant_on_the_31st_vests_on_month_ends(self, terms: OfferTerms) -> None:
        schedule = vesting_schedule(4_800, date(2004, 1, 31), terms.vesting)
        assert [t.date for t in schedule[:6]] == [
            date(2004, 1, 31),
            date(2004, 2, 29),  # leap year
            date(2004, 3, 31),  # back to the 31st, not stuck on the 29th
            date(2004, 4, 30),
            date(2004, 5, 31),
            date(2004, 6, 30),
        ]
        assert schedule[13].date == date(2005, 2, 28)
        assert schedule[-1].date == date(2007, 7, 31)

    def test_no_shares_no_tranches(self, terms: OfferTerms) -> None:
        assert vesting_schedule(0, NEW_GRANT, terms.vesting) == []

    def test_one_share_vests_at_the_end(self, terms: OfferTerms) -> None:
        assert vesting_schedule(1, NEW_GRANT, terms.vesting) == [
            VestingTranche(date=date(2007, 7, 26), shares=1, cumulative=1)
        ]

    def test_seven_shares_vest_nothing_on_the_grant_date(self, terms: OfferTerms) -> None:
        # 7 x 6/48 = 0.875 -> 0; 7 x 7/48 = 1.02 -> 1 on the first monthly date.
        schedule = vesting_schedule(7, NEW_GRANT, terms.vesting)
        assert schedule[0] == VestingTranche(date=date(2004, 2, 26), shares=1, cumulative=1)
        assert sum(t.shares for t in schedule) == 7

    def test_forty_eight_shares(self, terms: OfferTerms) -> None:
        schedule = vesting_schedule(48, NEW_GRANT, terms.vesting)
        assert [t.shares for t in schedule] == [6] + [1] * 42

    def test_negative_total_refused(self, terms: OfferTerms) -> None:
        with pytest.raises(ValueError):
            vesting_schedule(-1, NEW_GRANT, terms.vesting)

    def test_fractions_must_add_up(self) -> None:
        with pytest.raises(ValueError, match="add up"):
            VestingTerms(initial_numerator=6, monthly_numerator=1, denominator=48, months=41)


# --- properties -------------------------------------------------------------------------------


@given(
    total=st.integers(min_value=0, max_value=10**7),
    grant_date=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
)
def test_vesting_schedule_properties(terms: OfferTerms, total: int, grant_date: date) -> None:
    vesting = terms.vesting
    schedule = vesting_schedule(total, grant_date, vesting)

    assert sum(t.shares for t in schedule) == total
    assert all(t.shares > 0 for t in schedule)
    cumulative = [t.cumulative for t in schedule]
    assert cumulative == sorted(cumulative)
    assert [t.cumulative for t in schedule] == [
        sum(t.shares for t in schedule[: i + 1]) for i in range(len(schedule))
    ]
    dates = [t.date for t in schedule]
    assert all(a < b for a, b in pairwise(dates))
    if total == 0:
        assert schedule == []
        return
    assert schedule[-1].cumulative == total
    assert schedule[-1].date == grant_date + relativedelta(months=vesting.months)
    assert (schedule[0].date == grant_date) == (total >= 8)  # 6/48 of it is a whole share

    # Never ahead of the schedule, and never a whole share behind it.
    month_of = {grant_date + relativedelta(months=k): k for k in range(vesting.months + 1)}
    for tranche in schedule:
        k = month_of[tranche.date]
        entitled = Fraction(total * (vesting.initial_numerator + k * vesting.monthly_numerator))
        entitled /= vesting.denominator
        assert entitled - 1 < tranche.cumulative <= entitled


@given(
    unexercised=st.integers(min_value=0, max_value=10**7),
    numerator=st.integers(min_value=1, max_value=10),
    denominator=st.integers(min_value=1, max_value=10),
    effective=st.dates(min_value=date(2003, 1, 1), max_value=date(2004, 12, 31)),
)
def test_new_option_shares_is_the_floor_of_the_exact_product(
    unexercised: int, numerator: int, denominator: int, effective: date
) -> None:
    split = CapitalizationAdjustment(
        effective_date=effective, numerator=numerator, denominator=denominator
    )
    result = shares(unexercised, split)
    if CANCELLATION < effective < NEW_GRANT:
        exact = Fraction(unexercised * numerator, denominator)
        assert result <= exact < result + 1
    else:
        assert result == unexercised
