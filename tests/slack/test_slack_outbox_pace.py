"""The Slack outbox transport's pace, against the local Web API on a fake monotonic clock: one
global rate for every sender, a 429's Retry-After honoured by everyone, DMs opened once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.ports import TransientDeliveryError
from handlers.slack.app import slack_client
from handlers.slack.identity import SlackIdentities
from handlers.slack.transport import SlackOutboxTransport, SlackRateLimiter
from tests.slack.conftest import FakeMonotonic, FakeSlack, SlackBot


def _message(i: int, recipient: str) -> OutboxMessage:
    now = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
    return OutboxMessage(
        idempotency_key=f"k{i}",
        channel="slack",
        recipient=recipient,
        kind=MessageKind.EXTENSION_ANNOUNCEMENT,
        subject="The offer is extended",
        body_text=f"message {i}",
        created_at=now,
        due_at=now,
    )


def _client(fake: FakeSlack) -> AsyncWebClient:
    return slack_client(
        token="xoxb-test", base_url=fake.base_url + "api/", max_rate_limit_retries=0
    )


async def test_the_limiter_spaces_every_caller_at_the_rate() -> None:
    clock = FakeMonotonic()
    limiter = SlackRateLimiter(8.0, monotonic=clock, sleep=clock.sleep)
    times: list[float] = []

    async def caller() -> None:
        for _ in range(3):
            await limiter.wait()
            times.append(clock())

    await asyncio.gather(*(caller() for _ in range(4)))  # four senders, one pace
    assert len(times) == 12
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.125 - 1e-9
    assert times[-1] - times[0] == 11 * 0.125


async def test_retry_after_holds_every_sender_until_it_expires() -> None:
    clock = FakeMonotonic()
    limiter = SlackRateLimiter(8.0, monotonic=clock, sleep=clock.sleep)
    await limiter.wait()
    limiter.retry_after(3.0)
    started = clock()
    await asyncio.gather(limiter.wait(), limiter.wait())
    assert clock() >= started + 3.0 + 0.125  # both after Retry-After, still one pace


async def test_a_429_makes_every_sender_wait_for_retry_after(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    clock = FakeMonotonic()
    limiter = SlackRateLimiter(8.0, monotonic=clock, sleep=clock.sleep)
    calls: list[tuple[str, float]] = []  # (channel, fake time the call reached the API)

    def post(params: dict[str, Any]) -> web.Response | None:
        calls.append((str(params.get("channel")), clock()))
        if len(calls) == 1:  # the first post is refused: 429, Retry-After 3 s
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "3"}
            )
        return None

    fake_slack.overrides["chat.postMessage"] = post
    transport = SlackOutboxTransport(
        _client(fake_slack), SlackIdentities(slack_bot.app.conversation()), limiter
    )
    first = asyncio.create_task(transport.send(_message(0, "C0000")))
    while limiter.not_before == float("-inf"):  # until the 429 came back (no sleeping)
        await asyncio.sleep(0)
    refused_at = calls[0][1]
    assert limiter.not_before == refused_at + 3.0
    others = [f"C{i:04d}" for i in range(1, 6)]
    results = await asyncio.gather(
        first, *(transport.send(_message(i, c)) for i, c in enumerate(others, start=1))
    )
    assert all(results)  # every message went out, the refused one on its second try
    later = calls[1:]
    assert sorted(c for c, _ in later) == ["C0000", *others]  # each once more, no extra
    assert min(t for _, t in later) >= refused_at + 3.0  # no sender before Retry-After
    assert clock() >= refused_at + 3.0 + 5 * 0.125  # and then still one pace for all six


async def test_a_dm_channel_is_opened_once_and_a_channel_post_goes_straight_to_it(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    clock = FakeMonotonic()
    limiter = SlackRateLimiter(8.0, monotonic=clock, sleep=clock.sleep)
    transport = SlackOutboxTransport(
        _client(fake_slack), SlackIdentities(slack_bot.app.conversation()), limiter
    )
    for i in range(3):
        await transport.send(_message(i, "U0777"))
    await transport.send(_message(9, "C0ANNOUNCE"))
    assert len(fake_slack.of("conversations.open")) == 1
    posts = [c.params["channel"] for c in fake_slack.of("chat.postMessage")]
    assert posts == ["D0777", "D0777", "D0777", "C0ANNOUNCE"]
    # four posts and one open: five calls at 8/s take at least four intervals
    assert clock() - 100.0 >= 4 * 0.125 - 1e-9


async def test_retry_after_exhausted_leaves_the_message_to_the_outbox_backoff(
    slack_bot: SlackBot, fake_slack: FakeSlack
) -> None:
    clock = FakeMonotonic()
    fake_slack.overrides["chat.postMessage"] = lambda _p: web.json_response(
        {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "2"}
    )
    limiter = SlackRateLimiter(8.0, monotonic=clock, sleep=clock.sleep)
    transport = SlackOutboxTransport(
        _client(fake_slack),
        SlackIdentities(slack_bot.app.conversation()),
        limiter,
        rate_limit_retries=2,
    )
    with pytest.raises(TransientDeliveryError, match="ratelimited"):
        await transport.send(_message(1, "C0001"))  # refused three times: left for later
    assert len(fake_slack.of("chat.postMessage")) == 3
    assert limiter.not_before >= clock() - 1e-9 and sum(clock.slept) >= 4.0
