"""The Bolt app: built from settings and the core's dependencies, never at import time."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.services.questions.conversation import ConversationDeps
from handlers.slack import actions, app_home, commands, ignored, messages, views
from handlers.slack.flows import ACK_WITHIN_SECONDS, SlackDeps
from handlers.slack.identity import SlackIdentities

__all__ = ["build_slack_app", "slack_client"]

logger = logging.getLogger(__name__)
SURFACES = (messages, app_home, actions, views, commands, ignored)  # ignored: last


def slack_client(*, token: str, base_url: str, max_rate_limit_retries: int = 3) -> AsyncWebClient:
    """A Web API client that honours 429 ``Retry-After`` and retries connection/5xx errors."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_slack_app(
    *,
    conversation: ConversationDeps,
    token: str,
    signing_secret: str,
    api_url: str,
    hr_admins: frozenset[str] | tuple[str, ...] = (),
    process_before_response: bool = False,
    settings: Settings | None = None,
    ack_within: float = ACK_WITHIN_SECONDS,
) -> tuple[AsyncApp, SlackDeps]:
    """The AsyncApp with every surface registered, and the deps its listeners share;
    ``ack_within``: seconds a view submission's work may take before it is acknowledged."""
    client = slack_client(token=token, base_url=api_url)
    app = AsyncApp(
        # Bolt gives each logger it builds the level of this one — without it, the root's, so
        # at INFO its request verification logs a refused request's whole body
        logger=logging.getLogger("slack_bolt"),
        client=client,
        signing_secret=signing_secret,
        process_before_response=process_before_response,
        ignoring_self_events_enabled=True,
    )
    deps = SlackDeps(
        conversation=conversation,
        identities=SlackIdentities(conversation),
        hr_admins=frozenset(hr_admins),
        settings=settings,
        ack_within=ack_within,
    )
    for surface in SURFACES:
        surface.register(app, deps)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        """Unexpected errors: logged once with traceback (the type tells what failed)."""
        logger.error("Slack listener failed for %s", body.get("type", "?"), exc_info=error)

    return app, deps
