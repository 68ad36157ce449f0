"""How instants and dates are written in anything a person reads.

Deadlines are always quoted in the offer's zone with the zone abbreviation (PDT/PST), because
the offer's 5:00 p.m. deadline is Pacific Time (cover, p. i) whatever the reader's own zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["format_date", "format_duration", "format_instant", "format_money", "format_shares"]


def format_instant(instant: datetime, zone: ZoneInfo) -> str:
    """``5:00 p.m. PDT on Thursday, July 24, 2003``."""
    local = instant.astimezone(zone)
    hour = local.hour % 12 or 12
    meridiem = "a.m." if local.hour < 12 else "p.m."
    return f"{hour}:{local.minute:02d} {meridiem} {local.tzname()} on {format_date(local.date())}"


def format_date(day: date) -> str:
    """``Thursday, July 24, 2003``."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def format_money(amount: object) -> str:
    return f"${amount:,.2f}"  # type: ignore[str-format]


def format_shares(shares: int) -> str:
    return f"{shares:,}"


def format_duration(left: timedelta) -> str:
    """ "3 days, 4 hours, 5 minutes" (days only when there are any, never below a minute, never
    negative): the time left before a deadline, as every channel words it."""
    seconds = max(int(left.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    if hours or days:
        parts.append(f"{hours} hour{'s' * (hours != 1)}")
    parts.append(f"{minutes} minute{'s' * (minutes != 1)}")
    return ", ".join(parts)
