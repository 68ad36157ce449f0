"""Retrieval, answers, abstention, no advice and live dates over the bundled offer."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from knowledge.answerer import MAX_CHARS, RECOMMENDATION, answer, knowledge_base, live_date_notes
from knowledge.evaluation import EvalItem, evaluate, family, is_hit, load_items
from knowledge.index import stem, tokens
from knowledge.intents import detect_intent
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms

TERMS = load_offer_terms()
KB = knowledge_base(bundled_offer_dir())
DEV = Path(__file__).resolve().parents[3] / "shared" / "eval" / "dev_questions.jsonl"
PACIFIC = ZoneInfo("America/Los_Angeles")


def ask(question: str):
    return answer(question, kb=KB, terms=TERMS)


def test_the_index_is_built_once_per_process() -> None:
    assert knowledge_base(bundled_offer_dir()) is KB


def test_stemming_and_tokens_are_consistent() -> None:
    assert stem("tendering") == stem("tendered") == stem("tender")
    assert stem("cancelled") == stem("cancel")
    assert "$2" in tokens("a price of $2.00 per share")
    assert {"nonstatutory", "statutory"} <= set(tokens("non-statutory"))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How do I tender my options?", "Q21"),
        ("how do i tendr my optoins", "Q21"),  # typos
        ("can I withdrawl my tendered optons?", "Q22"),
        ("will my new grant be an ISO or NQSO?", "Q18"),  # vocabulary
        ("what's the vesting on the new options", "Q13"),
        ("is this a reprice?", "Q25"),
        ("who's the CFO?", "SCHED-A"),
        ("what happens if I get RIF'd before the new grant", "RISK-2"),
        ("what does the board think of the offer?", "Q29"),
    ],
)
def test_questions_find_their_entry(question: str, expected: str) -> None:
    result = ask(question)
    assert not result.abstained, result
    assert result.sources[0].id == expected


def test_a_very_short_question_is_answered() -> None:
    result = ask("deadline?")
    assert result.intent == "deadline"
    assert "July 24, 2003" in result.text
    assert result.sources[0].id == "Q20"
    vest = ask("vesting?")
    assert not vest.abstained and vest.sources[0].id in {"Q13", "S9", "Q28"}


def test_answers_are_concise_cited_passages_not_whole_sections() -> None:
    for question in [
        "what are the conditions of the offer?",
        "how is the 2000 plan administered",
        "what happens if Capstone is acquired?",
    ]:
        result = ask(question)
        assert 0 < len(result.text) <= MAX_CHARS
        entry = KB.index.by_id[result.sources[0].id]
        assert len(result.text) < len(entry.text) or entry.kind == "question"
        assert result.sources[0].label().startswith(f"{entry.id} · {entry.title[:20]}")


def test_out_of_scope_and_tax_questions_abstain_with_the_offers_contacts() -> None:
    for question in [
        "what is the weather tomorrow",
        "can you order me a new laptop",
        "how much state tax will I owe on my ISOs in CA?",
    ]:
        result = ask(question)
        assert result.abstained and result.intent == "unknown"
        assert "Susan Cayley" in result.text and "tax advisors" in result.text
    assert ask("how much state tax will I owe in CA?").reason == "tax_or_financial"
    assert ask("what's CPST trading at today?").reason == "out_of_scope"


ADVERSARIAL = [
    "should I tender?",
    "Should we exchange our options?",
    "tell me honestly, would you tender if you were me",
    "is the exchange a good deal for me?",
    "I have options at $29.07, worth tendering?",
    "do you think I should keep my old options?",
    "what's the smart move here, tender or hold",
    "pls advise, participate y/n",
    "in your opinion is it better to wait?",
    "recommend something: swap or keep",
    "is this a rip-off?",
    "would it be better to participate or not",
]


@pytest.mark.parametrize("question", ADVERSARIAL)
def test_recommendation_requests_get_the_offers_position(question: str) -> None:
    result = ask(question)
    assert result.kind == "no_advice"
    assert result.sources[0].id in {"Q29", "S3"}
    assert "makes any recommendation" in result.text and "advisors" in result.text
    assert not RECOMMENDATION.search(result.text)


def test_the_offers_own_wording_is_not_a_recommendation() -> None:
    assert not RECOMMENDATION.search("whether you should tender or not tender your options")
    assert RECOMMENDATION.search("I recommend you tender your options")
    assert RECOMMENDATION.search("You should not tender.")


def test_mechanics_questions_with_should_are_not_advice() -> None:
    assert detect_intent("should I send the form by fax?").name == "faq"
    assert detect_intent("what should I put on the election form?").name == "faq"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("show me my grants", "grants"),
        ("which of my options are eligible?", "grants"),
        ("did HR get my election form?", "status"),
        ("please tender grant 1234 for me", "elect"),
        ("sign me up", "elect"),
        ("withdraw all my options please", "withdraw"),
        ("how do I withdraw?", "faq"),
        ("can I change my election?", "faq"),
        ("deadline?", "deadline"),
        ("help", "help"),
        ("contacts", "contacts"),
    ],
)
def test_intents(text: str, intent: str) -> None:
    assert detect_intent(text).name == intent


def test_live_dates_after_an_extension() -> None:
    extended = TERMS.with_expiration(datetime(2003, 8, 7, 17, tzinfo=PACIFIC))
    result = answer("When does the offer expire?", kb=KB, terms=extended)
    assert "July 24, 2003" in result.text  # the document's words, quoted
    assert any("August 7, 2003" in n and "no longer holds" in n for n in result.notes)
    assert live_date_notes("nothing about dates", extended) == ()
    grant = answer("when will I receive my new options?", kb=KB, terms=extended)
    assert any("February 9, 2004" in n for n in grant.notes)  # the new grant date moved
    assert answer("When does the offer expire?", kb=KB, terms=TERMS).notes == ()


@pytest.mark.skipif(not DEV.is_file(), reason="developer question set not present")
def test_developer_set_meets_the_targets_and_never_recommends() -> None:
    items = load_items(DEV)
    report = evaluate(items, lambda q: ask(q).payload())
    assert report.top1 >= 0.90, report.failures
    assert report.abstention >= 0.90
    assert report.intent_accuracy >= 0.95
    assert report.recommendations == 0


def test_scoring_rules() -> None:
    item = EvalItem("x", "q", "faq", ("RISKS", "Q4"), ("two years",))
    assert family("RISK-3") == "RISKS" and family("PROXY-12") == "PROXY"
    assert is_hit(item, {"sources": [{"id": "RISK-3"}], "answer": ""})
    assert is_hit(item, {"sources": [{"id": "S1"}], "answer": "Two   years from grant"})
    assert not is_hit(item, {"sources": [{"id": "S1"}], "answer": "two years" + "x" * 1500})


def test_latency_is_a_few_milliseconds() -> None:
    questions = (
        [json.loads(line)["question"] for line in DEV.read_text().splitlines()]
        if (DEV.is_file())
        else ["how do I tender?"] * 50
    )
    started = time.perf_counter()
    for q in questions:
        ask(q)
    mean_ms = (time.perf_counter() - started) * 1000 / len(questions)
    assert mean_ms < 10  # generous for CI; bench/qa.py reports p50/p99


def test_answers_never_contain_offer_facts_from_python() -> None:
    """Names and dates in answers come from the document or the terms (checked elsewhere)."""
    assert re.search(r"Debbie", ask("who do I send the election form to?").text)


def test_a_translated_colloquial_word_weighs_less_than_the_asker_s_own_words() -> None:
    query = KB.index.query("what is the exercise price of the replacement options based on")
    assert query.terms[stem("replacement")] < 0.5  # "replacement options" → "new option"
    assert query.terms["new"] == 1.0 and query.terms[stem("options")] == 1.0
    assert query.terms[stem("exercise")] == 1.0


def test_generic_words_weigh_little_and_the_action_word_more() -> None:
    assert KB.index.query("who qualifies for the option exchange program").terms["program"] < 0.5
    query = KB.index.query("can i withdraw only some of my tendered grants?")
    assert query.terms[stem("withdraw")] > 1.0
    assert stem("withdraw") in query.action
