"""The outbox's Slack channel: delivers ``channel == "slack"`` rows as DMs or channel posts, at one
global pace that every sender shares, Retry-After included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import PermanentDeliveryError, TransientDeliveryError
from handlers.slack.dm_channels import OPEN_AHEAD_PER_MINUTE, DmChannels
from handlers.slack.identity import SlackIdentities

if TYPE_CHECKING:
    from bot.domain.hr_records import OutboxMessage
    from bot.domain.slack_records import SlackPost

__all__ = ["SlackOutboxTransport", "SlackRateLimiter"]

_T = TypeVar("_T")

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
    """One pace for every outbound Slack call (Slack allows about one message per second per
    channel and throttles bursts per workspace): at most ``per_second`` calls, globally, in
    the order they asked. A ``429`` sets one shared "not before" instant (:meth:`retry_after`):
    no sender calls again until its ``Retry-After`` has passed.

    ``monotonic`` and ``sleep`` are injectable so tests run on a fake clock and never sleep.
    """

    def __init__(
        self,
        per_second: float = 8.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self._interval = 1.0 / per_second
        self._monotonic, self._sleep = monotonic, sleep
        self._next = float("-inf")  # the earliest instant of the next call (the pace)
        self._not_before = float("-inf")  # the latest Retry-After we were given
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when this caller may make one call (waiters are served in order)."""
        async with self._lock:  # held while sleeping: later callers queue behind this one
            while True:
                now = self._monotonic()
                start = max(self._next, self._not_before)
                if start <= now:
                    break
                await self._sleep(start - now)  # then look again: a 429 may have moved it
            self._next = now + self._interval

    def retry_after(self, seconds: float) -> None:
        """Slack said ``429 Retry-After: seconds``: nobody calls before then."""
        self._not_before = max(self._not_before, self._monotonic() + max(seconds, 0.0))

    @property
    def not_before(self) -> float:
        return self._not_before

    def slower(self, per_second: float) -> SlackRateLimiter:
        """A second, slower pace on the same clock, for one Web API method whose own limit is
        below the global one (callers wait for it, then for this limiter)."""
        return SlackRateLimiter(
            min(per_second, self.per_second), monotonic=self._monotonic, sleep=self._sleep
        )


class SlackOutboxTransport:
    """:class:`bot.ports.OutboxTransport` for Slack. ``recipient`` is a Slack user id (posted to
    the user's DM channel: known in memory, else in ``slack_users``, else opened with
    ``conversations.open`` at the limiter's pace and kept in both — see
    :mod:`handlers.slack.dm_channels`, which also opens them ahead of broadcasts) or a channel
    id (posted to directly). Returns the message ``ts``.

    Every Web API call waits for the shared :class:`SlackRateLimiter`; a ``429`` tells the
    limiter its ``Retry-After`` and the call is made again after it (``rate_limit_retries``
    times), then the message is left to the outbox's backoff. The client given here should not
    retry 429s itself (``slack_client(max_rate_limit_retries=0)``).
    """

    channel = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        identities: SlackIdentities,
        limiter: SlackRateLimiter,
        *,
        rate_limit_retries: int = 3,
    ) -> None:
        self._client, self._limiter = client, limiter
        self._retries = rate_limit_retries
        self._dms = DmChannels(identities.deps.uow)
        # the outbox claims only what this pace sends in about five seconds
        self.claim_batch = max(2, int(limiter.per_second * 5))
        # DMs opened ahead of broadcasts also keep to conversations.open's own (Tier 3) limit
        self.open_ahead_limiter = limiter.slower(OPEN_AHEAD_PER_MINUTE / 60)

    async def send(self, message: OutboxMessage) -> str | None:
        try:
            target = message.recipient
            if target[:1] in ("U", "W"):
                target = await self._dm_channel(target)
            text = (
                f"*{message.subject}*\n{message.body_text}"
                if message.subject
                else message.body_text
            )
            response = await self._call(
                lambda: self._client.chat_postMessage(channel=target, text=text)
            )
            for attachment in message.attachments:
                await self._call(
                    lambda a=attachment: self._client.files_upload_v2(  # type: ignore[misc]
                        channel=target, content=a.content, filename=a.filename
                    )
                )
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            if code in _PERMANENT:
                raise PermanentDeliveryError(f"Slack refused: {code}") from error
            raise TransientDeliveryError(f"Slack error: {code or error}") from error
        except (TimeoutError, OSError) as error:
            raise TransientDeliveryError(f"Slack unreachable: {error}") from error
        return str(response.get("ts") or "") or None

    @property
    def limiter(self) -> SlackRateLimiter:
        """The pace every call of this transport waits for (shared with DMs opened ahead)."""
        return self._limiter

    async def post(self, post: SlackPost) -> None:
        """``chat.postMessage`` of a rendered reply (a parked answer) at the shared pace, so
        it waits its turn with broadcasts instead of adding to Slack's load. Raises
        :class:`SlackApiError` (a 429 only once its retries are spent) or a network error."""
        await self._call(
            lambda: self._client.chat_postMessage(
                channel=post.channel, thread_ts=post.thread_ts, text=post.text, blocks=post.blocks
            )
        )

    async def open_dm(self, user_id: str) -> str:
        """``conversations.open`` at the shared pace; the channel is kept in memory and in
        ``slack_users``, so no process opens it again. Raises :class:`SlackApiError`."""
        opened = await self._call(lambda: self._client.conversations_open(users=user_id))
        channel = str(opened["channel"]["id"])
        await self._dms.remember(user_id, channel)
        return channel

    async def _dm_channel(self, user_id: str) -> str:
        # the lookup is not a Slack call: it does not wait for the pace
        return await self._dms.known(user_id) or await self.open_dm(user_id)

    async def _call(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """One Web API call at the shared pace; after a 429, again once Retry-After passed."""
        for attempt in range(self._retries + 1):
            await self._limiter.wait()
            try:
                return await call()
            except SlackApiError as error:
                if error.response.status_code != 429:
                    raise
                self._limiter.retry_after(_retry_after(error))
                if attempt == self._retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(error: SlackApiError) -> float:
    value = (error.response.headers or {}).get("Retry-After")
    try:
        return max(float(value), 1.0) if value is not None else 1.0
    except ValueError:
        return 1.0
