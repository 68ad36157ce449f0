"""An answer Slack did not take reaches the person through the worker when no Slack retry comes:
after a grace period left to Slack's retries, once, where it was going and as it was built; a
retry that comes first wins; one that cannot be posted within the hour is given up, its text
cleared and HR told; handled deliveries are forgotten after a week.

Through the real Bolt app and the worker's real steps, against the local Web API, on a
``ManualClock`` the test moves (it drives the grace period, the give-up and the pruning) and a
fake monotonic clock for the Slack pace. The clock starts two hours before the demo's first
reminder falls due; what else the worker posts (HR's daily digest) goes to HR's DM, so the
answers are told apart by their channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.clock import ManualClock, parse_instant
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.runtime.bootstrap import build
from bot.runtime.worker import PassReport, run_worker, worker_pass
from handlers.slack.app import slack_client
from handlers.slack.identity import SlackIdentities
from handlers.slack.parked_replies import (
    GIVE_UP_AFTER,
    KEEP_HANDLED,
    PARKED_GRACE,
    PRUNE_EVERY,
    SlackEventSweep,
)
from handlers.slack.transport import SlackOutboxTransport, SlackRateLimiter
from storage.slack_repo import SlackDeliveryState, slack_events
from tests.slack.conftest import (
    Call,
    FakeMonotonic,
    FakeSlack,
    SlackBot,
    failing,
    post_content,
    running_slack_bot_at,
    stored_delivery,
)

POST = "chat.postMessage"
START = "2003-07-10T07:00:00-07:00"  # two hours before the demo's first reminder is due
QUESTION = "when is the deadline?"
SECOND = timedelta(seconds=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(parse_instant(START))


@pytest.fixture
async def bot(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[SlackBot]:
    """Answers each request once its listener finished: a failed post is a 500, which a test
    then leaves without the retry Slack would send, as in the modes where Slack gets no 500."""
    async with running_slack_bot_at(
        fake_slack, demo_db, tmp_path, clock=clock, process_before_response=True
    ) as running:
        yield running


def _transport(bot: SlackBot) -> SlackOutboxTransport:
    """The worker's Slack transport, as the worker builds it, on the fake pace clock."""
    time = FakeMonotonic()
    client = slack_client(
        token="xoxb-test", base_url=bot.fake.base_url + "api/", max_rate_limit_retries=0
    )
    limiter = SlackRateLimiter(8.0, monotonic=time, sleep=time.sleep)
    return SlackOutboxTransport(client, SlackIdentities(bot.app.conversation()), limiter)


async def _worker_pass(bot: SlackBot) -> PassReport:
    return await worker_pass(bot.app, {"slack": _transport(bot)})


def _mention(ts: str = "1057852900.000200") -> dict[str, Any]:
    return {
        "type": "app_mention",
        "channel": "C0001",
        "user": "U1001",
        "text": f"<@UBOT> {QUESTION}",
        "ts": ts,
    }


def _dm() -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D1001",
        "user": "U1001",
        "text": QUESTION,
        "ts": "1057852800.000100",
    }


def _answers(bot: SlackBot) -> list[Call]:
    """Posts to the employee's DM or the mention's channel: the answers, failed or not."""
    return [c for c in bot.fake.of(POST) if c.params.get("channel") in ("D1001", "C0001")]


async def _answered(bot: SlackBot, count: int, timeout: float = 5.0) -> list[Call]:
    """The answers once ``count`` were posted (woken by each call the fake records)."""

    async def enough() -> None:
        async with bot.fake.changed:
            await bot.fake.changed.wait_for(lambda: len(_answers(bot)) >= count)

    await asyncio.wait_for(enough(), timeout)
    return _answers(bot)


async def _hr_alerts(bot: SlackBot) -> list[OutboxMessage]:
    async with bot.app.uow() as uow:
        return await uow.outbox.by_kind(MessageKind.HR_ALERT)


async def _answer_not_taken(bot: SlackBot, event: dict[str, Any], event_id: str) -> Call:
    """The first delivery answers, its post fails, the answer is parked; no retry follows."""
    bot.fake.overrides[POST] = failing(1)
    assert (await bot.event(event, event_id=event_id)).status == 500
    (failed,) = _answers(bot)
    parked = await stored_delivery(bot, event_id)
    assert parked.state is SlackDeliveryState.UNPOSTED and parked.reply is not None
    return failed


