"""The outbox sender: deliver due messages through the channels' transports after commit.

A pass is a pipeline per channel: claim due rows in batches with a lease (transactional before
bulk) → ``concurrency`` senders per channel keep that many messages in flight (and, for
e-mail, that many SMTP connections busy) → delivered rows are marked ``sent`` in batched
transactions (:data:`MARK_EVERY` rows or every :data:`MARK_SECONDS`), so a 10,000-recipient
broadcast costs ~100 commits, not 10,000 fsyncs. Channels do not wait for each other: Slack's
pace never holds up e-mail. Outcomes:

* delivered → ``sent``;
* :class:`~bot.ports.TransientDeliveryError` (SMTP 4xx, connection refused, Slack 429) →
  pending again after a backoff in minutes (:data:`BACKOFF_MINUTES`), until
  :data:`MAX_ATTEMPTS`, then ``failed``;
* :class:`~bot.ports.PermanentDeliveryError` (SMTP 5xx) → ``failed``;
* :class:`~bot.ports.AmbiguousDeliveryError` (timeout after the final ".") → ``ambiguous``;
  except that a transactional or legal notice (``MessageKind.retried_when_ambiguous``) is first
  sent once more, ``ambiguous_retry`` later, under the same Message-ID — a possible duplicate
  is better than a lost legal notice.

``failed`` and ``ambiguous`` rows raise an HR alert (an e-mail to HR's mailbox, and for an
e-mail a DM to each of ``hr_slack_ids``: see :mod:`bot.services.messaging.outbox_recovery`) and,
for an
employee with a Slack id when a Slack transport is configured, queue the same message on Slack;
the pass picks those up before it returns. HR sends them again with ``offerbot hr outbox
resend``.

A crash between sending and marking leaves the row leased; when the lease expires it is sent
again with the same Message-ID — so duplicates are limited to the messages in flight, and
nothing is lost. In flight means sent but not yet marked: senders pause when the marking falls
behind, so that is never more than ``2 × mark_every + concurrency - 1`` (209 with the defaults
and 10 connections), and in practice about one marking batch. ``sent_at`` is the instant the
batch was marked (within :data:`MARK_SECONDS` of the send).

A claimed row whose lease is about to run out before its turn comes is not sent by this pass
(another sender may take it after the lease): never two senders at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.hr_records import DeliveryState, OutboxMessage
from bot.ports import (
    AmbiguousDeliveryError,
    Clock,
    OutboxTransport,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnitOfWork,
)
from bot.runtime.logging_setup import redact
from bot.services.messaging.outbox_recovery import hr_alerts
from bot.services.retry import retry_on_conflict

__all__ = [
    "AMBIGUOUS_RETRY",
    "BACKOFF_MINUTES",
    "CLAIM_PER_SENDER",
    "MARK_EVERY",
    "MARK_SECONDS",
    "MAX_ATTEMPTS",
    "DrainReport",
    "backoff",
    "drain_outbox",
]

logger = logging.getLogger(__name__)

# A one-month offer: retry within minutes, give up (and tell HR) within hours, not days.
BACKOFF_MINUTES = (1, 2, 5, 10, 20, 30, 60)
MAX_ATTEMPTS = 12
LEASE = timedelta(minutes=10)
CLAIM_PER_SENDER = 25  # rows claimed per sender (concurrency): 250 for 10 SMTP connections
MARK_EVERY = 100  # delivered rows per "sent" transaction …
MARK_SECONDS = 0.25  # … or this often, whichever comes first
RECHECK_SECONDS = 5.0  # a channel found empty is looked at again while others still send
# the wait before the one more attempt of an ambiguous notice (OFFERBOT_OUTBOX_AMBIGUOUS_RETRY_…)
AMBIGUOUS_RETRY = timedelta(minutes=30)


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
    uow: UnitOfWork,
    transports: Mapping[str, OutboxTransport],
    clock: Clock,
    message_id_for: Callable[[OutboxMessage], str | None] = lambda _m: None,
    concurrency: int = 4,
    batch: int | None = None,
    lease: timedelta = LEASE,
    max_passes: int = 100_000,
    mark_every: int = MARK_EVERY,
    mark_seconds: float = MARK_SECONDS,
    ambiguous_retry: timedelta | None = AMBIGUOUS_RETRY,
    hr_slack_ids: Sequence[str] = (),
    stop: asyncio.Event | None = None,
) -> DrainReport:
    """Send everything due now on the configured channels, then return.

    ``concurrency`` is the number of messages in flight per channel; ``batch`` the rows per
    claim (default :data:`CLAIM_PER_SENDER` × ``concurrency``, at least 50: big enough that
    claiming costs little, small enough that replicas share a queue; a transport may ask for
    fewer with a ``claim_batch`` attribute — Slack, whose pace is slow, claims only what it
    sends in a few seconds); the next claim comes when half of a batch is done.
    ``max_passes`` caps the claims. ``ambiguous_retry``: the wait before an ambiguous notice's
    one more attempt (None: never retried). ``hr_slack_ids``: HR admins' Slack user ids, DMed
    HR's alert about an e-mail given up on (used only when a Slack transport is given).
    ``stop`` (``offerbot serve`` shutting down): once set, nothing more is claimed; what is
    already claimed is sent and marked, then the pass returns — a SIGTERM during a
    100,000-copy round waits for one batch, not for the whole round (the rest stays queued).
    """
    report = DrainReport()
    if not transports:
        return report
    drain = _Drain(
        uow=uow,
        transports=transports,
        clock=clock,
        message_id_for=message_id_for,
        concurrency=max(1, concurrency),
        batch=max(1, batch if batch is not None else max(50, CLAIM_PER_SENDER * concurrency)),
        lease=lease,
        max_claims=max_passes,
        mark_every=max(1, mark_every),
        mark_seconds=mark_seconds,
        report=report,
        ambiguous_retry=ambiguous_retry,
        hr_slack_ids=tuple(hr_slack_ids) if "slack" in transports else (),
        stop=stop,
    )
    await drain.run()
    return report


@dataclass
class _Channel:
    name: str
    transport: OutboxTransport
    batch: int
    queue: asyncio.Queue[tuple[OutboxMessage, datetime] | None] = field(
        default_factory=asyncio.Queue
    )
    outstanding: int = 0  # claimed by this pass and not finished (queued or being sent)
    dry: bool = False  # the last claim found nothing due …
    dry_at: float = 0.0  # … at this loop time


class _Drain:
    """One pass: a claimer, ``concurrency`` senders per channel, and a marker."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        transports: Mapping[str, OutboxTransport],
        clock: Clock,
        message_id_for: Callable[[OutboxMessage], str | None],
        concurrency: int,
        batch: int,
        lease: timedelta,
        max_claims: int,
        mark_every: int,
        mark_seconds: float,
        report: DrainReport,
        ambiguous_retry: timedelta | None = None,
        hr_slack_ids: tuple[str, ...] = (),
        stop: asyncio.Event | None = None,
    ) -> None:
        self.uow, self.transports, self.clock = uow, transports, clock
        self.stop = stop
        self.ambiguous_retry, self.hr_slack_ids = ambiguous_retry, hr_slack_ids
        self.message_id_for = message_id_for
        self.concurrency, self.lease, self.max_claims = concurrency, lease, max_claims
        self.mark_every, self.mark_seconds = mark_every, mark_seconds
        self.report = report
        self.owner = f"sender-{uuid.uuid4().hex[:12]}"
        self.channels = [
            _Channel(name, transport, max(1, min(batch, getattr(transport, "claim_batch", batch))))
            for name, transport in transports.items()
        ]
        self.wake = asyncio.Event()  # the claimer has something to do
        self.database = asyncio.Lock()  # one transaction of this pass at a time (SQLite)
        self.marks: list[tuple[int, str | None]] = []  # delivered, not yet marked
        self.writing = 0  # delivered rows in the "sent" transaction being written
        self.mark_now = asyncio.Event()
        self.room = asyncio.Event()  # set after each "sent" write: senders may go on
        # the most delivered-but-unmarked rows at any time (a crash resends those): senders
        # pause when the marking falls this far behind (a slow disk)
        self.unmarked_cap = 2 * mark_every
        self.claims = 0
        self.finished = False
        self.loop = asyncio.get_running_loop()

    async def run(self) -> None:
        waker = asyncio.ensure_future(self._wake_on_stop()) if self.stop is not None else None
        try:
            async with asyncio.TaskGroup() as group:
                for channel in self.channels:
                    for _ in range(self.concurrency):
                        group.create_task(self._sender(channel))
                marker = group.create_task(self._marker())
                try:
                    await self._claimer()
                finally:
                    self.finished = True
                    for channel in self.channels:
                        for _ in range(self.concurrency):
                            channel.queue.put_nowait(None)  # each sender's last item
                    self.mark_now.set()
                await marker
        except (Exception, asyncio.CancelledError):
            if self.marks:  # a failure elsewhere: still record what was delivered
                with contextlib.suppress(Exception):
                    await self._mark()
            raise
        finally:
            if waker is not None:
                waker.cancel()

    async def _wake_on_stop(self) -> None:
        assert self.stop is not None
        await self.stop.wait()
        self.wake.set()  # the claimer may be waiting for a refill or a recheck

    # --- claiming ---------------------------------------------------------------------------

    async def _claimer(self) -> None:
        while True:
            if self.stop is not None and self.stop.is_set():
                # Shutting down: claim nothing more, let the senders finish what is claimed
                # (the marker records it after this returns); the rest stays queued.
                while self._outstanding():
                    self.wake.clear()
                    await self.wake.wait()
                return
            self.wake.clear()
            for channel in self.channels:
                if channel.dry and self.loop.time() - channel.dry_at >= RECHECK_SECONDS:
                    channel.dry = False  # new mail while a slow channel (Slack) still sends
                if not channel.dry and channel.outstanding <= channel.batch // 2:
                    await self._claim(channel)
            if all(c.dry for c in self.channels):
                # Everything claimed is done: mark it, then look once more — a failure may
                # have queued an HR alert or a Slack fallback that is due now.
                while self._outstanding():
                    self.wake.clear()
                    await self.wake.wait()
                await self._mark()
                for channel in self.channels:
                    channel.dry = False
                    await self._claim(channel)
                if all(c.dry for c in self.channels):
                    return
                continue
            if not self._claim_wanted():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), RECHECK_SECONDS)

    def _outstanding(self) -> int:
        return sum(c.outstanding for c in self.channels)

    def _claim_wanted(self) -> bool:
        return any(not c.dry and c.outstanding <= c.batch // 2 for c in self.channels)

    async def _claim(self, channel: _Channel) -> None:
        if self.claims >= self.max_claims:
            channel.dry, channel.dry_at = True, float("inf")
            return
        self.claims += 1
        now = self.clock.now()

        async def claim() -> list[OutboxMessage]:
            async with self.database, self.uow:
                claimed: list[OutboxMessage] = await self.uow.deliveries.claim_due(
                    now=now,
                    owner=self.owner,
                    lease=self.lease,
                    limit=channel.batch,
                    channels=[channel.name],
                    message_id_for=self.message_id_for,
                )
                await self.uow.commit()
            return claimed

        claimed = await retry_on_conflict(claim)
        if not claimed:
            channel.dry, channel.dry_at = True, self.loop.time()
            return
        until = now + self.lease - self.lease / 10  # send only with a tenth of the lease left
        channel.outstanding += len(claimed)
        for message in claimed:
            channel.queue.put_nowait((message, until))

    # --- sending ----------------------------------------------------------------------------

    async def _sender(self, channel: _Channel) -> None:
        while True:
            item = await channel.queue.get()
            if item is None:
                return
            message, until = item
            while len(self.marks) + self.writing >= self.unmarked_cap:
                self.mark_now.set()
                self.room.clear()
                await self.room.wait()
            try:
                if self.clock.now() >= until:
                    logger.info(
                        "outbox %s: lease nearly over, left for later", message.idempotency_key
                    )
                else:
                    await self._deliver(message, channel.transport)
            finally:
                channel.outstanding -= 1
                # wake the claimer only when it has something to do: a refill, or the end
                if channel.outstanding <= channel.batch // 2 or not self._outstanding():
                    self.wake.set()

    async def _deliver(self, message: OutboxMessage, transport: OutboxTransport) -> None:
        assert message.id is not None
        key = message.idempotency_key
        report, clock, uow = self.report, self.clock, self.uow
        try:
            delivery_id = await transport.send(message)
        except TransientDeliveryError as exc:
            if message.attempts >= MAX_ATTEMPTS:
                await self._give_up(message, DeliveryState.FAILED, f"gave up: {exc}")
                report.failed += 1
                report.outcomes[key] = DeliveryState.FAILED.value
                return
            async with self.database:
                await _retry_later(uow, message, clock, str(exc))
            logger.info(
                "outbox %s: retry after attempt %d: %s", key, message.attempts, redact(str(exc))
            )
            report.retried += 1
            report.outcomes[key] = "retry"
            return
        except PermanentDeliveryError as exc:
            await self._give_up(message, DeliveryState.FAILED, str(exc))
            report.failed += 1
            report.outcomes[key] = DeliveryState.FAILED.value
            return
        except AmbiguousDeliveryError as exc:
            if (
                self.ambiguous_retry is not None
                and message.kind.retried_when_ambiguous
                and message.requeues == 0
            ):
                await self._retry_after_ambiguity(message, str(exc), self.ambiguous_retry)
                report.retried += 1
                report.outcomes[key] = "retry"
                return
            await self._give_up(message, DeliveryState.AMBIGUOUS, str(exc))
            report.ambiguous += 1
            report.outcomes[key] = DeliveryState.AMBIGUOUS.value
            return
        except Exception as exc:  # a bug in one transport must not stop the others
            logger.exception(
                "outbox %s: unexpected error from the %s transport", key, message.channel
            )
            async with self.database:
                await _retry_later(uow, message, clock, repr(exc))
            report.retried += 1
            report.outcomes[key] = "retry"
            return
        # None: "the row's Message-ID" (e-mail), written for a whole batch in one statement
        self.marks.append((message.id, None if delivery_id == message.message_id else delivery_id))
        report.sent += 1
        report.outcomes[key] = DeliveryState.SENT.value
        if len(self.marks) >= self.mark_every:
            self.mark_now.set()

    async def _give_up(self, message: OutboxMessage, state: DeliveryState, error: str) -> None:
        async with self.database:
            await _give_up(
                message, state, error, self.uow, self.transports, self.clock, self.hr_slack_ids
            )

    async def _retry_after_ambiguity(
        self, message: OutboxMessage, error: str, wait: timedelta
    ) -> None:
        assert message.id is not None
        row, when = message.id, self.clock.now() + wait
        note = f"ambiguous, sent once more at {when.isoformat()} with the same Message-ID: {error}"
        logger.warning("outbox %s: %s", message.idempotency_key, redact(note))

        async def write() -> None:
            async with self.database, self.uow:
                await self.uow.deliveries.retry_after_ambiguity(row, when=when, error=note)
                await self.uow.commit()

        await retry_on_conflict(write)

    # --- marking ----------------------------------------------------------------------------

    async def _marker(self) -> None:
        while not self.finished:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.mark_now.wait(), self.mark_seconds)
            self.mark_now.clear()
            await self._mark(everything=False)
        await self._mark()

    async def _mark(self, *, everything: bool = True) -> None:
        """Record delivered rows as ``sent``, :data:`MARK_EVERY` per transaction: all of them,
        or (``everything=False``, the timer) one transaction's worth, then full batches only —
        what arrives during a write waits for the next round instead of a tiny transaction."""
        first = True
        while self.marks and (everything or first or len(self.marks) >= self.mark_every):
            first = False
            done, self.marks = self.marks[: self.mark_every], self.marks[self.mark_every :]
            self.writing = len(done)

            async def write(done: list[tuple[int, str | None]] = done) -> None:
                async with self.database, self.uow:
                    await self.uow.deliveries.delivered_many(done, at=self.clock.now())
                    await self.uow.commit()

            try:
                await retry_on_conflict(write)
            except BaseException:
                self.marks[:0] = done  # not recorded: keep them for the next try
                raise
            finally:
                self.writing = 0
                self.room.set()


