"""The benchmark table: rows with targets and verdicts, rendered for the terminal and Markdown."""

from __future__ import annotations

from rich.console import Console

from bench.table import NO_DB, markdown, rich_table, row, value_text, verdict


def test_a_target_gives_the_verdict() -> None:
    fast = row("roster import", db="sqlite", value=6.2, unit="s", at_most=10)
    slow = row("roster import", db="postgresql", value=12.04, unit="s", at_most=10)
    assert (fast["target"], fast["ok"], verdict(fast)) == ("≤ 10 s", True, "PASS")
    assert (slow["ok"], verdict(slow)) == (False, "MISS")
    enough = row("top-1", db=NO_DB, value=91.0, unit="%", at_least=90)
    assert (enough["target"], enough["ok"]) == ("≥ 90 %", True)


def test_no_target_or_no_value_has_no_verdict() -> None:
    plain = row("question answering p50", db=NO_DB, value=1.234, unit="ms")
    assert (plain["target"], plain["ok"], verdict(plain)) == (None, None, "—")
    failed = row("broadcast", db="sqlite", value=None, unit="s", at_most=5, note="failed: boom")
    assert (failed["ok"], verdict(failed), value_text(failed)) == (None, "—", "not measured")
    assert failed["note"] == "failed: boom" and "note" not in plain


def test_values_keep_three_significant_figures() -> None:
    shown = [
        value_text(row("m", db="sqlite", value=v, unit="ms"))
        for v in (0.08304, 1.2345, 37.54, 154.4, 12345.6, 0)
    ]
    assert shown == ["0.0830 ms", "1.23 ms", "37.5 ms", "154 ms", "12,346 ms", "0 ms"]


def test_markdown_has_a_line_per_row_and_escapes_pipes() -> None:
    rows = [
        row("roster import", db="sqlite", value=5.68, unit="s", at_most=10),
        row("a | b", db=NO_DB, value=None, unit="", note="failed: x|y"),
    ]
    lines = markdown(rows).splitlines()
    assert lines[0] == "| measure | db | value | target | result | note |"
    assert lines[2] == "| roster import | sqlite | 5.68 s | ≤ 10 s | PASS |  |"
    assert lines[3] == "| a \\| b | - | not measured | — | — | failed: x\\|y |"


def test_the_terminal_table_shows_every_row_and_verdict() -> None:
    console = Console(record=True, width=200)
    console.print(
        rich_table(
            [
                row("App Home render p99", db="sqlite", value=61.0, unit="ms", at_most=50),
                row("RSS", db="postgresql", value=150, unit="MB", at_most=200),
            ],
            title="bench",
        )
    )
    text = console.export_text()
    assert "App Home render p99" in text and "MISS" in text and "PASS" in text
    assert "≤ 200 MB" in text and "61.0 ms" in text
