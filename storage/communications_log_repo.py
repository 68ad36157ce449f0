"""The communications log (HR console ``/hr/communications``): what went out, grouped, counted
in SQL so the page stays quick with a hundred thousand outbox rows.

A *group* is one communication (a broadcast, a reminder round, an amendment notice: every
outbox copy whose ``reference`` is ``comm:<id>``) or, for everything else, one message kind
(receipt confirmations, answers, HR notices …). The groups are aggregated in one query with
``GROUP BY`` over a subquery that names each row's group, so no row is loaded into Python;
the per-message download reads the outbox in id order, in keyset batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.hr_records import DeliveryState
from storage.models import OutboxRow
from storage.scheduler_repo import _aware  # aggregates bypass the column's UTC type

__all__ = ["CommunicationsLogRepository", "LogGroup", "LogMessage", "communications_log"]


@dataclass(frozen=True, slots=True)
class LogGroup:
    key: str  # "comm:3" (one communication) or a message kind ("receipt_confirmation")
    kinds: str  # the kind of its messages ("reminder"; several joined by ", ")
    messages: int
    sent: int
    failed: int
    ambiguous: int
    first_queued_at: datetime
    last_queued_at: datetime
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    by_channel: dict[str, int] = field(default_factory=dict)  # channel → messages

    @property
    def pending(self) -> int:
        return self.messages - self.sent - self.failed - self.ambiguous


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One outbox row as the filing's download lists it: no subject, no body."""

    id: int
    group: str
    kind: str
    channel: str
    employee_id: str | None
    recipient: str
    state: str
    queued_at: datetime
    sent_at: datetime | None
    attempts: int


def _group_column() -> Any:
    """Each row's group: its ``comm:<id>`` reference, else its kind. The pattern is a literal
    (not a bound parameter) so PostgreSQL sees one expression wherever it is repeated."""
    return case(
        (OutboxRow.reference.like(literal_column("'comm:%'")), OutboxRow.reference),
        else_=OutboxRow.kind,
    )


@dataclass(slots=True)
class CommunicationsLogRepository:
    session: AsyncSession

    async def groups(self) -> list[LogGroup]:
        """Every group, newest (last queued) first.

        One scan and one ``GROUP BY`` (group, channel) over a subquery that names each row's
        group; the rows per channel are summed here. There are few groups (one per
        communication, one per other kind), so the page slices this list; what costs is the
        scan, and it is done once. No ``COUNT(DISTINCT recipient)``: it made PostgreSQL sort
        every row (421 ms against 103 ms for 100,000 rows), and a communication queues one
        copy per person per channel (its idempotency keys), so its messages per channel are
        the people it reached there."""
        rows = select(
            _group_column().label("grp"),
            OutboxRow.kind,
            OutboxRow.channel,
            OutboxRow.state,
            OutboxRow.created_at,
            OutboxRow.sent_at,
        ).subquery()
        sent = rows.c.state == DeliveryState.SENT.value
        query = select(
            rows.c.grp,
            rows.c.channel,
            func.min(rows.c.kind),
            func.max(rows.c.kind),
            func.count(),
            func.sum(case((sent, 1), else_=0)),
            func.sum(case((rows.c.state == DeliveryState.FAILED.value, 1), else_=0)),
            func.sum(case((rows.c.state == DeliveryState.AMBIGUOUS.value, 1), else_=0)),
            func.min(rows.c.created_at),
            func.max(rows.c.created_at),
            func.min(case((sent, rows.c.sent_at))),
            func.max(case((sent, rows.c.sent_at))),
        ).group_by(rows.c.grp, rows.c.channel)
        merged: dict[str, LogGroup] = {}
        for row in await self.session.execute(query):
            grp, channel, kind_lo, kind_hi, n, n_sent, n_failed, n_amb = row[:8]
            q0, q1, s0, s1 = (_aware(v) for v in row[8:])
            assert q0 is not None and q1 is not None
            part = LogGroup(
                key=grp,
                kinds=kind_lo if kind_lo == kind_hi else f"{kind_lo}, {kind_hi}",
                messages=int(n),
                sent=int(n_sent or 0),
                failed=int(n_failed or 0),
                ambiguous=int(n_amb or 0),
                first_queued_at=q0,
                last_queued_at=q1,
                first_sent_at=s0,
                last_sent_at=s1,
                by_channel={channel: int(n)},
            )
            merged[grp] = _merge(merged[grp], part) if grp in merged else part
        return sorted(merged.values(), key=lambda g: (g.last_queued_at, g.key), reverse=True)

    async def messages(
        self, *, after_id: int, limit: int, group: str | None = None
    ) -> list[LogMessage]:
        """Outbox rows with an id above ``after_id``, in id order (keyset pages for the
        download); ``group``: only that group's."""
        grp = _group_column()
        query = select(
            OutboxRow.id,
            grp,
            OutboxRow.kind,
            OutboxRow.channel,
            OutboxRow.employee_id,
            OutboxRow.recipient,
            OutboxRow.state,
            OutboxRow.created_at,
            OutboxRow.sent_at,
            OutboxRow.attempts,
        ).where(OutboxRow.id > after_id)
        if group is not None:
            query = query.where(grp == group)
        query = query.order_by(OutboxRow.id).limit(limit)
        return [
            LogMessage(
                id=r[0],
                group=r[1],
                kind=r[2],
                channel=r[3],
                employee_id=r[4],
                recipient=r[5],
                state=r[6],
                queued_at=r[7],
                sent_at=r[8],
                attempts=r[9],
            )
            # Core rows, not the ORM's: a 100,000-row download spent half its time there
            for r in await (await self.session.connection()).execute(query)
        ]


def _merge(a: LogGroup, b: LogGroup) -> LogGroup:
    """One group's rows on two channels, as one."""

    def pick(x: datetime | None, y: datetime | None, f: Any) -> datetime | None:
        return y if x is None else x if y is None else f(x, y)

    kinds = ", ".join(sorted({*a.kinds.split(", "), *b.kinds.split(", ")}))
    return LogGroup(
        key=a.key,
        kinds=kinds,
        messages=a.messages + b.messages,
        sent=a.sent + b.sent,
        failed=a.failed + b.failed,
        ambiguous=a.ambiguous + b.ambiguous,
        first_queued_at=min(a.first_queued_at, b.first_queued_at),
        last_queued_at=max(a.last_queued_at, b.last_queued_at),
        first_sent_at=pick(a.first_sent_at, b.first_sent_at, min),
        last_sent_at=pick(a.last_sent_at, b.last_sent_at, max),
        by_channel={**a.by_channel, **b.by_channel},
    )


def communications_log(uow: Any) -> CommunicationsLogRepository:
    """The repository inside ``uow``'s open transaction."""
    return CommunicationsLogRepository(uow.session)
