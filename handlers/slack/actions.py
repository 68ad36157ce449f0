"""Buttons: follow-up questions under answers, and the App Home's election buttons."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.identity import Identity
from handlers.slack import blocks
from handlers.slack.flows import SlackDeps

__all__ = ["register"]

# The words a follow-up button asks on the person's behalf.
_QUESTIONS = {"grants": "grants", "deadline": "deadline", "talk_to_hr": "contacts", "help": "help"}


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def identity_of(
        body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> Identity:
        return await deps.identities.resolve(
            body["user"]["id"], client=client, home_team=context.team_id
        )

    @app.action(re.compile("^" + re.escape(blocks.REPLY_ACTION_PREFIX)))
    async def on_follow_up(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """ "My grants", "Deadline", "Talk to HR": answered in the person's DM."""
        await ack()
        question = _QUESTIONS.get(action.get("value", ""), "help")
        identity = await identity_of(body, client, context)
        reply = await deps.reply_to(question, identity)
        channel = await deps.identities.dm_channel(body["user"]["id"], client=client)
        await client.chat_postMessage(
            channel=channel, text=blocks.reply_text(reply), blocks=blocks.reply_blocks(reply)
        )

    @app.action(blocks.HOME_ACTIONS["elect"])
    async def on_elect(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """Open the election modal at once, then fill it in."""
        await ack()
        identity = identity_of(body, client, context)
        await _open_then_fill(client, body, "Record intent", deps.election_view, identity)

    @app.action(blocks.HOME_ACTIONS["withdraw"])
    async def on_withdraw(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """Open the withdrawal confirmation."""
        await ack()
        identity = identity_of(body, client, context)
        await _open_then_fill(client, body, "Withdraw", deps.withdraw_view, identity)

    @app.action(blocks.HOME_ACTIONS["form"])
    async def on_form(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """Send the pre-filled form of the latest intent to the DM."""
        await ack()
        identity = await identity_of(body, client, context)
        await deps.send_form(identity, client=client, user_id=body["user"]["id"])

    @app.action(blocks.HOME_ACTIONS["compare"])
    async def on_compare(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """Old grants vs the new option (an illustration), in the DM."""
        await ack()
        reply = await deps.compare(await identity_of(body, client, context))
        channel = await deps.identities.dm_channel(body["user"]["id"], client=client)
        await client.chat_postMessage(
            channel=channel, text=blocks.reply_text(reply), blocks=blocks.reply_blocks(reply)
        )


async def _open_then_fill(
    client: AsyncWebClient,
    body: dict[str, Any],
    title: str,
    build: Callable[[Identity], Awaitable[dict[str, Any]]],
    identity: Awaitable[Identity],
) -> None:
    """``views.open`` first (the trigger_id expires in 3 s), then the slow part fills it in."""
    opened = await client.views_open(
        trigger_id=body["trigger_id"], view=blocks.loading_modal(title)
    )
    await client.views_update(view_id=opened["view"]["id"], view=await build(await identity))
