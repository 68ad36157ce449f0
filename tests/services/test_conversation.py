"""The conversation service over a real SQLite database: personal data only for the verified
owner, deadlines from the live offer state, honest abstention."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.domain.records import OfferState
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from bot.domain.slack_records import DeliveryKey, SlackDeliveryState
from bot.services.delivery_claims import DeliveryClaim
from bot.services.errors import NotAuthorizedError
from bot.services.identity import Identity
from bot.services.offer.live_offer import current_terms, load_offer
from bot.services.questions.answers import Asked
from bot.services.questions.conversation import ConversationDeps, _with_rule, respond
from bot.services.roster.grants import my_grants
from knowledge.answerer import Answer, AnswerKind, Intent, Source
from knowledge.offer_terms import load_offer_terms, terms_digest
from storage.db import create_engine, session_factory
from storage.slack_repo import DuplicateDeliveryError
from storage.uow import UnitOfWork
from tests.migrated import upgrade_fast

# A recommendation, as opposed to the offer's "whether you should tender or not tender".
RECOMMENDATION = re.compile(
    r"\b(you should|i recommend|we recommend|i suggest|i'd|i would|good idea to|it is wise)"
    r"\s+(not\s+)?(tender|exchange|keep|participate)\b(?!\s+or not)",
    re.I,
)
PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_offer_terms()
PLAN = TERMS.eligible_plans[1]


def _employee(eid: str, **kw: object) -> Employee:
    base = Employee(
        employee_id=eid,
        name=f"Person {eid}",
        email=f"{eid.lower()}@example.com",
        country="US",
        status=EmployeeStatus.ACTIVE,
        employee_class=EmployeeClass.EMPLOYEE,
        slack_user_id="U" + eid[1:],
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _grant(number: str, eid: str, price: str, granted: int, exercised: int = 0) -> Grant:
    return Grant(
        grant_number=number,
        employee_id=eid,
        plan=PLAN,
        grant_date=date(2001, 5, 1),
        option_type=OptionType.NSO,
        exercise_price=Decimal(price),
        shares_granted=granted,
        shares_exercised=exercised,
        expiration_date=date(2011, 5, 1),
    )


@pytest.fixture
async def deps(tmp_path: Path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'conv.db'}")
    await upgrade_fast(engine)
    uow = UnitOfWork(session_factory(engine))
    clock = ManualClock(datetime(2003, 7, 10, 9, tzinfo=PACIFIC))
    await load_offer(uow=uow, terms=TERMS, digest=terms_digest(), now=clock.now())
    async with uow:
        await uow.employees.upsert_many([_employee("E1"), _employee("E2", country="GB")])
        await uow.grants.upsert_many(
            [
                _grant("G1", "E1", "29.07", 1000, 700),
                _grant("G2", "E1", "1.89", 500),
                _grant("G3", "E2", "5.00", 100),
            ]
        )
        await uow.commit()
    yield ConversationDeps(uow=uow, clock=clock, base_terms=TERMS)
    await engine.dispose()


async def test_verified_employee_sees_own_grants_and_the_view_is_audited(deps) -> None:
    me = Identity(channel="slack", actor="U1", employee_id="E1")
    reply = await respond(text="show me my grants", identity=me, deps=deps)
    assert reply.kind == "personal"
    assert reply.data["employee_id"] == "E1"
    assert [g["grant_number"] for g in reply.data["grants"]] == ["G1", "G2"]
    assert "1 of your 2 grants can be tendered" in reply.text
    assert any("G2 is not eligible" in n and "minimum" in n for n in reply.notes)
    async with deps.uow as uow:
        (entry,) = await uow.audit.recent(subject="E1")
    assert (entry.action, entry.actor, entry.channel) == ("grants.view", "U1", "slack")


async def test_a_reply_about_ones_own_records_cites_the_offers_rule(deps) -> None:
    """The person's grants come with where the offer states which options are eligible (Q1);
    a question that asks the rule itself gets that entry's sentences quoted as a note."""
    me = Identity(channel="slack", actor="U1", employee_id="E1")
    reply = await respond(text="show me my grants", identity=me, deps=deps)
    assert [c.entry_id for c in reply.citations] == ["Q1"]
    assert not any(n.startswith("What the offer says") for n in reply.notes)
    asked = Asked(
        Answer(
            Intent.GRANTS,
            AnswerKind.PERSONAL,
            "…",
            (Source("Q7", "How many new options will I receive …", "2"),),
            quote="Tendered options will be exchanged on a one new share-for-one old share basis.",
        )
    )
    cited = _with_rule(replace(reply, citations=()), asked)
    assert [c.entry_id for c in cited.citations] == ["Q7"]
    assert cited.notes[-1] == f"What the offer says: {asked.answer.quote}"
    assert _with_rule(reply, asked) is reply  # a reply with its own citations keeps them


