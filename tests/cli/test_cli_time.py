"""`--received-at` parsing and the local times HR reads (:mod:`bot.domain.local_time`): plain
asserts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.domain.local_time import format_local, parse_received_at

PACIFIC = ZoneInfo("America/Los_Angeles")
NOW = datetime(2003, 7, 11, 16, 0, 5, 123456, tzinfo=UTC)


def parse(text: str) -> datetime:
    return parse_received_at(text, now=NOW, zone=PACIFIC)


@pytest.mark.parametrize("text", ["now", "NOW", "  now "])
def test_now_is_the_clocks_now(text: str) -> None:
    assert parse(text) == NOW


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2003-07-10 14:05", datetime(2003, 7, 10, 21, 5, tzinfo=UTC)),  # PDT, UTC-7
        ("2003-07-10T14:05", datetime(2003, 7, 10, 21, 5, tzinfo=UTC)),
        ("2003-07-10 14:05:30", datetime(2003, 7, 10, 21, 5, 30, tzinfo=UTC)),
        ("2003-01-10 14:05", datetime(2003, 1, 10, 22, 5, tzinfo=UTC)),  # PST, UTC-8
    ],
)
def test_a_wall_time_is_read_in_the_offers_zone(text: str, utc: datetime) -> None:
    parsed = parse(text)
    assert parsed == utc
    assert parsed.tzinfo is PACIFIC  # kept in the offer's zone: printed back as PDT/PST


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("2003-07-10T14:05:00-07:00", timedelta(hours=-7)),
        ("2003-07-10T14:05-04:00", timedelta(hours=-4)),  # Eastern, as typed
        ("2003-07-10T21:05:00Z", timedelta(0)),
        ("2003-07-10 21:05z", timedelta(0)),
    ],
)
def test_an_instant_with_an_offset_is_taken_as_written(text: str, offset: timedelta) -> None:
    parsed = parse(text)
    assert parsed.utcoffset() == offset


def test_spring_forward_a_time_that_never_happened_is_refused() -> None:
    # 2003-04-06: Los Angeles clocks went from 1:59:59 PST to 3:00:00 PDT
    with pytest.raises(ValueError, match="never happened in America/Los_Angeles"):
        parse("2003-04-06 02:30")
    assert parse("2003-04-06 01:59") == datetime(2003, 4, 6, 9, 59, tzinfo=UTC)
    assert parse("2003-04-06 03:00") == datetime(2003, 4, 6, 10, 0, tzinfo=UTC)


def test_fall_back_a_time_that_happened_twice_asks_for_the_offset() -> None:
    # 2003-10-26: 1:00-1:59 a.m. happened at PDT, then again at PST
    with pytest.raises(ValueError) as refused:
        parse("2003-10-26 01:30")
    message = str(refused.value)
    assert "happened twice" in message
    assert "2003-10-26T01:30-07:00 for the first (PDT)" in message
    assert "2003-10-26T01:30-08:00 for the second (PST)" in message
    # either answer it suggests is then accepted, an hour apart
    first = parse("2003-10-26T01:30-07:00")
    second = parse("2003-10-26T01:30-08:00")
    assert second - first == timedelta(hours=1)
    assert parse("2003-10-26 02:30") == datetime(2003, 10, 26, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2003-07-10", "14:05", "07/10/2003 14:05", "2003-07-10 2pm", "2003-7-1 9:00"],
)
def test_anything_else_is_refused_with_the_three_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"write now, a local time such as 2003-07-10 14:05"):
        parse(text)


def test_an_impossible_date_is_refused() -> None:
    with pytest.raises(ValueError, match="not a real date and time"):
        parse("2003-02-30 10:00")


def test_local_times_for_listings_have_the_zone_and_no_microseconds() -> None:
    assert format_local(NOW, PACIFIC) == "2003-07-11 09:00:05 PDT"
    assert format_local(datetime(2003, 12, 1, 20, 0, tzinfo=UTC), PACIFIC) == (
        "2003-12-01 12:00:00 PST"
    )
    naive_utc = datetime(2003, 7, 11, 16, 0, 5, 999999)  # as SQLite hands it back
    assert format_local(naive_utc, PACIFIC) == "2003-07-11 09:00:05 PDT"
    other = datetime(2003, 7, 11, 12, 0, tzinfo=timezone(timedelta(hours=-4)))
    assert format_local(other, PACIFIC) == "2003-07-11 09:00:00 PDT"
