"""Held-out paraphrases (``paraphrases.jsonl``), written before retrieval was last tuned.

They are not tuned on: a miss here is a sign of a general weakness (vocabulary, abstention on
short colloquial questions), to be fixed in general, never by special-casing these questions.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.answerer import answer, knowledge_base
from knowledge.evaluation import evaluate, load_items
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms

PARAPHRASES = Path(__file__).with_name("paraphrases.jsonl")
HOLDOUT = Path(__file__).with_name("paraphrases_holdout.jsonl")
TERMS = load_offer_terms()
KB = knowledge_base(bundled_offer_dir())


def _report():
    items = load_items(PARAPHRASES)
    return evaluate(items, lambda q: answer(q, kb=KB, terms=TERMS).payload())


def test_paraphrases_do_not_regress_below_the_measured_floor() -> None:
    report = _report()
    assert report.top1_n >= 20
    # measured 16/27 (59.3%) when written; 26/27 (96.3%) after the vocabulary/abstention work
    assert report.top1 >= 0.92, report.failures
    assert report.abstention == 1.0
    assert report.recommendations == 0


def test_paraphrases_reach_the_target() -> None:
    assert _report().top1 >= 0.90


def test_second_holdout_does_not_regress_below_its_floor() -> None:
    """``paraphrases_holdout.jsonl`` was written before that tuning and measured once after it:
    14/25 (56%) top-1 and 4/5 out-of-scope abstained. A floor, not a target."""
    report = evaluate(load_items(HOLDOUT), lambda q: answer(q, kb=KB, terms=TERMS).payload())
    assert report.top1_n == 25 and report.abstention_n == 5
    assert report.top1 >= 0.52, report.failures
    assert report.abstention >= 0.8, report.failures
    assert report.recommendations == 0
