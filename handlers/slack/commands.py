"""Slash commands: ``/offer`` for everyone, ``/offer-admin`` for HR admins only."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.replies import Reply
from handlers.slack import blocks
from handlers.slack.flows import SlackDeps

__all__ = ["register"]

# /offer SUBCOMMAND → the words asked on the person's behalf
_ASKS = {"help": "help", "grants": "grants", "status": "status", "deadline": "deadline"}


async def _ephemeral(client: AsyncWebClient, command: dict[str, Any], reply: Reply) -> None:
    await client.chat_postEphemeral(
        channel=command["channel_id"],
        user=command["user_id"],
        text=blocks.reply_text(reply),
        blocks=blocks.reply_blocks(reply),
    )


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.command("/offer")
    async def on_offer(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """/offer help|grants|status|deadline|elect|withdraw|ask QUESTION."""
        await ack()
        sub, _, rest = (command.get("text") or "").strip().partition(" ")
        sub = sub.lower()
        if sub in ("elect", "withdraw"):  # open the modal before anything slow
            title = "Record intent" if sub == "elect" else "Withdraw"
            opened = await client.views_open(
                trigger_id=command["trigger_id"], view=blocks.loading_modal(title)
            )
        identity = await deps.identities.resolve(
            command["user_id"], client=client, home_team=context.team_id
        )
        if sub == "elect":
            view = await deps.election_view(identity)
            await client.views_update(view_id=opened["view"]["id"], view=view)
        elif sub == "withdraw":
            view = await deps.withdraw_view(identity)
            await client.views_update(view_id=opened["view"]["id"], view=view)
        else:
            question = rest if sub == "ask" else _ASKS.get(sub, "help")
            await _ephemeral(client, command, await deps.reply_to(question or "help", identity))

    @app.command("/offer-admin")
    async def on_offer_admin(
        ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """HR only: the admin list is checked on every command; refusals are audited."""
        await ack()
        reply = await deps.admin(user_id=command["user_id"], text=command.get("text") or "")
        await _ephemeral(client, command, reply)
