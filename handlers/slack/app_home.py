"""The personal App Home tab, published on app_home_opened."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.flows import SlackDeps

__all__ = ["register"]


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """Publish this person's Home (their grants only if verified)."""
        if event.get("tab", "home") != "home":
            return
        user_id = event["user"]
        identity = await deps.identities.resolve(user_id, client=client, home_team=context.team_id)
        await deps.publish_home(user_id=user_id, identity=identity, client=client)
