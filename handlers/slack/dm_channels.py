"""The bot's DM channel with each Slack user, opened once and kept, and opened ahead of
broadcasts so a broadcast spends Slack's pace on messages only.

A DM is posted to its ``D…`` channel, which ``conversations.open`` hands out; Slack gives the
same channel every time, so one call per user is enough for the life of the workspace. Each
channel is kept in memory and in ``slack_users.dm_channel`` (a minimal row is created for a
user not cached yet), so neither a restart nor another replica opens it again.

:func:`open_dm_channels_ahead` is the worker's step between outbox passes: it opens the DMs of
roster employees with a Slack id and no channel yet, a bounded number per pass, through the
transport's — the one global — :class:`~handlers.slack.transport.SlackRateLimiter`, and only
while no Slack outbox row is due: messages go first. Without it, the first broadcast to 20,000
people makes 20,000 ``conversations.open`` calls, each in a slot of the 8/s pace, and takes
twice as long. Opening ahead also keeps to ``conversations.open``'s own limit (Slack's Tier 3,
:data:`OPEN_AHEAD_PER_MINUTE`): at 8/s Slack would answer 429, and a Retry-After pauses every
Slack call, messages included. 20,000 channels take under seven hours at that pace — the
offer is open for weeks, and a broadcast meanwhile opens the rest itself.

Errors of one user (``user_not_found``, ``cannot_dm_bot``, …) are logged by id, remembered as
``restricted`` in the user's row and not tried again by this step (a send to them still tries
on its own, and the outbox reports a refusal to HR); users.info clears the mark when the user
next talks to the bot. Errors of the app or of Slack (a revoked token, a 429 that outlasted its
retries, Slack unreachable) end the pass; the next pass tries again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.services.messaging.slack_users import keep_dm_channel

if TYPE_CHECKING:
    from bot.ports import Clock, UnitOfWork

__all__ = [
    "OPEN_AHEAD_PER_MINUTE",
    "PREOPEN_SECONDS",
    "DmChannels",
    "DmOpener",
    "Pace",
    "PreopenReport",
    "open_dm_channels_ahead",
]

logger = logging.getLogger(__name__)

# A pass opens at most what the pace allows in this many seconds (8 DMs at 50/min), so a
# `worker --once` stays short and a broadcast queued meanwhile waits at most about that long.
PREOPEN_SECONDS = 10.0
# conversations.open is a Tier 3 method: "50+ per minute" (api.slack.com/docs/rate-limits)
OPEN_AHEAD_PER_MINUTE = 50.0

# Errors that are about the app's token or Slack itself, not about the user: stop the pass.
_NOT_THE_USERS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "team_access_not_granted",
        "ekm_access_denied",
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)


class Pace(Protocol):
    """A rate limiter (:class:`~handlers.slack.transport.SlackRateLimiter`)."""

    per_second: float

    async def wait(self) -> None: ...


class DmOpener(Protocol):
    """What opening ahead needs from the Slack transport
    (:class:`~handlers.slack.transport.SlackOutboxTransport`). Named here rather than imported:
    the transport imports this module, and importing it back would be an import circle."""

    @property
    def open_ahead_limiter(self) -> Pace: ...

    async def open_dm(self, user_id: str) -> str: ...


class DmChannels:
    """Known DM channels: memory first, then ``slack_users``; :meth:`remember` keeps a new one
    in both. One per transport (memory is per process; the table is shared)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._memory: dict[str, str] = {}

    async def known(self, user_id: str) -> str | None:
        channel = self._memory.get(user_id)
        if channel is None:
            async with self._uow:
                channel = (await self._uow.slack_users.dm_channels([user_id])).get(user_id)
            if channel is not None:
                self._memory[user_id] = channel
        return channel

    async def remember(self, user_id: str, channel: str) -> None:
        """Keep ``channel``; if the database is busy, memory still has it (the row is written
        by whichever process opens the DM next)."""
        self._memory[user_id] = channel
        why = await keep_dm_channel(uow=self._uow, user_id=user_id, channel=channel)
        if why is not None:
            logger.warning("DM channel of %s not stored: %s", user_id, why)


@dataclass(slots=True)
class PreopenReport:
    opened: int = 0
    refused: int = 0  # Slack would not open the user's DM; not tried again by this step
    deferred: bool = False  # Slack outbox rows were due: the pass left the pace to them
    more: bool = False  # stopped at its budget or for due rows: there may be more to open


async def open_dm_channels_ahead(
    transport: DmOpener,
    *,
    uow: UnitOfWork,
    clock: Clock,
    limit: int | None = None,
    stop: asyncio.Event | None = None,
) -> PreopenReport:
    """Open up to ``limit`` (default: :data:`PREOPEN_SECONDS` of the pace) missing DM
    channels of roster employees, unless Slack outbox rows are due; look again about once a
    second of opening, and stop when some are (or when ``stop`` is set: shutting down)."""
    tier = transport.open_ahead_limiter
    budget = limit if limit is not None else max(1, int(tier.per_second * PREOPEN_SECONDS))
    look_every = max(1, int(tier.per_second))
    report = PreopenReport()
    async with uow:
        if await _slack_due(uow, clock):
            report.deferred = True
            return report
        user_ids = await uow.slack_users.roster_users_without_dm(limit=budget)
    for done, user_id in enumerate(user_ids):
        if stop is not None and stop.is_set():
            return report
        if done and done % look_every == 0:
            async with uow:
                if await _slack_due(uow, clock):
                    report.deferred = report.more = True
                    return report
        try:
            await tier.wait()  # the method's own limit; open_dm then waits for the global pace
            await transport.open_dm(user_id)
        except SlackApiError as error:
            code = str(error.response.get("error", "")) or f"HTTP {error.response.status_code}"
            if code in _NOT_THE_USERS or error.response.status_code >= 429:
                logger.warning("opening DMs ahead stopped at %s: Slack said %s", user_id, code)
                return report
            logger.warning("conversations.open refused %s (%s): not opened ahead", user_id, code)
            async with uow:
                await uow.slack_users.mark_dm_refused(user_id)
                await uow.commit()
            report.refused += 1
        except (TimeoutError, OSError, aiohttp.ClientError) as error:
            logger.warning("opening DMs ahead stopped at %s: %s", user_id, type(error).__name__)
            return report
        else:
            report.opened += 1
    report.more = len(user_ids) >= budget
    return report


async def _slack_due(uow: UnitOfWork, clock: Clock) -> bool:
    return await uow.deliveries.count_due(now=clock.now(), channels=("slack",)) > 0
