"""Modal submissions: choose grants → confirm → record; withdraw → record.

Slack waits 3 s for a submission's acknowledgement (and Bolt answers 404 when no listener
acknowledges). Each listener acknowledges with the result when the work is done within
:attr:`SlackDeps.ack_within`; otherwise it acknowledges at once with a "one moment" modal and
replaces it with the result (``views.update``) when the work is done.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.identity import Identity
from handlers.slack import blocks
from handlers.slack.flows import SlackDeps

__all__ = ["register"]


def _chosen(view: dict[str, Any]) -> list[str]:
    return blocks.chosen_values(view.get("state") or {})


def _key(view: dict[str, Any]) -> str:
    return f"view:{view['id']}:{view.get('hash', '')}"


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def identity_of(
        body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> Identity:
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

        async def review() -> dict[str, Any]:
            return await deps.election_review(
                await identity_of(body, client, context), _chosen(view)
            )

        await _ack_in_time(deps, ack, client, view, "Record intent", review())

    @app.view(blocks.ELECT_CONFIRM_CALLBACK)
    async def on_confirm(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """Step 2: record the intent (once), then refresh the Home."""
        grants = list(json.loads(view.get("private_metadata") or "{}").get("grants", []))
        identity = asyncio.ensure_future(identity_of(body, client, context))

        async def record() -> dict[str, Any] | None:
            return await deps.election_record(await identity, grants, key=_key(view))

        if await _ack_in_time(deps, ack, client, view, "Record intent", record()):
            await deps.publish_home(
                user_id=body["user"]["id"], identity=await identity, client=client
            )

    @app.view(blocks.WITHDRAW_CALLBACK)
    async def on_withdraw(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """Record the intent to withdraw (once), then refresh the Home."""
        identity = asyncio.ensure_future(identity_of(body, client, context))

        async def record() -> dict[str, Any] | None:
            return await deps.withdraw_record(await identity, key=_key(view))

        if await _ack_in_time(deps, ack, client, view, "Withdraw", record()):
            await deps.publish_home(
                user_id=body["user"]["id"], identity=await identity, client=client
            )


async def _ack_in_time(
    deps: SlackDeps,
    ack: AsyncAck,
    client: AsyncWebClient,
    view: dict[str, Any],
    title: str,
    work: Awaitable[dict[str, Any] | None],
) -> bool:
    """Acknowledge with ``work``'s response if it is ready within the budget, else at once
    with a "one moment" modal that its response then replaces. ``False`` when ``work`` had
    nothing to say (a repeated submission: acknowledged, nothing changed)."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=deps.ack_within)
    if task in done:
        response = task.result()
        await ack(**(response or {}))
        return response is not None
    await ack(response_action="update", view=blocks.loading_modal(title))
    response = await task
    if response is None:
        return False
    await client.views_update(view_id=view["id"], view=blocks.late_view(response))
    return True