async def _retry_later(uow: UnitOfWork, message: OutboxMessage, clock: Clock, error: str) -> None:
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
    uow: UnitOfWork,
    transports: Mapping[str, OutboxTransport],
    clock: Clock,
    hr_slack_ids: tuple[str, ...] = (),
) -> None:
    """Mark the row and, in the same transaction, queue HR's alerts and the Slack fallback."""
    assert message.id is not None
    now = clock.now()
    logger.warning("outbox %s: %s: %s", message.idempotency_key, state.value, redact(error))
    await retry_on_conflict(
        lambda: _give_up_once(message, state, error, uow, transports, now, hr_slack_ids)
    )


async def _give_up_once(
    message: OutboxMessage,
    state: DeliveryState,
    error: str,
    uow: UnitOfWork,
    transports: Mapping[str, OutboxTransport],
    now: datetime,
    hr_slack_ids: tuple[str, ...] = (),
) -> None:
    assert message.id is not None
    async with uow:
        await uow.deliveries.give_up(message.id, state=state, error=error)
        alerts = hr_alerts(message, state=state, error=error, now=now, hr_slack_ids=hr_slack_ids)
        for alert in alerts:
            await uow.outbox.enqueue(alert)
        if alerts:
            await _slack_fallback(message, uow, transports, now)
        await uow.commit()


async def _slack_fallback(
    message: OutboxMessage,
    uow: UnitOfWork,
    transports: Mapping[str, OutboxTransport],
    now: datetime,
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
