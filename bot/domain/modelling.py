"""Arithmetic for the neutral illustration of old grants and new options (``offerbot model``).

Facts only: the intrinsic value of an option at a share price is
``max(price − exercise price, 0) × shares``; vested shares come from the vesting schedule.
Nothing here compares, ranks or judges; the service labels the result an illustration.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from bot.domain.new_option import VestingTranche

__all__ = ["intrinsic_value", "sample_dates", "straight_line_vested", "vested_on"]


def intrinsic_value(shares: int, exercise_price: Decimal, price: Decimal) -> Decimal:
    """What exercising and selling at ``price`` would yield before tax and costs; never < 0."""
    if shares < 0:
        raise ValueError("shares cannot be negative")
    return max(price - exercise_price, Decimal(0)) * shares


def vested_on(schedule: Sequence[VestingTranche], day: date) -> int:
    """Shares vested on ``day`` (inclusive) under a dated schedule."""
    return max((t.cumulative for t in schedule if t.date <= day), default=0)


def straight_line_vested(shares: int, start: date, months: int, day: date) -> int:
    """Shares vested on ``day`` when ``shares`` vest in equal monthly parts over ``months``
    from ``start`` (whole shares, rounded down; all of them after the last month)."""
    if months < 1:
        raise ValueError("months must be at least 1")
    if day < start:
        return 0
    delta = relativedelta(day, start)
    elapsed = delta.years * 12 + delta.months
    return shares if elapsed >= months else shares * elapsed // months


def sample_dates(start: date, months: int, step_months: int = 6) -> list[date]:
    """``start`` and every ``step_months`` after it, through ``start + months``."""
    if step_months < 1:
        raise ValueError("step_months must be at least 1")
    dates = [start + relativedelta(months=m) for m in range(0, months + 1, step_months)]
    end = start + relativedelta(months=months)
    if dates[-1] != end:
        dates.append(end)
    return dates
