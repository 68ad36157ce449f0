"""A Slack event's delivery is claimed in the same transaction as the answer's first write.

Signed requests go through Bolt's real pipeline to a real SQLite database; the app answers each
request only after its listener finished (``process_before_response``), so a failed answer is
the 500 after which Slack retries, and each test knows when a delivery was fully handled. The
fault between the claim and the write is a real one: a SQLite trigger that aborts the write, as
a full disk or a lost connection would, on a copy of the demo database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock, parse_instant
from storage.slack_repo import SlackDeliveryState, slack_events
from tests.slack.conftest import DEMO_NOW, FakeSlack, SlackBot, running_slack_bot_at

POST = "chat.postMessage"


@pytest.fixture
async def bot(fake_slack: FakeSlack, demo_db: Path, tmp_path: Path) -> AsyncIterator[SlackBot]:
    clock = ManualClock(parse_instant(DEMO_NOW))
    async with running_slack_bot_at(
        fake_slack, demo_db, tmp_path, clock=clock, process_before_response=True
    ) as running:
        yield running


def _dm(text: str, user: str = "U1001") -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D" + user[1:],
        "user": user,
        "text": text,
        "ts": "1057852800.000100",
    }


async def _audit(bot: SlackBot, action: str) -> list[str | None]:
    async with bot.app.uow() as uow:
        return [e.subject for e in await uow.audit.with_action(action)]


async def _claimed(bot: SlackBot, event_id: str) -> SlackDeliveryState | None:
    async with bot.app.uow() as uow:
        delivery = await slack_events(uow).get(f"event:{event_id}")
    return None if delivery is None else delivery.state


def _fail_inserts_into(bot: SlackBot, table: str) -> None:
    """Every INSERT into ``table`` aborts (a SQLite trigger) until :func:`_heal`."""
    with sqlite3.connect(bot.db_url.split("///", 1)[1]) as db:
        db.execute(
            f"CREATE TRIGGER injected_fault BEFORE INSERT ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )


def _heal(bot: SlackBot) -> None:
    with sqlite3.connect(bot.db_url.split("///", 1)[1]) as db:
        db.execute("DROP TRIGGER injected_fault")


async def test_a_retried_event_is_answered_once_with_one_audit_row(bot: SlackBot) -> None:
    first = await bot.event(_dm("grants"), event_id="EvGrants")
    assert first.status == 200
    retried = await bot.event(_dm("grants"), event_id="EvGrants", retry=1)
    assert retried.status == 200
    posts = bot.fake.of(POST)
    assert len(posts) == 1 and "grants can be tendered" in str(posts[0].params["text"])
    assert await _audit(bot, "grants.view") == ["E1001"]
    assert await _claimed(bot, "EvGrants") is SlackDeliveryState.DONE


async def test_two_deliveries_at_once_answer_once_with_one_audit_row(bot: SlackBot) -> None:
    """The first delivery and Slack's retry racing: the unique key lets one transaction claim
    the event with its audit row; the other rolls back, writes nothing and posts nothing."""
    responses = await asyncio.gather(
        bot.event(_dm("status"), event_id="EvRace"),
        bot.event(_dm("status"), event_id="EvRace", retry=1),
    )
    assert [r.status for r in responses] == [200, 200]
    assert len(bot.fake.of(POST)) == 1
    assert await _audit(bot, "election.status.view") == ["E1001"]
    assert await _claimed(bot, "EvRace") is SlackDeliveryState.DONE


async def test_a_failure_between_claim_and_write_leaves_neither_and_the_retry_answers(
    bot: SlackBot,
) -> None:
    _fail_inserts_into(bot, "audit_log")
    failed = await bot.event(_dm("grants"), event_id="EvFault")
    assert failed.status == 500  # reported to Slack, which will retry
    assert bot.fake.of(POST) == []
    assert await _claimed(bot, "EvFault") is None  # the claim was rolled back with the write
    assert await _audit(bot, "grants.view") == []

    _heal(bot)
    retried = await bot.event(_dm("grants"), event_id="EvFault", retry=1)
    assert retried.status == 200
    assert len(bot.fake.of(POST)) == 1  # answered, not "please send it again"
    assert "grants can be tendered" in str(bot.fake.of(POST)[0].params["text"])
    assert await _audit(bot, "grants.view") == ["E1001"]
    assert await _claimed(bot, "EvFault") is SlackDeliveryState.DONE


async def test_an_abstention_that_could_not_be_filed_is_filed_once_by_the_retry(
    bot: SlackBot,
) -> None:
    question = "what is the best pizza place near the office?"
    _fail_inserts_into(bot, "unanswered_questions")
    assert (await bot.event(_dm(question), event_id="EvPizza")).status == 500
    assert await _claimed(bot, "EvPizza") is None
    _heal(bot)
    assert (await bot.event(_dm(question), event_id="EvPizza", retry=1)).status == 200
    assert (await bot.event(_dm(question), event_id="EvPizza", retry=2)).status == 200
    async with bot.app.uow() as uow:
        filed = [q.question for q in await uow.questions.unanswered()]
    assert filed.count(question) == 1
    assert len(bot.fake.of(POST)) == 1


async def test_an_answer_that_writes_nothing_is_claimed_alone_and_posted_once(
    bot: SlackBot,
) -> None:
    for retry in (0, 1, 2):
        response = await bot.event(
            _dm("How do I tender my options?", user="U1002"), event_id="EvFaq", retry=retry
        )
        assert response.status == 200
    posts = bot.fake.of(POST)
    assert len(posts) == 1 and "Q21" in str(posts[0].params["blocks"])
    assert await _claimed(bot, "EvFaq") is SlackDeliveryState.DONE


async def test_without_a_retry_coming_the_employee_is_told_their_message_failed(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path
) -> None:
    """Bolt's default mode acknowledges the event before answering, so Slack sends no retry: a
    failed answer is followed by a short apology in the same DM (nothing personal in it), and
    the message sent again is answered."""
    from bot.services.messaging.slack_deliveries import ANSWER_FAILED

    clock = ManualClock(parse_instant(DEMO_NOW))
    async with running_slack_bot_at(fake_slack, demo_db, tmp_path, clock=clock) as running:
        _fail_inserts_into(running, "audit_log")
        assert (await running.event(_dm("grants"), event_id="EvLost")).status == 200
        (apology,) = await running.fake.wait_for(POST)
        assert apology.params["channel"] == "D1001"
        assert apology.params["text"] == ANSWER_FAILED.text
        assert "G0" not in str(apology.params)  # no grant of anyone's in it
        assert await _claimed(running, "EvLost") is None
        _heal(running)
        assert (await running.event(_dm("grants"), event_id="EvAgain")).status == 200
        posts = await running.fake.wait_for(POST, count=2)
        assert "grants can be tendered" in str(posts[1].params["text"])
