"""`offerbot run`'s Socket Mode handler against the local Web API's websocket."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli.slack import socket_mode_handler
from bot.clock import SimulatedClock, parse_instant
from bot.config import Settings
from bot.runtime.bootstrap import build
from tests.slack.conftest import DEMO_NOW, FakeSlack, dm_envelope


@pytest.fixture
async def socket_app(fake_slack: FakeSlack, demo_db: Path, tmp_path: Path) -> AsyncIterator[Any]:
    db = tmp_path / "socket.db"
    shutil.copy(demo_db, db)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db}",
        now=DEMO_NOW,
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
        slack_api_url=fake_slack.base_url + "api/",
    )
    application = build(settings, clock=SimulatedClock(parse_instant(DEMO_NOW)))
    handler = socket_mode_handler(application)  # what `offerbot run` connects
    await handler.connect_async()
    try:
        yield application
    finally:
        await handler.close_async()
        await application.aclose()


async def test_socket_mode_dm_is_acked_and_answered_once(
    socket_app: Any, fake_slack: FakeSlack
) -> None:
    assert len(fake_slack.of("apps.connections.open")) == 1

    await fake_slack.envelopes.put(dm_envelope("env-1", "EvSock", "when is the deadline?"))
    assert (await fake_slack.wait_for_ack("env-1"))["envelope_id"] == "env-1"
    (post,) = await fake_slack.wait_for("chat.postMessage")
    assert post.params["channel"] == "D1001"
    text = str(post.params["text"]) + json.dumps(post.params["blocks"])
    assert "July 24, 2003" in text and "5:00 p.m." in text

    # Slack redelivers the same event_id (retry_attempt 1): acked, not answered again
    await fake_slack.envelopes.put(dm_envelope("env-2", "EvSock", "when is the deadline?", retry=1))
    await fake_slack.wait_for_ack("env-2")
    # a later, different event proves the redelivery was fully handled before it
    await fake_slack.envelopes.put(dm_envelope("env-3", "EvSock2", "what is the new grant date?"))
    await fake_slack.wait_for_ack("env-3")
    posts = await fake_slack.wait_for("chat.postMessage", 2)
    await asyncio.sleep(0.3)  # events are acked before their listener finishes: let them settle
    assert len(fake_slack.of("chat.postMessage")) == 2
    assert "July 24, 2003" not in json.dumps(posts[1].params.get("blocks", []))
    async with socket_app.uow() as uow:
        from storage.slack_repo import slack_events

        assert await slack_events(uow).seen("event:EvSock")
