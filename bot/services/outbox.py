"""The outbox sender: deliver due messages through the channels' transports after commit.

Each pass claims due rows with a lease (transactional before bulk), sends them with bounded
concurrency, and records each outcome in its own transaction:

* delivered → ``sent``;
* :class:`~bot.ports.TransientDeliveryError` (SMTP 4xx, connection refused, Slack 429) →
  pending again after a backoff in minutes (:data:`BACKOFF_MINUTES`), until
  :data:`MAX_ATTEMPTS`, then ``failed``;
* :class:`~bot.ports.PermanentDeliveryError` (SMTP 5xx) → ``failed``;
* :class:`~bot.ports.AmbiguousDeliveryError` (timeout after the final ".") → ``ambiguous``.

``failed`` and ``ambiguous`` rows raise an HR alert (an e-mail to HR's mailbox) and, for an
employee with a Slack id when a Slack transport is configured, queue the same message on Slack.

A crash between sending and marking leaves the row leased; when the lease expires it is sent
again with the same Message-ID — so duplicates are limited to the messages in flight, and
nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.ports import (
    AmbiguousDeliveryError,
    Clock,
    OutboxTransport,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from bot.services.election_intents import HR_RECIPIENT
from bot.services.election_support import retry_on_conflict

__all__ = ["BACKOFF_MINUTES", "MAX_ATTEMPTS", "DrainReport", "backoff", "drain_outbox"]

logger = logging.getLogger(__name__)

# A one-month offer: retry within minutes, give up (and tell HR) within hours, not days.
BACKOFF_MINUTES = (1, 2, 5, 10, 20, 30, 60)
MAX_ATTEMPTS = 12
LEASE = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    index = min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


@dataclass(slots=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    ambiguous: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # idempotency key → state


async def drain_outbox(
    *,
    uow: Any,
    transports: Mapping[str, OutboxTransport],
    clock: Clock,
    message_id_for: Callable[[OutboxMessage], str | None] = lambda _m: None,
    concurrency: int = 4,
    batch: int = 50,
    lease: timedelta = LEASE,
    max_passes: int = 1000,
) -> DrainReport:
    """Send everything due now on the configured channels, then return."""
    report = DrainReport()
    if not transports:
        return report
    owner = f"sender-{uuid.uuid4().hex[:12]}"
    limit = asyncio.Semaphore(concurrency)
    for _ in range(max_passes):
        async with uow:
            claimed = await uow.deliveries.claim_due(
                now=clock.now(),
                owner=owner,
                lease=lease,
                limit=batch,
                channels=transports.keys(),
                message_id_for=message_id_for,
            )
            await uow.commit()
        if not claimed:
            break

        async def one(message: OutboxMessage) -> None:
            async with limit:
                await _deliver(message, uow=uow, transports=transports, clock=clock, report=report)

        async with asyncio.TaskGroup() as group:
            for message in claimed:
                group.create_task(one(message))
    return report


async def _deliver(
    message: OutboxMessage,
    *,
    uow: Any,
    transports: Mapping[str, OutboxTransport],
    clock: Clock,
    report: DrainReport,
) -> None:
    assert message.id is not None
    key = message.idempotency_key
    try:
        delivery_id = await transports[message.channel].send(message)
    except TransientDeliveryError as exc:
        if message.attempts >= MAX_ATTEMPTS:
            await _give_up(message, DeliveryState.FAILED, f"gave up: {exc}", uow, transports, clock)
            report.failed += 1
            report.outcomes[key] = DeliveryState.FAILED.value
            return
        await _retry_later(uow, message, clock, str(exc))
        logger.info("outbox %s: retry after attempt %d: %s", key, message.attempts, exc)
        report.retried += 1
        report.outcomes[key] = "retry"
        return
    except PermanentDeliveryError as exc:
        await _give_up(message, DeliveryState.FAILED, str(exc), uow, transports, clock)
        report.failed += 1
        report.outcomes[key] = DeliveryState.FAILED.value
        return
    except AmbiguousDeliveryError as exc:
        await _give_up(message, DeliveryState.AMBIGUOUS, str(exc), uow, transports, clock)
        report.ambiguous += 1
        report.outcomes[key] = DeliveryState.AMBIGUOUS.value
        return
    except Exception as exc:  # a bug in one transport must not stop the others
        logger.exception("outbox %s: unexpected error from the %s transport", key, message.channel)
        await _retry_later(uow, message, clock, repr(exc))
        report.retried += 1
        report.outcomes[key] = "retry"
        return

    async def mark() -> None:
        async with uow:
            await uow.deliveries.delivered(message.id, at=clock.now(), delivery_id=delivery_id)
            await uow.commit()

    await retry_on_conflict(mark)
    report.sent += 1
    report.outcomes[key] = DeliveryState.SENT.value


async def _retry_later(uow: Any, message: OutboxMessage, clock: Clock, error: str) -> None:
    assert message.id is not None
    message_id = message.id

    async def write() -> None:
        async with uow:
            await uow.deliveries.retry_at(
                message_id, when=clock.now() + backoff(message.attempts), error=error
            )
            await uow.commit()

    await retry_on_conflict(write)


async def _give_up(
    message: OutboxMessage,
    state: DeliveryState,
    error: str,
    uow: Any,
    transports: Mapping[str, OutboxTransport],
    clock: Clock,
) -> None:
    """Mark the row and, in the same transaction, queue HR's alert and the Slack fallback."""
    assert message.id is not None
    now = clock.now()
    logger.warning("outbox %s: %s: %s", message.idempotency_key, state.value, error)
    await retry_on_conflict(lambda: _give_up_once(message, state, error, uow, transports, now))