async def test_a_worker_pass_posts_an_answer_no_retry_came_for_once_after_the_grace(
    bot: SlackBot, clock: ManualClock
) -> None:
    failed = await _answer_not_taken(bot, _mention(), "EvLost")

    clock.advance(PARKED_GRACE - SECOND)  # Slack's retries may still come: left to them
    assert (await _worker_pass(bot)).slack_replies_posted == 0
    assert len(_answers(bot)) == 1
    assert (await stored_delivery(bot, "EvLost")).state is SlackDeliveryState.UNPOSTED

    clock.advance(2 * SECOND)
    assert (await _worker_pass(bot)).slack_replies_posted == 1
    _, posted = _answers(bot)
    assert post_content(posted) == post_content(failed)  # the answer built the first time …
    assert posted.params["channel"] == "C0001"  # … in the mention's channel and thread
    assert posted.params["thread_ts"] == "1057852900.000200"
    assert "July 24, 2003" in str(posted.params["text"])
    done = await stored_delivery(bot, "EvLost")
    assert done.state is SlackDeliveryState.DONE and done.reply is None

    assert (await _worker_pass(bot)).slack_replies_posted == 0  # posted once
    late_retry = await bot.event(_mention(), event_id="EvLost", retry=3)
    assert late_retry.status == 200
    assert len(_answers(bot)) == 2
    async with bot.app.uow() as uow:
        asked = [q for q in await uow.questions.unanswered() if QUESTION in q.question]
    assert asked == []  # answered, not passed to HR
    assert await _hr_alerts(bot) == []


async def test_a_slack_retry_that_comes_first_posts_and_the_worker_posts_nothing(
    bot: SlackBot, clock: ManualClock
) -> None:
    failed = await _answer_not_taken(bot, _dm(), "EvRetry")
    clock.advance(minutes=1)
    assert (await bot.event(_dm(), event_id="EvRetry", retry=1)).status == 200
    assert len(_answers(bot)) == 2

    clock.advance(PARKED_GRACE + GIVE_UP_AFTER)
    report = await _worker_pass(bot)
    assert (report.slack_replies_posted, report.slack_replies_given_up) == (0, 0)
    _, posted = _answers(bot)
    assert post_content(posted) == post_content(failed)
    assert await _hr_alerts(bot) == []


async def test_a_retry_and_the_worker_at_the_same_moment_post_the_answer_once(
    bot: SlackBot, clock: ManualClock
) -> None:
    sweep = SlackEventSweep(_transport(bot), uow=bot.app.uow(), clock=clock)
    for n in range(3):
        before = len(_answers(bot))
        bot.fake.overrides[POST] = failing(1)
        assert (await bot.event(_dm(), event_id=f"EvBoth{n}")).status == 500
        clock.advance(PARKED_GRACE + SECOND)  # a slow retry: the worker may take it too
        retried, swept = await asyncio.gather(
            bot.event(_dm(), event_id=f"EvBoth{n}", retry=2), sweep.run()
        )
        assert retried.status == 200
        assert (swept.parked_again, swept.given_up) == (0, 0)  # it posted, or it lost the race
        failed, posted = _answers(bot)[before:]
        assert post_content(posted) == post_content(failed)
        assert (await stored_delivery(bot, f"EvBoth{n}")).state is SlackDeliveryState.DONE


