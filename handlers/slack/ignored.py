"""Registered last: event and payload types offerbot does not handle are acknowledged and
ignored, so Slack does not retry them (an unhandled request would get a 404)."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncAck, AsyncApp

from handlers.slack.flows import SlackDeps

__all__ = ["register"]

_ANY = re.compile(".*")


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.event(_ANY)
    async def ignore_event() -> None:
        """Nothing to do."""

    @app.action(_ANY)
    async def ignore_action(ack: AsyncAck) -> None:
        """A button offerbot did not render (an old message): acknowledge only."""
        await ack()

    @app.view(_ANY)
    async def ignore_view(ack: AsyncAck) -> None:
        """A modal offerbot does not know (an old version's): close it."""
        await ack()
