"""Times HR types and reads — ``--received-at`` at the terminal, the received time and the new
expiration on the HR console — parsed, and local instants printed for listings.

Pure functions (no clock reads, no I/O): ``now`` and the offer's zone come in as arguments, so
the daylight-saving edges are plain asserts in ``tests/cli/test_cli_time.py``.

HR copies the time off a fax header or a hand-delivery log, which shows local wall time. A
receipt time decides whether a form was on time, so a wall time that names no single instant
is refused with a sentence saying what to type, never guessed:

* a time that never happened (spring forward, e.g. 2:30 a.m. on 2003-04-06 in Los Angeles);
* a time that happened twice (fall back, e.g. 1:30 a.m. on 2003-10-26): HR adds the offset
  printed on the fax (``-07:00`` for the first, daylight time; ``-08:00`` for the second).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = ["format_local", "parse_instant", "parse_received_at"]

# A date and a time to the minute (seconds optional), "T" or a space between them; then either
# nothing (local wall time) or an offset / "Z".
_INSTANT = re.compile(
    r"(?P<wall>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?P<offset>Z|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)


def parse_received_at(text: str, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The instant ``text`` names: ``now``; ``YYYY-MM-DD HH:MM`` read as wall time in ``zone``
    (the offer's zone, Pacific); or ISO 8601 with an offset. ``ValueError`` with a sentence for
    anything else, and for a wall time that never happened or happened twice (module doc)."""
    if text.strip().lower() == "now":
        return now
    return parse_instant(text, zone)


def parse_instant(text: str, zone: ZoneInfo) -> datetime:
    """``YYYY-MM-DD HH:MM`` (or an HTML ``datetime-local`` value, with "T") as wall time in
    ``zone``, or ISO 8601 with an offset; ``ValueError`` with a sentence otherwise, and for a
    wall time that never happened or happened twice."""
    value = text.strip()
    match = _INSTANT.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{text!r} is not a time: write now, a local time such as 2003-07-10 14:05 "
            f"({zone.key}), or an instant with its offset such as 2003-07-10T14:05-07:00"
        )
    try:
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a real date and time") from None
    if parsed.tzinfo is not None:
        return parsed
    return _local(parsed, zone, text)


def _local(wall: datetime, zone: ZoneInfo, text: str) -> datetime:
    """``wall`` read in ``zone``; refused when the clocks skipped it or showed it twice."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != wall:
        raise ValueError(
            f"{text!r} never happened in {zone.key}: the clocks jumped forward an hour that "
            "night; check the time on the form, or give the instant with its UTC offset"
        )
    if first.utcoffset() != second.utcoffset():
        raise ValueError(
            f"{text!r} happened twice in {zone.key} (the clocks went back an hour that night); "
            f"give its offset: {_iso_with_offset(wall, first)} for the first "
            f"({first.tzname()}) or {_iso_with_offset(wall, second)} for the second "
            f"({second.tzname()})"
        )
    return first


def _iso_with_offset(wall: datetime, aware: datetime) -> str:
    offset = aware.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{wall:%Y-%m-%dT%H:%M}{sign}{hours:02d}:{mins:02d}"


def format_local(instant: datetime, zone: ZoneInfo) -> str:
    """``2003-07-10 09:00:12 PDT``: ``instant`` in ``zone`` to the second, with the zone's
    abbreviation (a listing HR scans, so no microseconds and no raw UTC offsets)."""
    if instant.tzinfo is None:  # SQLite hands back naive UTC
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
