"""The outbox's Slack channel: delivers ``channel == "slack"`` rows as DMs, one global pace."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import PermanentDeliveryError, TransientDeliveryError
from handlers.slack.identity import SlackIdentities

if TYPE_CHECKING:
    from bot.domain.hr_records import OutboxMessage

__all__ = ["SlackOutboxTransport", "SlackRateLimiter"]

# Slack errors that no retry will fix
_PERMANENT = frozenset(
    {
        "user_not_found",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "cannot_dm_bot",
        "invalid_auth",
        "not_authed",
        "msg_too_long",
        "no_text",
    }
)


class SlackRateLimiter:
    """One pace for every outbound message (Slack allows about one message per second per
    channel and throttles bursts per workspace): at most ``per_second`` sends, globally."""

    def __init__(self, per_second: float = 1.0) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await asyncio.sleep(delay)


class SlackOutboxTransport:
    """:class:`bot.ports.OutboxTransport` for Slack. ``recipient`` is a Slack user id (the DM is
    opened once and cached) or a channel id. Returns the message ``ts``."""

    channel = "slack"

    def __init__(
        self, client: AsyncWebClient, identities: SlackIdentities, limiter: SlackRateLimiter
    ) -> None:
        self._client, self._identities, self._limiter = client, identities, limiter

    async def send(self, message: OutboxMessage) -> str | None:
        try:
            target = message.recipient
            if target[:1] in ("U", "W"):
                target = await self._identities.dm_channel(target, client=self._client)
            await self._limiter.wait()
            text = (
                f"*{message.subject}*\n{message.body_text}"
                if message.subject
                else message.body_text
            )
            response = await self._client.chat_postMessage(channel=target, text=text)
            for attachment in message.attachments:
                await self._client.files_upload_v2(
                    channel=target, content=attachment.content, filename=attachment.filename
                )
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code in _PERMANENT:
                raise PermanentDeliveryError(f"Slack refused: {code}") from error
            raise TransientDeliveryError(f"Slack error: {code or error}") from error
        except (TimeoutError, OSError) as error:
            raise TransientDeliveryError(f"Slack unreachable: {error}") from error
        return str(response.get("ts") or "") or None
