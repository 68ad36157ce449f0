"""Repositories for delivering the outbox and reading the inbox.

:class:`DeliveryRepository` is the outbox sender's view of the ``outbox`` table: claim due rows
with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several senders never claim the same
row; SQLite serialises writers, so there one sender at a time is the supported setup), then
record the outcome. :class:`InboxRepository` keeps the IMAP position and the processed-message
log that makes reading the inbox idempotent.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.hr_records import Attachment, DeliveryState, MessageKind, OutboxMessage
from bot.domain.mail_records import ImapPosition, InboundRecord
from storage.elections_repo import _message, messages_with_attachments
from storage.errors import WriteConflictError
from storage.models import ImapStateRow, InboundMessageRow, OutboxAttachmentRow, OutboxRow
from storage.outbox_models import OUTBOX_BODY, OUTBOX_DELIVERY, OUTBOX_MESSAGES
from storage.repositories import _flush, is_lock_error

__all__ = ["DeliveryRepository", "ImapPosition", "InboundRecord", "InboxRepository"]


# The senders write only the narrow delivery rows (migration 0014); they read the message too.
_OUTBOX: Table = OUTBOX_DELIVERY
_MESSAGES: Table = OUTBOX_MESSAGES
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
    "requeues",
)


def _column(name: str) -> Any:
    """A column of the joined message: the delivery row's when it has one (``id`` too); the
    text as sent for ``body_text`` (a copy of a communication keeps only its personal fields)."""
    if name == "body_text":
        return OUTBOX_BODY
    return _OUTBOX.c[name] if name in _OUTBOX.c else _MESSAGES.c[name]


_KINDS = {k.value: k for k in MessageKind}
_STATES = {s.value: s for s in DeliveryState}


def _one_of(column: Any, name: str, dialect: str) -> Any:
    """``column IN (the ids bound to name)`` with a single parameter however many ids there
    are (bind :func:`_ids`): an array on PostgreSQL, a JSON array read by ``json_each`` on
    SQLite (built in since 3.38). An expanding ``IN`` would have SQLAlchemy name and render a
    parameter per id — a few µs each, 100–250 per statement here, in the event loop that also
    drives the sender's SMTP connections."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    each: Any = select(literal_column("value")).select_from(func.json_each(bindparam(name)))
    return column.in_(each.scalar_subquery())


def _ids(ids: Sequence[int | None], dialect: str) -> object:
    return ids if dialect == "postgresql" else json.dumps(ids)


