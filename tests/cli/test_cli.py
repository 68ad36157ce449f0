"""The `offerbot` command end to end: a real SQLite file, the bundled offer, typer's real
argument parsing, in this process (:mod:`tests.cli.runner`).

These are the acceptance checks of the foundation issue, run as a person would type them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.runner import offerbot

__all__ = ["offerbot"]


@pytest.fixture(scope="module")
def demo_dir(demo_copy: Callable[[str], Path]) -> Path:
    return demo_copy("demo")


def test_init_demo_is_idempotent(demo_dir: Path) -> None:
    again = json.loads(offerbot(demo_dir, "init", "--demo", "--json").stdout)
    assert again["offer_id"] == "capstone-2003"
    assert again["expiration"] == "2003-07-24T17:00:00-07:00"
    assert again["demo"]["employees"]["inserted"] == 0
    assert again["demo"]["employees"]["updated"] == 0
    assert again["demo"]["employees"]["unchanged"] >= 590
    assert again["demo"]["grants"]["inserted"] == 0
    assert again["demo"]["now"] == "2003-07-10T09:00:00-07:00"


def test_deadlines_json(demo_dir: Path) -> None:
    data = json.loads(offerbot(demo_dir, "deadlines", "--json").stdout)
    assert data["expiration"] == "2003-07-24T17:00:00-07:00"
    assert data["cancellation_date"] == "2003-07-25"
    assert data["new_grant_date"] == "2004-01-26"
    assert data["extension_announcement_due"] == "2003-07-25T06:00:00-07:00"
    assert data["is_open"] is True
    assert data["now"].startswith("2003-07-10T09:0")


def test_grants_of_the_q12_example_holder(demo_dir: Path) -> None:
    data = json.loads(offerbot(demo_dir, "grants", "E1001", "--json").stdout)
    assert data["employee_id"] == "E1001"
    assert data["eligible_person"] is True
    assert data["reasons"] == []
    eligible = [g for g in data["grants"] if g["eligible"]]
    assert sorted(g["unexercised_shares"] for g in eligible) == [300, 1000, 2000]
    assert sorted(g["new_option_shares"] for g in eligible) == [300, 1000, 2000]
    assert {g["exercise_price"] for g in eligible} == {"29.07", "3.33", "2.50"}
    (low,) = [g for g in data["grants"] if not g["eligible"]]
    assert low["exercise_price"] == "1.89"
    assert low["reasons"] == ["exercise_price_below_minimum"]
    assert low["new_option_shares"] == 0
    for g in data["grants"]:
        assert set(g) >= {
            "grant_number",
            "grant_date",
            "option_type",
            "exercise_price",
            "unexercised_shares",
            "eligible",
            "reasons",
            "new_option_shares",
        }


def test_grants_of_an_executive_officer(demo_dir: Path) -> None:
    data = json.loads(offerbot(demo_dir, "grants", "E1004", "--json").stdout)
    assert data["eligible_person"] is False
    assert data["reasons"] == ["executive_officer"]
    assert data["grants"], "E1004 holds grants, none of them eligible"
    assert all(not g["eligible"] and "executive_officer" in g["reasons"] for g in data["grants"])


def test_unknown_employee_is_a_clear_error(demo_dir: Path) -> None:
    proc = offerbot(demo_dir, "grants", "E9999", "--json", check=False)
    assert proc.returncode == 1
    assert "E9999" in json.loads(proc.stdout)["error"]


def test_vesting_matches_the_offers_example(demo_dir: Path) -> None:
    rows = json.loads(
        offerbot(
            demo_dir, "vesting", "--shares", "2400", "--grant-date", "2004-01-26", "--json"
        ).stdout
    )
    assert rows[0] == {"date": "2004-01-26", "shares": 300, "cumulative": 300}
    assert rows[1] == {"date": "2004-02-26", "shares": 50, "cumulative": 350}
    assert all(r["shares"] == 50 for r in rows[1:])
    assert rows[-1] == {"date": "2007-07-26", "shares": 50, "cumulative": 2400}
    assert len(rows) == 43


def test_malformed_roster_row_names_file_row_column_and_changes_nothing(demo_dir: Path) -> None:
    employees = demo_dir / "bad_employees.csv"
    grants = demo_dir / "bad_grants.csv"
    employees.write_text(
        "employee_id,name,email,slack_user_id,country,status,employee_class\n"
        "E1001,Renamed Person,e1001@example.com,U1001,US,active,employee\n"
        "E9001,New Person,e9001@example.com,,US,active,employee\n"
    )
    grants.write_text(
        "grant_number,employee_id,plan,grant_date,option_type,exercise_price,shares_granted,"
        "shares_exercised,expiration_date,split_group\n"
        "G-9001,E9001,2000 Equity Incentive Plan,2001-05-01,NSO,12.00,100,0,2011-05-01,\n"
        "G-9002,E9001,2000 Equity Incentive Plan,2001-05-01,NSO,2.5O,100,0,2011-05-01,\n"
    )
    before = json.loads(offerbot(demo_dir, "grants", "E1001", "--json").stdout)
    proc = offerbot(demo_dir, "import-roster", str(employees), str(grants), "--json", check=False)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    text = " ".join([report["error"], *report["details"]])
    assert "bad_grants.csv" in text and "row 3" in text and "exercise_price" in text
    after = json.loads(offerbot(demo_dir, "grants", "E1001", "--json").stdout)
    assert after["name"] == before["name"] != "Renamed Person"
    missing = offerbot(demo_dir, "grants", "E9001", "--json", check=False)
    assert missing.returncode == 1, "nothing from the rejected file was imported"


def test_console_demo_answers_grants_deadline_help(tmp_path: Path) -> None:
    proc = offerbot(
        tmp_path,
        "demo",
        "--as",
        "E1001",
        stdin="help\ngrants\ndeadline\ncontacts\ntender G00002\nstatus\n"
        "when do my new options vest?\nquit\n",
    )
    out = proc.stdout
    assert "E1001" in out
    assert "3 of your 4 grants can be tendered" in out
    assert "5:00 p.m. PDT on Thursday, July 24, 2003" in out
    assert "(818) 734-5381" in out  # HR fax, from offer.toml
    assert "never recommend" in out
    assert "Debbie Bernard" in out  # contacts
    assert "Version 1" in out or "version 1" in out  # the intent was recorded
    assert "Q13" in out  # a cited answer