async def _give_up_once(
    message: OutboxMessage,
    state: DeliveryState,
    error: str,
    uow: Any,
    transports: Mapping[str, OutboxTransport],
    now: datetime,
) -> None:
    assert message.id is not None
    async with uow:
        await uow.deliveries.give_up(message.id, state=state, error=error)
        if message.recipient != HR_RECIPIENT and message.kind is not MessageKind.HR_ALERT:
            what = (
                "may or may not have been delivered"
                if state is DeliveryState.AMBIGUOUS
                else ("could not be delivered")
            )
            await uow.outbox.enqueue(
                OutboxMessage(
                    idempotency_key=f"hr_alert:{state.value}:{message.idempotency_key}",
                    channel="email",
                    recipient=HR_RECIPIENT,
                    kind=MessageKind.HR_ALERT,
                    subject=f"offerbot: a message {what} ({message.kind.value})",
                    body_text=(
                        f"The {message.kind.value} message to {message.recipient} "
                        f"(subject: {message.subject!r}, employee "
                        f"{message.employee_id or 'n/a'}) {what} after "
                        f"{message.attempts} attempt(s).\nLast error: {error}\n"
                        f"Message-ID: {message.message_id or 'n/a'}; outbox key "
                        f"{message.idempotency_key}. Please reach the person another way."
                    ),
                    created_at=now,
                    due_at=now,
                    employee_id=message.employee_id,
                )
            )
            await _slack_fallback(message, uow, transports, now)
        await uow.commit()


async def _slack_fallback(
    message: OutboxMessage, uow: Any, transports: Mapping[str, OutboxTransport], now: datetime
) -> None:
    if message.channel != "email" or "slack" not in transports or message.employee_id is None:
        return
    employee = await uow.employees.get(message.employee_id)
    if employee is None or not employee.slack_user_id:
        return
    await uow.outbox.enqueue(
        OutboxMessage(
            idempotency_key=f"slack_fallback:{message.idempotency_key}",
            channel="slack",
            recipient=employee.slack_user_id,
            kind=message.kind,
            subject=message.subject,
            body_text=message.body_text,
            created_at=now,
            due_at=now,
            employee_id=message.employee_id,
            reference=message.reference,
            attachments=message.attachments,
        )
    )
