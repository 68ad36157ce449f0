"""The offer's calendar with its holidays from the table on disk: the package's own answers,
and the package again whenever the table cannot be trusted."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.calendar import HolidayTable
from bot.domain.deadlines import business_calendar, offer_deadlines
from bot.domain.terms import OfferTerms
from bot.services.offer import holiday_cache
from bot.services.offer.holiday_cache import offer_calendar, offer_years, table_path
from knowledge.answerer import default_cache_dir
from knowledge.offer_terms import load_offer_terms

NOW = datetime.fromisoformat("2003-07-10T09:00:00-07:00")


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


def _as_a_fresh_process() -> None:
    holiday_cache._LOADED.clear()  # what a new process starts with


def _table(calendar: object) -> HolidayTable:
    holidays = calendar._holidays  # type: ignore[attr-defined]
    assert isinstance(holidays, HolidayTable)
    return holidays


def test_the_table_is_written_then_read_and_answers_as_the_package(
    terms: OfferTerms, tmp_path: Path
) -> None:
    first = offer_calendar(terms, cache_dir=tmp_path)
    path = table_path(tmp_path, "US")
    assert path.is_file()
    _as_a_fresh_process()
    again = offer_calendar(terms, cache_dir=tmp_path)
    read = _table(again)
    assert read._library is None  # read from the file: the package was not asked
    assert read.years >= offer_years(terms) >= {2002, 2003, 2004, 2005}
    reference = business_calendar(terms)
    day = date(2001, 1, 1)
    while day.year < 2008:
        assert again.holiday_name(day) == reference.holiday_name(day), day
        assert again.is_business_day(day) == reference.is_business_day(day), day
        day += timedelta(days=1)
    assert offer_deadlines(terms, now=NOW, calendar=again) == offer_deadlines(
        terms, now=NOW, calendar=reference
    )
    assert offer_deadlines(terms, now=NOW, calendar=first) == offer_deadlines(
        terms, now=NOW, calendar=reference
    )


def test_a_changed_package_a_broken_file_or_missing_years_mean_the_package_again(
    terms: OfferTerms, tmp_path: Path
) -> None:
    offer_calendar(terms, cache_dir=tmp_path)
    path = table_path(tmp_path, "US")
    data = json.loads(path.read_text())
    _as_a_fresh_process()
    # a package file that changed since the table was filled (a reinstall, an upgrade)
    data["library"][0][1] += 1
    data["days"] = {}
    path.write_text(json.dumps(data))
    rebuilt = _table(offer_calendar(terms, cache_dir=tmp_path))
    assert rebuilt.get(date(2003, 7, 4)) == "Independence Day"
    assert json.loads(path.read_text())["days"]  # filled again
    path.write_text("not json")
    _as_a_fresh_process()
    assert _table(offer_calendar(terms, cache_dir=tmp_path)).get(date(2003, 7, 4))
    # an offer extended into later years: those years are added, the others kept
    later = terms.with_expiration(datetime.fromisoformat("2010-07-24T17:00:00-07:00"))
    offer_calendar(later, cache_dir=tmp_path)
    years = set(json.loads(path.read_text())["years"])
    assert years >= set(offer_years(terms)) | set(offer_years(later))


def test_a_running_process_reads_the_table_once(terms: OfferTerms, tmp_path: Path) -> None:
    _as_a_fresh_process()
    first = _table(offer_calendar(terms, cache_dir=tmp_path))
    table_path(tmp_path, "US").unlink()
    assert _table(offer_calendar(terms, cache_dir=tmp_path)) is first  # no file read again
    assert not table_path(tmp_path, "US").exists()


def test_a_folder_that_cannot_be_written_still_gives_the_calendar(
    terms: OfferTerms, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    calendar = offer_calendar(terms, cache_dir=blocked)
    assert calendar.holiday_name(date(2003, 7, 4)) == "Independence Day"


def test_the_default_folder_is_the_routers() -> None:
    from bot.services.offer import holiday_cache

    assert holiday_cache.default_cache_dir() == default_cache_dir()