async def test_unverified_person_gets_no_personal_data(deps) -> None:
    stranger = Identity(channel="email", actor="someone@elsewhere.example")
    reply = await respond(text="my grants", identity=stranger, deps=deps)
    assert reply.kind == "error"
    assert "grants" not in reply.data and "G1" not in reply.text


async def test_nobody_sees_another_persons_grants(deps) -> None:
    with pytest.raises(NotAuthorizedError):
        await my_grants(
            uow=deps.uow,
            terms=TERMS,
            employee_id="E1",
            identity=Identity(channel="slack", actor="U2", employee_id="E2"),
            now=deps.clock.now(),
        )


async def test_ineligible_person_is_told_why(deps) -> None:
    reply = await respond(text="grants", identity=Identity("slack", "U2", "E2"), deps=deps)
    assert reply.data["eligible_person"] is False
    assert reply.data["reasons"] == ["not_us_resident"]
    assert "United States" in reply.text


async def test_deadline_follows_the_live_offer_state_and_the_clock(deps) -> None:
    me = Identity(channel="console", actor="E1", employee_id="E1")
    reply = await respond(text="deadline?", identity=me, deps=deps)
    assert "5:00 p.m. PDT on Thursday, July 24, 2003" in reply.text
    assert "fax to (818) 734-5381" in reply.text
    assert reply.data["is_open"] is True

    extended = datetime(2003, 8, 7, 17, tzinfo=PACIFIC)
    async with deps.uow as uow:
        await uow.offers.save(
            OfferState(
                offer_id=TERMS.offer_id,
                expiration=extended,
                original_expiration=TERMS.original_expiration,
                terms_digest=terms_digest(),
                updated_at=deps.clock.now(),
            )
        )
        await uow.commit()
    terms = await current_terms(uow=deps.uow, terms=TERMS)
    assert terms.expiration == extended and terms.is_extended
    # a general question about the deadline may be answered from the term sheet's Q20 or as the
    # person's deadline (the router may take either): both lead with the live expiration
    reply = await respond(text="when is the deadline", identity=me, deps=deps)
    assert "5:00 p.m. PDT on Thursday, August 7, 2003" in reply.text
    assert any("no longer holds" in n and "July 24, 2003" in n for n in reply.notes)
    reply = await respond(text="what is my deadline", identity=me, deps=deps)
    assert "5:00 p.m. PDT on Thursday, August 7, 2003" in reply.text
    assert reply.data["new_grant_date"] == "2004-02-09"  # 2003-08-08 + 6 months + 1 day

    deps.clock.set(extended)  # 17:00:00 exactly: closed
    reply = await respond(text="deadline", identity=me, deps=deps)
    assert reply.data["is_open"] is False
    assert "closed" in reply.text


async def test_unknown_question_abstains_with_the_offers_contacts(deps) -> None:
    reply = await respond(
        text="what is the meaning of life", identity=Identity("slack", "U9"), deps=deps
    )
    assert reply.kind == "abstain"
    assert "Susan Cayley" in reply.text and "tax advisors" in reply.text


@pytest.mark.parametrize(
    "question",
    [
        "should I tender?",
        "Is this worth it for me?",
        "would you exchange your options if you were me",
        "do you recommend tendering my $29.07 grant",
        "what would you do",
        "is it a good idea to exchange my grants before the deadline?",
    ],
)
async def test_requests_for_a_recommendation_get_the_offers_position(deps, question: str) -> None:
    reply = await respond(text=question, identity=Identity("slack", "U1", "E1"), deps=deps)
    assert reply.kind == "no_advice"
    assert "makes any recommendation" in reply.text
    assert "advisors" in reply.text
    assert not RECOMMENDATION.search(reply.text), reply.text


async def test_contacts_are_the_offers(deps) -> None:
    reply = await respond(text="contacts", identity=Identity("slack", "U9"), deps=deps)
    assert reply.kind == "answer"
    assert "Debbie Bernard" in reply.text and "(818) 734-5381" in reply.text


