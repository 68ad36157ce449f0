"""A view submission is acknowledged within Slack's 3 s whatever its work costs.

With a budget of zero (as if the database were slow), the submission is acknowledged at once
with a "one moment" modal, and the result replaces it by ``views.update`` — recorded once,
even when the same submission comes twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.slack import blocks
from tests.slack.conftest import DEMO_NOW, FakeSlack, SlackBot, running_slack_bot
from tests.slack.test_slack_surfaces import _choose, _submission


@pytest.fixture
async def slow_bot(fake_slack: FakeSlack, demo_db: Path, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async with running_slack_bot(fake_slack, demo_db, tmp_path, DEMO_NOW, ack_within=0) as bot:
        yield bot


async def test_a_slow_confirmation_is_acknowledged_at_once_then_shows_the_result(
    slow_bot: SlackBot,
) -> None:
    submit = _submission(
        "U1001",
        blocks.ELECT_CONFIRM_CALLBACK,
        private_metadata=json.dumps({"grants": ["G00002"]}),
        id="VSLOW",
        hash="hs",
    )
    acked = json.loads(await (await slow_bot.interaction(submit)).text())
    assert acked["response_action"] == "update"
    assert "One moment" in json.dumps(acked["view"])  # the ack did not wait for the record

    (update,) = await slow_bot.fake.wait_for("views.update")
    assert update.params["view_id"] == "VSLOW"
    assert update.params["view"]["title"]["text"] == "Intent recorded"
    assert "G00002" in json.dumps(update.params["view"])
    await slow_bot.fake.wait_for("views.publish")  # then the Home is refreshed

    again = await slow_bot.interaction(submit)  # the same submission again: nothing recorded
    assert again.status == 200
    async with slow_bot.app.uow() as uow:
        (intent,) = await uow.elections.intents_for("E1001")
        assert set(intent.grant_numbers) == {"G00002"}
    assert len(slow_bot.fake.of("views.update")) == 1


async def test_a_late_broken_rule_replaces_the_modal_with_the_reason(slow_bot: SlackBot) -> None:
    """``response_action: errors`` works only in the ack; a late one becomes a notice."""
    acked = json.loads(await (await slow_bot.interaction(_choose("U1002", ["G00005"]))).text())
    assert "One moment" in json.dumps(acked["view"])
    (update,) = await slow_bot.fake.wait_for("views.update")
    assert "G00006" in json.dumps(update.params["view"])  # the other half of the ISO/NSO pair
    async with slow_bot.app.uow() as uow:
        assert await uow.elections.intents_for("E1002") == []
