"""The answers use case over a real SQLite database: live terms, stored abstentions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.domain.questions import AnswerKind, Intent
from bot.domain.records import OfferState
from bot.services.identity import Identity
from bot.services.offer.live_offer import load_offer
from bot.services.questions.answers import Asked, ask, ask_payload
from bot.services.questions.conversation import ConversationDeps, respond
from knowledge.offer_terms import load_offer_terms, terms_digest
from storage.db import create_engine, session_factory
from storage.uow import UnitOfWork
from tests.migrated import upgrade_fast

PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_offer_terms()


@pytest.fixture
async def deps(tmp_path: Path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'answers.db'}")
    await upgrade_fast(engine)
    uow = UnitOfWork(session_factory(engine))
    clock = ManualClock(datetime(2003, 7, 10, 9, tzinfo=PACIFIC))
    await load_offer(uow=uow, terms=TERMS, digest=terms_digest(), now=clock.now())
    yield ConversationDeps(uow=uow, clock=clock, base_terms=TERMS)
    await engine.dispose()


async def _ask(deps: ConversationDeps, text: str, identity: Identity | None = None) -> Asked:
    return await ask(
        text=text,
        identity=identity or Identity("slack", "U7", "E7"),
        uow=deps.uow,
        clock=deps.clock,
        base_terms=deps.base_terms,
    )


async def test_an_answer_is_typed_cited_and_its_payload_is_the_json_shape(deps) -> None:
    asked = await _ask(deps, "How do I tender my options?")
    assert (asked.answer.intent, asked.answer.kind) == (Intent.FAQ, AnswerKind.ANSWER)
    assert not asked.filed_for_hr
    reply = asked.reply()
    assert (reply.kind, reply.intent) == ("answer", Intent.FAQ)
    assert reply.citations[0].label() == "Q21 · How do I tender my options? · p. 5"
    payload = ask_payload(reply)
    assert set(payload) == {"intent", "answer", "sources", "abstained", "confidence"}
    assert payload["sources"][0] == {
        "id": "Q21",
        "title": "How do I tender my options?",
        "pages": "5",
    }
    assert payload["abstained"] is False and payload["intent"] == "faq"
    assert payload["confidence"] == round(asked.answer.confidence, 3)


async def test_abstentions_are_stored_for_hr_with_the_reason(deps) -> None:
    dress = await _ask(deps, "what's the dress code for the customer visit?")
    assert dress.answer.kind is AnswerKind.ABSTAIN and dress.filed_for_hr
    assert dress.reply().notes[-1] == "I have passed your question on to HR."
    await _ask(deps, "how much state tax will I owe in CA on my ISOs?")
    asked = await _ask(deps, "How do I tender?")
    assert asked.answer.kind is AnswerKind.ANSWER and not asked.filed_for_hr
    async with deps.uow as uow:
        rows = await uow.questions.unanswered()
    assert rows[0].reason == "tax_or_financial"
    assert rows[1].reason in {"out_of_scope", "low_confidence"}
    assert rows[1].question.startswith("what's the dress code")
    assert (rows[1].channel, rows[1].actor, rows[1].employee_id) == ("slack", "U7", "E7")


async def test_the_document_date_is_flagged_after_an_extension(deps) -> None:
    async with deps.uow as uow:
        await uow.offers.save(
            OfferState(
                offer_id=TERMS.offer_id,
                expiration=datetime(2003, 8, 7, 17, tzinfo=PACIFIC),
                original_expiration=TERMS.original_expiration,
                terms_digest=terms_digest(),
                updated_at=deps.clock.now(),
            )
        )
        await uow.commit()
    reply = (await _ask(deps, "may I withdraw previously tendered options?")).reply()
    assert "July 24, 2003" in reply.text
    assert any("August 7, 2003" in n and "no longer holds" in n for n in reply.notes)
    assert "no longer holds" in ask_payload(reply)["answer"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("has my election been processed?", "status"),
        ("sign me up", "elect"),
        ("withdraw grant 4412 please", "withdraw"),
    ],
)
async def test_election_intents_explain_signed_forms(deps, text: str, intent: str) -> None:
    """Someone not (yet) verified against the roster still learns how elections are made."""
    reply = await respond(text=text, identity=Identity("slack", "U1"), deps=deps)
    assert (reply.kind, reply.intent, reply.data) == ("personal", intent, {})
    assert "(818) 734-5381" in reply.text and "E-mail is not an election" in reply.text
    assert ask_payload(reply)["intent"] == intent


async def test_the_deadline_reply_cites_the_document(deps) -> None:
    reply = await respond(text="deadline?", identity=Identity("slack", "U1"), deps=deps)
    assert reply.intent is Intent.DEADLINE and reply.data["is_open"] is True
    assert reply.citations[0].entry_id == "Q20"
