"""Repositories for elections: intent versions, signed-form receipts, HR tasks, the outbox and
accepted tenders. Domain objects in, domain objects out; no SQL leaves this module.

Writes that can lose a race (a second writer of the same intent version or receipt, SQLite's
"database is locked") raise :class:`~storage.errors.WriteConflictError`, so the caller can
retry its whole unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.communications import Communication, PersonalCopy
from bot.domain.elections import (
    Delivery,
    ElectionIntent,
    FormKind,
    FormReceipt,
    IntentKind,
    IntentLine,
    Transition,
)
from bot.domain.hr_records import (
    AcceptedTender,
    Attachment,
    DeliveryState,
    HrTask,
    MessageKind,
    OutboxMessage,
    TaskStatus,
)
from storage.errors import WriteConflictError
from storage.models import (
    AcceptedTenderRow,
    ElectionIntentRow,
    FormReceiptRow,
    HrTaskRow,
    OutboxAttachmentRow,
    OutboxRow,
)
from storage.outbox_writes import (
    BULK_PRIORITY,
    TRANSACTIONAL_PRIORITY,
    insert_new_copies,
    insert_new_messages,
    outbox_row_values,
)
from storage.repositories import _chunks, _flush, is_lock_error

__all__ = [
    "BULK_PRIORITY",
    "TRANSACTIONAL_PRIORITY",
    "AcceptedTenderRepository",
    "ElectionRepository",
    "HrTaskRepository",
    "OutboxRepository",
    "line_from_json",
    "line_to_json",
]


async def _flush_racing(session: AsyncSession, what: str) -> None:
    """Flush a write that a concurrent transaction may have made first."""
    try:
        await session.flush()
    except IntegrityError as error:
        raise WriteConflictError(f"{what} was written concurrently: {error.orig}") from error
    except OperationalError as error:
        if is_lock_error(error):
            raise WriteConflictError(f"a concurrent write won: {error.orig}") from error
        raise


def line_to_json(line: IntentLine) -> dict[str, Any]:
    return {
        "grant_number": line.grant_number,
        "grant_date": line.grant_date.isoformat(),
        "option_type": line.option_type,
        "exercise_price": str(line.exercise_price),
        "unexercised_shares": line.unexercised_shares,
        "split_group": line.split_group,
    }


def line_from_json(data: dict[str, Any]) -> IntentLine:
    return IntentLine(
        grant_number=data["grant_number"],
        grant_date=date.fromisoformat(data["grant_date"]),
        option_type=data["option_type"],
        exercise_price=Decimal(data["exercise_price"]),
        unexercised_shares=int(data["unexercised_shares"]),
        split_group=data.get("split_group"),
    )


def _intent(row: ElectionIntentRow) -> ElectionIntent:
    return ElectionIntent(
        employee_id=row.employee_id,
        version=row.version,
        kind=IntentKind(row.kind),
        transition=Transition(row.transition),
        lines=tuple(line_from_json(x) for x in row.lines),
        recorded_at=row.recorded_at,
        actor=row.actor,
        channel=row.channel,
    )


def _receipt(row: FormReceiptRow) -> FormReceipt:
    return FormReceipt(
        employee_id=row.employee_id,
        version=row.version,
        form=FormKind(row.form),
        received_at=row.received_at,
        via=Delivery(row.via),
        recorded_at=row.recorded_at,
        actor=row.actor,
        channel=row.channel,
    )


@dataclass(slots=True)
class ElectionRepository:
    """Intent versions and receipts. Insert and read only: history is evidence."""

    session: AsyncSession

    async def intents_for(self, employee_id: str) -> list[ElectionIntent]:
        """Oldest version first."""
        rows = await self.session.scalars(
            select(ElectionIntentRow)
            .where(ElectionIntentRow.employee_id == employee_id)
            .order_by(ElectionIntentRow.version)
        )
        return [_intent(row) for row in rows]

    async def all_intents(self) -> list[ElectionIntent]:
        rows = await self.session.scalars(
            select(ElectionIntentRow).order_by(
                ElectionIntentRow.employee_id, ElectionIntentRow.version
            )
        )
        return [_intent(row) for row in rows]

    async def add_intent(self, intent: ElectionIntent) -> None:
        """Raises WriteConflictError when this version of this employee already exists."""
        self.session.add(
            ElectionIntentRow(
                employee_id=intent.employee_id,
                version=intent.version,
                kind=intent.kind.value,
                transition=intent.transition.value,
                lines=[line_to_json(line) for line in intent.lines],
                recorded_at=intent.recorded_at,
                actor=intent.actor,
                channel=intent.channel,
            )
        )
        await _flush_racing(self.session, f"version {intent.version} of {intent.employee_id}")

    async def receipts_for(self, employee_id: str) -> list[FormReceipt]:
        rows = await self.session.scalars(
            select(FormReceiptRow)
            .where(FormReceiptRow.employee_id == employee_id)
            .order_by(FormReceiptRow.version)
        )
        return [_receipt(row) for row in rows]

    async def all_receipts(self) -> list[FormReceipt]:
        rows = await self.session.scalars(
            select(FormReceiptRow).order_by(FormReceiptRow.employee_id, FormReceiptRow.version)
        )
        return [_receipt(row) for row in rows]

    async def add_receipt(self, receipt: FormReceipt) -> None:
        """Raises WriteConflictError when this version's receipt was recorded concurrently."""
        self.session.add(
            FormReceiptRow(
                employee_id=receipt.employee_id,
                version=receipt.version,
                form=receipt.form.value,
                received_at=receipt.received_at,
                via=receipt.via.value,
                recorded_at=receipt.recorded_at,
                actor=receipt.actor,
                channel=receipt.channel,
            )
        )
        await _flush_racing(self.session, f"the receipt of version {receipt.version}")


