"""One row per measure and database, and the table ``bench/run.py`` prints them in.

A benchmark module plugs into ``bench/run.py`` by defining::

    async def measure(db_url: str, quick: bool) -> list[Row]

``db_url`` is a fresh, empty database of one backend (not migrated), for that module alone;
``quick`` asks for a small run (seconds, for a smoke test). Build rows with :func:`row`::

    row("reminders: plan 100,000", db="sqlite", value=1.8, unit="s", at_most=10)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NotRequired, TypedDict

from rich.table import Table

__all__ = ["NO_DB", "Row", "markdown", "rich_table", "row", "verdict"]

NO_DB = "-"  # the db of a measure that does not touch a database (question answering)


class Row(TypedDict):
    measure: str  # what was measured, e.g. "roster import, 100,000 grants"
    db: str  # "sqlite", "postgresql", or NO_DB
    value: float | None  # None: not measured (``note`` says why)
    unit: str  # "s", "ms", "MB", "%", …
    target: str | None  # e.g. "≤ 10 s"; None: no target
    ok: bool | None  # None: no target, or not measured
    note: NotRequired[str]  # anything the figure needs to be read right


def row(
    measure: str,
    *,
    db: str,
    value: float | None,
    unit: str,
    at_most: float | None = None,
    at_least: float | None = None,
    note: str | None = None,
) -> Row:
    """A row whose target (and verdict) follows from ``at_most`` / ``at_least``, if given."""
    target: str | None = None
    ok: bool | None = None
    if at_most is not None:
        target = f"≤ {at_most:,g} {unit}".rstrip()
        ok = None if value is None else value <= at_most
    elif at_least is not None:
        target = f"≥ {at_least:,g} {unit}".rstrip()
        ok = None if value is None else value >= at_least
    result = Row(measure=measure, db=db, value=value, unit=unit, target=target, ok=ok)
    if note:
        result["note"] = note
    return result


def verdict(r: Row) -> str:
    if r["ok"] is None:
        return "—"
    return "PASS" if r["ok"] else "MISS"


def value_text(r: Row) -> str:
    if r["value"] is None:
        return "not measured"
    return f"{_number(r['value'])} {r['unit']}".rstrip()


def rich_table(rows: Iterable[Row], title: str | None = None) -> Table:
    table = Table(title=title)
    for header, justify in (
        ("measure", "left"),
        ("db", "left"),
        ("value", "right"),
        ("target", "right"),
        ("", "center"),
        ("note", "left"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        mark = verdict(r)
        style = {"PASS": "green", "MISS": "bold red"}.get(mark, "")
        table.add_row(
            r["measure"],
            r["db"],
            value_text(r),
            r["target"] or "—",
            f"[{style}]{mark}[/]" if style else mark,
            r.get("note", ""),
        )
    return table


def markdown(rows: Iterable[Row]) -> str:
    """The same table as GitHub Markdown (for bench/RESULTS.md)."""
    lines = [
        "| measure | db | value | target | result | note |",
        "|---|---|--:|--:|:-:|---|",
    ]
    for r in rows:
        cells = [
            r["measure"],
            r["db"],
            value_text(r),
            r["target"] or "—",
            verdict(r),
            r.get("note", ""),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _number(value: float) -> str:
    """Three significant figures at most, thousands separated: 8.42, 37.5, 1,234."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:,.{digits}f}"
