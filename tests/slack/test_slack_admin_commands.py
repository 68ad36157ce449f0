"""/offer-admin receive and unanswered through Bolt's real pipeline (signed slash commands)."""

from __future__ import annotations

import json

from bot.domain.elections import FormKind
from bot.services import elections
from bot.services.identity import Identity
from bot.services.offer.live_offer import current_terms
from tests.slack.conftest import HR_ADMIN, SlackBot


async def _intent_for_e1001(bot: SlackBot) -> tuple[int, str]:
    """Version and a "received at" instant just after the intent was recorded."""
    app = bot.app
    terms = await current_terms(uow=app.uow(), terms=app.base_terms)
    result = await elections.record_intent(
        uow=app.uow(),
        terms=terms,
        employee_id="E1001",
        grant_numbers=["G00002"],
        identity=Identity(channel="cli", actor="cli:test"),
        now=app.clock.now(),
    )
    return int(result.intent.version), result.intent.recorded_at.isoformat()


async def test_hr_admin_records_a_signed_form_from_slack(slack_bot: SlackBot) -> None:
    version, received = await _intent_for_e1001(slack_bot)
    await slack_bot.command(
        "/offer-admin", f"receive E1001 election {version} fax {received}", user=HR_ADMIN
    )
    (reply,) = await slack_bot.fake.wait_for("chat.postEphemeral")
    assert reply.params["user"] == HR_ADMIN
    async with slack_bot.app.uow() as uow:
        receipts = await uow.elections.receipts_for("E1001")
        trail = await uow.audit.recent(subject="E1001")
    assert [(r.version, r.form) for r in receipts] == [(version, FormKind.ELECTION)]
    assert any(
        e.action == "election.receipt"
        and e.actor == f"slack:{HR_ADMIN}"
        and e.channel == "slack-hr"
        for e in trail
    )


async def test_a_late_form_is_refused_with_the_deadline_quoted(slack_bot: SlackBot) -> None:
    version, _ = await _intent_for_e1001(slack_bot)
    await slack_bot.command(
        "/offer-admin",
        f"receive E1001 election {version} hand 2003-07-24T17:00:01-07:00",
        user=HR_ADMIN,
    )
    (reply,) = await slack_bot.fake.wait_for("chat.postEphemeral")
    text = json.dumps(reply.params)
    assert "5:00 p.m." in text and "July 24, 2003" in text
    async with slack_bot.app.uow() as uow:
        assert await uow.elections.receipts_for("E1001") == []


async def test_malformed_receive_gets_the_usage_and_records_nothing(slack_bot: SlackBot) -> None:
    await slack_bot.command("/offer-admin", "receive E1001 election one fax x", user=HR_ADMIN)
    (reply,) = await slack_bot.fake.wait_for("chat.postEphemeral")
    assert "receive" in json.dumps(reply.params).lower()
    async with slack_bot.app.uow() as uow:
        assert await uow.elections.receipts_for("E1001") == []


async def test_unanswered_lists_questions_the_bot_abstained_on(slack_bot: SlackBot) -> None:
    await slack_bot.event(
        {
            "type": "message",
            "channel_type": "im",
            "channel": "D1001",
            "user": "U1001",
            "text": "what is the best pizza place near the office?",
            "ts": "1.0",
        },
        event_id="EvPizza",
    )
    await slack_bot.fake.wait_for("chat.postMessage")
    await slack_bot.command("/offer-admin", "unanswered", user=HR_ADMIN)
    (reply,) = await slack_bot.fake.wait_for("chat.postEphemeral")
    assert reply.params["user"] == HR_ADMIN
    assert "pizza" in json.dumps(reply.params)


async def test_non_admin_cannot_record_a_receipt(slack_bot: SlackBot) -> None:
    version, received = await _intent_for_e1001(slack_bot)
    await slack_bot.command(
        "/offer-admin", f"receive E1001 election {version} fax {received}", user="U1001"
    )
    (reply,) = await slack_bot.fake.wait_for("chat.postEphemeral")
    assert "only for the HR administrators" in str(reply.params["text"])
    async with slack_bot.app.uow() as uow:
        assert await uow.elections.receipts_for("E1001") == []
