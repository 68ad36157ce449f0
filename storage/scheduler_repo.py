"""Repositories for deadlines in motion: durable jobs, offer amendments, communications.

Jobs are claimed like outbox rows: a due pending row whose lease is free is leased to one
runner (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas never claim the same job; SQLite
serialises writers, so there one runner at a time is the supported setup).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.amendments import AmendmentKind, AmendmentStatus, OfferAmendment
from bot.domain.communications import Communication, CommunicationStats
from bot.domain.hr_records import DeliveryState
from bot.domain.jobs import Job, JobState
from storage.elections_repo import _flush_racing
from storage.models import OutboxRow
from storage.repositories import _chunks, _flush
from storage.scheduler_models import AmendmentRow, CommunicationRow, JobRow

__all__ = ["AmendmentRepository", "CommunicationRepository", "JobRepository"]


def _job(row: JobRow) -> Job:
    return Job(
        key=row.key,
        kind=row.kind,
        due_at=row.due_at,
        payload=dict(row.payload or {}),
        state=JobState(row.state),
        attempts=row.attempts,
        created_at=row.created_at,
        claimed_by=row.claimed_by,
        claimed_until=row.claimed_until,
        finished_at=row.finished_at,
        last_error=row.last_error,
        id=row.id,
    )


@dataclass(slots=True)
class JobRepository:
    session: AsyncSession

    async def schedule(self, job: Job, *, now: datetime, replace: bool = False) -> bool:
        """Add ``job`` unless one with its key exists; True when added.

        ``replace`` moves an existing *pending* job to the new due time and payload (a
        re-planned reminder); finished jobs are never revived.
        """
        row = await self.session.scalar(select(JobRow).where(JobRow.key == job.key))
        if row is not None:
            if replace and row.state == JobState.PENDING.value:
                row.due_at, row.payload, row.kind = job.due_at, dict(job.payload), job.kind
                await _flush(self.session)
            return False
        self.session.add(
            JobRow(
                key=job.key,
                kind=job.kind,
                due_at=job.due_at,
                payload=dict(job.payload),
                state=JobState.PENDING.value,
                attempts=0,
                created_at=now,
            )
        )
        await _flush_racing(self.session, f"job {job.key}")
        return True

    async def get(self, key: str) -> Job | None:
        row = await self.session.scalar(select(JobRow).where(JobRow.key == key))
        return None if row is None else _job(row)

    async def claim_due(
        self,
        *,
        now: datetime,
        owner: str,
        lease: timedelta,
        limit: int = 10,
        kinds: Iterable[str] | None = None,
    ) -> list[Job]:
        """Lease up to ``limit`` due pending jobs, oldest due first; each claim is an attempt."""
        conditions = [
            JobRow.state == JobState.PENDING.value,
            JobRow.due_at <= now,
            or_(JobRow.claimed_until.is_(None), JobRow.claimed_until < now),
        ]
        if kinds is not None:
            conditions.append(JobRow.kind.in_(list(kinds)))
        rows = list(
            await self.session.scalars(
                select(JobRow)
                .where(*conditions)
                .order_by(JobRow.due_at, JobRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.claimed_by = owner
            row.claimed_until = now + lease
            row.attempts += 1
        await _flush(self.session)
        return [_job(row) for row in rows]

    async def renew(self, job_id: int, *, owner: str, until: datetime) -> bool:
        """Extend a lease still held by ``owner`` (a long broadcast); False if it was lost."""
        result = await self.session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.claimed_by == owner)
            .values(claimed_until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def complete(self, job_id: int, *, at: datetime) -> None:
        row = await self._row(job_id)
        row.state = JobState.DONE.value
        row.finished_at = at
        row.claimed_until = None
        row.last_error = None
        await _flush(self.session)

    async def retry_at(self, job_id: int, *, when: datetime, error: str) -> None:
        row = await self._row(job_id)
        row.due_at = when
        row.claimed_by = row.claimed_until = None
        row.last_error = error[:2000]
        await _flush(self.session)

    async def fail(self, job_id: int, *, at: datetime, error: str) -> None:
        row = await self._row(job_id)
        row.state = JobState.FAILED.value
        row.finished_at = at
        row.claimed_until = None
        row.last_error = error[:2000]
        await _flush(self.session)

    async def cancel_pending(
        self, *, kind: str, key_prefix: str = "", keep: Iterable[str] = (), at: datetime
    ) -> int:
        """Cancel pending jobs of ``kind`` (whose key starts with ``key_prefix``) except the
        keys in ``keep``; returns how many. Used when a plan is made again."""
        keep = list(keep)
        conditions: list[Any] = [JobRow.kind == kind, JobRow.state == JobState.PENDING.value]
        if key_prefix:
            conditions.append(JobRow.key.startswith(key_prefix, autoescape=True))
        rows = list(await self.session.scalars(select(JobRow).where(*conditions)))
        cancelled = 0
        for row in rows:
            if row.key in keep:
                continue
            row.state = JobState.CANCELLED.value
            row.finished_at = at
            cancelled += 1
        await _flush(self.session)
        return cancelled

    async def list(
        self, *, kind: str | None = None, state: JobState | None = None, limit: int = 1000
    ) -> list[Job]:
        query = select(JobRow)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        if state is not None:
            query = query.where(JobRow.state == state.value)
        rows = await self.session.scalars(query.order_by(JobRow.due_at, JobRow.id).limit(limit))
        return [_job(row) for row in rows]

    async def next_due(self) -> datetime | None:
        """When the earliest pending job is due (the scheduler sleeps on the clock until then)."""
        return await self.session.scalar(
            select(func.min(JobRow.due_at)).where(JobRow.state == JobState.PENDING.value)
        )

    async def _row(self, job_id: int) -> JobRow:
        row = await self.session.get(JobRow, job_id)
        if row is None:
            raise KeyError(job_id)
        return row


def _amendment(row: AmendmentRow) -> OfferAmendment:
    return OfferAmendment(
        offer_id=row.offer_id,
        kind=AmendmentKind(row.kind),
        previous_expiration=row.previous_expiration,
        new_expiration=row.new_expiration,
        description=row.description,
        message=row.message,
        announce=row.announce,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        status=AmendmentStatus(row.status),
        approved_by=row.approved_by,
        applied_at=row.applied_at,
        id=row.id,
    )


@dataclass(slots=True)
class AmendmentRepository:
    session: AsyncSession

    async def add(self, amendment: OfferAmendment) -> OfferAmendment:
        """Store a new amendment; returns it with its id."""
        row = AmendmentRow(
            offer_id=amendment.offer_id,
            kind=amendment.kind.value,
            previous_expiration=amendment.previous_expiration,
            new_expiration=amendment.new_expiration,
            description=amendment.description,
            message=amendment.message,
            announce=amendment.announce,
            requested_by=amendment.requested_by,
            requested_at=amendment.requested_at,
            status=amendment.status.value,
            approved_by=amendment.approved_by,
            applied_at=amendment.applied_at,
        )
        self.session.add(row)
        await _flush_racing(self.session, "an amendment")
        return _amendment(row)

    async def get(self, amendment_id: int) -> OfferAmendment | None:
        row = await self.session.get(AmendmentRow, amendment_id)
        return None if row is None else _amendment(row)

    async def set_status(
        self,
        amendment_id: int,
        *,
        status: AmendmentStatus,
        approved_by: str | None = None,
        applied_at: datetime | None = None,
    ) -> OfferAmendment:
        """Move an amendment forward (awaiting approval → applied or rejected)."""
        row = await self.session.get(AmendmentRow, amendment_id, with_for_update=True)
        if row is None:
            raise KeyError(amendment_id)
        if row.status != AmendmentStatus.AWAITING_APPROVAL.value and row.status != status.value:
            raise ValueError(f"amendment {amendment_id} is already {row.status}")
        row.status = status.value
        if approved_by is not None:
            row.approved_by = approved_by
        if applied_at is not None:
            row.applied_at = applied_at
        await _flush(self.session)
        return _amendment(row)

    async def list_all(self, offer_id: str) -> list[OfferAmendment]:
        """Oldest first."""
        rows = await self.session.scalars(
            select(AmendmentRow).where(AmendmentRow.offer_id == offer_id).order_by(AmendmentRow.id)
        )
        return [_amendment(row) for row in rows]


def _communication(row: CommunicationRow) -> Communication:
    return Communication(
        key=row.key,
        kind=row.kind,
        subject=row.subject,
        body=row.body,
        created_at=row.created_at,
        channel_post=row.channel_post,
        id=row.id,
    )


@dataclass(slots=True)
class CommunicationRepository:
    session: AsyncSession

    async def record(self, communication: Communication) -> Communication:
        """Keep ``communication`` once per key; returns the stored one (with its id)."""
        row = await self.session.scalar(
            select(CommunicationRow).where(CommunicationRow.key == communication.key)
        )
        if row is None:
            row = CommunicationRow(
                key=communication.key,
                kind=communication.kind,
                subject=communication.subject,
                body=communication.body,
                channel_post=communication.channel_post,
                created_at=communication.created_at,
            )
            self.session.add(row)
            await _flush_racing(self.session, f"communication {communication.key}")
        return _communication(row)

    async def get(self, key: str) -> Communication | None:
        row = await self.session.scalar(select(CommunicationRow).where(CommunicationRow.key == key))
        return None if row is None else _communication(row)

    async def list_all(self) -> list[Communication]:
        rows = await self.session.scalars(select(CommunicationRow).order_by(CommunicationRow.id))
        return [_communication(row) for row in rows]

    async def stats(self, references: Iterable[str]) -> dict[str, CommunicationStats]:
        """Delivery counts per ``reference`` ("comm:<id>") from the outbox copies."""
        refs = list(references)
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(refs):
            sent = OutboxRow.state == DeliveryState.SENT.value
            failed = OutboxRow.state == DeliveryState.FAILED.value
            ambiguous = OutboxRow.state == DeliveryState.AMBIGUOUS.value
            rows = await self.session.execute(
                select(
                    OutboxRow.reference,
                    OutboxRow.channel,
                    func.count(),
                    func.sum(case((sent, 1), else_=0)),
                    func.sum(case((failed, 1), else_=0)),
                    func.sum(case((ambiguous, 1), else_=0)),
                    func.min(case((sent, OutboxRow.sent_at))),
                    func.max(case((sent, OutboxRow.sent_at))),
                )
                .where(and_(OutboxRow.reference.in_(list(chunk))))
                .group_by(OutboxRow.reference, OutboxRow.channel)
            )
            for ref, channel, queued, n_sent, n_failed, n_ambiguous, first, last in rows:
                entry = found.setdefault(
                    ref,
                    {
                        "queued": 0,
                        "sent": 0,
                        "failed": 0,
                        "ambiguous": 0,
                        "first": None,
                        "last": None,
                        "by": {},
                        "queued_by": {},
                    },
                )
                entry["queued"] += int(queued)
                entry["sent"] += int(n_sent or 0)
                entry["failed"] += int(n_failed or 0)
                entry["ambiguous"] += int(n_ambiguous or 0)
                entry["by"][channel] = int(n_sent or 0)
                entry["queued_by"][channel] = int(queued)
                if first is not None and (entry["first"] is None or first < entry["first"]):
                    entry["first"] = first
                if last is not None and (entry["last"] is None or last > entry["last"]):
                    entry["last"] = last
        return {
            ref: CommunicationStats(
                queued=e["queued"],
                sent=e["sent"],
                failed=e["failed"],
                first_sent_at=_aware(e["first"]),
                last_sent_at=_aware(e["last"]),
                by_channel=e["by"],
                queued_by_channel=e["queued_by"],
                ambiguous=e["ambiguous"],
            )
            for ref, e in found.items()
        }


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type: SQLite hands back naive (UTC) values or strings."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
