"""Modal submissions: choose grants → confirm → record; withdraw → record."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import blocks
from handlers.slack.flows import SlackDeps

__all__ = ["register"]


def _chosen(view: dict[str, Any]) -> list[str]:
    field = view["state"]["values"].get(blocks.GRANTS_BLOCK, {}).get(blocks.GRANTS_INPUT, {})
    return [o["value"] for o in field.get("selected_options") or []]


def _key(view: dict[str, Any]) -> str:
    return f"view:{view['id']}:{view.get('hash', '')}"


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def identity_of(
        body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> Any:
        return await deps.identities.resolve(
            body["user"]["id"], client=client, home_team=context.team_id
        )

    @app.view(blocks.ELECT_CALLBACK)
    async def on_choose(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """Step 1: a broken rule shows on the field; otherwise the confirmation step."""
        identity = await identity_of(body, client, context)
        await ack(**await deps.election_review(identity, _chosen(view)))

    @app.view(blocks.ELECT_CONFIRM_CALLBACK)
    async def on_confirm(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """Step 2: record the intent (once), then refresh the Home."""
        identity = await identity_of(body, client, context)
        grants = list(json.loads(view.get("private_metadata") or "{}").get("grants", []))
        response = await deps.election_record(identity, grants, key=_key(view))
        await ack(**(response or {}))
        if response is not None:
            await deps.publish_home(user_id=body["user"]["id"], identity=identity, client=client)

    @app.view(blocks.WITHDRAW_CALLBACK)
    async def on_withdraw(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """Record the intent to withdraw (once), then refresh the Home."""
        identity = await identity_of(body, client, context)
        response = await deps.withdraw_record(identity, key=_key(view))
        await ack(**(response or {}))
        if response is not None:
            await deps.publish_home(user_id=body["user"]["id"], identity=identity, client=client)