async def test_a_mechanics_question_with_should_is_not_taken_for_advice(deps) -> None:
    reply = await respond(
        text="should I send the form by fax?", identity=Identity("slack", "U9"), deps=deps
    )
    assert reply.kind != "no_advice"


async def test_chat_records_an_intent_but_never_calls_it_an_election(deps) -> None:
    me = Identity(channel="slack", actor="U1", employee_id="E1")
    ask_which = await respond(text="tender", identity=me, deps=deps)
    assert ask_which.intent == "elect"
    assert "Your eligible grants: G1" in ask_which.text
    assert "E-mail is not an election" in ask_which.text

    recorded = await respond(text="I want to tender G1", identity=me, deps=deps)
    assert recorded.intent == "elect", recorded.text
    assert "not" in recorded.text.lower() and "election" in recorded.text.lower()
    assert "(818) 734-5381" in recorded.text  # where the signed form goes

    status = await respond(text="status", identity=me, deps=deps)
    assert status.intent == "status"
    assert status.data["current_intent"]["version"] == 1
    assert status.data["current_intent"]["grants"][0]["grant_number"] == "G1"

    refused = await respond(text="tender G2", identity=me, deps=deps)  # $1.89: not eligible
    assert refused.kind == "error" and "G2" in refused.text

    asks_to_confirm = await respond(text="withdraw", identity=me, deps=deps)
    assert "withdraw confirm" in asks_to_confirm.text
    withdrawn = await respond(text="withdraw confirm", identity=me, deps=deps)
    assert withdrawn.intent == "withdraw"
    status = await respond(text="status", identity=me, deps=deps)
    assert status.data["current_intent"]["version"] == 2
    async with deps.uow as uow:  # commands are not questions HR should see as unanswered
        assert await uow.questions.unanswered() == []


async def test_chat_elections_need_a_verified_owner_and_an_open_offer(deps) -> None:
    stranger = await respond(text="status", identity=Identity("email", "x@elsewhere"), deps=deps)
    assert stranger.kind == "personal" and "verified" in stranger.text
    assert "current_intent" not in stranger.data

    deps.clock.set(datetime(2003, 7, 24, 17, tzinfo=PACIFIC))
    late = await respond(text="tender G1", identity=Identity("slack", "U1", "E1"), deps=deps)
    assert late.kind == "error"
    assert "5:00 p.m. PDT on Thursday, July 24, 2003" in late.text


async def test_a_delivery_is_claimed_once_with_the_first_write_and_a_second_writes_nothing(
    deps,
) -> None:
    """A chat election writes twice (the grants view's audit row, then the intent): the claim
    rides in the first transaction only; a second delivery of the same key fails on it and
    records neither an audit row nor an intent."""
    me = Identity(channel="slack", actor="U1", employee_id="E1")
    key = DeliveryKey("event:EvT", kind="message", user_id="U1")
    first = DeliveryClaim(replace(key, state=SlackDeliveryState.ANSWERING))
    recorded = await respond(text="tender G1", identity=me, deps=deps, claim=first)
    assert recorded.intent == "elect" and recorded.kind != "error", recorded.text
    assert first.made

    second = DeliveryClaim(key)
    with pytest.raises(DuplicateDeliveryError):
        await respond(text="tender G1", identity=me, deps=deps, claim=second)
    assert not second.made
    async with deps.uow as uow:
        intents = await uow.elections.intents_for("E1")
        viewed = await uow.audit.with_action("grants.view")
        claimed = await uow.slack_events.get("event:EvT")
    assert [i.version for i in intents] == [1]
    assert len(viewed) == 1
    assert claimed is not None and claimed.state is SlackDeliveryState.ANSWERING


async def test_an_answer_that_writes_nothing_leaves_the_claim_to_the_caller(deps) -> None:
    claim = DeliveryClaim(DeliveryKey("event:EvQ", kind="message", user_id="U9"))
    reply = await respond(
        text="How do I tender my options?", identity=Identity("slack", "U9"), deps=deps, claim=claim
    )
    assert reply.intent == "faq" and not claim.made
    await claim.alone(deps.uow, at=deps.clock.now())
    assert claim.made
    async with deps.uow as uow:
        assert await uow.slack_events.seen("event:EvQ")
