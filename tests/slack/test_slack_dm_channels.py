"""DM channels opened ahead of broadcasts: the worker opens each roster employee's DM once, at
the outbox's pace, keeps it in ``slack_users``, and a broadcast afterwards — even from a new
process — makes no ``conversations.open`` call. Against the local Web API and the demo roster,
on a fake monotonic clock that drives both the limiter and the app's simulated clock."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.clock import SimulatedClock, parse_instant
from bot.config import Settings
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.runtime.bootstrap import App, build
from bot.runtime.worker import worker_pass
from handlers.slack.app import slack_client
from handlers.slack.dm_channels import open_dm_channels_ahead
from handlers.slack.identity import SlackIdentities
from handlers.slack.transport import SlackOutboxTransport, SlackRateLimiter
from storage.slack_repo import NEVER_FETCHED, SlackUser, slack_users
from storage.uow import UnitOfWork
from tests.slack.conftest import TEAM, FakeMonotonic, FakeSlack
from tests.storage.examples import employee

ROSTER = [f"U{n}" for n in range(1001, 1021)]  # the demo roster's 20 Slack users
# an hour before the demo's "now", when its first reminder falls due: a quiet worker pass
START = "2003-07-10T08:00:00-07:00"


@dataclass
class Setup:
    app: App
    fake: FakeSlack
    time: FakeMonotonic

    def transport(self) -> SlackOutboxTransport:
        """A new transport, as a new process (or replica) builds it: nothing in memory."""
        limiter = SlackRateLimiter(8.0, monotonic=self.time, sleep=self.time.sleep)
        return SlackOutboxTransport(
            self.client(), SlackIdentities(self.app.conversation()), limiter
        )

    def client(self) -> Any:
        return slack_client(
            token="xoxb-test", base_url=self.fake.base_url + "api/", max_rate_limit_retries=0
        )

    async def open_all(self, transport: SlackOutboxTransport | None = None) -> list[int]:
        """Pass after pass until nothing is left: how many each pass opened."""
        transport = transport or self.transport()
        counts = []
        while True:
            report = await open_dm_channels_ahead(
                transport, uow=self.app.uow(), clock=self.app.clock
            )
            counts.append(report.opened)
            if not report.more:
                return counts

    def opened(self) -> list[str]:
        return [str(c.params["users"]) for c in self.fake.of("conversations.open")]

    async def stored(self) -> dict[str, str]:
        async with self.app.uow() as uow:
            return await slack_users(uow).dm_channels(ROSTER)

    async def user(self, user_id: str) -> SlackUser | None:
        async with self.app.uow() as uow:
            return await slack_users(uow).get(user_id)

    async def enqueue(self, recipients: list[str], *, due_in: timedelta = timedelta()) -> None:
        now = self.app.clock.now()
        messages = [
            OutboxMessage(
                idempotency_key=f"dm-ahead:{r}",
                channel="slack",
                recipient=r,
                kind=MessageKind.EXTENSION_ANNOUNCEMENT,
                subject="The offer is extended",
                body_text="The offer now expires later.",
                created_at=now,
                due_at=now + due_in,
            )
            for r in recipients
        ]
        async with self.app.uow() as uow:
            await uow.outbox.enqueue_many(messages)
            await uow.commit()


@pytest.fixture
async def setup(fake_slack: FakeSlack, demo_db: Path, tmp_path: Path) -> AsyncIterator[Setup]:
    db = tmp_path / "offerbot.db"
    shutil.copy(demo_db, db)
    time = FakeMonotonic()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db}",
        now=START,
        slack_bot_token="xoxb-test",
        slack_api_url=fake_slack.base_url + "api/",
    )  # type: ignore[call-arg]
    app = build(settings, clock=SimulatedClock(parse_instant(START), monotonic=time))
    try:
        yield Setup(app=app, fake=fake_slack, time=time)
    finally:
        await app.aclose()


def _refuse(user_id: str, error: str) -> Any:
    def answer(params: dict[str, Any]) -> web.Response | None:
        if params.get("users") != user_id:
            return None
        return web.json_response({"ok": False, "error": error})

    return answer


async def test_a_worker_pass_opens_each_roster_dm_once_at_the_pace_and_keeps_it(
    setup: Setup,
) -> None:
    started = setup.time()
    transport = setup.transport()  # one process: its paces carry over from pass to pass
    passes = [(await worker_pass(setup.app, {"slack": transport})).dm_channels_opened]
    while passes[-1]:
        passes.append((await worker_pass(setup.app, {"slack": transport})).dm_channels_opened)
    # ten seconds of conversations.open's own pace per pass (Tier 3: 50 a minute)
    assert passes == [8, 8, 4, 0]
    assert sorted(setup.opened()) == ROSTER  # each once
    assert setup.fake.of("chat.postMessage") == []  # nothing was due: only DMs opened
    assert await setup.stored() == {u: "D" + u[1:] for u in ROSTER}
    # twenty calls at 50 a minute (below the global 8/s): nineteen intervals of fake time
    assert setup.time() - started == pytest.approx(19 * 60 / 50)
    # a row that users.info never filled: identity resolution still asks it first
    fresh = await setup.user("U1001")
    assert fresh is not None and fresh.fetched_at == NEVER_FETCHED and fresh.employee_id is None

    again = await worker_pass(setup.app, {"slack": setup.transport()})
    assert again.dm_channels_opened == 0
    assert len(setup.opened()) == len(ROSTER)


async def test_a_cached_user_keeps_its_fields_and_users_info_keeps_the_channel(
    setup: Setup,
) -> None:
    known = SlackUser(
        slack_user_id="U1003",
        fetched_at=setup.app.clock.now(),
        team_id=TEAM,
        email="e1003@example.com",
        employee_id="E1003",
    )
    async with setup.app.uow() as uow:
        await slack_users(uow).save(known)
        await uow.commit()
    await open_dm_channels_ahead(setup.transport(), uow=setup.app.uow(), clock=setup.app.clock)
    assert await setup.user("U1003") == SlackUser(
        slack_user_id="U1003",
        fetched_at=known.fetched_at,
        team_id=TEAM,
        email="e1003@example.com",
        employee_id="E1003",
        dm_channel="D1003",
    )
    # U1005's row was created by the pre-open; users.info fills it in and the channel stays
    identity = await SlackIdentities(setup.app.conversation()).resolve(
        "U1005", client=setup.client(), home_team=TEAM
    )
    assert identity.employee_id == "E1005"
    assert [c.params["user"] for c in setup.fake.of("users.info")] == ["U1005"]
    refreshed = await setup.user("U1005")
    assert refreshed is not None
    assert (refreshed.employee_id, refreshed.dm_channel) == ("E1005", "D1005")


async def test_a_broadcast_after_opening_ahead_opens_nothing_even_in_a_new_process(
    setup: Setup,
) -> None:
    await setup.open_all()
    opened_ahead = len(setup.opened())
    assert opened_ahead == len(ROSTER)
    recipients = ROSTER[:6]
    await setup.enqueue(recipients)

    report = await worker_pass(setup.app, {"slack": setup.transport()})  # a fresh transport

    assert report.outbox.sent == len(recipients)
    posts = sorted(str(c.params["channel"]) for c in setup.fake.of("chat.postMessage"))
    assert posts == ["D" + r[1:] for r in recipients]
    assert len(setup.opened()) == opened_ahead  # zero conversations.open for the broadcast


async def test_a_refused_user_does_not_stop_the_others_and_is_not_asked_again(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    setup.fake.overrides["conversations.open"] = _refuse("U1004", "user_not_found")
    caplog.set_level(logging.WARNING, logger="handlers.slack.dm_channels")
    first = await open_dm_channels_ahead(
        setup.transport(), uow=setup.app.uow(), clock=setup.app.clock, limit=len(ROSTER)
    )
    assert (first.opened, first.refused) == (len(ROSTER) - 1, 1)
    assert await setup.stored() == {u: "D" + u[1:] for u in ROSTER if u != "U1004"}
    assert "U1004" in caplog.text and "user_not_found" in caplog.text
    assert "@" not in caplog.text  # ids only, never an address

    second = await open_dm_channels_ahead(
        setup.transport(), uow=setup.app.uow(), clock=setup.app.clock, limit=len(ROSTER)
    )
    assert (second.opened, second.refused) == (0, 0)
    assert len(setup.opened()) == len(ROSTER)  # U1004 was not asked again

    # when U1004 next talks to the bot, users.info says a regular member: tried once more
    del setup.fake.overrides["conversations.open"]
    await SlackIdentities(setup.app.conversation()).resolve(
        "U1004", client=setup.client(), home_team=TEAM
    )
    third = await open_dm_channels_ahead(
        setup.transport(), uow=setup.app.uow(), clock=setup.app.clock
    )
    assert third.opened == 1 and setup.opened()[-1] == "U1004"


async def test_an_error_of_the_app_ends_the_pass_and_marks_nobody(setup: Setup) -> None:
    setup.fake.overrides["conversations.open"] = lambda _p: web.json_response(
        {"ok": False, "error": "invalid_auth"}
    )
    report = await open_dm_channels_ahead(
        setup.transport(), uow=setup.app.uow(), clock=setup.app.clock
    )
    assert (report.opened, report.refused, report.more) == (0, 0, False)
    assert len(setup.opened()) == 1  # not once per user
    assert await setup.user(ROSTER[0]) is None  # nothing remembered: the next pass tries again


async def test_nothing_is_opened_while_slack_rows_are_due_and_they_go_first(
    setup: Setup,
) -> None:
    await setup.enqueue(["U1010"])
    deferred = await open_dm_channels_ahead(
        setup.transport(), uow=setup.app.uow(), clock=setup.app.clock
    )
    assert deferred.deferred and deferred.opened == 0 and not deferred.more
    assert setup.opened() == []

    transport = setup.transport()
    report = await worker_pass(setup.app, {"slack": transport})  # drains, then opens
    assert report.outbox.sent == 1 and report.dm_channels_opened == 8
    await setup.open_all(transport)
    assert sorted(setup.opened()) == ROSTER  # U1010 at its send, the others ahead: once each
    assert setup.opened()[0] == "U1010"


async def test_a_row_falling_due_mid_pass_takes_the_pace_back(setup: Setup) -> None:
    await setup.enqueue(["C0ANNOUNCE"], due_in=timedelta(seconds=0.5))  # not due yet
    report = await open_dm_channels_ahead(
        setup.transport(), uow=setup.app.uow(), clock=setup.app.clock
    )
    # it looks again after every open (1.2 s apart at 50 a minute): by then the row is due
    assert (report.opened, report.deferred, report.more) == (2, True, True)
    assert setup.fake.of("chat.postMessage") == []


async def test_dm_channel_storage(uow: UnitOfWork) -> None:
    """The repository on SQLite and PostgreSQL: who still needs a DM, a row created for a user
    not cached, a refresh from users.info that keeps the channel, a refusal left out."""
    now = datetime.fromisoformat("2003-07-10T16:00:00+00:00")
    async with uow:
        await uow.employees.upsert_many(
            [
                employee("E1", slack_user_id="U1"),
                employee("E2", slack_user_id="W2"),
                employee("E3", slack_user_id="U3"),
                employee("E4", slack_user_id=None),
                employee("E5", slack_user_id="C5"),  # not a user id: never a DM
                employee("E6", slack_user_id="U6"),
            ]
        )
        users = slack_users(uow)
        await users.save(SlackUser("U6", fetched_at=now, restricted=True))  # a guest
        await uow.commit()
    async with uow:
        users = slack_users(uow)
        assert await users.roster_users_without_dm(limit=10) == ["U1", "U3", "W2"]
        assert await users.roster_users_without_dm(limit=2) == ["U1", "U3"]
        await users.remember_dm_channel("U1", "D1")
        await users.mark_dm_refused("U3")
        await uow.commit()
    async with uow:
        users = slack_users(uow)
        assert await users.roster_users_without_dm(limit=10) == ["W2"]
        assert await users.dm_channels(["U1", "U3", "W2", "U9"]) == {"U1": "D1"}
        assert await users.get("U1") == SlackUser("U1", fetched_at=NEVER_FETCHED, dm_channel="D1")
        # users.info refreshes U1 (it carries no channel) and clears U3's refusal
        await users.save(SlackUser("U1", fetched_at=now, email="e1@example.com", employee_id="E1"))
        await users.save(SlackUser("U3", fetched_at=now, employee_id="E3"))
        await uow.commit()
    async with uow:
        users = slack_users(uow)
        assert await users.get("U1") == SlackUser(
            "U1", fetched_at=now, email="e1@example.com", employee_id="E1", dm_channel="D1"
        )
        assert await users.roster_users_without_dm(limit=10) == ["U3", "W2"]
