"""Chat tenders in people's own words, over a real SQLite database: "tender all" (with a
confirmation step) and a grant number that is not the person's."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.domain.roster import OptionType
from bot.services.identity import Identity
from bot.services.offer.live_offer import load_offer
from bot.services.questions.conversation import ConversationDeps, respond
from knowledge.intents import command_of
from knowledge.offer_terms import load_offer_terms, terms_digest
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork
from tests.services.test_conversation import _employee, _grant

PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_offer_terms()
ME = Identity(channel="slack", actor="U1", employee_id="E1")


@pytest.fixture
async def deps(tmp_path: Path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tender.db'}")
    await upgrade(engine)
    uow = UnitOfWork(session_factory(engine))
    clock = ManualClock(datetime(2003, 7, 10, 9, tzinfo=PACIFIC))
    await load_offer(uow=uow, terms=TERMS, digest=terms_digest(), now=clock.now())
    iso = replace(_grant("G4", "E1", "12.34", 3000), option_type=OptionType.ISO, split_group="S")
    nso = replace(iso, grant_number="G5", option_type=OptionType.NSO, shares_granted=1500)
    async with uow:
        await uow.employees.upsert_many([_employee("E1"), _employee("E2")])
        await uow.grants.upsert_many(
            [
                _grant("G1", "E1", "29.07", 1000, 700),
                _grant("G2", "E1", "1.89", 500),  # below the minimum: not eligible
                iso,  # G4 and G5: the ISO and NSO halves of one grant, one choice
                nso,
                _grant("G3", "E2", "5.00", 100),  # someone else's grant
            ]
        )
        await uow.commit()
    yield ConversationDeps(uow=uow, clock=clock, base_terms=TERMS)
    await engine.dispose()


async def _intents(deps: ConversationDeps) -> list[tuple[str, ...]]:
    async with deps.uow as uow:
        return [i.grant_numbers for i in await uow.elections.intents_for("E1")]


def test_tender_all_and_its_confirmation_are_commands() -> None:
    assert command_of("tender all") == "elect"
    assert command_of("Tender all confirm.") == "elect"


async def test_tender_all_asks_to_confirm_then_records_every_eligible_grant(deps) -> None:
    asked = await respond(text="tender all", identity=ME, deps=deps)
    assert asked.intent == "elect" and asked.kind == "personal"
    assert "I will record your intent to tender 3 whole grants: G1, G4, G5" in asked.text
    assert asked.text.startswith(
        "Tender all 3 of your eligible grants? Reply 'tender all confirm' to record it; "
        "nothing is recorded until then.\n"
    )
    assert "G2" not in asked.text  # not eligible, so not part of "all"
    assert await _intents(deps) == []

    recorded = await respond(text="tender all confirm", identity=ME, deps=deps)
    assert recorded.intent == "elect" and recorded.kind != "error", recorded.text
    assert [set(g) for g in await _intents(deps)] == [{"G1", "G4", "G5"}]


async def test_all_in_ones_own_words_goes_through_the_same_confirmation(deps) -> None:
    asked = await respond(text="I want to tender all of my options", identity=ME, deps=deps)
    assert "tender all confirm" in asked.text
    assert await _intents(deps) == []


@pytest.mark.parametrize("other", ["G3", "G99999"])  # someone else's, and no one's
async def test_a_grant_that_is_not_theirs_is_named_and_nothing_is_recorded(
    deps, other: str
) -> None:
    reply = await respond(text=f"tender {other}", identity=ME, deps=deps)
    assert reply.kind == "error" and reply.intent == "elect"
    assert reply.text == (
        f"{other} is not one of your grants, so I recorded nothing. Your grants that can be "
        "tendered: G1, G4, G5. Ask 'grants' to see all of yours."
    )  # the same words whether or not the grant exists for someone else
    mixed = await respond(text=f"tender G1 and {other.lower()}", identity=ME, deps=deps)
    assert mixed.kind == "error" and other in mixed.text
    assert await _intents(deps) == []