async def test_an_answer_that_cannot_be_posted_within_the_hour_is_given_up_and_hr_told(
    bot: SlackBot, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    failed = await _answer_not_taken(bot, _dm(), "EvDown")
    answer = str(failed.params["text"])
    bot.fake.overrides[POST] = failing(1000, error="internal_error")  # Slack stays broken
    caplog.set_level(logging.INFO, logger="handlers.slack.parked_replies")

    passes = 0
    while (await stored_delivery(bot, "EvDown")).state is not SlackDeliveryState.DONE:
        clock.advance(minutes=10)
        report = await _worker_pass(bot)
        passes += 1
        assert report.slack_replies_posted == 0
        assert passes <= 7, "never given up"
    assert report.slack_replies_given_up == 1
    assert clock.now() - parse_instant(START) > GIVE_UP_AFTER
    # the first delivery's try, then one per pass but the last, which gave up: bounded
    assert len(_answers(bot)) == passes
    given_up = await stored_delivery(bot, "EvDown")
    assert given_up.reply is None  # the text is cleared

    (alert,) = await _hr_alerts(bot)
    assert alert.channel == "email" and alert.recipient == "role:hr"
    assert alert.employee_id == "E1001"
    assert "U1001" in alert.body_text and "event:EvDown" in alert.body_text
    assert answer not in alert.body_text and "July 24" not in alert.body_text
    logged = [r.getMessage() for r in caplog.records]
    assert any("event:EvDown" in m and "given up" in m for m in logged)
    assert not any("July 24" in m for m in logged)  # ids only, never the answer

    assert (await bot.event(_dm(), event_id="EvDown", retry=3)).status == 200
    await _worker_pass(bot)
    assert len(_answers(bot)) == passes  # nothing after the give-up
    assert len(await _hr_alerts(bot)) == 1  # told once


async def test_an_answer_slack_refuses_for_good_is_given_up_at_once(
    bot: SlackBot, clock: ManualClock
) -> None:
    await _answer_not_taken(bot, _mention(), "EvGone")
    bot.fake.overrides[POST] = failing(1, error="channel_not_found")
    clock.advance(PARKED_GRACE + SECOND)
    report = await _worker_pass(bot)
    assert (report.slack_replies_posted, report.slack_replies_given_up) == (0, 1)
    assert (await stored_delivery(bot, "EvGone")).reply is None
    (alert,) = await _hr_alerts(bot)
    assert "channel_not_found" in alert.body_text and "C0001" in alert.body_text


async def test_the_sweep_prunes_old_handled_deliveries_about_once_an_hour(
    bot: SlackBot, clock: ManualClock
) -> None:
    async def claim(key: str, age: timedelta) -> None:
        async with bot.app.uow() as uow:
            await slack_events(uow).claim(
                key, kind="message", user_id="U1001", at=clock.now() - age
            )
            await uow.commit()

    async def kept() -> list[str]:
        keys = ["event:old", "event:recent", "event:older"]
        async with bot.app.uow() as uow:
            return [k for k in keys if await slack_events(uow).get(k) is not None]

    await claim("event:old", KEEP_HANDLED + SECOND)
    await claim("event:recent", KEEP_HANDLED - timedelta(minutes=30))
    sweep = SlackEventSweep(_transport(bot), uow=bot.app.uow(), clock=clock)
    assert (await sweep.run()).pruned == 1
    assert await kept() == ["event:recent"]

    await claim("event:older", KEEP_HANDLED + SECOND)
    clock.advance(PRUNE_EVERY - SECOND)
    assert (await sweep.run()).pruned == 0  # pruned less than an hour ago
    clock.advance(2 * SECOND)
    assert (await sweep.run()).pruned == 2  # an hour on, "recent" has aged too
    assert await kept() == []


async def test_the_running_worker_posts_an_answer_bolt_acknowledged_before_it_failed(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path, clock: ManualClock
) -> None:
    """The default HTTP mode: Slack got its 200 before the post failed, so it never retries;
    the worker's own loop posts the parked answer."""
    failures = _ListenerFailures(fake_slack.base_url)
    logging.getLogger("handlers.slack.app").addHandler(failures)
    try:
        async with running_slack_bot_at(fake_slack, demo_db, tmp_path, clock=clock) as bot:
            bot.fake.overrides[POST] = failing(1)
            assert (await bot.event(_dm(), event_id="EvAcked")).status == 200
            await asyncio.wait_for(failures.failed.wait(), 5)  # posted, failed, parked
            assert (await stored_delivery(bot, "EvAcked")).state is SlackDeliveryState.UNPOSTED

            clock.advance(PARKED_GRACE + SECOND)
            settings = bot.app.settings.model_copy(update={"slack_rate_per_second": 1000.0})
            worker = build(settings, clock=clock)
            stop = asyncio.Event()
            running = asyncio.create_task(run_worker(worker, stop=stop))
            try:
                failed, posted = await _answered(bot, 2)
                assert post_content(posted) == post_content(failed)
            finally:
                stop.set()
                await asyncio.wait_for(running, 10)
                await worker.aclose()
            assert len(_answers(bot)) == 2
            done = await stored_delivery(bot, "EvAcked")
            assert done.state is SlackDeliveryState.DONE and done.reply is None
    finally:
        logging.getLogger("handlers.slack.app").removeHandler(failures)


class _ListenerFailures(logging.Handler):
    """Bolt's error handler logs a failed listener once it has returned: in the default mode,
    where the HTTP answer comes first, this is how a test knows the listener finished. Only a
    refusal by this test's Web API counts (a listener left over from an earlier test may fail
    meanwhile, against a server that is gone)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(level=logging.ERROR)
        self.base_url = base_url
        self.failed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, SlackApiError) and error.response.api_url.startswith(self.base_url):
            self.failed.set()
