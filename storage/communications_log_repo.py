"""The communications log (HR console ``/hr/communications``): what went out, grouped, counted
in SQL so the page stays quick with a hundred thousand outbox rows.

A *group* is one communication (a broadcast, a reminder round, an amendment notice: every
outbox copy whose ``reference`` is ``comm:<id>``) or, for everything else, one message kind
(receipt confirmations, answers, HR notices …). The groups are aggregated in one query with
``GROUP BY`` over a subquery that names each row's group, so no row is loaded into Python;
the per-message download reads the outbox in id order, in keyset batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, distinct, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.hr_records import DeliveryState
from storage.models import OutboxRow

__all__ = ["CommunicationsLogRepository", "LogGroup", "LogMessage", "communications_log"]

COMM_PREFIX = "comm:"


@dataclass(frozen=True, slots=True)
class LogGroup:
    key: str  # "comm:3" (one communication) or a message kind ("receipt_confirmation")
    kinds: str  # the kind of its messages ("reminder"; several joined by ", ")
    messages: int
    recipients: int  # distinct recipients (a person on two channels counts twice)
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

    @property
    def communication_id(self) -> int | None:
        if self.key.startswith(COMM_PREFIX):
            return int(self.key.removeprefix(COMM_PREFIX))
        return None


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


def _aware(value: Any) -> datetime | None:
    """Aggregates bypass the column type: SQLite hands back naive (UTC) values or strings."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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

    async def groups(self, *, offset: int, limit: int) -> tuple[list[LogGroup], int]:
        """One page of groups, newest (last queued) first, and how many groups there are."""
        rows = select(
            _group_column().label("grp"),
            OutboxRow.kind,
            OutboxRow.channel,
            OutboxRow.recipient,
            OutboxRow.state,
            OutboxRow.created_at,
            OutboxRow.sent_at,
        ).subquery()
        sent = rows.c.state == DeliveryState.SENT.value
        query = (
            select(
                rows.c.grp,
                func.min(rows.c.kind),
                func.max(rows.c.kind),
                func.count(),
                func.count(distinct(rows.c.recipient)),
                func.sum(case((sent, 1), else_=0)),
                func.sum(case((rows.c.state == DeliveryState.FAILED.value, 1), else_=0)),
                func.sum(case((rows.c.state == DeliveryState.AMBIGUOUS.value, 1), else_=0)),
                func.min(rows.c.created_at),
                func.max(rows.c.created_at),
                func.min(case((sent, rows.c.sent_at))),
                func.max(case((sent, rows.c.sent_at))),
                func.count().over(),  # the number of groups, on every row
            )
            .group_by(rows.c.grp)
            .order_by(func.max(rows.c.created_at).desc(), rows.c.grp)
            .offset(offset)
            .limit(limit)
        )
        found: list[LogGroup] = []
        total = 0
        for row in await self.session.execute(query):
            grp, kind_lo, kind_hi, n, people, n_sent, n_failed, n_amb, q0, q1, s0, s1, total = row
            first_queued, last_queued = _aware(q0), _aware(q1)
            assert first_queued is not None and last_queued is not None
            found.append(
                LogGroup(
                    key=grp,
                    kinds=kind_lo if kind_lo == kind_hi else f"{kind_lo}, {kind_hi}",
                    messages=int(n),
                    recipients=int(people),
                    sent=int(n_sent or 0),
                    failed=int(n_failed or 0),
                    ambiguous=int(n_amb or 0),
                    first_queued_at=first_queued,
                    last_queued_at=last_queued,
                    first_sent_at=_aware(s0),
                    last_sent_at=_aware(s1),
                )
            )
        if not found:
            return [], int(await self.count_groups())
        channels = await self._channels([g.key for g in found])
        return [replace(g, by_channel=channels.get(g.key, {})) for g in found], int(total)

    async def count_groups(self) -> int:
        grouped = select(_group_column().label("grp")).group_by(_group_column()).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(grouped)) or 0)

    async def _channels(self, keys: Sequence[str]) -> dict[str, dict[str, int]]:
        rows = select(_group_column().label("grp"), OutboxRow.channel).subquery()
        query = (
            select(rows.c.grp, rows.c.channel, func.count())
            .where(rows.c.grp.in_(list(keys)))
            .group_by(rows.c.grp, rows.c.channel)
        )
        found: dict[str, dict[str, int]] = {}
        for grp, channel, n in await self.session.execute(query):
            found.setdefault(grp, {})[channel] = int(n)
        return found

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
            for r in await self.session.execute(query)
        ]


def communications_log(uow: Any) -> CommunicationsLogRepository:
    """The repository inside ``uow``'s open transaction."""
    return CommunicationsLogRepository(uow.session)
