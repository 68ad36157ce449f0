"""The worker's Slack step: answers Slack could not take are posted late or handed to HR, and
handled deliveries are forgotten once Slack can no longer retry them.

A failed post parks the rendered answer in its ``slack_events`` row for Slack's retry
(:mod:`bot.services.messaging.slack_deliveries`). But Slack retries only a request that failed, and
in the
default HTTP mode and in Socket Mode Bolt acknowledges before the listener runs: there a failed
post gets no retry at all. :class:`SlackEventSweep` closes that gap, one pass at a time:

- A reply parked for longer than :data:`PARKED_GRACE` is taken with the compare-and-set a retry
  uses (so a retry and the worker, or two replicas, never both post it), posted through the
  transport at the one global pace, then marked ``done`` with its text cleared. A failed post
  parks it again; the next try comes a grace period later.
- A delivery still not ``done`` :data:`GIVE_UP_AFTER` after it arrived, or whose post Slack
  refused for good (the channel is gone, the message is refused), is given up: its text is
  cleared, it is logged by ids, and HR gets an ``hr_alert`` e-mail — written in the same
  transaction, as the outbox and the scheduler report their failures — to reach the person.
- About once every :data:`PRUNE_EVERY` by the clock, ``done`` rows older than
  :data:`KEEP_HANDLED` are deleted; a row not ``done`` is never pruned (the sweep settles it
  first, within :data:`GIVE_UP_AFTER`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.slack_records import SlackDelivery, SlackPost
from bot.services.elections.intents import HR_RECIPIENT
from bot.services.messaging.slack_deliveries import STALE_AFTER

if TYPE_CHECKING:
    from bot.ports import Clock, UnitOfWork
    from handlers.slack.transport import SlackOutboxTransport

__all__ = [
    "GIVE_UP_AFTER",
    "KEEP_HANDLED",
    "PARKED_GRACE",
    "PRUNE_EVERY",
    "SlackEventSweep",
    "SweepReport",
]

logger = logging.getLogger(__name__)

# Slack retries a failed request almost at once and again a minute later; a parking younger
# than this is left to those retries. Its last retry comes five minutes on: making the person
# wait that long when no retry will ever come (default HTTP mode, Socket Mode) is worse than
# the worker winning that race, which costs nothing (the retry then finds the reply done).
PARKED_GRACE = timedelta(seconds=90)
# A reply still not out an hour after the question came (about forty tries, one per grace
# period) answers a conversation the person has moved on from, perhaps by asking again; HR
# reaching them serves them better than the bot trying all day.
GIVE_UP_AFTER = timedelta(hours=1)
# Dedupe needs a row only while Slack may retry its event: minutes. A week keeps the trail of
# which deliveries came and whether their reply went out — ids and times only, the text is
# cleared once posted — long enough to look into "the bot did not answer me" after a weekend.
KEEP_HANDLED = timedelta(days=7)
PRUNE_EVERY = timedelta(hours=1)
BATCH = 50  # rows looked at per pass; more wait for the next pass

# Slack refused this message for good: posting it again cannot work. Errors of the token or of
# Slack itself are not here — they pass, and the reply waits for a later pass.
_REFUSED_FOR_GOOD = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "cannot_dm_bot",
        "restricted_action",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
    }
)


@dataclass(slots=True)
class SweepReport:
    posted: int = 0  # parked replies that went out
    parked_again: int = 0  # their post failed again: left for a later pass
    given_up: int = 0  # HR was told
    pruned: int = 0  # done rows deleted


class SlackEventSweep:
    """One per worker process: it remembers when it last pruned. Every Slack call goes
    through ``transport`` and so waits for the global pace, behind or between broadcasts."""

    def __init__(
        self, transport: SlackOutboxTransport, *, uow: UnitOfWork, clock: Clock, limit: int = BATCH
    ) -> None:
        self._transport, self._uow, self._clock, self._limit = transport, uow, clock, limit
        self._pruned_at: datetime | None = None

    async def run(self, *, stop: asyncio.Event | None = None) -> SweepReport:
        """Post or give up what waits, then prune when an hour has passed since the last time."""
        report = SweepReport()
        now = self._clock.now()
        async with self._uow as uow:
            waiting = await uow.slack_events.waiting(
                parked_before=now - PARKED_GRACE,
                stale_before=now - STALE_AFTER,
                overdue_before=now - GIVE_UP_AFTER,
                limit=self._limit,
            )
        for delivery in waiting:
            if stop is not None and stop.is_set():
                break
            if delivery.received_at < now - GIVE_UP_AFTER:
                report.given_up += await self._give_up(delivery, taken_at=None)
            else:
                await self._post(delivery, report)
        report.pruned = await self._prune_when_due()
        return report

    async def _post(self, delivery: SlackDelivery, report: SweepReport) -> None:
        key, now = delivery.delivery_key, self._clock.now()
        async with self._uow as uow:
            taken = await uow.slack_events.take_parked(
                key, at=now, parked_before=now - PARKED_GRACE, stale_before=now - STALE_AFTER
            )
            await uow.commit()
        if taken is None or taken.reply is None:
            return  # a retry of the event took it first
        try:
            await self._transport.post(taken.reply)
        except (SlackApiError, TimeoutError, OSError, aiohttp.ClientError) as error:
            why = _why(error)
            if isinstance(error, SlackApiError) and why in _REFUSED_FOR_GOOD:
                report.given_up += await self._give_up(delivery, taken_at=taken.taken_at, why=why)
                return
            await self._park_again(key, taken.reply, taken_at=taken.taken_at)
            logger.warning("%s: parked reply not posted (%s); trying again later", key, why)
            report.parked_again += 1
            return
        except Exception:
            await self._park_again(key, taken.reply, taken_at=taken.taken_at)
            raise
        async with self._uow as uow:
            await uow.slack_events.finish(key, at=self._clock.now())
            await uow.commit()
        logger.info("%s: parked reply posted by the worker", key)
        report.posted += 1

    async def _park_again(self, key: str, reply: SlackPost, *, taken_at: datetime) -> None:
        async with self._uow as uow:
            await uow.slack_events.park(key, reply, at=self._clock.now(), taken_at=taken_at)
            await uow.commit()

    async def _give_up(
        self, delivery: SlackDelivery, *, taken_at: datetime | None, why: str = ""
    ) -> int:
        """Forget the reply and tell HR, in one transaction; 1 if this pass did, else 0.

        Without ``taken_at`` (an overdue delivery) the row is first taken with a retry's
        compare-and-set, so a reply being posted right now is not given up under its poster.
        """
        key, now = delivery.delivery_key, self._clock.now()
        async with self._uow as uow:
            events = uow.slack_events
            had_reply = delivery.reply is not None
            if taken_at is None:
                taken = await events.take(key, at=now, stale_before=now - STALE_AFTER)
                if taken is None:
                    return 0
                taken_at, had_reply = taken.taken_at, taken.reply is not None
            if not await events.finish(key, at=now, taken_at=taken_at):
                return 0
            user = await uow.slack_users.get(delivery.user_id) if delivery.user_id else None
            employee_id = user.employee_id if user is not None else None
            why = why or ("not posted within the hour" if had_reply else "never ready to post")
            await uow.outbox.enqueue(_hr_alert(delivery, employee_id, had_reply, why, now))
            await uow.commit()
        logger.warning(
            "%s: reply given up (%s); Slack user %s, employee %s; HR alerted",
            key,
            why,
            delivery.user_id or "n/a",
            employee_id or "n/a",
        )
        return 1

    async def _prune_when_due(self) -> int:
        now = self._clock.now()
        last = self._pruned_at
        if last is not None and timedelta(0) <= now - last < PRUNE_EVERY:
            return 0
        async with self._uow as uow:
            pruned = await uow.slack_events.prune(before=now - KEEP_HANDLED)
            await uow.commit()
        self._pruned_at = now
        if pruned:
            logger.info("forgot %d handled Slack deliveries older than %s", pruned, KEEP_HANDLED)
        return pruned


def _why(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error", "")) or f"HTTP {error.response.status_code}"
    return type(error).__name__


def _hr_alert(
    delivery: SlackDelivery, employee_id: str | None, had_reply: bool, why: str, now: datetime
) -> OutboxMessage:
    """HR's notice of an answer that never reached the person: ids and times, never the text
    (it was cleared; it is personal)."""
    what = (
        "could not be posted to Slack"
        if had_reply
        else "may not have been answered (its handling stopped before the answer was posted)"
    )
    channel = delivery.reply.channel if delivery.reply is not None else "n/a"
    return OutboxMessage(
        idempotency_key=f"hr_alert:slack_reply:{delivery.delivery_key}",
        channel="email",
        recipient=HR_RECIPIENT,
        kind=MessageKind.HR_ALERT,
        subject="offerbot: a Slack question may not have been answered",
        body_text=(
            f"A Slack message from {delivery.user_id or 'an unknown user'} (employee "
            f"{employee_id or 'n/a'}), received {delivery.received_at.isoformat()}, {what}; "
            f"the bot gave up ({why}).\nSlack delivery {delivery.delivery_key}, channel "
            f"{channel}. The answer's text was not kept. Please reach the person another way."
        ),
        created_at=now,
        due_at=now,
        employee_id=employee_id,
    )
