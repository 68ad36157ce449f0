"""App Home, the election modal, slash commands, HR admin refusal, 429 Retry-After."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.domain.records import AuditEntry
from handlers.slack import blocks
from tests.slack.conftest import DEMO_NOW, HR_ADMIN, SlackBot


def _text_of(view: dict[str, Any]) -> str:
    return json.dumps(view)


async def _open_home(bot: SlackBot, user: str) -> dict[str, Any]:
    before = len(bot.fake.of("views.publish"))
    await bot.event(
        {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"},
        event_id=f"EvHome{user}{before}",
    )
    published = await bot.fake.wait_for("views.publish", before + 1)
    return dict(published[-1].params["view"])


def _submission(user: str, callback_id: str, **view: Any) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": "T0001"},
        "trigger_id": "trig-2",
        "view": {
            "id": "VSUB1",
            "hash": "hash1",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": "",
            "state": {"values": {}},
            **view,
        },
    }


def _choose(user: str, values: list[str]) -> dict[str, Any]:
    state = {
        blocks.GRANTS_BLOCK: {
            blocks.GRANTS_INPUT: {
                "type": "checkboxes",
                "selected_options": [{"value": v} for v in values],
            }
        }
    }
    return _submission(user, blocks.ELECT_CALLBACK, state={"values": state})


async def test_app_home_lists_eligible_grants_ineligible_reason_deadline_buttons(
    slack_bot: SlackBot,
) -> None:
    view = await _open_home(slack_bot, "U1001")
    text = _text_of(view)
    for grant in ("G00001", "G00002", "G00003"):
        assert grant in text
    fields = [f["text"] for b in view["blocks"] for f in b.get("fields", [])]
    row = next(i for i, f in enumerate(fields) if "G00004" in f)  # a row: grant | shares, why
    assert "Not eligible:" in fields[row + 1]
    assert "July 24, 2003" in text and "5:00 p.m." in text and "PDT" in text
    buttons = [
        e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert blocks.HOME_ACTIONS["elect"] in buttons and blocks.HOME_ACTIONS["compare"] in buttons
    async with slack_bot.app.uow() as uow:
        trail = await uow.audit.recent(subject="E1001")
    assert any(e.action == "grants.view" and e.channel == "slack" for e in trail)


async def test_unknown_slack_user_gets_no_personal_data_on_home(slack_bot: SlackBot) -> None:
    slack_bot.fake.users["U7777"] = {"profile": {"email": "stranger@elsewhere.test"}}
    view = await _open_home(slack_bot, "U7777")
    assert "G0000" not in _text_of(view)


async def test_guest_mapped_by_id_gets_no_personal_data(slack_bot: SlackBot) -> None:
    slack_bot.fake.users["U1001"] = {"is_restricted": True}
    view = await _open_home(slack_bot, "U1001")
    assert "G00002" not in _text_of(view)


async def test_election_modal_submit_records_an_intent_visible_in_status(
    slack_bot: SlackBot,
) -> None:
    await slack_bot.command("/offer", "elect", user="U1001")
    (opened,) = await slack_bot.fake.wait_for("views.open")
    assert opened.params["trigger_id"] == "trig-1"
    (update,) = await slack_bot.fake.wait_for("views.update")
    view = update.params["view"]
    checkboxes = [b for b in view["blocks"] if b.get("block_id") == blocks.GRANTS_BLOCK]
    values = [o["value"] for o in checkboxes[0]["element"]["options"]]
    assert values == ["G00001", "G00002", "G00003"]

    review = await slack_bot.interaction(_choose("U1001", ["G00002"]))
    body = json.loads(await review.text())
    assert body["response_action"] == "update"
    confirm = body["view"]
    assert "G00002" in _text_of(confirm) and "fax or by hand" in _text_of(confirm)

    submit = _submission(
        "U1001",
        blocks.ELECT_CONFIRM_CALLBACK,
        private_metadata=confirm["private_metadata"],
        id="VCONF",
        hash="hc",
    )
    recorded = await slack_bot.interaction(submit)
    assert json.loads(await recorded.text())["response_action"] == "update"
    again = await slack_bot.interaction(submit)  # the same submission twice: recorded once
    assert again.status == 200

    result = await asyncio.to_thread(  # the CLI runs its own event loop
        CliRunner().invoke,
        cli,
        ["status", "E1001", "--json"],
        env={"OFFERBOT_DATABASE_URL": slack_bot.db_url, "OFFERBOT_NOW": DEMO_NOW},
    )
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert "G00002" in json.dumps(status)
    async with slack_bot.app.uow() as uow:
        assert len(await uow.elections.intents_for("E1001")) == 1


async def test_half_of_an_iso_nso_pair_is_refused_on_the_field(slack_bot: SlackBot) -> None:
    response = await slack_bot.interaction(_choose("U1002", ["G00005"]))
    body = json.loads(await response.text())
    assert body["response_action"] == "errors"
    assert "G00006" in body["errors"][blocks.GRANTS_BLOCK]
    async with slack_bot.app.uow() as uow:
        assert await uow.elections.intents_for("E1002") == []


async def test_non_admin_offer_admin_is_refused_and_audited(slack_bot: SlackBot) -> None:
    response = await slack_bot.command("/offer-admin", "report", user="U1001")
    assert response.status == 200
    (reply,) = await slack_bot.fake.wait_for("chat.postEphemeral")
    assert reply.params["user"] == "U1001"
    assert "only for the HR administrators" in str(reply.params["text"])
    async with slack_bot.app.uow() as uow:
        trail: list[AuditEntry] = await uow.audit.recent()
    assert any(e.action == "slack.admin.refused" and e.actor == "U1001" for e in trail)


async def test_hr_admin_gets_the_report(slack_bot: SlackBot) -> None:
    await slack_bot.command("/offer-admin", "report", user=HR_ADMIN)
    (reply,) = await slack_bot.fake.wait_for("chat.postEphemeral")
    assert "Eligible:" in json.dumps(reply.params["blocks"])


async def test_offer_deadline_subcommand_answers_privately(slack_bot: SlackBot) -> None:
    await slack_bot.command("/offer", "deadline", user="U1001")
    (reply,) = await slack_bot.fake.wait_for("chat.postEphemeral")
    assert "July 24, 2003" in json.dumps(reply.params["blocks"])


async def test_rate_limited_post_is_retried_after_retry_after(slack_bot: SlackBot) -> None:
    limited = {"count": 0}

    def once_429(params: dict[str, Any]) -> web.Response | None:
        if limited["count"] == 0:
            limited["count"] += 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        return None

    slack_bot.fake.overrides["chat.postEphemeral"] = once_429
    await slack_bot.command("/offer", "deadline", user="U1001")
    calls = await slack_bot.fake.wait_for("chat.postEphemeral", 2, timeout=20)
    assert len(calls) == 2 and limited["count"] == 1
