"""The offer's business calendar with its holidays read from a small table on disk.

Why: ``offerbot ask`` is a fresh process per question (target 0.8 s with Python's start, issue
15), and importing the ``holidays`` package and building the United States' holidays cost it
40 ms for a deadline answer that needs two or three years of them. The table
(:class:`bot.domain.calendar.HolidayTable`) holds, for the years around the offer, exactly what
the package answered for each day of them — filled from the package by the first process that
needs it, in the router's cache folder.

It is used only while the package's code is the code that filled it: the file records the
name, size and modification time of every file of the ``holidays`` and ``dateutil`` modules
the filling loaded, and they are compared (a stat each, no reading) before the table is
trusted. A reinstalled or upgraded package, a missing year, a file that cannot be read or
written: the package is used as before (and the table filled again). Days outside the table's
years are always asked of the package. JSON, never pickle: a cache file is data and never code.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path

from bot.cache_files import default_cache_dir, file_stamp, unchanged, write_json_cache
from bot.domain.calendar import BusinessCalendar, HolidayTable, library_holidays
from bot.domain.terms import OfferTerms

__all__ = ["HOLIDAY_TABLE_VERSION", "offer_calendar", "offer_years", "table_path"]

logger = logging.getLogger(__name__)

# Change when what the file holds changes: older files are ignored.
HOLIDAY_TABLE_VERSION = "holidays-1"
# The modules whose files decide the package's answers (stamped when the table is filled).
_LIBRARY_MODULES = ("holidays", "dateutil")


def offer_years(terms: OfferTerms) -> frozenset[int]:
    """The years the offer's deadlines fall in: the year before commencement through two years
    after the expiration (the new grant is six months and a day after cancellation)."""
    first = terms.commencement.year - 1
    last = max(terms.expiration.year, terms.original_expiration.year) + 2
    return frozenset(range(first, last + 1))


def table_path(cache_dir: Path, country: str) -> Path:
    return cache_dir / f"holidays-{country}.json"


def offer_calendar(terms: OfferTerms, *, cache_dir: Path | None = None) -> BusinessCalendar:
    """The same calendar as ``bot.domain.deadlines.business_calendar(terms)``, its holidays
    from the table on disk when it is there and still the package's."""
    folder = cache_dir or default_cache_dir()
    country = terms.holiday_country
    years = offer_years(terms)
    table = _LOADED.get((folder, country))
    if table is None or not years <= table.years:
        path = table_path(folder, country)
        table, stored = _read(path, country)
        if table is None or not years <= table.years:
            # the years another offer (or an earlier expiration) needed are kept as well
            table = HolidayTable.of_library(country, years | stored, library_holidays(country))
            _write(path, table)
        _LOADED[(folder, country)] = table
    return BusinessCalendar(zone=terms.business_day_zone, country=country, holidays=table)


# (cache folder, country) → the table this process read or filled: a running process (``serve``,
# ``worker``) reads the file once, not on every deadline question. The package's code a process
# has loaded does not change under it, so neither does its answer.
_LOADED: dict[tuple[Path, str], HolidayTable] = {}


def _library_files() -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every loaded module file of the packages in _LIBRARY_MODULES."""
    stamps = []
    for name, module in list(sys.modules.items()):
        if name.split(".", 1)[0] not in _LIBRARY_MODULES:
            continue
        origin = getattr(module, "__file__", None)
        if origin:
            stamps.append(file_stamp(origin))
    return sorted(stamps)


def _read(path: Path, country: str) -> tuple[HolidayTable | None, frozenset[int]]:
    """The table on disk if the package's files are unchanged (else None), and its years."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("version") != HOLIDAY_TABLE_VERSION or data.get("country") != country:
            return None, frozenset()
        stored = frozenset(int(year) for year in data["years"])
        if not unchanged(data["library"]):
            return None, stored
        days = {date.fromisoformat(day): str(name) for day, name in data["days"].items()}
        return HolidayTable(country, days, stored), stored
    except (OSError, ValueError, KeyError, TypeError):
        return None, frozenset()


def _write(path: Path, table: HolidayTable) -> None:
    """Atomically (a temporary file renamed); a folder that cannot be written only means the
    next process asks the package again."""
    data = {
        "version": HOLIDAY_TABLE_VERSION,
        "country": table.country,
        "years": sorted(table.years),
        "library": _library_files(),
        "days": {day.isoformat(): name for day, name in sorted(table.days.items())},
    }
    try:
        write_json_cache(path, data)
    except OSError as exc:
        logger.warning("holiday table not written", extra={"error": type(exc).__name__})
