"""Counts for operations (``offerbot hr metrics``, ``/metrics``) and the database ping of
``/healthz``.

Every count is read from rows the application already keeps, so it is the same whichever
replica answers and survives restarts. Reached as ``uow.metrics`` inside an open unit of
work; only counts and ids leave this module, never row contents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.hr_records import DeliveryState
from storage.models import (
    ElectionIntentRow,
    FormReceiptRow,
    InboundMessageRow,
    OutboxDeliveryRow,
    UnansweredQuestionRow,
)

__all__ = ["MetricsRepository", "StoredCounts"]


@dataclass(frozen=True, slots=True)
class StoredCounts:
    abstentions: int = 0
    intents: dict[str, int] = field(default_factory=dict)  # intent kind → versions recorded
    forms_received: dict[str, int] = field(default_factory=dict)  # form kind → receipts
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, state) → rows
    outbox_due: dict[str, int] = field(default_factory=dict)  # channel → pending and due now
    inbound: dict[str, int] = field(default_factory=dict)  # e-mail outcome → messages


@dataclass(slots=True)
class MetricsRepository:
    session: AsyncSession

    async def ping(self) -> None:
        """``SELECT 1``: raises if the database cannot be reached."""
        await self.session.execute(select(literal(1)))

    async def counts(self, *, now: datetime) -> StoredCounts:
        """Everything in one read transaction (six grouped counts)."""
        abstentions = await self.session.scalar(select(func.count(UnansweredQuestionRow.id)))
        intents = await self._grouped(ElectionIntentRow.kind, ElectionIntentRow.id)
        forms = await self._grouped(FormReceiptRow.form, FormReceiptRow.id)
        outbox = {
            (channel, state): count
            for channel, state, count in await self.session.execute(
                select(
                    OutboxDeliveryRow.channel,
                    OutboxDeliveryRow.state,
                    func.count(OutboxDeliveryRow.id),
                ).group_by(OutboxDeliveryRow.channel, OutboxDeliveryRow.state)
            )
        }
        due = await self.session.execute(
            select(OutboxDeliveryRow.channel, func.count(OutboxDeliveryRow.id))
            .where(
                OutboxDeliveryRow.state == DeliveryState.PENDING.value,
                OutboxDeliveryRow.next_attempt_at <= now,
            )
            .group_by(OutboxDeliveryRow.channel)
        )
        return StoredCounts(
            abstentions=int(abstentions or 0),
            intents=intents,
            forms_received=forms,
            outbox=outbox,
            outbox_due={channel: count for channel, count in due},
            inbound=await self._grouped(InboundMessageRow.outcome, InboundMessageRow.id),
        )

    async def _grouped(self, column: Any, key: Any) -> dict[str, int]:
        rows = await self.session.execute(select(column, func.count(key)).group_by(column))
        return {str(value): int(count) for value, count in rows}
