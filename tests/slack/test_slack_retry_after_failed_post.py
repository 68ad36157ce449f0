"""A Slack event whose answer could not be posted: Slack's retry posts the answer that was
built the first time, once, and nothing the first delivery recorded is recorded again.

The app answers each request only after its listener finished (``process_before_response``),
so a failed post is the 500 after which Slack sends its retries, and each test knows when a
delivery was fully handled without polling. The clock is a ``ManualClock``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock, parse_instant
from bot.services.messaging.slack_deliveries import ANSWER_LOST, STALE_AFTER
from bot.services.offer.deadline_follow_ups import DEADLINE_ASKED
from storage.slack_repo import SlackDeliveryState, slack_events
from tests.slack.conftest import (
    DEMO_NOW,
    FakeSlack,
    SlackBot,
    failing,
    post_content,
    running_slack_bot_at,
    stored_delivery,
)

POST = "chat.postMessage"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(parse_instant(DEMO_NOW))


@pytest.fixture
async def bot(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[SlackBot]:
    async with running_slack_bot_at(
        fake_slack, demo_db, tmp_path, clock=clock, process_before_response=True
    ) as running:
        yield running


def _dm(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D1001",
        "user": "U1001",
        "text": text,
        "ts": "1057852800.000100",
    }


async def _first_post_fails(bot: SlackBot, event: dict[str, Any], event_id: str) -> None:
    bot.fake.overrides[POST] = failing(1)
    first = await bot.event(event, event_id=event_id)
    assert first.status == 500  # the failed post is reported to Slack, which will retry
    assert len(bot.fake.of(POST)) == 1
    parked = await stored_delivery(bot, event_id)
    assert parked.state is SlackDeliveryState.UNPOSTED and parked.reply is not None


async def test_the_retry_posts_the_first_answer_once_and_nothing_is_recorded_twice(
    bot: SlackBot, clock: ManualClock
) -> None:
    await _first_post_fails(bot, _dm("when is the deadline?"), "EvFail")
    clock.advance(minutes=1)  # Slack retries again a minute later

    retried = await bot.event(_dm("when is the deadline?"), event_id="EvFail", retry=1)
    assert retried.status == 200
    failed, posted = bot.fake.of(POST)
    assert post_content(posted) == post_content(failed)  # the answer built the first time
    assert "July 24, 2003" in str(posted.params["text"])

    again = await bot.event(_dm("when is the deadline?"), event_id="EvFail", retry=2)
    assert again.status == 200
    assert len(bot.fake.of(POST)) == 2  # posted once, the later retry found it done

    async with bot.app.uow() as uow:
        told = await uow.audit.with_action(DEADLINE_ASKED)
    assert [(e.subject, e.channel) for e in told] == [("E1001", "slack")]
    done = await stored_delivery(bot, "EvFail")
    assert done.state is SlackDeliveryState.DONE
    assert done.reply is None  # the answer's text is not kept once posted


async def test_an_abstention_in_a_thread_is_passed_to_hr_once_and_answered_in_the_thread(
    bot: SlackBot,
) -> None:
    question = "what is the best pizza place near the office?"
    mention = {
        "type": "app_mention",
        "channel": "C0001",
        "user": "U1001",
        "text": f"<@UBOT> {question}",
        "ts": "1057852900.000200",
    }
    await _first_post_fails(bot, mention, "EvPizza")
    retried = await bot.event(mention, event_id="EvPizza", retry=1)
    assert retried.status == 200
    failed, posted = bot.fake.of(POST)
    assert post_content(posted) == post_content(failed)
    assert posted.params["thread_ts"] == "1057852900.000200"  # still in the mention's thread
    async with bot.app.uow() as uow:
        unanswered = await uow.questions.unanswered()
    assert [q.question for q in unanswered].count(question) == 1


async def test_a_chat_election_whose_confirmation_failed_is_recorded_once(bot: SlackBot) -> None:
    await _first_post_fails(bot, _dm("tender G00002"), "EvTender")
    retried = await bot.event(_dm("tender G00002"), event_id="EvTender", retry=1)
    assert retried.status == 200
    failed, posted = bot.fake.of(POST)
    assert post_content(posted) == post_content(failed)
    async with bot.app.uow() as uow:
        intents = await uow.elections.intents_for("E1001")
    assert [i.version for i in intents] == [1]


async def test_two_retries_at_once_post_the_answer_once(bot: SlackBot) -> None:
    for n in range(3):
        event_id = f"EvRace{n}"
        before = len(bot.fake.of(POST))
        bot.fake.overrides[POST] = failing(1)
        assert (await bot.event(_dm("when is the deadline?"), event_id=event_id)).status == 500
        responses = await asyncio.gather(
            bot.event(_dm("when is the deadline?"), event_id=event_id, retry=1),
            bot.event(_dm("when is the deadline?"), event_id=event_id, retry=2),
        )
        assert [r.status for r in responses] == [200, 200]
        posts = bot.fake.of(POST)[before:]
        assert len(posts) == 2  # the failed one, and one answer from the two retries
        assert post_content(posts[1]) == post_content(posts[0])
        assert (await stored_delivery(bot, event_id)).state is SlackDeliveryState.DONE


async def test_a_retry_whose_post_fails_again_leaves_the_answer_to_the_next_retry(
    bot: SlackBot,
) -> None:
    await _first_post_fails(bot, _dm("when is the deadline?"), "EvTwice")
    bot.fake.overrides[POST] = failing(1, error="internal_error")
    assert (
        await bot.event(_dm("when is the deadline?"), event_id="EvTwice", retry=1)
    ).status == 500
    parked = await stored_delivery(bot, "EvTwice")
    assert parked.state is SlackDeliveryState.UNPOSTED and parked.reply is not None
    assert (
        await bot.event(_dm("when is the deadline?"), event_id="EvTwice", retry=2)
    ).status == 200
    first, second, third = bot.fake.of(POST)
    assert post_content(first) == post_content(second) == post_content(third)
    assert (await stored_delivery(bot, "EvTwice")).reply is None


async def test_a_successful_answer_keeps_no_text_and_a_late_retry_posts_nothing(
    bot: SlackBot, clock: ManualClock
) -> None:
    assert (await bot.event(_dm("when is the deadline?"), event_id="EvOk")).status == 200
    done = await stored_delivery(bot, "EvOk")
    assert done.state is SlackDeliveryState.DONE and done.reply is None
    clock.advance(STALE_AFTER * 2)
    assert (await bot.event(_dm("when is the deadline?"), event_id="EvOk", retry=3)).status == 200
    assert len(bot.fake.of(POST)) == 1


async def test_a_claim_whose_delivery_died_is_left_alone_then_asked_again_once_stale(
    bot: SlackBot, clock: ManualClock
) -> None:
    """What a delivery that died after recording the question leaves behind: a claim in
    progress and no reply. A retry while it might still be at work posts nothing; one after
    the stale time asks the person to send the message again, once, and records nothing."""
    async with bot.app.uow() as uow:
        await slack_events(uow).claim(
            "event:EvDead",
            kind="message",
            user_id="slack:U1001",
            at=clock.now(),
            state=SlackDeliveryState.ANSWERING,
        )
        await uow.commit()
        audit_before = len(await uow.audit.recent())

    clock.advance(minutes=1)
    assert (await bot.event(_dm("when is the deadline?"), event_id="EvDead", retry=1)).status == 200
    assert bot.fake.of(POST) == []
    assert (await stored_delivery(bot, "EvDead")).state is SlackDeliveryState.ANSWERING

    clock.advance(STALE_AFTER)
    late = await asyncio.gather(
        bot.event(_dm("when is the deadline?"), event_id="EvDead", retry=2),
        bot.event(_dm("when is the deadline?"), event_id="EvDead", retry=3),
    )
    assert [r.status for r in late] == [200, 200]
    (notice,) = bot.fake.of(POST)
    assert notice.params["channel"] == "D1001"
    assert notice.params["text"] == ANSWER_LOST.text.split("\n", 1)[0]
    async with bot.app.uow() as uow:
        assert len(await uow.audit.recent()) == audit_before  # nothing answered, nothing new
    done = await stored_delivery(bot, "EvDead")
    assert done.state is SlackDeliveryState.DONE and done.reply is None