# The statements of a claim and a marking, built once (building and keying one costs
# SQLAlchemy ~0.5 ms, each time, in the event loop): calls bind their values.
#
# A claim picks the due rows' ids from the narrow delivery table alone, in the claim index's
# order, and only then joins those few to the messages. Joining first let PostgreSQL join
# every pending row to its 1–3 KB message and sort them all to keep 250: for a 10,000-copy
# broadcast a hash join over the whole outbox and an on-disk sort, 25–46 ms a claim and most
# of the database's CPU in a broadcast (issue 15, item 4).
_WANTED = [_OUTBOX.c[name] for name in _COLUMNS if name in _OUTBOX.c]
_PICKED = (
    select(*_WANTED, _OUTBOX.c.priority, _OUTBOX.c.next_attempt_at)
    .where(
        _OUTBOX.c.state == DeliveryState.PENDING.value,
        _OUTBOX.c.next_attempt_at <= bindparam("now", type_=_OUTBOX.c.next_attempt_at.type),
        _OUTBOX.c.channel.in_(bindparam("channels", expanding=True)),
        or_(
            _OUTBOX.c.lease_until.is_(None),
            _OUTBOX.c.lease_until < bindparam("now", type_=_OUTBOX.c.lease_until.type),
        ),
    )
    .order_by(_OUTBOX.c.priority, _OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
    .subquery("picked")
)
_DUE = (
    select(*(_PICKED.c[n] if n in _OUTBOX.c else _column(n) for n in _COLUMNS))
    .select_from(_PICKED.join(_MESSAGES, _MESSAGES.c.id == _PICKED.c.id))
    .order_by(_PICKED.c.priority, _PICKED.c.next_attempt_at, _PICKED.c.id)
)


@cache
def _lease(dialect: str, named: tuple[str, ...]) -> Any:
    """Lease the rows bound to ``claimed`` (until ``until``, for ``owner``), count the attempt,
    and give each row of channel ``named[i]`` without a Message-ID ``head_i + id + tail_i``."""
    t = _OUTBOX
    fresh: Any = None  # no new Message-ID: the column as it is
    if named:
        fresh = case(
            *(
                (
                    t.c.channel == channel,
                    bindparam(f"head_{i}", type_=String)
                    + cast(t.c.id, String)
                    + bindparam(f"tail_{i}", type_=String),
                )
                for i, channel in enumerate(named)
            ),
            else_=None,
        )
    return (
        update(t)
        .where(_one_of(t.c.id, "claimed", dialect))
        .values(
            lease_until=bindparam("until", type_=t.c.lease_until.type),
            lease_owner=bindparam("owner", type_=t.c.lease_owner.type),
            attempts=t.c.attempts + 1,
            message_id=func.coalesce(t.c.message_id, fresh),
        )
    )


@cache
def _mark_sent(dialect: str) -> Any:
    t = _OUTBOX
    return (
        update(t)
        .where(_one_of(t.c.id, "rows", dialect))
        .values(
            state=DeliveryState.SENT.value,
            sent_at=bindparam("at", type_=t.c.sent_at.type),
            delivery_id=t.c.message_id,
            lease_until=None,
            lease_owner=None,
            last_error=None,
        )
    )


@cache
def _attachments(dialect: str) -> Any:
    a = OutboxAttachmentRow
    return (
        select(a.message_id, a.filename, a.content_type, a.content)
        .where(_one_of(a.message_id, "owners", dialect))
        .order_by(a.id)
    )


# Rows read and turned into messages between two returns to the event loop. The sender's
# event loop also drives its SMTP connections: a claim of 250 rows read and built in one go
# kept them all waiting 2–5 ms (the SMTP server answers all ten in about one), 40 times per
# 10,000 e-mails; in slices of 32 no step of a claim takes a millisecond.
SLICE = 32
_FRESH_MESSAGE_ID = re.compile(r"<([^<>@\s]+)@([^<>@\s]+)>")


def _fix_message_ids(
    messages: Sequence[OutboxMessage], message_id_for: Callable[[OutboxMessage], str | None]
) -> tuple[dict[str, tuple[str, str]], list[dict[str, object]]]:
    """Give the messages without a Message-ID theirs, in place (each was built just now and is
    not shared yet: a frozen dataclass, and ``replace()`` would copy every field of every row).

    Returns the pattern per channel — ``(head, tail)``: row ``n`` gets ``head + str(n) +
    tail`` — for the leasing statement to write, and the rows to write one by one: answers not
    of the form ``<left@right>`` (taken as they are), and a channel's derived ids when
    ``message_id_for`` gave some rows of it none (the statement cannot tell those apart)."""
    patterns: dict[str, tuple[str, str]] = {}
    derived: dict[str, list[OutboxMessage]] = {}
    unnamed: set[str] = set()  # channels with a row that gets no Message-ID
    one_by_one: list[dict[str, object]] = []
    for message in messages:
        if message.message_id is not None:
            continue
        pattern = patterns.get(message.channel)
        if pattern is None:
            fresh = message_id_for(message)
            parts = None if fresh is None else _FRESH_MESSAGE_ID.fullmatch(fresh)
            if parts is None:
                if fresh is None:
                    unnamed.add(message.channel)
                else:
                    one_by_one.append({"row_id": message.id, "message_id": fresh})
                    object.__setattr__(message, "message_id", fresh)
                continue
            pattern = patterns[message.channel] = (f"<{parts[1]}.", f"@{parts[2]}>")
        object.__setattr__(message, "message_id", f"{pattern[0]}{message.id}{pattern[1]}")
        derived.setdefault(message.channel, []).append(message)
    for channel in unnamed & patterns.keys():
        del patterns[channel]
        one_by_one += [{"row_id": m.id, "message_id": m.message_id} for m in derived[channel]]
    return patterns, one_by_one


def _built(
    rows: Sequence[Any], files: dict[int, list[Attachment]], bump: int
) -> list[OutboxMessage]:
    """Messages from rows of :data:`_COLUMNS`, ``bump`` added to their attempts."""
    return [
        OutboxMessage(
            id=row_id,
            idempotency_key=key,
            channel=channel,
            recipient=recipient,
            kind=_KINDS[kind],
            subject=subject,
            body_text=body_text,
            created_at=created_at,
            due_at=due_at,
            employee_id=employee_id,
            reference=reference,
            attachments=tuple(files.get(row_id, ())),
            sent_at=sent_at,
            attempts=attempts + bump,
            last_error=last_error,
            body_html=body_html,
            in_reply_to=in_reply_to,
            references=thread_references,
            message_id=message_id,
            state=_STATES[state],
            requeues=requeues,
        )
        for (
            row_id,
            key,
            channel,
            recipient,
            kind,
            subject,
            body_text,
            created_at,
            due_at,
            employee_id,
            reference,
            sent_at,
            attempts,
            last_error,
            body_html,
            in_reply_to,
            thread_references,
            message_id,
            state,
            requeues,
        ) in rows
    ]


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
        Message-ID gets one here, before its first attempt, and keeps it: ``message_id_for`` is
        asked once per channel and claim (with the first such row) for a fresh ``<left@right>``,
        and every such row of the channel gets ``<left.ROW-ID@right>`` — unique because the
        fresh one is, and written by the statement that leases the row. (A ``message_id_for``
        whose answer is not of that form is asked row by row.)

        Two statements however many rows: ``SELECT … FOR UPDATE SKIP LOCKED`` reads them (on
        PostgreSQL, senders never claim the same row; SQLite's transaction holds the write
        lock), then one ``UPDATE`` leases them and fixes their Message-IDs — no ORM objects, no
        statement per row, each row written once (a second write would cost PostgreSQL another
        row version and an entry in each of the table's indexes).
        """
        rows = await self._write(
            _DUE,
            {"now": now, "channels": list(channels), "limit": limit},
            sliced=True,
        )
        if not rows:
            return []
        messages = await self._messages(rows, attempted=True)
        await asyncio.sleep(0)  # see SLICE
        patterns, one_by_one = _fix_message_ids(messages, message_id_for)
        await asyncio.sleep(0)
        dialect = self._dialect()
        parameters: dict[str, object] = {
            "claimed": _ids([m.id for m in messages], dialect),
            "until": now + lease,
            "owner": owner,
        }
        for i, (head, tail) in enumerate(patterns.values()):
            parameters[f"head_{i}"], parameters[f"tail_{i}"] = head, tail
        await self._write(_lease(dialect, tuple(patterns)), parameters)
        if one_by_one:
            t = _OUTBOX
            await self._write(
                update(t)
                .where(t.c.id == bindparam("row_id"))
                .values(message_id=bindparam("message_id")),
                one_by_one,
            )
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
        many they are — the sender marks a broadcast 100 rows at a time, one transaction and
        one fsync each — and only ids that differ (a Slack ``ts``) are written one by one.
        """
        if not delivered:
            return
        dialect = self._dialect()
        rows = _ids([row_id for row_id, _ in delivered], dialect)
        await self._write(_mark_sent(dialect), {"rows": rows, "at": at})
        explicit = [{"row_id": i, "delivery": d} for i, d in delivered if d is not None]
        if explicit:
            t = _OUTBOX
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

    async def retry_after_ambiguity(self, message_id: int, *, when: datetime, error: str) -> None:
        """An ambiguous attempt of a notice worth a second one: pending again from ``when``
        under the same Message-ID, counted in ``requeues`` (so it happens once)."""
        row = await self._row(message_id)
        row.state = DeliveryState.PENDING.value
        row.next_attempt_at = when
        row.last_error = error[:2000]
        row.lease_until = row.lease_owner = None
        row.requeues += 1
        await _flush(self.session)

    async def undelivered(
        self,
        *,
        states: Iterable[DeliveryState] = (DeliveryState.FAILED, DeliveryState.AMBIGUOUS),
        kinds: Iterable[MessageKind] | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[OutboxMessage]:
        """Rows given up on (``failed``/``ambiguous``), oldest first, without attachment
        contents; only of ``kinds`` and only ``ids`` when given."""
        query = select(OutboxRow).where(OutboxRow.state.in_([s.value for s in states]))
        if kinds is not None:
            query = query.where(OutboxRow.kind.in_([k.value for k in kinds]))
        if ids is not None:
            query = query.where(OutboxRow.id.in_(list(ids)))
        rows = await self.session.scalars(query.order_by(OutboxRow.id))
        return [_message(row, []) for row in rows]

    async def requeue(self, message_ids: Iterable[int], *, at: datetime) -> int:
        """Put ``failed``/``ambiguous`` rows back in the queue (at ``at``): due at once — at
        their first queue time, so no clock difference between HR's host and the sender's
        delays them, and they go out in their original order — with a fresh attempt budget,
        the same Message-ID (fixed at the first claim, never changed), ``requeues`` counted.
        Rows in another state are left alone. Returns how many were requeued."""
        ids = list(message_ids)
        if not ids:
            return 0
        t = _OUTBOX
        first_queued = (
            select(_MESSAGES.c.created_at).where(_MESSAGES.c.id == t.c.id).scalar_subquery()
        )
        given_up = [DeliveryState.FAILED.value, DeliveryState.AMBIGUOUS.value]
        result: Any = await self.session.execute(
            update(t)
            .where(t.c.id.in_(ids), t.c.state.in_(given_up))
            .values(
                state=DeliveryState.PENDING.value,
                next_attempt_at=case(
                    (first_queued < at, first_queued),
                    else_=literal(at, t.c.next_attempt_at.type),
                ),
                attempts=0,
                lease_until=None,
                lease_owner=None,
                requeues=t.c.requeues + 1,
            )
        )
        return int(result.rowcount or 0)

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
            .select_from(_OUTBOX)
            .where(
                _OUTBOX.c.state == DeliveryState.PENDING.value,
                _OUTBOX.c.next_attempt_at <= now,
                _OUTBOX.c.channel.in_(list(channels)),
            )
        )
        return await self.session.scalar(query) or 0

    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def _write(
        self, statement: Any, parameters: Any = None, *, sliced: bool = False
    ) -> list[Any]:
        """A write (its ``RETURNING`` rows, if any; ``sliced``: read :data:`SLICE` at a time);
        SQLite's "database is locked" becomes :class:`WriteConflictError`."""
        try:
            result: Any = await self.session.execute(statement, parameters)
        except OperationalError as error:
            if is_lock_error(error):
                raise WriteConflictError(f"a concurrent write won: {error.orig}") from error
            raise
        if not result.returns_rows:
            return []
        if not sliced:
            return list(result)
        rows: list[Any] = []
        for part in result.partitions(SLICE):
            if rows:
                await asyncio.sleep(0)
            rows += part
        return rows

    async def _messages(
        self, rows: Sequence[Any], *, attempted: bool = False
    ) -> list[OutboxMessage]:
        """Messages from rows of :data:`_COLUMNS` (``attempted``: with this attempt counted),
        their attachments loaded in one query; built :data:`SLICE` at a time (see there)."""
        files: dict[int, list[Attachment]] = {}
        dialect = self._dialect()
        found = await self.session.execute(
            _attachments(dialect), {"owners": _ids([r[0] for r in rows], dialect)}
        )
        for owner, filename, content_type, content in found:
            files.setdefault(owner, []).append(Attachment(filename, content_type, content))
        messages: list[OutboxMessage] = []
        for start in range(0, len(rows), SLICE):
            if start:
                await asyncio.sleep(0)
            messages += _built(rows[start : start + SLICE], files, 1 if attempted else 0)
        return messages

    async def _row(self, message_id: int) -> OutboxRow:
        row = await self.session.get(OutboxRow, message_id)
        if row is None:
            raise KeyError(message_id)
        return row

    async def _with_attachments(self, rows: list[OutboxRow]) -> list[OutboxMessage]:
        return await messages_with_attachments(self.session, rows)


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
