"""`offerbot ask`, `ask --batch`, `eval`, `kb build`, `hr unanswered` as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.offer_terms import bundled_offer_dir
from tests.cli.test_cli import offerbot

DEV = Path(__file__).resolve().parents[3] / "shared" / "eval" / "dev_questions.jsonl"


@pytest.fixture(scope="module")
def qdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("questions")
    offerbot(cwd, "init", "--demo", "--json")
    return cwd


def test_ask_json_shape(qdir: Path) -> None:
    data = json.loads(offerbot(qdir, "ask", "how do i tender my options", "--json").stdout)
    assert set(data) == {"intent", "answer", "sources", "abstained", "confidence"}
    assert data["intent"] == "faq" and data["abstained"] is False
    assert data["sources"][0] == {"id": "Q21", "title": "How do I tender my options?", "pages": "5"}


def test_ask_as_a_verified_employee(qdir: Path) -> None:
    data = json.loads(offerbot(qdir, "ask", "my grants", "--as", "E1001", "--json").stdout)
    assert data["intent"] == "grants"
    assert "grants can be tendered" in data["answer"]


def test_batch_answers_in_order_and_abstentions_reach_hr(qdir: Path) -> None:
    batch = qdir / "batch.jsonl"
    questions = [
        "should I tender?",
        "what's the weather in LA tomorrow",
        "deadline?",
        "sign me up for the exchange",
        "thanks!",
    ]
    batch.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
    lines = offerbot(qdir, "ask", "--batch", str(batch), "--json").stdout.splitlines()
    answers = [json.loads(line) for line in lines]
    assert [a["intent"] for a in answers] == ["faq", "unknown", "deadline", "elect", "smalltalk"]
    assert answers[4]["abstained"] is False
    assert answers[0]["sources"][0]["id"] == "Q29"
    assert answers[1]["abstained"] is True
    unanswered = json.loads(offerbot(qdir, "hr", "unanswered", "--json").stdout)
    assert unanswered[0]["question"] == "what's the weather in LA tomorrow"
    assert unanswered[0]["reason"] in {"out_of_scope", "low_confidence"}
    assert "thanks!" not in [row["question"] for row in unanswered]  # small talk is not filed


def test_kb_check_validates_the_bank(qdir: Path) -> None:
    data = json.loads(offerbot(qdir, "kb", "check", "--json").stdout)
    assert data["ok"] is True and data["examples"] >= 3000
    assert min(n for label, n in data["counts"].items() if ":" not in label) >= 20


def test_eval_cv_prints_cross_validated_figures_and_the_threshold(qdir: Path) -> None:
    data = json.loads(offerbot(qdir, "eval", "--cv", "--json").stdout)
    assert data["folds"] == 5 and 0 < data["threshold"] < 1
    assert {"offer", "out_of_scope", "advice", "personal", "smalltalk"} <= set(data["figures"])
    assert data["confusions"] and data["per_label"]["Q21"]["n"] >= 20


def test_kb_build_lists_the_entries(qdir: Path) -> None:
    path = bundled_offer_dir() / "offer.txt"
    data = json.loads(offerbot(qdir, "kb", "build", str(path), "--json").stdout)
    assert data["counts"]["question"] == 30 and data["counts"]["section"] == 19
    assert data["ids"][:2] == ["COVER", "Q1"] and "SCHED-A" in data["ids"]


@pytest.mark.skipif(not DEV.is_file(), reason="developer question set not present")
def test_eval_reports_the_metrics(qdir: Path) -> None:
    data = json.loads(offerbot(qdir, "eval", str(DEV), "--json").stdout)
    assert data["top1_items"] > 0 and data["recommendations"] == 0
    assert {"p50_ms", "p99_ms", "out_of_scope_abstained", "personal_intent_accuracy"} <= set(data)
