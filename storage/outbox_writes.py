"""Queueing many outbox messages at once: the message rows, then their delivery rows.

Used by ``OutboxRepository.enqueue_many`` (broadcasts, reminder rounds) and the close's letters.
The message rows go in with ``ON CONFLICT (idempotency_key) DO NOTHING``, which writes what is
new — no ``SELECT`` of existing keys first, and a key queued by a concurrent transaction is
skipped, not an error — then the narrow delivery rows of exactly those.

Rows are tuples handed to the driver as they are: SQLAlchemy's per-row parameter handling (a
dict per row, a type processor per value) cost ~40 µs a message, the larger part of queueing a
120,000-copy reminder round. On SQLite one executemany per table (the new ids read back by
``id`` — the transaction holds the write lock); on PostgreSQL one ``INSERT … SELECT FROM
unnest(one array per column) … RETURNING`` per table and call.
Datetimes are converted by the columns' own type (``UTCDateTime``: aware, stored as UTC), once
per distinct instant.

:func:`insert_new_copies` queues the copies of one stored communication (a reminder round's
page) on one channel at a time: each message row names the communication and carries only the
personal fields (its text is read back through ``storage.outbox_models.OUTBOX_BODY``), and the
delivery rows — all alike but for the id — are written by the database from the new message
rows (``INSERT … SELECT``), with no ids read back and no parameters per row: on SQLite that
halved the delivery rows' cost; on PostgreSQL both inserts are one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.communications import Communication, PersonalCopy
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from storage.outbox_models import OUTBOX_DELIVERY, OUTBOX_MESSAGES

__all__ = [
    "BULK_PRIORITY",
    "TRANSACTIONAL_PRIORITY",
    "insert_new_copies",
    "insert_new_messages",
    "outbox_row_values",
]

# Lower is sooner: receipts and confirmations go before reminders and broadcasts.
TRANSACTIONAL_PRIORITY, BULK_PRIORITY = 0, 10


def outbox_row_values(message: OutboxMessage) -> dict[str, Any]:
    """The columns of one message being queued, both tables' (an ``OutboxRow``; its
    attachments go in their own table). :func:`insert_new_messages` writes the same values."""
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
        "channel": message.channel,
        "state": _state(message),
        "priority": _priority(message),
        "next_attempt_at": message.send_at or message.due_at,
        "attempts": message.attempts,
        "sent_at": message.sent_at,
        "last_error": message.last_error,
        "message_id": message.message_id,
        "requeues": 0,
    }


def _state(message: OutboxMessage) -> str:
    return (DeliveryState.SENT if message.sent_at else message.state).value


def _priority(message: OutboxMessage) -> int:
    return _priority_of(message.kind)


def _priority_of(kind: MessageKind) -> int:
    return BULK_PRIORITY if kind.is_bulk else TRANSACTIONAL_PRIORITY


MESSAGE_COLUMNS = (
    "idempotency_key",
    "recipient",
    "kind",
    "subject",
    "body_text",
    "employee_id",
    "reference",
    "created_at",
    "due_at",
    "body_html",
    "in_reply_to",
    "thread_references",
)
DELIVERY_COLUMNS = (
    "id",
    "channel",
    "state",
    "priority",
    "next_attempt_at",
    "attempts",
    "sent_at",
    "last_error",
    "message_id",
    "requeues",
)
_RETURNING = " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key"
_PG_ARRAY = {"String": "varchar", "Text": "text", "UTCDateTime": "timestamptz", "Integer": "int"}


def _pg_insert(table: Table, names: Sequence[str], tail: str = "") -> str:
    arrays = ", ".join(
        f"${i}::{_PG_ARRAY[type(table.c[name].type).__name__]}[]"
        for i, name in enumerate(names, start=1)
    )
    return f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays}){tail}"


_PG_MESSAGES = _pg_insert(OUTBOX_MESSAGES, MESSAGE_COLUMNS, _RETURNING)
_PG_DELIVERY = _pg_insert(OUTBOX_DELIVERY, DELIVERY_COLUMNS)
_SQLITE_DELIVERY = (
    f"INSERT INTO outbox_delivery ({', '.join(DELIVERY_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(DELIVERY_COLUMNS))})"
)


_SQLITE_MESSAGES = (
    f"INSERT INTO outbox ({', '.join(MESSAGE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(MESSAGE_COLUMNS))}) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)


_SQLITE_HIGHEST = "SELECT coalesce(max(id), 0) FROM outbox"
_SQLITE_SINCE = "SELECT id, idempotency_key FROM outbox WHERE id > ?"


class _Instants:
    """The database's form of each datetime, computed once per distinct value (a round's
    120,000 copies share a handful of instants) by the columns' own type."""

    def __init__(self, dialect: Any) -> None:
        self._bind = OUTBOX_MESSAGES.c.created_at.type.bind_processor(dialect)
        self._seen: dict[datetime, Any] = {}

    def __call__(self, value: datetime | None) -> Any:
        if value is None:
            return None
        found = self._seen.get(value)
        if found is None:
            found = self._seen[value] = self._bind(value) if self._bind else value
        return found


def _message_row(m: OutboxMessage, instant: _Instants) -> tuple[Any, ...]:
    return (
        m.idempotency_key,
        m.recipient,
        m.kind.value,
        m.subject,
        m.body_text,
        m.employee_id,
        m.reference,
        instant(m.created_at),
        instant(m.due_at),
        m.body_html,
        m.in_reply_to,
        m.references,
    )


