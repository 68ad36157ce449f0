"""Slack deliveries are handled once across replicas on one PostgreSQL database.

Slack sends an event to one Socket Mode connection, or one HTTP request behind a load
balancer — and its retry may reach another replica. The delivery key (``event:<id>``) is
unique in ``slack_events`` and joins the transaction of the side effect, so the replica that
commits second fails on the key and its side effect is rolled back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.clock import ManualClock, SimulatedClock, parse_instant
from bot.config import Settings
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.runtime.bootstrap import App, build
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.slack_repo import DuplicateDeliveryError
from storage.uow import UnitOfWork
from tests.replicas.processes import offerbot_env, run_offerbot, until
from tests.slack.conftest import DEMO_NOW, SECRET, FakeSlack, SlackBot, _serve

pytestmark = pytest.mark.postgres

NOW = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
KEYS = 25


async def test_two_engines_racing_on_one_delivery_key_commit_one_side_effect(
    pg_url: str,
) -> None:
    """Both transactions hold their side effect when they race to commit: one wins."""
    engines = [create_engine(pg_url), create_engine(pg_url)]
    try:
        await upgrade(engines[0])
        uows = [UnitOfWork(session_factory(engine)) for engine in engines]
        clock = ManualClock(NOW)

        async def replica(side: int, key: str, barrier: asyncio.Barrier) -> str:
            try:
                async with uows[side] as uow:
                    await uow.outbox.enqueue(
                        OutboxMessage(
                            idempotency_key=f"side-effect:{key}:{side}",
                            channel="slack",
                            recipient="U1",
                            kind=MessageKind.ANSWER,
                            subject="answer",
                            body_text="the answer",
                            created_at=NOW,
                            due_at=NOW,
                        )
                    )
                    await barrier.wait()  # both side effects written, neither committed
                    # the delivery key, claimed in the side effect's own transaction
                    await uow.slack_events.claim(key, kind="message", user_id="U1", at=clock.now())
                    await uow.commit()
            except DuplicateDeliveryError:
                return "duplicate"
            return "committed"

        for n in range(KEYS):
            barrier = asyncio.Barrier(2)
            key = f"event:Ev{n:03d}"
            outcomes = await asyncio.gather(replica(0, key, barrier), replica(1, key, barrier))
            assert sorted(outcomes) == ["committed", "duplicate"], key

        async with uows[0] as uow:
            kept = [
                side
                for n in range(KEYS)
                for side in (0, 1)
                if await uow.deliveries.get(f"side-effect:event:Ev{n:03d}:{side}") is not None
            ]
        assert len(kept) == KEYS  # one side effect per delivery key, never two
        print(f"\n{KEYS} raced delivery keys: {KEYS} side effects, {KEYS} rolled back")
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.fixture
async def two_replicas(
    pg_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[list[SlackBot]]:
    """Two Bolt apps (HTTP mode), each with its own engine, on one demo database."""
    env = offerbot_env(
        OFFERBOT_DATABASE_URL=pg_url, OFFERBOT_NOW=DEMO_NOW, OFFERBOT_DEMO_EMPLOYEES="20"
    )
    await run_offerbot(tmp_path, env, "init", "--demo", "--json")
    apps: list[App] = []
    runners = []
    session = aiohttp.ClientSession()
    bots = []
    try:
        for _ in range(2):
            settings = Settings(
                database_url=pg_url,
                now=DEMO_NOW,
                slack_bot_token="xoxb-test",
                slack_signing_secret=SECRET,
                slack_api_url=fake_slack.base_url + "api/",
            )
            app = build(settings, clock=SimulatedClock(parse_instant(DEMO_NOW)))
            apps.append(app)
            bolt, _deps = app.slack_app()
            runner, port = await _serve(bolt.web_app(path="/slack/events"))
            runners.append(runner)
            url = f"http://127.0.0.1:{port}/slack/events"
            bots.append(SlackBot(app=app, url=url, fake=fake_slack, db_url=pg_url, session=session))
        yield bots
    finally:
        await session.close()
        for runner in runners:
            await runner.cleanup()
        for app in apps:
            await app.aclose()


async def test_an_event_delivered_to_two_replicas_is_answered_once(
    two_replicas: list[SlackBot], fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.slack.flows")
    first, second = two_replicas
    events = 10
    for n in range(events):
        dm = {
            "type": "message",
            "channel_type": "im",
            "channel": "D1001",
            "user": "U1001",
            "text": "when is the deadline?",
            "ts": f"1057852800.{n:06d}",
        }
        # the first delivery on one replica, Slack's retry of it on the other, at once
        responses = await asyncio.gather(
            first.event(dm, event_id=f"EvRace{n}"),
            second.event(dm, event_id=f"EvRace{n}", retry=1),
        )
        assert [r.status for r in responses] == [200, 200]

    def refused() -> int:
        return sum("already answered" in r.getMessage() for r in caplog.records)

    async def all_handled() -> bool:
        return len(fake_slack.of("chat.postMessage")) >= events and refused() >= events

    await until(all_handled, timeout=30, what="both replicas to handle every delivery")
    posts = fake_slack.of("chat.postMessage")
    assert len(posts) == events  # one answer per event, though each reached both replicas
    assert refused() == events
    print(f"\n{events} events x 2 replicas: {len(posts)} answers posted, {refused()} refused")
