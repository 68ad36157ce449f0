"""The election modal with 1, 14 and 60 grants, through Bolt's real pipeline: every eligible
grant is offered within Slack's limits, a selection spread over every group is recorded exactly,
and "Change my intent" opens the modal with the current intent's grants ticked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.slack import blocks
from tests.slack.conftest import SlackBot
from tests.slack.many_grants import (
    add_employee_with_grants,
    options_by_block,
    slack_limit_problems,
)
from tests.slack.test_slack_home_buttons import _click
from tests.slack.test_slack_surfaces import _submission

NUMBER = 1900
USER, EMPLOYEE = f"U{NUMBER}", f"E{NUMBER}"


async def _modal(bot: SlackBot, *, opened_by: str = "command") -> dict[str, Any]:
    before = len(bot.fake.of("views.update"))
    if opened_by == "command":
        await bot.command("/offer", "elect", user=USER)
    else:
        await bot.interaction(_click(USER, "elect"))
    updates = await bot.fake.wait_for("views.update", before + 1)
    return dict(updates[-1].params["view"])


def _state(view: dict[str, Any], picks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The ``state.values`` Slack sends back for ``picks`` (block_id → options ticked)."""
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    return {
        "values": {
            block_id: {
                blocks.GRANTS_INPUT: {
                    "type": kinds[block_id],
                    "selected_options": [{"value": o["value"]} for o in options],
                }
            }
            for block_id, options in picks.items()
        }
    }


@pytest.mark.parametrize(("eligible", "groups"), [(1, 1), (14, 2), (60, 6)])
async def test_every_eligible_grant_is_offered_and_a_spread_selection_is_recorded(
    slack_bot: SlackBot, eligible: int, groups: int
) -> None:
    expected = await add_employee_with_grants(slack_bot.app.uow(), number=NUMBER, eligible=eligible)
    view = await _modal(slack_bot)
    assert slack_limit_problems(view) == []
    offered = options_by_block(view)
    assert len(offered) == groups
    values = [o["value"] for options in offered.values() for o in options]
    assert sorted(values) == sorted(expected)  # every eligible grant once; the ineligible not

    # the first and the last choice of every group (the split pair is the very last)
    picks = {b: [options[0], options[-1]][: len(options)] for b, options in offered.items()}
    picks = {b: list({o["value"]: o for o in chosen}.values()) for b, chosen in picks.items()}
    wanted = {n for chosen in picks.values() for o in chosen for n in o["value"].split("+")}
    submitted = _submission(USER, blocks.ELECT_CALLBACK, state=_state(view, picks))
    review = json.loads(await (await slack_bot.interaction(submitted)).text())
    assert review["response_action"] == "update", review
    confirm = review["view"]
    assert slack_limit_problems(confirm) == []
    assert set(json.loads(confirm["private_metadata"])["grants"]) == wanted

    recorded = await slack_bot.interaction(
        _submission(
            USER,
            blocks.ELECT_CONFIRM_CALLBACK,
            private_metadata=confirm["private_metadata"],
            id="VCONF",
            hash="hc",
        )
    )
    assert json.loads(await recorded.text())["view"]["title"]["text"] == "Intent recorded"
    async with slack_bot.app.uow() as uow:
        (intent,) = await uow.elections.intents_for(EMPLOYEE)
    assert set(intent.grant_numbers) == wanted

    # "Change my intent" on the Home: the same modal, the recorded grants ticked
    again = await _modal(slack_bot, opened_by="home")
    assert slack_limit_problems(again) == []
    assert again["title"]["text"] == "Change intent"
    ticked = {
        b["block_id"]: [o["value"] for o in b["element"].get("initial_options", [])]
        for b in again["blocks"]
        if b["type"] == "input"
    }
    assert ticked == {b: [o["value"] for o in chosen] for b, chosen in picks.items()}


async def test_an_empty_selection_over_several_groups_is_refused_on_the_field(
    slack_bot: SlackBot,
) -> None:
    await add_employee_with_grants(slack_bot.app.uow(), number=NUMBER, eligible=14)
    view = await _modal(slack_bot)
    assert all(b.get("optional") for b in view["blocks"] if b["type"] == "input")
    submitted = _submission(USER, blocks.ELECT_CALLBACK, state=_state(view, {}))
    body = json.loads(await (await slack_bot.interaction(submitted)).text())
    assert body["response_action"] == "errors"
    assert "at least one grant" in body["errors"][blocks.GRANTS_BLOCK]
    async with slack_bot.app.uow() as uow:
        assert await uow.elections.intents_for(EMPLOYEE) == []


def test_past_what_checkbox_groups_hold_the_modal_uses_multi_selects_of_100() -> None:
    """1,200 choices: 100 blocks of ten checkboxes cannot hold them; multi-selects can."""
    choices = [blocks.Choice(f"G{i:05d}", f"G{i:05d} (ISO)", "granted …") for i in range(1200)]
    view = blocks.election_modal(choices, explanation="Pick.", initial=["G00005", "G01150"])
    assert slack_limit_problems(view) == []
    offered = options_by_block(view)
    assert len(offered) == 12
    assert {e["type"] for b in view["blocks"] if b["type"] == "input" for e in [b["element"]]} == {
        "multi_static_select"
    }
    assert [o["value"] for options in offered.values() for o in options] == [
        c.value for c in choices
    ]
    state = {
        "values": {
            "grants.12": {"chosen": {"selected_options": [{"value": "G01150"}]}},
            "grants": {"chosen": {"selected_options": [{"value": "G00005"}]}},
            "elsewhere": {"chosen": {"selected_options": [{"value": "X"}]}},
        }
    }
    assert blocks.chosen_values(state) == ["G00005", "G01150"]