def _delivery_row(row_id: int, m: OutboxMessage, instant: _Instants) -> tuple[Any, ...]:
    return (
        row_id,
        m.channel,
        _state(m),
        _priority(m),
        instant(m.send_at or m.due_at),
        m.attempts,
        instant(m.sent_at),
        m.last_error,
        m.message_id,
        0,
    )


async def insert_new_messages(
    session: AsyncSession, messages: Sequence[OutboxMessage]
) -> dict[str, int]:
    """Queue the ``messages`` whose key is not queued yet (the first of a key given twice);
    returns the new rows' ids by key. Attachments are the caller's to write."""
    if not messages:
        return {}
    connection = await session.connection()
    dialect = connection.dialect
    instant = _Instants(dialect)
    postgres = dialect.name == "postgresql"
    rows = [_message_row(m, instant) for m in messages]
    ids: dict[str, int] = {}
    if postgres:
        found: Any = await connection.exec_driver_sql(
            _PG_MESSAGES, tuple(map(list, zip(*rows, strict=True)))
        )
        ids.update((key, row_id) for row_id, key in found)
    else:
        # One executemany of a one-row statement (a multi-row VALUES … RETURNING of varying
        # size left a compiled statement per size in the connection's cache, each holding its
        # last thousand bodies: +90 MB in a round). The transaction began with BEGIN IMMEDIATE,
        # so the rows above the highest id before are exactly the ones this insert wrote.
        highest = (await connection.exec_driver_sql(_SQLITE_HIGHEST)).scalar()
        await connection.exec_driver_sql(_SQLITE_MESSAGES, rows)
        found = await connection.exec_driver_sql(_SQLITE_SINCE, (highest,))
        ids.update((key, row_id) for row_id, key in found)
    if not ids:
        return ids
    unwritten = dict(ids)  # popped as written: of a key given twice, the first copy goes
    delivery = []
    for m in messages:
        row_id = unwritten.pop(m.idempotency_key, None)
        if row_id is not None:
            delivery.append(_delivery_row(row_id, m, instant))
    if postgres:
        await connection.exec_driver_sql(
            _PG_DELIVERY, tuple(map(list, zip(*delivery, strict=True)))
        )
    else:
        await connection.exec_driver_sql(_SQLITE_DELIVERY, delivery)
    return ids


# A copy's message row: the personal fields ($1–$5 / the row's first five values), then what
# every copy of the call shares. Its delivery row is made from it in the database.
_COPY_COLUMNS = (
    "idempotency_key, recipient, employee_id, personal_name, personal_grants, "
    "kind, subject, body_text, reference, created_at, due_at, communication_id"
)
_NEW_DELIVERY = "id, channel, state, priority, next_attempt_at, attempts, requeues"
_SQLITE_COPIES = (
    f"INSERT INTO outbox ({_COPY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?) "
    "ON CONFLICT (idempotency_key) DO NOTHING"
)
_SQLITE_COPY_DELIVERY = (
    f"INSERT INTO outbox_delivery ({_NEW_DELIVERY}) "
    "SELECT id, ?, ?, ?, ?, 0, 0 FROM outbox WHERE id > ?"
)
_PG_COPIES = (
    f"WITH new AS (INSERT INTO outbox ({_COPY_COLUMNS}) "
    "SELECT k, r, e, n, g, $6, $7, '', $8, $9, $9, $10 "
    "FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::text[], $5::text[]) "
    "AS u(k, r, e, n, g) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id) "
    f"INSERT INTO outbox_delivery ({_NEW_DELIVERY}) SELECT id, $11, $12, $13, $9, 0, 0 FROM new"
)


async def insert_new_copies(
    session: AsyncSession,
    communication: Communication,
    copies: Sequence[PersonalCopy],
    *,
    kind: MessageKind,
    at: datetime,
) -> int:
    """Queue the ``copies`` of ``communication`` (stored: it has an id) whose key is not
    queued yet (the first of a key given twice), due at ``at``; returns how many were added."""
    if not copies:
        return 0
    connection = await session.connection()
    when = _Instants(connection.dialect)(at)
    shared = (kind.value, communication.subject, communication.reference, when, when)
    pending, priority = DeliveryState.PENDING.value, _priority_of(kind)
    added = 0
    for channel in sorted({c.channel for c in copies}):
        mine = [c for c in copies if c.channel == channel]
        if connection.dialect.name == "postgresql":
            keys, _, recipients, employees, names, grants = zip(*mine, strict=True)
            columns = (list(keys), list(recipients), list(employees), list(names), list(grants))
            found: Any = await connection.exec_driver_sql(
                _PG_COPIES,
                (*columns, *shared[:4], communication.id, channel, pending, priority),
            )
        else:
            rows = [(c[0], c[2], c[3], c[4], c[5], *shared, communication.id) for c in mine]
            # BEGIN IMMEDIATE holds the write lock: the ids above the highest are these rows'
            highest = (await connection.exec_driver_sql(_SQLITE_HIGHEST)).scalar()
            await connection.exec_driver_sql(_SQLITE_COPIES, rows)
            found = await connection.exec_driver_sql(
                _SQLITE_COPY_DELIVERY, (channel, pending, priority, when, highest)
            )
        added += found.rowcount
    return added
