"""Repositories for delivering the outbox and reading the inbox.

:class:`DeliveryRepository` is the outbox sender's view of the ``outbox`` table: claim due rows
with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several senders never claim the same
row; SQLite serialises writers, so there one sender at a time is the supported setup), then
record the outcome. :class:`InboxRepository` keeps the IMAP position and the processed-message
log that makes reading the inbox idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.hr_records import Attachment, DeliveryState, MessageKind, OutboxMessage
from storage.elections_repo import _message, messages_with_attachments
from storage.errors import WriteConflictError
from storage.models import ImapStateRow, InboundMessageRow, OutboxAttachmentRow, OutboxRow
from storage.repositories import _flush, is_lock_error

__all__ = ["DeliveryRepository", "ImapPosition", "InboundRecord", "InboxRepository"]


_OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]
# What the sender needs of a row (not lease_owner, delivery_id).
_COLUMNS = (
    "id",
    "idempotency_key",
    "channel",
    "recipient",
    "kind",
    "subject",
    "body_text",
    "created_at",
    "due_at",
    "employee_id",
    "reference",
    "sent_at",
    "attempts",
    "last_error",
    "body_html",
    "in_reply_to",
    "thread_references",
    "message_id",
    "state",
)
_KINDS = {k.value: k for k in MessageKind}
_STATES = {s.value: s for s in DeliveryState}


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
        One ``UPDATE … RETURNING`` leases and reads the rows (no ORM objects, no id lists
        sent back): the sender claims hundreds of rows at a time during a broadcast.
        """
        t = _OUTBOX
        due = (
            select(t.c.id)
            .where(
                t.c.state == DeliveryState.PENDING.value,
                t.c.next_attempt_at <= now,
                t.c.channel.in_(list(channels)),
                or_(t.c.lease_until.is_(None), t.c.lease_until < now),
            )
            .order_by(t.c.priority, t.c.next_attempt_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # one statement leases the rows and returns them (SQLite ≥ 3.35 and PostgreSQL)
        claimed = await self._write(
            update(t)
            .where(t.c.id.in_(due.scalar_subquery()))
            .values(lease_until=now + lease, lease_owner=owner, attempts=t.c.attempts + 1)
            .returning(*(t.c[name] for name in _COLUMNS), t.c.priority, t.c.next_attempt_at)
        )
        rows = sorted(claimed, key=lambda r: (r.priority, r.next_attempt_at, r.id))
        messages = await self._messages(rows)
        fixed: list[dict[str, object]] = []
        for message in messages:
            if message.message_id is None:
                message_id = message_id_for(message)
                if message_id is not None:
                    fixed.append({"row_id": message.id, "message_id": message_id})
                    # a message built just now and not shared yet: set the field in place
                    # (a frozen dataclass; replace() would copy every field of every row)
                    object.__setattr__(message, "message_id", message_id)
        if fixed:
            await self._write(
                update(t)
                .where(t.c.id == bindparam("row_id"))
                .values(message_id=bindparam("message_id")),
                fixed,
            )
        await _flush(self.session)
        return messages

    async def delivered(
        self, message_id: int, *, at: datetime, delivery_id: str | None = None
    ) -> None:
        await self.delivered_many([(message_id, delivery_id)], at=at)

    async def delivered_many(
        self, delivered: Sequence[tuple[int, str | None]], *, at: datetime
    ) -> None:
        """Mark rows ``sent`` at ``at``: (row id, delivery id) each.

        A delivery id of None means "the row's Message-ID" (e-mail is delivered under the
        Message-ID fixed at its claim; Slack rows have none). Those take one statement however
        many they are — the sender marks a broadcast 200 rows at a time, one transaction and
        one fsync each — and only ids that differ (a Slack ``ts``) are written one by one.
        """
        if not delivered:
            return
        t = _OUTBOX
        await self._write(
            update(t)
            .where(t.c.id.in_([row_id for row_id, _ in delivered]))
            .values(
                state=DeliveryState.SENT.value,
                sent_at=at,
                delivery_id=t.c.message_id,
                lease_until=None,
                lease_owner=None,
                last_error=None,
            )
        )
        explicit = [{"row_id": i, "delivery": d} for i, d in delivered if d is not None]
        if explicit:
            await self._write(
                update(t)
                .where(t.c.id == bindparam("row_id"))
                .values(delivery_id=bindparam("delivery")),
                explicit,
            )

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

    async def _write(self, statement: Any, parameters: Any = None) -> list[Any]:
        """A write (its ``RETURNING`` rows, if any); SQLite's "database is locked" becomes
        :class:`WriteConflictError`."""
        try:
            result: Any = await self.session.execute(statement, parameters)
        except OperationalError as error:
            if is_lock_error(error):
                raise WriteConflictError(f"a concurrent write won: {error.orig}") from error
            raise
        return list(result) if result.returns_rows else []

    async def _messages(self, rows: Sequence[Any]) -> list[OutboxMessage]:
        """Messages from rows of :data:`_COLUMNS`, their attachments loaded in one query."""
        files: dict[int, list[Attachment]] = {}
        if rows:
            found = await self.session.execute(
                select(
                    OutboxAttachmentRow.message_id,
                    OutboxAttachmentRow.filename,
                    OutboxAttachmentRow.content_type,
                    OutboxAttachmentRow.content,
                )
                .where(OutboxAttachmentRow.message_id.in_([r.id for r in rows]))
                .order_by(OutboxAttachmentRow.id)
            )
            for owner, filename, content_type, content in found:
                files.setdefault(owner, []).append(Attachment(filename, content_type, content))
        return [
            OutboxMessage(
                id=r.id,
                idempotency_key=r.idempotency_key,
                channel=r.channel,
                recipient=r.recipient,
                kind=_KINDS[r.kind],
                subject=r.subject,
                body_text=r.body_text,
                created_at=r.created_at,
                due_at=r.due_at,
                employee_id=r.employee_id,
                reference=r.reference,
                attachments=tuple(files.get(r.id, ())),
                sent_at=r.sent_at,
                attempts=r.attempts,
                last_error=r.last_error,
                body_html=r.body_html,
                in_reply_to=r.in_reply_to,
                references=r.thread_references,
                message_id=r.message_id,
                state=_STATES[r.state],
            )
            for r in rows
        ]

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
