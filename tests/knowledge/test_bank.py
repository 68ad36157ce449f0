"""The question bank: held apart from the developer set, every label covered, errors located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rapidfuzz import fuzz, process

from knowledge.answerer import offer_entries
from knowledge.bank import BankError, check_bank, load_bank, parse_bank_text, special_labels
from knowledge.offer_terms import bundled_offer_dir

OFFER = bundled_offer_dir()
BANK = load_bank(OFFER)
DEV = Path(__file__).resolve().parents[3] / "shared" / "eval" / "dev_questions.jsonl"
BLIND_DIR = Path(__file__).resolve().parents[2] / "bench" / "blind"
BLIND = sorted(BLIND_DIR.glob("*.jsonl"))


def _near_copies(questions: list[str]) -> list[str]:
    """Bank lines within rapidfuzz ratio 85 of any of the questions, as ``file:line: text``."""
    bank = [e.text.lower() for e in BANK.examples]
    scores = process.cdist(bank, questions, scorer=fuzz.ratio, score_cutoff=85, workers=1)
    return sorted(
        {
            f"{BANK.examples[i].file}:{BANK.examples[i].line}: {BANK.examples[i].text}"
            for i in scores.nonzero()[0]
        }
    )


@pytest.mark.skipif(not DEV.is_file(), reason="developer question set not present")
def test_no_bank_question_is_a_near_copy_of_a_developer_question() -> None:
    """The developer set is the held-out measure: nothing in the bank within ratio 85. A failure
    names the bank lines only — printing the held-out question would show it to whoever writes
    bank lines (``scripts/leak_check`` runs the same check)."""
    dev = [json.loads(line)["question"].lower() for line in DEV.read_text().splitlines() if line]
    close = _near_copies(dev)
    assert not close, close[:10]


def test_no_bank_question_is_a_near_copy_of_a_blind_question() -> None:
    """``bench/blind`` measures what a new author's questions get (``bench/blind_eval.py``):
    like the developer set, never bank data, and a failure names the bank lines only. The bank
    lines that were there before the blind sets were written and happen to be close to one of
    their questions (``bank-lines-before.txt``: their writers never saw the bank) stay."""
    blind = [
        json.loads(line)["question"].lower()
        for path in BLIND
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(blind) >= 300
    before = {
        line
        for line in (BLIND_DIR / "bank-lines-before.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    close = [line for line in _near_copies(blind) if line.split(": ", 1)[1] not in before]
    assert not close, close[:10]


def test_every_label_is_known_and_has_its_minimum_of_examples() -> None:
    entries = offer_entries(OFFER)
    check = check_bank(BANK, [e.id for e in entries])
    assert not check.unknown, check.unknown[:5]
    assert not check.conflicts, check.conflicts[:5]
    assert not check.short, check.short
    assert all(check.counts[e.id] >= 20 for e in entries)
    assert check.counts["out_of_scope"] >= 200 and check.counts["advice"] >= 100
    assert all(check.counts[label] >= 20 for label in special_labels())


def test_a_malformed_bank_file_names_its_file_and_line() -> None:
    with pytest.raises(BankError, match=r"extra\.txt, line 2"):
        parse_bank_text("# a comment\nan example before any label\n", file="extra.txt")
    examples = parse_bank_text(
        "[Q21]\n  can I   fax it \n\n# note\n[advice]\nworth it?\n", file="x"
    )
    assert [(e.text, e.label, e.line) for e in examples] == [
        ("can I fax it", "Q21", 2),
        ("worth it?", "advice", 6),
    ]


def test_a_label_the_documents_do_not_have_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "questions"
    folder.mkdir()
    (folder / "a.txt").write_text("[Q99]\nwhat is Q99\n[Q1]\nwhat is offered\n", encoding="utf-8")
    check = check_bank(load_bank(tmp_path), ["Q1"])
    assert [e.label for e in check.unknown] == ["Q99"]
    assert not check.ok
