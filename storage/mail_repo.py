"""Repositories for delivering the outbox and reading the inbox.

:class:`DeliveryRepository` is the outbox sender's view of the ``outbox`` table: claim due rows
with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several senders never claim the same
row; SQLite serialises writers, so there one sender at a time is the supported setup), then
record the outcome. :class:`InboxRepository` keeps the IMAP position and the processed-message
log that makes reading the inbox idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.hr_records import DeliveryState, OutboxMessage
from storage.elections_repo import _message, messages_with_attachments
from storage.models import ImapStateRow, InboundMessageRow, OutboxRow
from storage.repositories import _flush

__all__ = ["DeliveryRepository", "ImapPosition", "InboundRecord", "InboxRepository"]


@dataclass(slots=True)
class DeliveryRepository:
    session: AsyncSession

    async def claim_due(
        self,
        *,
        now: datetime,
        owner: str,
        lease: timedelta,
        limit: int,
        channels: Iterable[str],
        message_id_for: Callable[[OutboxMessage], str | None],
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` due pending rows, transactional before bulk, oldest first.

        Each claim counts as an attempt (a crash mid-send still counts). A row without a
        Message-ID gets ``message_id_for(row)`` here, before its first attempt, and keeps it.
        """
        query = (
            select(OutboxRow)
            .where(
                OutboxRow.state == DeliveryState.PENDING.value,
                OutboxRow.next_attempt_at <= now,
                OutboxRow.channel.in_(list(channels)),
                or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now),
            )
            .order_by(OutboxRow.priority, OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list(await self.session.scalars(query))
        for row in rows:
            row.lease_until = now + lease
            row.lease_owner = owner
            row.attempts += 1
            if row.message_id is None:
                row.message_id = message_id_for(_message(row, []))
        await _flush(self.session)
        return await self._with_attachments(rows)

    async def delivered(
        self, message_id: int, *, at: datetime, delivery_id: str | None = None
    ) -> None:
        row = await self._row(message_id)
        row.state = DeliveryState.SENT.value
        row.sent_at = at
        row.delivery_id = delivery_id
        row.lease_until = row.lease_owner = None
        row.last_error = None
        await _flush(self.session)

    async def retry_at(self, message_id: int, *, when: datetime, error: str) -> None:
        """A transient failure: pending again from ``when`` (the Message-ID stays)."""
        row = await self._row(message_id)
        row.next_attempt_at = when
        row.last_error = error[:2000]
        row.lease_until = row.lease_owner = None
        await _flush(self.session)

    async def give_up(self, message_id: int, *, state: DeliveryState, error: str) -> None:
        """``failed`` (refused, or out of attempts) or ``ambiguous`` (maybe delivered)."""
        row = await self._row(message_id)
        row.state = state.value
        row.last_error = error[:2000]
        row.lease_until = row.lease_owner = None
        await _flush(self.session)

    async def get(self, idempotency_key: str) -> OutboxMessage | None:
        row = await self.session.scalar(
            select(OutboxRow).where(OutboxRow.idempotency_key == idempotency_key)
        )
        return None if row is None else (await self._with_attachments([row]))[0]

    async def in_state(self, state: DeliveryState) -> list[OutboxMessage]:
        rows = await self.session.scalars(
            select(OutboxRow).where(OutboxRow.state == state.value).order_by(OutboxRow.id)
        )
        return [_message(row, []) for row in rows]

    async def count_due(self, *, now: datetime, channels: Iterable[str]) -> int:
        query = (
            select(func.count())
            .select_from(OutboxRow)
            .where(
                OutboxRow.state == DeliveryState.PENDING.value,
                OutboxRow.next_attempt_at <= now,
                OutboxRow.channel.in_(list(channels)),
            )
        )
        return await self.session.scalar(query) or 0

    async def _row(self, message_id: int) -> OutboxRow:
        row = await self.session.get(OutboxRow, message_id)
        if row is None:
            raise KeyError(message_id)
        return row

    async def _with_attachments(self, rows: list[OutboxRow]) -> list[OutboxMessage]:
        return await messages_with_attachments(self.session, rows)


@dataclass(frozen=True, slots=True)
class ImapPosition:
    mailbox: str
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True, slots=True)
class InboundRecord:
    mailbox: str
    uidvalidity: int
    uid: int
    content_hash: str
    sender: str
    employee_id: str | None
    received_at: datetime
    outcome: str
    processed_at: datetime | None = None  # our clock: what rate limits count in


@dataclass(slots=True)
class InboxRepository:
    session: AsyncSession

    async def position(self, mailbox: str) -> ImapPosition | None:
        row = await self.session.get(ImapStateRow, mailbox)
        if row is None:
            return None
        return ImapPosition(row.mailbox, row.uidvalidity, row.last_uid)

    async def advance(self, position: ImapPosition, *, at: datetime) -> None:
        """Set the position (never backwards under the same UIDVALIDITY)."""
        row = await self.session.get(ImapStateRow, position.mailbox)
        if row is None:
            row = ImapStateRow(mailbox=position.mailbox, last_uid=0)
            self.session.add(row)
        if row.uidvalidity != position.uidvalidity:
            row.uidvalidity = position.uidvalidity
            row.last_uid = position.last_uid
        else:
            row.last_uid = max(row.last_uid, position.last_uid)
        row.updated_at = at
        await _flush(self.session)

    async def seen(self, *, mailbox: str, uidvalidity: int, uid: int, content_hash: str) -> bool:
        """Processed already: the same UID under this UIDVALIDITY, or the same bytes."""
        found = await self.session.scalar(
            select(InboundMessageRow.id)
            .where(
                or_(
                    (InboundMessageRow.mailbox == mailbox)
                    & (InboundMessageRow.uidvalidity == uidvalidity)
                    & (InboundMessageRow.uid == uid),
                    InboundMessageRow.content_hash == content_hash,
                )
            )
            .limit(1)
        )
        return found is not None

    async def record(self, record: InboundRecord) -> None:
        self.session.add(
            InboundMessageRow(
                mailbox=record.mailbox,
                uidvalidity=record.uidvalidity,
                uid=record.uid,
                content_hash=record.content_hash,
                sender=record.sender,
                employee_id=record.employee_id,
                received_at=record.received_at,
                outcome=record.outcome,
                processed_at=record.processed_at,
            )
        )
        await _flush(self.session)

    async def answered_since(self, sender: str, since: datetime) -> int:
        """How many messages from ``sender`` were answered since ``since`` (the rate limit).

        Counted on our own clock (``processed_at``): the server's INTERNALDATE is another time
        base, and the limit is about how often *we* answer.
        """
        query = (
            select(func.count())
            .select_from(InboundMessageRow)
            .where(
                InboundMessageRow.sender == sender,
                InboundMessageRow.processed_at >= since,
                InboundMessageRow.outcome == "answered",
            )
        )
        return await self.session.scalar(query) or 0

    async def outcomes(self) -> list[InboundRecord]:
        rows = await self.session.scalars(select(InboundMessageRow).order_by(InboundMessageRow.id))
        return [
            InboundRecord(
                r.mailbox,
                r.uidvalidity,
                r.uid,
                r.content_hash,
                r.sender,
                r.employee_id,
                r.received_at,
                r.outcome,
            )
            for r in rows
        ]
