"""bench/run.py end to end at tiny sizes on SQLite (its figures are not checked, only that every
measure produces its rows), the benchmark roster, and the question-answering rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.roster_data as roster_data
from bench.qa import qa_rows
from bench.roster_data import HEAVY_EMPLOYEE, bench_roster
from bench.run import Sizes, _guarded, _plugin, collect, machine
from bench.table import Row
from handlers.slack.blocks import HOME_GRANT_ROWS

TINY = Sizes(grants=120, renders=3, homes=2, settle_s=0.0)


async def test_the_measures_produce_a_row_each_with_a_value() -> None:
    said: list[str] = []
    rows = await collect(
        ["sqlite"], quick=True, sizes=TINY, plugins=(), with_qa=False, say=said.append
    )
    by_measure = {r["measure"]: r for r in rows}
    assert list(by_measure) == [
        "roster import, 120 grants",
        "roster re-import (unchanged), 120 grants",
        "App Home render p50, 50 grants",
        "App Home render p99, 50 grants",
        "RSS of offerbot serve, 120 grants",
    ]
    assert all(r["db"] == "sqlite" and r["value"] and r["value"] > 0 for r in rows), rows
    roster = bench_roster(TINY.grants)
    stored = len(roster.employees) + len(roster.grants)
    assert f"inserted {stored:,}, updated 0, unchanged 0" in rows[0].get("note", "")
    assert f"inserted 0, updated 0, unchanged {stored:,}" in rows[1].get("note", "")
    assert by_measure["App Home render p99, 50 grants"]["target"] == "≤ 50 ms"
    # the Home lists at most HOME_GRANT_ROWS grants and says how many more there are
    shown = f"{HOME_GRANT_ROWS} grants shown"
    assert shown in by_measure["App Home render p50, 50 grants"].get("note", "")
    assert by_measure["RSS of offerbot serve, 120 grants"]["unit"] == "MB"
    assert said and "sqlite" in said[-1]


async def test_a_failing_measure_is_one_row_not_measured() -> None:
    async def broken() -> list[Row]:
        raise RuntimeError("no server")

    (failed,) = await _guarded("broadcast", "postgresql", broken())
    assert (failed["value"], failed["ok"], failed.get("note")) == (None, None, "failed: no server")


async def test_plugins_are_optional_and_need_a_measure_function() -> None:
    assert _plugin("no_such_bench") is None
    assert _plugin("table") is None  # a module beside run.py, but without `measure`


def test_the_roster_has_exactly_the_grants_asked_for_and_one_heavy_employee(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(roster_data, "_PART", 40)  # several demo rosters, ids moved apart
    roster = bench_roster(300)
    assert len(roster.grants) == 300
    heavy = [g for g in roster.grants if g.employee_id == HEAVY_EMPLOYEE.employee_id]
    assert len(heavy) == 50 and HEAVY_EMPLOYEE in roster.employees
    for values in (
        [e.employee_id for e in roster.employees],
        [e.email for e in roster.employees],
        [e.slack_user_id for e in roster.employees],
        [g.grant_number for g in roster.grants],
    ):
        assert len(values) == len(set(values))
    people = {e.employee_id for e in roster.employees}
    assert all(g.employee_id in people for g in roster.grants)
    assert any(e.employee_id.startswith("E1") and len(e.employee_id) == 8 for e in roster.employees)
    assert bench_roster(300) == roster  # seeded: the same every time


def test_question_answering_rows(tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    items = [
        {"id": "t1", "question": "When does the offer expire?", "category": "faq",
         "accept_ids": ["Q4", "Q21", "S6", "COVER"], "facts": []},
        {"id": "t2", "question": "Who won the World Cup?", "category": "out_of_scope",
         "accept_ids": [], "facts": []},
    ]  # fmt: skip
    questions.write_text("".join(json.dumps(i) + "\n" for i in items))
    p50, p99, top1 = qa_rows(True, questions)
    assert (p50["unit"], p99["unit"], top1["unit"]) == ("ms", "ms", "%")
    assert 0 < p50["value"] <= p99["value"]  # type: ignore[operator]
    assert top1["value"] in (0.0, 100.0) and top1["note"] == "questions.jsonl"


def test_machine_names_the_cpu_and_versions() -> None:
    info = machine()
    assert info["cpus"] and info["python"].count(".") == 2 and info["sqlite"]
