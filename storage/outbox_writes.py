"""Queueing many outbox messages at once: the message rows, then their delivery rows.

Used by ``OutboxRepository.enqueue_many`` (broadcasts, reminder rounds) and the close's letters.
One multi-row ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, key`` per
thousand messages writes what is new and says which those are — no ``SELECT`` of existing keys
first, and a key queued by a concurrent transaction is skipped, not an error — then one
executemany writes the narrow delivery rows of exactly those. Values are plain dicts built
once per message; no ORM objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.hr_records import DeliveryState, OutboxMessage
from storage.outbox_models import OUTBOX_DELIVERY, OUTBOX_MESSAGES

__all__ = [
    "BULK_PRIORITY",
    "TRANSACTIONAL_PRIORITY",
    "insert_new_messages",
    "outbox_row_values",
]

# Lower is sooner: receipts and confirmations go before reminders and broadcasts.
TRANSACTIONAL_PRIORITY, BULK_PRIORITY = 0, 10


def _message_values(message: OutboxMessage) -> dict[str, Any]:
    return {
        "idempotency_key": message.idempotency_key,
        "recipient": message.recipient,
        "kind": message.kind.value,
        "subject": message.subject,
        "body_text": message.body_text,
        "employee_id": message.employee_id,
        "reference": message.reference,
        "created_at": message.created_at,
        "due_at": message.due_at,
        "body_html": message.body_html,
        "in_reply_to": message.in_reply_to,
        "thread_references": message.references,
    }


def _delivery_values(message: OutboxMessage) -> dict[str, Any]:
    return {
        "channel": message.channel,
        "state": (DeliveryState.SENT if message.sent_at else message.state).value,
        "priority": BULK_PRIORITY if message.kind.is_bulk else TRANSACTIONAL_PRIORITY,
        "next_attempt_at": message.send_at or message.due_at,
        "lease_until": None,
        "lease_owner": None,
        "attempts": message.attempts,
        "sent_at": message.sent_at,
        "last_error": message.last_error,
        "message_id": message.message_id,
        "delivery_id": None,
        "requeues": 0,
    }


def outbox_row_values(message: OutboxMessage) -> dict[str, Any]:
    """The columns of a message being queued, both tables' (its attachments go in their own
    table): one mapping for ``enqueue`` (an ``OutboxRow``) and :func:`insert_new_messages`."""
    return _message_values(message) | _delivery_values(message)


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key."""
    from sqlalchemy.dialects import postgresql, sqlite

    postgres = session.get_bind().dialect.name == "postgresql"
    t = OUTBOX_MESSAGES
    statement: Any = postgresql.insert(t) if postgres else sqlite.insert(t)
    return statement.on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(
        t.c.id, t.c.idempotency_key
    )


async def insert_new_messages(
    session: AsyncSession, messages: Sequence[OutboxMessage]
) -> dict[str, int]:
    """Queue the ``messages`` whose key is not queued yet (the first of a key given twice);
    returns the new rows' ids by key. Attachments are the caller's to write."""
    if not messages:
        return {}
    result = await session.execute(
        _insert_ignoring_duplicates(session), [_message_values(m) for m in messages]
    )
    ids: dict[str, int] = {key: row_id for row_id, key in result}
    if not ids:
        return ids
    unwritten = dict(ids)  # popped as written: of a key given twice, the first copy goes
    delivery = []
    for m in messages:
        row_id = unwritten.pop(m.idempotency_key, None)
        if row_id is not None:
            values = _delivery_values(m)
            values["id"] = row_id
            delivery.append(values)
    await session.execute(OUTBOX_DELIVERY.insert(), delivery)
    return ids
