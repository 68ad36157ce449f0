"""/offer-admin extend and approve through Bolt's real pipeline (signed slash commands), and
what employees see afterwards: the App Home, answers, and the follow-up to someone who asked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import parse_instant
from bot.domain.amendments import AmendmentStatus
from bot.domain.hr_records import MessageKind
from bot.services.offer.live_offer import current_terms
from tests.slack.conftest import DEMO_NOW, HR_ADMIN, FakeSlack, SlackBot, running_slack_bot

NEW = "2003-08-07T17:00:00-07:00"
NEW_TEXT = "5:00 p.m. PDT on Thursday, August 7, 2003"
SECOND_ADMIN = "U0HR02"


async def _ephemeral(bot: SlackBot, count: int = 1) -> dict[str, Any]:
    replies = await bot.fake.wait_for("chat.postEphemeral", count)
    return dict(replies[-1].params)


async def _expiration(bot: SlackBot) -> datetime:
    return (await current_terms(uow=bot.app.uow(), terms=bot.app.base_terms)).expiration


async def test_hr_admin_extends_the_offer_from_slack(slack_bot: SlackBot) -> None:
    await slack_bot.command("/offer-admin", f"extend {NEW} More time to decide.", user=HR_ADMIN)
    reply = await _ephemeral(slack_bot)
    assert reply["user"] == HR_ADMIN
    text = json.dumps(reply)
    assert f"now expires at {NEW_TEXT}" in text and "announcement" in text.lower()
    assert await _expiration(slack_bot) == parse_instant(NEW)
    async with slack_bot.app.uow() as uow:
        [amendment] = await uow.amendments.list_all(slack_bot.app.base_terms.offer_id)
        job = await uow.jobs.get(f"broadcast:amendment:{amendment.id}")
        [audit] = await uow.audit.with_action("offer.extend")
    assert amendment.status is AmendmentStatus.APPLIED and amendment.announce
    assert amendment.message == "More time to decide."
    assert amendment.requested_by == f"slack:{HR_ADMIN}"
    assert job is not None and job.payload == {"amendment_id": amendment.id}
    assert (audit.actor, audit.channel) == (f"slack:{HR_ADMIN}", "slack-hr")


@pytest.mark.parametrize("slack_now", ["2003-07-25T07:00:00-07:00"])
async def test_a_late_extension_is_applied_and_the_warning_shown(slack_bot: SlackBot) -> None:
    await slack_bot.command("/offer-admin", f"extend {NEW}", user=HR_ADMIN)
    text = json.dumps(await _ephemeral(slack_bot))
    assert "6:00 a.m. PDT on Friday, July 25, 2003" in text and "later than that" in text
    assert await _expiration(slack_bot) == parse_instant(NEW)


async def test_an_invalid_extension_changes_nothing(slack_bot: SlackBot) -> None:
    await slack_bot.command("/offer-admin", "extend 2003-07-20T17:00:00-07:00", user=HR_ADMIN)
    assert "later than the current one" in json.dumps(await _ephemeral(slack_bot))
    await slack_bot.command("/offer-admin", "extend next-friday", user=HR_ADMIN)
    assert "Usage: /offer-admin" in json.dumps(await _ephemeral(slack_bot, 2))
    assert await _expiration(slack_bot) == slack_bot.app.base_terms.original_expiration
    async with slack_bot.app.uow() as uow:
        assert await uow.amendments.list_all(slack_bot.app.base_terms.offer_id) == []


async def test_a_non_admin_cannot_extend_and_is_audited(slack_bot: SlackBot) -> None:
    await slack_bot.command("/offer-admin", f"extend {NEW}", user="U1001")
    assert "only for the HR administrators" in json.dumps(await _ephemeral(slack_bot))
    assert await _expiration(slack_bot) == slack_bot.app.base_terms.original_expiration
    async with slack_bot.app.uow() as uow:
        refused = await uow.audit.with_action("slack.admin.refused")
    assert [(e.actor, e.detail["attempted"]) for e in refused] == [
        ("U1001", f"/offer-admin extend {NEW}")
    ]


async def test_employees_see_the_new_deadline_and_get_a_follow_up(slack_bot: SlackBot) -> None:
    dm = {"type": "message", "channel_type": "im", "channel": "D1001", "user": "U1001"}
    await slack_bot.event({**dm, "text": "when does the offer expire?", "ts": "1.0"}, event_id="A")
    [before] = await slack_bot.fake.wait_for("chat.postMessage")
    assert "July 24, 2003" in json.dumps(before.params)

    await slack_bot.command("/offer-admin", f"extend {NEW}", user=HR_ADMIN)
    assert "1 follow-up(s) queued" in json.dumps(await _ephemeral(slack_bot))
    async with slack_bot.app.uow() as uow:
        follow_ups = [
            m
            for m in await uow.outbox.by_kind(MessageKind.ANSWER)
            if m.idempotency_key.startswith("deadline_follow_up:")
        ]
    [follow_up] = follow_ups
    assert (follow_up.channel, follow_up.recipient, follow_up.employee_id) == (
        "slack",
        "U1001",
        "E1001",
    )
    assert NEW_TEXT in follow_up.body_text and "extended" in follow_up.body_text

    await slack_bot.event({**dm, "text": "what's the deadline?", "ts": "2.0"}, event_id="B")
    after = await slack_bot.fake.wait_for("chat.postMessage", 2)
    answer = json.dumps(after[-1].params)
    assert NEW_TEXT in answer and "extended" in answer

    await slack_bot.event(
        {"type": "app_home_opened", "user": "U1001", "channel": "D1001", "tab": "home"},
        event_id="H",
    )
    [home] = await slack_bot.fake.wait_for("views.publish")
    view = json.dumps(home.params["view"])
    assert NEW_TEXT in view and "extended" in view


# --- the two-person rule ---------------------------------------------------------------------


@pytest.fixture
async def two_person_bot(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path
) -> AsyncIterator[SlackBot]:
    """The Slack app with OFFERBOT_TWO_PERSON_RULE=true and two HR admins."""
    async with running_slack_bot(
        fake_slack,
        demo_db,
        tmp_path,
        DEMO_NOW,
        hr_admins=(HR_ADMIN, SECOND_ADMIN),
        two_person_rule=True,
    ) as bot:
        yield bot


async def test_a_second_admin_approves_the_announcement(two_person_bot: SlackBot) -> None:
    bot = two_person_bot
    await bot.command("/offer-admin", f"extend {NEW}", user=HR_ADMIN)
    text = json.dumps(await _ephemeral(bot))
    assert "waits for a second HR administrator" in text
    assert await _expiration(bot) == parse_instant(NEW)  # the legal date moved at once
    async with bot.app.uow() as uow:
        [pending] = await uow.amendments.list_all(bot.app.base_terms.offer_id)
        assert await uow.jobs.list(kind="broadcast") == []
    assert pending.status is AmendmentStatus.AWAITING_APPROVAL

    await bot.command("/offer-admin", f"approve {pending.id}", user=HR_ADMIN)
    assert "different HR administrator" in json.dumps(await _ephemeral(bot, 2))
    await bot.command("/offer-admin", f"approve {pending.id}", user=SECOND_ADMIN)
    reply = await _ephemeral(bot, 3)
    assert reply["user"] == SECOND_ADMIN
    assert "announcement to every eligible employee is queued" in json.dumps(reply)
    async with bot.app.uow() as uow:
        approved = await uow.amendments.get(pending.id)
        job = await uow.jobs.get(f"broadcast:amendment:{pending.id}")
    assert approved is not None and approved.status is AmendmentStatus.APPLIED
    assert approved.approved_by == f"slack:{SECOND_ADMIN}"
    assert job is not None
