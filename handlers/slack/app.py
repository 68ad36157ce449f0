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
from bot.services.messaging.slack_deliveries import ANSWER_FAILED, event_left_unanswered
from bot.services.questions.conversation import ConversationDeps
from handlers.slack import actions, app_home, commands, ignored, messages, views
from handlers.slack.flows import ACK_WITHIN_SECONDS, SlackDeps
from handlers.slack.identity import SlackIdentities

__all__ = ["build_slack_app", "failed_direct_message", "slack_client"]

logger = logging.getLogger(__name__)
SURFACES = (messages, app_home, actions, views, commands, ignored)  # ignored: last


def failed_direct_message(body: dict[str, Any]) -> str | None:
    """The DM channel of a person's message that a listener failed on, or None (other kinds of
    request, bot messages, channels that are not a DM)."""
    event = body.get("event") if body.get("type") == "event_callback" else None
    if not isinstance(event, dict) or event.get("type") != "message":
        return None
    if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype"):
        return None
    channel = event.get("channel")
    return channel if isinstance(channel, str) and channel else None


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
        """Unexpected errors: logged once with traceback (the type tells what failed). When Bolt
        acknowledged a direct message before answering it (the default HTTP mode and Socket
        Mode), Slack sends no retry, so the employee is told — otherwise they would wait for an
        answer that never comes — unless the answer got as far as its first write (then a
        parked reply is posted by the worker). With ``process_before_response`` the 500 brings
        Slack's retry, which answers instead."""
        logger.error("Slack listener failed for %s", body.get("type", "?"), exc_info=error)
        channel = None if process_before_response else failed_direct_message(body)
        if channel is None:
            return
        event_id = body.get("event_id")
        try:
            if isinstance(event_id, str) and not await event_left_unanswered(
                conversation, event_id
            ):
                return  # claimed: the reply is parked, or the answer is recorded
        except Exception:  # the database may be what failed: then nothing was parked either
            logger.warning("could not read whether the failed event was answered")
        try:
            await client.chat_postMessage(channel=channel, text=ANSWER_FAILED.text)
        except Exception:  # Slack itself may be what failed; the log line above stands
            logger.warning("could not tell the employee that their message failed")

    return app, deps
