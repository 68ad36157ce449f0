"""Shares and vesting of the new options (Offer Q7, p. 2; Q13, p. 3; §9, p. 22).

Rounding: the offer grants whole shares. After a split the exact product is rounded *down*
to a whole share (a fraction of a share is never granted). Vesting uses cumulative floors so
the tranches always sum to exactly the total: after month ``k`` the vested total is
``floor(total × (initial + k × monthly) / denominator)``, and the last tranche is the
remainder.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from dateutil.relativedelta import relativedelta

from bot.domain.roster import CapitalizationAdjustment
from bot.domain.terms import VestingTerms

__all__ = ["VestingTranche", "new_option_shares", "vesting_schedule"]


def new_option_shares(
    unexercised_shares: int,
    *,
    ratio: Fraction,
    adjustments: Iterable[CapitalizationAdjustment] = (),
    cancellation: date,
    new_grant: date,
) -> int:
    """Unexercised shares × exchange ratio, adjusted for splits between cancellation and grant.

    Q7, p. 2: adjusted "for any stock splits, reverse stock splits, subdivisions, combinations,
    stock dividends and similar events that occur after the Cancellation Date but before the
    New Option Grant Date".
    """
    if unexercised_shares < 0:
        raise ValueError("unexercised_shares cannot be negative")
    exact = Fraction(unexercised_shares) * ratio
    for adj in sorted(adjustments, key=lambda a: a.effective_date):
        if cancellation < adj.effective_date < new_grant:
            exact *= adj.ratio
    return math.floor(exact)


@dataclass(frozen=True, slots=True)
class VestingTranche:
    date: date
    shares: int
    cumulative: int


def vesting_schedule(
    total_shares: int, grant_date: date, vesting: VestingTerms
) -> list[VestingTranche]:
    """Dated tranches of a new option; months that round to zero shares are left out.

    Monthly dates are computed from the grant date each time (``relativedelta``), so a grant
    on the 31st vests on the last day of shorter months and back on the 31st after them.
    """
    if total_shares < 0:
        raise ValueError("total_shares cannot be negative")
    tranches: list[VestingTranche] = []
    vested = 0
    for month in range(vesting.months + 1):
        numerator = vesting.initial_numerator + month * vesting.monthly_numerator
        cumulative = total_shares * numerator // vesting.denominator
        if month == vesting.months:
            cumulative = total_shares
        shares = cumulative - vested
        if shares:
            tranches.append(
                VestingTranche(
                    date=grant_date + relativedelta(months=month),
                    shares=shares,
                    cumulative=cumulative,
                )
            )
        vested = cumulative
    return tranches
