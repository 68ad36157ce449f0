"""Preparing the answers' sentences at start-up (``KnowledgeBase.warm``, the worker's
``_warm_answers``): every sentence an answer can quote is ready before the first question, and
no answer changes because of it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from bot.runtime.worker import _warm_answers
from knowledge.answerer import answer, knowledge_base
from knowledge.compose import sentences
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms

TERMS = load_offer_terms()
KB = knowledge_base(bundled_offer_dir())
QUOTABLE = {s for e in KB.entries for s in sentences(e.text)}

# questions whose answers quote chosen sentences of long sections and risks (not whole answers)
QUESTIONS = [
    "what happens to the options you take back from us, accounting wise",
    "how exactly do I hand in my paperwork and can I fax it",
    "what if the company gets bought while this is going on",
    "is there a fee for participating",
    "could the board change the terms before it ends",
    "explain the vesting of the new options",
    "two things: when is the cutoff and who do I talk to?",
]


def fresh() -> Any:
    """The bundled knowledge base with nothing prepared (the same entries and router)."""
    return replace(KB, _sentences={}, _questions={})


def test_warming_prepares_every_quotable_sentence_once() -> None:
    kb = fresh()
    assert kb.warm() == len(QUOTABLE)
    assert set(kb._sentences) == QUOTABLE
    assert kb.warm() == 0  # nothing left to prepare


def test_a_warm_knowledge_base_answers_exactly_as_a_cold_one() -> None:
    cold, warm = fresh(), fresh()
    warm.warm()
    prepared = dict(warm._sentences)
    for question in QUESTIONS:
        a, b = answer(question, kb=cold, terms=TERMS), answer(question, kb=warm, terms=TERMS)
        assert (a.text, a.sources, a.label) == (b.text, b.sources, b.label), question
    assert warm._sentences.keys() == prepared.keys()  # answering needed no new sentence
    assert set(cold._sentences) < QUOTABLE  # the cold one prepared only what it quoted


def test_questions_are_forgotten_past_the_limit_but_sentences_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("knowledge.answerer._QUESTIONS_KEPT", 3)
    kb = fresh()
    kb.warm()
    for n in range(7):
        answer(f"question number {n} about the vesting of the new options", kb=kb, terms=TERMS)
    assert len(kb._questions) <= 3
    assert set(kb._sentences) == QUOTABLE


async def test_the_worker_prepares_the_answers_and_logs_how_many(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app: Any = SimpleNamespace(offer_dir=bundled_offer_dir())
    KB._sentences.clear()
    with caplog.at_level(logging.INFO, logger="bot.runtime.worker"):
        await _warm_answers(app, asyncio.Event())
    assert set(KB._sentences) == QUOTABLE
    [record] = [r for r in caplog.records if r.getMessage() == "answers prepared"]
    assert record.sentences == len(QUOTABLE)  # type: ignore[attr-defined]


async def test_a_stopping_worker_does_not_wait_for_the_preparation() -> None:
    app: Any = SimpleNamespace(offer_dir=bundled_offer_dir())
    KB._sentences.clear()
    stop = asyncio.Event()
    stop.set()
    await _warm_answers(app, stop)
    assert KB._sentences == {}
