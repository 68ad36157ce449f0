"""`offerbot ask`, `ask --batch`, `eval`, `kb build`, `hr unanswered` as a person runs them
(in this process: :mod:`tests.cli.runner`)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.offer_terms import bundled_offer_dir
from tests.cli.runner import offerbot


@pytest.fixture(scope="module")
def qdir(demo_copy: Callable[[str], Path]) -> Path:
    return demo_copy("questions")


@pytest.fixture(scope="module")
def small_offer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled offer with a question bank cut to 20 examples for each of a few labels:
    cross-validation is then the same procedure on ~400 examples instead of ~5,700."""
    folder = tmp_path_factory.mktemp("small-offer") / "offer"
    shutil.copytree(bundled_offer_dir(), folder)
    entries = {"Q19", "Q20", "Q21", "Q22", "Q23", "Q29"}
    kept: dict[str, int] = {}
    for path in sorted((folder / "questions").glob("*.txt")):
        lines, label = [], None
        for line in path.read_text(encoding="utf-8").splitlines():
            header = re.fullmatch(r"\[([^\]]+)\]", line.strip())
            if header or not line.strip() or line.lstrip().startswith("#") or label is None:
                label = header.group(1) if header else label
                lines.append(line)
                continue
            special = label.split(":")[0] in {"advice", "out_of_scope", "personal", "smalltalk"}
            if (special or label in entries) and kept.get(label, 0) < 20:
                kept[label] = kept.get(label, 0) + 1
                lines.append(line)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


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
        "hmm",
    ]
    batch.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
    lines = offerbot(qdir, "ask", "--batch", str(batch), "--json").stdout.splitlines()
    answers = [json.loads(line) for line in lines]
    assert [a["intent"] for a in answers] == [
        "faq",
        "unknown",
        "deadline",
        "elect",
        "smalltalk",
        "smalltalk",
    ]
    assert answers[4]["abstained"] is False and answers[5]["abstained"] is False
    assert answers[0]["sources"][0]["id"] == "Q29"
    assert answers[1]["abstained"] is True
    unanswered = json.loads(offerbot(qdir, "hr", "unanswered", "--json").stdout)
    assert unanswered[0]["question"] == "what's the weather in LA tomorrow"
    assert unanswered[0]["reason"] in {"out_of_scope", "low_confidence"}
    filed = [row["question"] for row in unanswered]
    assert "thanks!" not in filed and "hmm" not in filed  # small talk is not filed
    # HR reads local times in the offer's zone, to the second, with the zone's abbreviation
    listing = offerbot(qdir, "hr", "unanswered").stdout.splitlines()
    weather = next(line for line in listing if "weather in LA" in line)
    assert re.match(r"2003-07-10 09:\d\d:\d\d PDT  (out_of_scope|low_confidence) +cli:", weather)


def test_kb_check_validates_the_bank(qdir: Path) -> None:
    data = json.loads(offerbot(qdir, "kb", "check", "--json").stdout)
    assert data["ok"] is True and data["examples"] >= 3000
    assert min(n for label, n in data["counts"].items() if ":" not in label) >= 20


def test_eval_cv_prints_cross_validated_figures_and_the_threshold(
    qdir: Path, small_offer: Path
) -> None:
    env = {"OFFERBOT_OFFER_DIR": str(small_offer)}
    data = json.loads(offerbot(qdir, "eval", "--cv", "--json", env=env).stdout)
    assert data["folds"] == 5 and 0 < data["threshold"] < 1
    assert {"offer", "out_of_scope", "advice", "personal", "smalltalk"} <= set(data["figures"])
    assert data["per_label"]["Q21"]["n"] == 20  # every example scored out of fold
    assert data["confusions"], "a few of the small bank's questions are taken for another label"


def test_kb_build_lists_the_entries(qdir: Path) -> None:
    path = bundled_offer_dir() / "offer.txt"
    data = json.loads(offerbot(qdir, "kb", "build", str(path), "--json").stdout)
    assert data["counts"]["question"] == 30 and data["counts"]["section"] == 19
    assert data["ids"][:2] == ["COVER", "Q1"] and "SCHED-A" in data["ids"]


def test_eval_reports_the_metrics(qdir: Path) -> None:
    """A labelled set written here (the format of `offerbot eval`): one item per category."""
    items = [
        {"id": "a", "question": "how do i tender my options", "category": "faq",
         "accept_ids": ["Q21"]},
        {"id": "b", "question": "should I tender?", "category": "advice", "accept_ids": ["Q29"]},
        {"id": "c", "question": "what's the weather in LA tomorrow",
         "category": "out_of_scope"},
        {"id": "d", "question": "show me my grants", "category": "personal", "intent": "grants"},
    ]  # fmt: skip
    labelled = qdir / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    data = json.loads(offerbot(qdir, "eval", str(labelled), "--json").stdout)
    assert data["top1_items"] == 2 and data["recommendations"] == 0
    assert data["out_of_scope_items"] == 1 and data["personal_items"] == 1
    assert {"p50_ms", "p99_ms", "out_of_scope_abstained", "personal_intent_accuracy"} <= set(data)
    text = offerbot(qdir, "eval", str(labelled)).stdout
    assert "router threshold (from CV):" in text and "latency p50 / p99:" in text


def test_init_says_on_a_terminal_what_the_router_wait_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh machine trains the router during `init`/`demo` (about 10 s): a terminal sees a
    spinner saying so; `--json` (quiet) prints nothing but the JSON."""
    import io

    from rich.console import Console

    import bot.cli as cli

    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=100))
    summary = cli._router_summary(bundled_offer_dir())
    assert summary["labels"] > 100 and summary["examples"] > 1000
    assert "Preparing the question router (a first run trains it: about 10 s)" in screen.getvalue()

    screen.truncate(0)
    assert cli._router_summary(bundled_offer_dir(), quiet=True) == summary
    assert screen.getvalue() == ""
