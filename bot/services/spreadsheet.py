"""CSV files HR opens in a spreadsheet: no cell may start a formula.

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@``
as a formula (``=HYPERLINK(...)``, ``=WEBSERVICE(...)``, DDE), and a leading tab or carriage
return can hide such a start. Names, subjects and questions come from outside (the roster,
employees, HR's own typing), so every CSV offerbot writes goes through
:func:`spreadsheet_writer`: a text cell with one of those first characters gets a leading
apostrophe, which spreadsheets show as plain text (OWASP, "CSV Injection"). Numbers written as
numbers are left alone, so ``-3`` stays a number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["FORMULA_PREFIXES", "safe_cell", "spreadsheet_writer"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell that a spreadsheet shows and never evaluates.

    A carriage return inside text becomes a line feed: the writer quotes a cell with a line
    feed, but a bare CR in an unquoted cell would end the record for most readers.
    """
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_PREFIXES):
        value = "'" + value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any]) -> Any: ...


class _SafeWriter:
    def __init__(self, writer: _Writer) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def spreadsheet_writer(stream: Any, **options: Any) -> _SafeWriter:
    """Like :func:`csv.writer` (lines end in ``\\n``), with every text cell made safe."""
    options.setdefault("lineterminator", "\n")
    return _SafeWriter(csv.writer(stream, **options))