def _task(row: HrTaskRow) -> HrTask:
    return HrTask(
        employee_id=row.employee_id,
        version=row.version,
        created_at=row.created_at,
        status=TaskStatus(row.status),
        closed_at=row.closed_at,
        kind=row.kind,
    )


@dataclass(slots=True)
class HrTaskRepository:
    session: AsyncSession

    async def add(self, task: HrTask) -> None:
        self.session.add(
            HrTaskRow(
                employee_id=task.employee_id,
                version=task.version,
                kind=task.kind,
                status=task.status.value,
                created_at=task.created_at,
                closed_at=task.closed_at,
            )
        )
        await _flush_racing(self.session, f"the task of version {task.version}")

    async def for_employee(self, employee_id: str) -> list[HrTask]:
        rows = await self.session.scalars(
            select(HrTaskRow).where(HrTaskRow.employee_id == employee_id).order_by(HrTaskRow.id)
        )
        return [_task(row) for row in rows]

    async def open_tasks(self) -> list[HrTask]:
        rows = await self.session.scalars(
            select(HrTaskRow)
            .where(HrTaskRow.status == TaskStatus.OPEN.value)
            .order_by(HrTaskRow.created_at, HrTaskRow.id)
        )
        return [_task(row) for row in rows]

    async def close(
        self,
        employee_id: str,
        *,
        versions: Iterable[int],
        status: TaskStatus,
        at: datetime,
        only: Iterable[TaskStatus] = (TaskStatus.OPEN,),
    ) -> list[int]:
        """Move the tasks of ``versions`` that are in one of ``only`` to ``status``; returns
        the versions changed."""
        wanted = sorted(set(versions))
        if not wanted:
            return []
        rows = await self.session.scalars(
            select(HrTaskRow).where(
                HrTaskRow.employee_id == employee_id,
                HrTaskRow.version.in_(wanted),
                HrTaskRow.status.in_([s.value for s in only]),
            )
        )
        closed = []
        for row in rows:
            row.status = status.value
            row.closed_at = at
            closed.append(row.version)
        await _flush(self.session)
        return sorted(closed)


def _message(row: OutboxRow, attachments: list[OutboxAttachmentRow]) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        idempotency_key=row.idempotency_key,
        channel=row.channel,
        recipient=row.recipient,
        kind=MessageKind(row.kind),
        subject=row.subject,
        body_text=row.body,
        created_at=row.created_at,
        due_at=row.due_at,
        employee_id=row.employee_id,
        reference=row.reference,
        attachments=tuple(
            Attachment(filename=a.filename, content_type=a.content_type, content=a.content)
            for a in attachments
        ),
        sent_at=row.sent_at,
        attempts=row.attempts,
        last_error=row.last_error,
        body_html=row.body_html,
        in_reply_to=row.in_reply_to,
        references=row.thread_references,
        message_id=row.message_id,
        state=DeliveryState(row.state),
        requeues=row.requeues,
    )


