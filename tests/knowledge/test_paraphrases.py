"""Held-out paraphrases (``paraphrases.jsonl``), written before retrieval was last tuned.

They are not tuned on: a miss here is a sign of a general weakness (vocabulary, abstention on
short colloquial questions), to be fixed in general, never by special-casing these questions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.answerer import answer, knowledge_base
from knowledge.evaluation import evaluate, load_items
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms

PARAPHRASES = Path(__file__).with_name("paraphrases.jsonl")
TERMS = load_offer_terms()
KB = knowledge_base(bundled_offer_dir())


def _report():
    items = load_items(PARAPHRASES)
    return evaluate(items, lambda q: answer(q, kb=KB, terms=TERMS).payload())


def test_paraphrases_do_not_regress_below_the_measured_floor() -> None:
    report = _report()
    assert report.top1_n >= 20
    assert report.top1 >= 0.55, report.failures  # measured 16/27 (59.3%) when written
    assert report.abstention == 1.0
    assert report.recommendations == 0


@pytest.mark.xfail(reason="target not reached yet: 16/27 (59.3%) hit", strict=False)
def test_paraphrases_reach_the_target() -> None:
    assert _report().top1 >= 0.90
