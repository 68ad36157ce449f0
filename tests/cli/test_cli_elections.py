"""Issue 4's acceptance checks, run as a person would type them: `offerbot` commands on the demo
roster (SQLite file), at the demo clock or at a clock given with OFFERBOT_NOW, in this process
(:mod:`tests.cli.runner`)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.cli.runner import Ran
from tests.cli.runner import offerbot as run_offerbot

DEADLINE_TEXT = "5:00 p.m. PDT on Thursday, July 24, 2003"
AT_DEADLINE = "2003-07-24T17:00:00-07:00"
NEXT_DAY = "2003-07-11T09:00:00-07:00"


def offerbot(cwd: Path, *args: str, now: str | None = None, check: bool = True) -> Ran:
    return run_offerbot(cwd, *args, env={"OFFERBOT_NOW": now} if now else None, check=check)


def as_json(cwd: Path, *args: str, now: str | None = None) -> dict:
    return json.loads(offerbot(cwd, *args, "--json", now=now).stdout)


def refused(cwd: Path, *args: str, now: str | None = None) -> str:
    proc = offerbot(cwd, *args, "--json", now=now, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["error"]


def pdf_text(path: Path) -> str:
    reader = PdfReader(str(path))
    return " ".join(" ".join(p.extract_text() for p in reader.pages).split())


@pytest.fixture(scope="module")
def demo(demo_copy: Callable[[str], Path]) -> Path:
    return demo_copy("elections")


def test_refusals_on_the_demo_roster(demo: Path) -> None:
    assert "tender both or neither" in refused(demo, "elect", "E1002", "--grant", "G00005")
    assert "not eligible" in refused(demo, "elect", "E1004", "--grant", "G00008")
    assert "below the offer's minimum" in refused(demo, "elect", "E1001", "--grant", "G00004")
    for args in (("elect", "E1001", "--grant", "G00002"), ("withdraw", "E1001")):
        error = refused(demo, *args, now=AT_DEADLINE)
        assert DEADLINE_TEXT in error, error
    assert "E9999" in refused(demo, "status", "E9999")


def test_elect_receive_status_form_report_export(demo: Path, tmp_path: Path) -> None:
    elected = as_json(demo, "elect", "E1001", "--grant", "G00002")
    assert elected["version"] == 1 and elected["is_election"] is False
    assert [g["exercise_price"] for g in elected["grants"]] == ["3.33"]
    assert "not itself an election" in elected["message"] and DEADLINE_TEXT in elected["message"]

    pair = as_json(demo, "elect", "E1002", "--grant", "G00005,G00006")
    assert pair["version"] == 1 and len(pair["grants"]) == 2

    form = tmp_path / "form.pdf"
    assert as_json(demo, "form", "E1001", "--out", str(form))["version"] == 1
    text = pdf_text(form)
    assert "Election Form" in text and "Option holder: Rosalind Ashcombe" in text
    assert "G00002 2001-11-01 $3.33 1,000" in text and "Signature of option holder" in text

    late = refused(
        demo,
        "hr",
        "receive",
        "E1001",
        "--form",
        "election",
        "--version",
        "1",
        "--received-at",
        "2003-07-24T17:05:00-07:00",
        "--via",
        "fax",
        now="2003-07-25T09:00:00-07:00",
    )
    assert "late" in late and DEADLINE_TEXT in late

    receipt = as_json(
        demo,
        "hr",
        "receive",
        "E1001",
        "--form",
        "election",
        "--version",
        "1",
        "--received-at",
        "2003-07-11T08:30:00-07:00",
        "--via",
        "fax",
        now=NEXT_DAY,
    )
    assert receipt["confirmation"]["status"] == "queued"
    assert receipt["confirmation"]["due_by"] == "2003-07-15"  # Fri + 2 business days

    status = as_json(demo, "status", "E1001", now=NEXT_DAY)
    assert status["current_intent"]["version"] == 1
    assert status["hr_receipt"]["via"] == "fax"
    assert status["hr_receipt"]["received_at"] == "2003-07-11T08:30:00-07:00"
    assert status["confirmation"]["status"] == "queued"
    assert status["form_sent"]["status"] == "queued"
    assert status["to_do"] == ["await_receipt_confirmation"]
    assert status["is_open"] is True and status["seconds_left"] > 0

    report = as_json(demo, "hr", "report", now=NEXT_DAY)
    assert all(report["checks"].values())
    by_form = report["eligible_employees_by_signed_form"]
    assert sum(by_form.values()) == report["eligible"]["employees"] > 200
    assert by_form["tendered"] == 1 and report["shares"]["tendered"] == 1000
    assert report["intents"]["employees"] == 2 and report["pending_signatures"]["count"] == 1
    assert report["signed_forms_received"]["total"] == 1
    assert report["receipt_confirmations"]["queued"] == 1

    out = tmp_path / "stock-admin.csv"
    assert as_json(demo, "hr", "export", "--out", str(out))["rows"] == 1
    (row,) = list(csv.DictReader(io.StringIO(out.read_text())))
    assert row["grant_number"] == "G00002" and row["new_option_shares"] == "1000"

    audit = as_json(demo, "hr", "audit", "E1001")
    actions = [e["action"] for e in audit]
    assert "election.tender" in actions and "election.receipt" in actions
    tender = next(e for e in audit if e["action"] == "election.tender")
    assert tender["before"] is None and tender["after"]["grants"] == ["G00002"]


def test_split_close_and_model(demo: Path, tmp_path: Path) -> None:
    # E1002's pair: tender, receive, then a reverse split before closing.
    version = as_json(demo, "elect", "E1002", "--grant", "G00005", "--grant", "G00006")["version"]
    as_json(
        demo,
        "hr",
        "receive",
        "E1002",
        "--form",
        "election",
        "--version",
        str(version),
        "--received-at",
        "2003-07-11T08:45:00-07:00",
        "--via",
        "hand",
        now=NEXT_DAY,
    )
    split = as_json(demo, "hr", "split", "--ratio", "1:10", "--effective", "2003-09-02")
    assert split["affects_new_options"] is True
    grants = as_json(demo, "grants", "E1002")
    assert sorted(g["new_option_shares"] for g in grants["grants"]) == [150, 300]

    assert "open until" in refused(demo, "hr", "close")
    out_dir = tmp_path / "promises"
    closed = as_json(
        demo, "hr", "close", "--out-dir", str(out_dir), now="2003-07-25T09:00:00-07:00"
    )
    e1002 = next(a for a in closed["accepted"] if a["employee_id"] == "E1002")
    assert e1002["new_option_shares"] == 450
    letter = Path(e1002["promise_to_grant"])
    assert letter.exists() and "Promise to Grant Stock Option(s)" in pdf_text(letter)

    model = as_json(demo, "model", "E1001", "--price", "5", "--new-strike", "1.50")
    assert model["label"] == "illustration"
    assert not re.search(
        r"\b(should|recommend\w*|better|worse|advis\w*)\b", json.dumps(model), re.I
    )


def test_receive_takes_now_or_a_pacific_wall_time_and_prints_the_zone(
    demo_copy: Callable[[str], Path],
) -> None:
    """`--received-at` as HR reads it off a fax header: a local time in the offer's zone, or
    `now`; the time recorded comes back with PDT/PST; a time the clocks skipped is refused."""
    cwd = demo_copy("receive-times")
    assert as_json(cwd, "elect", "E1001", "--grant", "G00002")["version"] == 1
    receive = ("hr", "receive", "E1001", "--form", "election", "--version", "1", "--via", "fax")

    skipped = refused(cwd, *receive, "--received-at", "2003-04-06 02:30", now=NEXT_DAY)
    assert "never happened in America/Los_Angeles" in skipped
    garbled = refused(cwd, *receive, "--received-at", "July 10 2pm", now=NEXT_DAY)
    assert "now" in garbled and "2003-07-10 14:05" in garbled

    text = offerbot(cwd, *receive, "--received-at", "2003-07-10 14:05", now=NEXT_DAY).stdout
    assert "arrived by fax at 2:05 p.m. PDT on Thursday, July 10, 2003" in text
    status = as_json(cwd, "status", "E1001", now=NEXT_DAY)
    assert status["hr_receipt"]["received_at"] == "2003-07-10T14:05:00-07:00"

    assert as_json(cwd, "withdraw", "E1001", now=NEXT_DAY)["version"] == 2
    now = as_json(
        cwd, "hr", "receive", "E1001", "--form", "withdrawal", "--version", "2",
        "--via", "hand", "--received-at", "now", now=NEXT_DAY,
    )  # fmt: skip
    assert now["received_at"].startswith("2003-07-11T09:00")  # the clock's now, Pacific