@dataclass(slots=True)
class OutboxRepository:
    """Messages to deliver after commit. ``enqueue`` is idempotent on ``idempotency_key``."""

    session: AsyncSession

    async def enqueue(self, message: OutboxMessage) -> bool:
        """Add ``message`` unless one with its key exists; True when it was added."""
        existing = await self.session.scalar(
            select(OutboxRow.id).where(OutboxRow.idempotency_key == message.idempotency_key)
        )
        if existing is not None:
            return False
        row = OutboxRow(**outbox_row_values(message))
        self.session.add(row)
        await _flush_racing(self.session, f"message {message.idempotency_key}")
        for attachment in message.attachments:
            self.session.add(
                OutboxAttachmentRow(
                    message_id=row.id,
                    filename=attachment.filename,
                    content_type=attachment.content_type,
                    content=attachment.content,
                )
            )
        await _flush(self.session)
        return True

    async def enqueue_many(self, messages: Iterable[OutboxMessage]) -> int:
        """Bulk :meth:`enqueue` for broadcasts (no attachments): keys already present are
        skipped, so a broadcast enqueued again after a crash adds only what is missing.
        Returns how many rows were added."""
        added = 0
        for chunk in _chunks(list(messages), 2000):
            if any(m.attachments for m in chunk):
                raise ValueError("enqueue_many takes messages without attachments")
            added += len(await insert_new_messages(self.session, chunk))
        return added

    async def enqueue_copies(
        self,
        communication: Communication,
        copies: Sequence[PersonalCopy],
        *,
        kind: MessageKind,
        at: datetime,
    ) -> int:
        """Queue each person's copy of the stored ``communication`` (its text kept once, the
        personal fields per copy), due at ``at``; keys already present are skipped, as in
        :meth:`enqueue_many`. Returns how many were added."""
        return await insert_new_copies(self.session, communication, copies, kind=kind, at=at)

    async def for_employee(self, employee_id: str) -> list[OutboxMessage]:
        """Oldest first, with attachments."""
        rows = list(
            await self.session.scalars(
                select(OutboxRow)
                .where(OutboxRow.employee_id == employee_id)
                .order_by(OutboxRow.created_at, OutboxRow.id)
            )
        )
        return await self._with_attachments(rows)

    async def by_kind(self, kind: MessageKind) -> list[OutboxMessage]:
        """Oldest first, without attachment contents loaded (reports need only the dates)."""
        rows = await self.session.scalars(
            select(OutboxRow).where(OutboxRow.kind == kind.value).order_by(OutboxRow.id)
        )
        return [_message(row, []) for row in rows]

    async def count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(OutboxRow)) or 0

    async def mark_sent(self, idempotency_key: str, *, at: datetime) -> None:
        """For the sender (e-mail issue) and tests: the message was delivered at ``at``."""
        row = await self.session.scalar(
            select(OutboxRow).where(OutboxRow.idempotency_key == idempotency_key)
        )
        if row is None:
            raise KeyError(idempotency_key)
        row.sent_at = at
        row.attempts += 1
        row.state = DeliveryState.SENT.value
        row.lease_until = row.lease_owner = None
        await _flush(self.session)

    async def _with_attachments(self, rows: list[OutboxRow]) -> list[OutboxMessage]:
        return await messages_with_attachments(self.session, rows)


def _accepted(row: AcceptedTenderRow) -> AcceptedTender:
    return AcceptedTender(
        employee_id=row.employee_id,
        version=row.version,
        line=line_from_json(row.line),
        accepted_at=row.accepted_at,
    )


@dataclass(slots=True)
class AcceptedTenderRepository:
    session: AsyncSession

    async def add_missing(self, tenders: Iterable[AcceptedTender]) -> int:
        """Insert the tenders whose grant is not accepted yet; returns how many were new."""
        tenders = list(tenders)
        numbers = [t.line.grant_number for t in tenders]
        existing = set()
        if numbers:
            existing = set(
                await self.session.scalars(
                    select(AcceptedTenderRow.grant_number).where(
                        AcceptedTenderRow.grant_number.in_(numbers)
                    )
                )
            )
        added = 0
        for t in tenders:
            if t.line.grant_number in existing:
                continue
            self.session.add(
                AcceptedTenderRow(
                    grant_number=t.line.grant_number,
                    employee_id=t.employee_id,
                    version=t.version,
                    line=line_to_json(t.line),
                    accepted_at=t.accepted_at,
                )
            )
            added += 1
        await _flush_racing(self.session, "an accepted tender")
        return added

    async def list_all(self) -> list[AcceptedTender]:
        rows = await self.session.scalars(
            select(AcceptedTenderRow).order_by(
                AcceptedTenderRow.employee_id, AcceptedTenderRow.grant_number
            )
        )
        return [_accepted(row) for row in rows]

    async def for_employee(self, employee_id: str) -> list[AcceptedTender]:
        rows = await self.session.scalars(
            select(AcceptedTenderRow)
            .where(AcceptedTenderRow.employee_id == employee_id)
            .order_by(AcceptedTenderRow.grant_number)
        )
        return [_accepted(row) for row in rows]


async def messages_with_attachments(
    session: AsyncSession, rows: list[OutboxRow]
) -> list[OutboxMessage]:
    """Outbox rows as domain messages, their attachments loaded in one query."""
    ids = [row.id for row in rows]
    by_message: dict[int, list[OutboxAttachmentRow]] = {i: [] for i in ids}
    if ids:
        attachments = await session.scalars(
            select(OutboxAttachmentRow)
            .where(OutboxAttachmentRow.message_id.in_(ids))
            .order_by(OutboxAttachmentRow.id)
        )
        for a in attachments:
            by_message[a.message_id].append(a)
    return [_message(row, by_message[row.id]) for row in rows]
