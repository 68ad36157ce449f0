"""Held-out paraphrases (``paraphrases.jsonl``), written before retrieval was last tuned.

They are not tuned on: a miss here is a sign of a general weakness (vocabulary, abstention on
short colloquial questions), to be fixed in general, never by special-casing these questions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.answerer import answer, knowledge_base
from knowledge.evaluation import evaluate, load_items
from knowledge.intents import seeks_recommendation
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms

PARAPHRASES = Path(__file__).with_name("paraphrases.jsonl")
HOLDOUT = Path(__file__).with_name("paraphrases_holdout.jsonl")
HOLDOUT2 = Path(__file__).with_name("paraphrases_holdout2.jsonl")
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
    14/25 (56%) top-1 and 4/5 out-of-scope abstained. It then served as the tuning signal for
    the vocabulary and secondary-source work: 21/25 (84%) and 5/5. A floor, not a target."""
    report = evaluate(load_items(HOLDOUT), lambda q: answer(q, kb=KB, terms=TERMS).payload())
    assert report.top1_n == 25 and report.abstention_n == 5
    assert report.top1 >= 0.80, report.failures
    assert report.abstention == 1.0, report.failures
    assert report.recommendations == 0


def test_third_holdout_does_not_regress_below_its_floor() -> None:
    """``paraphrases_holdout2.jsonl`` was written before the vocabulary/secondary-source work and
    measured once, after it: 20/25 (80%) top-1, 5/5 out-of-scope abstained. Not tuned on."""
    report = evaluate(load_items(HOLDOUT2), lambda q: answer(q, kb=KB, terms=TERMS).payload())
    assert report.top1_n == 25 and report.abstention_n == 5
    assert report.top1 >= 0.76, report.failures
    assert report.abstention == 1.0, report.failures
    assert report.recommendations == 0


def test_a_thin_match_in_the_proxy_statement_does_not_answer_an_hr_question() -> None:
    """One word shared with the proxy's executive-pay passages is no answer to an employee's own
    pay question; a proxy question with several specific concepts still gets a proxy answer."""
    for question in ("can I get a bonus this year", "will I get a raise"):
        result = answer(question, kb=KB, terms=TERMS)
        assert result.abstained, (question, result.sources, result.confidence)
    result = answer("record date for the annual meeting of stockholders", kb=KB, terms=TERMS)
    assert not result.abstained and result.sources[0].id.startswith("PROXY-")


@pytest.mark.parametrize(
    "question",
    [
        "do u think swapping makes sense for someone in my position",
        "would you say exchanging is smart",
        "does tendering make sense",
        "what would someone in my situation do",
    ],
)
def test_colloquial_requests_for_a_recommendation_are_recognised(question: str) -> None:
    assert seeks_recommendation(question)
