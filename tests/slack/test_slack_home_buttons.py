"""The App Home's buttons through Bolt: the pre-filled form, the old-vs-new model, withdraw."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.services.elections import employee_status
from bot.services.identity import Identity
from bot.services.offer.live_offer import current_terms
from handlers.slack import blocks
from tests.slack.conftest import TEAM, SlackBot
from tests.slack.test_slack_surfaces import _open_home, _submission

AFTER_DEADLINE = "2003-07-25T09:00:00-07:00"


def _click(user: str, action: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM},
        "trigger_id": f"trig-{action}",
        "container": {"type": "view", "view_id": "VHOME"},
        "view": {"id": "VHOME", "type": "home", "hash": "h", "private_metadata": ""},
        "actions": [
            {
                "type": "button",
                "block_id": "home_actions",
                "action_id": blocks.HOME_ACTIONS[action],
                "value": blocks.HOME_ACTIONS[action],
                "action_ts": "1.0",
            }
        ],
    }


async def _record_intent(bot: SlackBot, user: str, grants: list[str]) -> None:
    submit = _submission(
        user,
        blocks.ELECT_CONFIRM_CALLBACK,
        private_metadata=json.dumps({"grants": grants}),
        id=f"VCONF{user}",
        hash="hc",
    )
    response = await bot.interaction(submit)
    assert json.loads(await response.text())["response_action"] == "update"


def _buttons(view: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def test_download_form_uploads_the_latest_intents_pdf_to_the_owners_dm(
    slack_bot: SlackBot,
) -> None:
    await _record_intent(slack_bot, "U1001", ["G00002"])
    assert blocks.HOME_ACTIONS["form"] in _buttons(await _open_home(slack_bot, "U1001"))

    response = await slack_bot.interaction(_click("U1001", "form"))
    assert response.status == 200
    (completed,) = await slack_bot.fake.wait_for("files.completeUploadExternal")
    (asked,) = slack_bot.fake.of("files.getUploadURLExternal")
    (upload,) = slack_bot.fake.of("upload")
    pdf = upload.params["bytes"]
    assert pdf.startswith(b"%PDF") and len(pdf) == int(asked.params["length"])
    assert completed.params["channel_id"] == "D1001"
    assert "offer-form-v1.pdf" in asked.params["filename"]
    async with slack_bot.app.uow() as uow:
        trail = await uow.audit.recent(subject="E1001")
    assert any(e.action == "election.form.download" and e.actor == "U1001" for e in trail)

    # someone else pressing the button gets nothing of E1001's: no intent of theirs, no file
    await slack_bot.interaction(_click("U1002", "form"))
    (notice,) = await slack_bot.fake.wait_for("chat.postMessage")
    assert notice.params["channel"] == "D1002"
    assert len(slack_bot.fake.of("upload")) == 1
    assert len(slack_bot.fake.of("files.completeUploadExternal")) == 1


_RECOMMENDING = re.compile(
    r"\b(recommend\w*|should|advis\w*|suggest\w*|better|worse|best|encourage\w*|"
    r"you must|good (deal|idea|choice)|worth it)\b",
    re.IGNORECASE,
)


async def test_compare_old_vs_new_is_a_labelled_illustration_without_advice(
    slack_bot: SlackBot,
) -> None:
    await slack_bot.interaction(_click("U1001", "compare"))
    (post,) = await slack_bot.fake.wait_for("chat.postMessage")
    assert post.params["channel"] == "D1001"
    text = str(post.params["text"]) + " " + json.dumps(post.params["blocks"])
    assert str(post.params["text"]).startswith("Illustration only")
    assert "Intrinsic value (illustration)" in text
    assert "New option at $" in text and "Old grants' value" in text
    assert not _RECOMMENDING.search(text), _RECOMMENDING.search(text)


async def test_withdraw_from_home_confirms_then_records_a_new_version(
    slack_bot: SlackBot,
) -> None:
    await _record_intent(slack_bot, "U1001", ["G00002"])
    assert blocks.HOME_ACTIONS["withdraw"] in _buttons(await _open_home(slack_bot, "U1001"))

    await slack_bot.interaction(_click("U1001", "withdraw"))
    (opened,) = await slack_bot.fake.wait_for("views.open")
    assert opened.params["trigger_id"] == "trig-withdraw"
    (update,) = await slack_bot.fake.wait_for("views.update")
    confirm = update.params["view"]
    assert confirm["callback_id"] == blocks.WITHDRAW_CALLBACK
    assert confirm["submit"]["text"] == "Withdraw"  # a confirmation step: nothing recorded yet
    async with slack_bot.app.uow() as uow:
        assert len(await uow.elections.intents_for("E1001")) == 1

    before = len(slack_bot.fake.of("views.publish"))
    submitted = await slack_bot.interaction(
        _submission("U1001", blocks.WITHDRAW_CALLBACK, id="VWD", hash="hw")
    )
    body = json.loads(await submitted.text())
    assert body["response_action"] == "update"
    assert body["view"]["title"]["text"] == "Withdrawal recorded"
    await slack_bot.fake.wait_for("views.publish", before + 1)  # the Home is refreshed

    app = slack_bot.app
    terms = await current_terms(uow=app.uow(), terms=app.base_terms)
    status = await employee_status(
        uow=app.uow(),
        terms=terms,
        employee_id="E1001",
        identity=Identity(channel="cli", actor="test", employee_id="E1001"),
        now=app.clock.now(),
    )
    assert [(i.version, i.kind.value) for i in status.history] == [(1, "tender"), (2, "withdraw")]
    assert status.latest is not None and status.latest.version == 2


@pytest.mark.parametrize("slack_now", [AFTER_DEADLINE])
async def test_withdraw_after_the_deadline_explains_and_records_nothing(
    slack_bot: SlackBot,
) -> None:
    await slack_bot.interaction(_click("U1001", "withdraw"))
    (update,) = await slack_bot.fake.wait_for("views.update")
    closed = update.params["view"]
    assert closed["title"]["text"] == "Offer closed" and "submit" not in closed
    assert "July 24, 2003" in json.dumps(closed)

    # a stale withdraw modal submitted anyway: refused, nothing recorded
    submitted = await slack_bot.interaction(
        _submission("U1001", blocks.WITHDRAW_CALLBACK, id="VWD2", hash="hw")
    )
    body = json.loads(await submitted.text())
    assert body["view"]["title"]["text"] == "Not recorded"
    async with slack_bot.app.uow() as uow:
        assert await uow.elections.intents_for("E1001") == []
