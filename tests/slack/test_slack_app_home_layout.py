"""The App Home's layout through Bolt: time left and the next step first, the grants as rows,
then the buttons; inside Slack's limits for 60 grants. "Compare old vs new": formatted money,
no command-line flags, a neutral labelled illustration."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from handlers.slack import blocks
from tests.slack.conftest import SlackBot
from tests.slack.many_grants import add_employee_with_grants, slack_limit_problems
from tests.slack.test_slack_home_buttons import (
    _RECOMMENDING,
    AFTER_DEADLINE,
    _click,
    _record_intent,
)
from tests.slack.test_slack_surfaces import _open_home


def _fields(view: dict[str, Any]) -> list[str]:
    return [f["text"] for b in view["blocks"] for f in b.get("fields", [])]


def _row_of(view: dict[str, Any], grant: str) -> tuple[str, str]:
    """A grant's row: (grant, type, date, price | shares, eligibility)."""
    fields = _fields(view)
    i = next(i for i, f in enumerate(fields) if f.startswith(f"*{grant}*"))
    return fields[i], fields[i + 1]


async def test_home_leads_with_time_left_and_the_next_step_then_grant_rows_then_buttons(
    slack_bot: SlackBot,
) -> None:
    view = await _open_home(slack_bot, "U1001")
    assert slack_limit_problems(view) == []
    first, second, third = view["blocks"][:3]
    assert first["type"] == "header"
    assert re.fullmatch(  # the simulated clock runs: 8 hours less a few seconds is 7 hours
        r"\*14 days, [78] hours left\* · "
        r"The offer expires at 5:00 p\.m\. PDT on Thursday, July 24, 2003\.",
        second["text"]["text"],
    )
    assert third["text"]["text"].startswith("*Next step:* Nothing is recorded for you.")
    assert view["blocks"][-1]["type"] == "actions"
    assert _row_of(view, "G00001") == (
        "*G00001* · ISO\nApr 16, 2001 · $29.07",
        "300 unexercised → *300 new*\n✓ Eligible",
    )
    grant, why = _row_of(view, "G00004")
    assert "$1.89" in grant and why.startswith("1,500 unexercised\n✗ Not eligible: the exercise")
    buttons = [e["text"]["text"] for e in view["blocks"][-1]["elements"]]
    assert buttons == ["Record intent", "Compare old vs new"]


async def test_the_next_step_follows_the_recorded_intent(slack_bot: SlackBot) -> None:
    await _record_intent(slack_bot, "U1001", ["G00002"])
    view = await _open_home(slack_bot, "U1001")
    text = json.dumps(view)
    assert view["blocks"][2]["text"]["text"].startswith(
        "*Next step:* Sign and date the Election Form (version 1) and deliver it by fax or by hand"
    )
    assert "Your current intent (version 1, recorded 9:00 a.m. PDT" in text
    assert "tender 1 grant (G00002; 1,000 unexercised shares)" in text
    assert "HR has not yet received your signed Election Form" in text
    buttons = [e["text"]["text"] for e in view["blocks"][-1]["elements"]]
    assert buttons[:2] == ["Change my intent", "Withdraw"]


async def test_home_of_an_employee_with_60_grants_stays_inside_slacks_limits(
    slack_bot: SlackBot,
) -> None:
    await add_employee_with_grants(slack_bot.app.uow(), number=1900, eligible=60)
    view = await _open_home(slack_bot, "U1900")
    assert slack_limit_problems(view) == [] and len(view["blocks"]) <= 100
    shown = [f for f in _fields(view) if f.startswith("*M1900-")]
    assert len(shown) == blocks.HOME_GRANT_ROWS == 20
    assert "60 of your 61 grants can be tendered" in json.dumps(view)
    assert "M1900-061" not in json.dumps(view)  # the ineligible one gives way to eligible ones
    text = json.dumps(view, ensure_ascii=False)
    assert "Showing 20 of your 61 grants (eligible ones first); 41 more are not shown" in text
    assert "Send me “grants” in a direct message to see all of them." in text

    # …and "grants" in a DM does show every one of them, in one message within Slack's limits
    dm = {
        "type": "message",
        "channel_type": "im",
        "channel": "D1900",
        "user": "U1900",
        "text": "grants",
        "ts": "1057852800.000100",
    }
    await slack_bot.event(dm, event_id="EvGrants60")
    (post,) = await slack_bot.fake.wait_for("chat.postMessage")
    message = {"blocks": post.params["blocks"]}
    assert slack_limit_problems(message, message=True) == []
    listed = set(re.findall(r"M1900-\d{3}", json.dumps(message)))
    assert listed == {f"M1900-{i:03d}" for i in range(1, 62)}


async def test_unverified_home_shows_time_left_and_no_grants(slack_bot: SlackBot) -> None:
    slack_bot.fake.users["U7777"] = {"profile": {"email": "stranger@elsewhere.test"}}
    view = await _open_home(slack_bot, "U7777")
    assert slack_limit_problems(view) == []
    assert "left* · The offer expires at 5:00 p.m. PDT" in view["blocks"][1]["text"]["text"]
    assert not any(b["type"] == "actions" for b in view["blocks"])
    assert "G0000" not in json.dumps(view)


@pytest.mark.parametrize("slack_now", [AFTER_DEADLINE])
async def test_after_the_deadline_the_home_says_closed_and_offers_no_election(
    slack_bot: SlackBot,
) -> None:
    view = await _open_home(slack_bot, "U1001")
    assert slack_limit_problems(view) == []
    assert view["blocks"][1]["text"]["text"] == (
        "*The offer is closed* · It expired at 5:00 p.m. PDT on Thursday, July 24, 2003."
    )
    assert view["blocks"][2]["text"]["text"] == (
        "*Next step:* Nothing: the offer is closed, and no intent to tender was recorded for you."
    )
    buttons = [e["action_id"] for e in view["blocks"][-1]["elements"]]
    assert buttons == [blocks.HOME_ACTIONS["compare"]]


_MONEY = re.compile(r"\$\d{1,3}(,\d{3})*\.\d{2}")
_BARE_AMOUNT = re.compile(r"(?<![$\d,])\d{3,}(\.\d{2})\b")  # 78880.00 without "$" and commas


async def test_compare_formats_money_explains_neutrally_and_names_no_flags(
    slack_bot: SlackBot,
) -> None:
    await slack_bot.interaction(_click("U1001", "compare"))
    (post,) = await slack_bot.fake.wait_for("chat.postMessage")
    assert slack_limit_problems({"blocks": post.params["blocks"]}, message=True) == []
    shown = str(post.params["text"]) + " " + json.dumps(post.params["blocks"], ensure_ascii=False)
    assert str(post.params["text"]) == "Illustration only, not a forecast."
    assert "Share price $29.07* — Old grants' value: $78,880.00" in shown
    assert "New option at $2.50: $87,681.00" in shown
    assert "What the figures mean:" in shown and "The decision is yours alone." in shown
    assert _MONEY.search(shown) and not _BARE_AMOUNT.search(shown), _BARE_AMOUNT.search(shown)
    assert "--" not in shown and "pass " not in shown
    assert not _RECOMMENDING.search(shown), _RECOMMENDING.search(shown)
