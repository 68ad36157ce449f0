"""Questions in direct messages and @mentions (answers stay in the thread of a mention)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.identity import Identity
from handlers.slack.flows import SlackDeps

__all__ = ["register"]

_MENTION = re.compile(r"<@[A-Z0-9]+>")


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.event("message")
    async def on_direct_message(
        body: dict[str, Any],
        event: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """A DM from a person: answer it in the DM."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return  # edits, joins, bot echoes, channel chatter: not questions
        identity = await deps.identities.resolve(
            event.get("user"), client=client, home_team=context.team_id
        )
        await deps.answer_event(
            event_id=body["event_id"],
            text=event.get("text") or "",
            identity=identity,
            client=client,
            channel=event["channel"],
            thread_ts=event.get("thread_ts"),
        )

    @app.event("app_mention")
    async def on_mention(
        body: dict[str, Any],
        event: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """An @mention in a channel: answer in its thread (personal data only in DMs)."""
        identity = await deps.identities.resolve(
            event.get("user"), client=client, home_team=context.team_id
        )
        public = Identity(channel=identity.channel, actor=identity.actor)
        await deps.answer_event(
            event_id=body["event_id"],
            text=_MENTION.sub("", event.get("text") or "").strip(),
            identity=public,
            client=client,
            channel=event["channel"],
            thread_ts=event.get("thread_ts") or event.get("ts"),
        )
