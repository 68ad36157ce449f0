"""Storage for ``offerbot hr close``: the close run's progress and the bulk reads and writes
of one batch (a few hundred employees in a handful of statements, not ~9 per tender).

Every write here belongs to the batch's transaction: accepted tenders, the Promise to Grant
outbox messages with their PDFs, the audit rows and the run's new cursor commit together or
not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.close_run import CloseRun
from bot.domain.elections import ElectionIntent, FormReceipt
from bot.domain.hr_records import AcceptedTender, OutboxMessage
from bot.domain.records import AuditEntry
from bot.domain.roster import Employee, Grant
from storage.close_models import CloseRunRow
from storage.elections_repo import (
    _intent,
    _receipt,
    line_to_json,
)
from storage.models import (
    AcceptedTenderRow,
    AuditRow,
    ElectionIntentRow,
    EmployeeRow,
    FormReceiptRow,
    GrantRow,
    OutboxAttachmentRow,
)
from storage.outbox_writes import insert_new_messages
from storage.repositories import _employee, _grant

__all__ = ["BatchInputs", "CloseRunRepository"]


@dataclass(frozen=True, slots=True)
class BatchInputs:
    """What one batch needs, read in five queries: employees, their grants, intents,
    receipts, and the grants close already accepted from them."""

    employees: dict[str, Employee]
    grants: dict[str, list[Grant]] = field(default_factory=dict)
    intents: dict[str, list[ElectionIntent]] = field(default_factory=dict)
    receipts: dict[str, list[FormReceipt]] = field(default_factory=dict)
    accepted: dict[str, set[str]] = field(default_factory=dict)


def _run(row: CloseRunRow) -> CloseRun:
    return CloseRun(
        id=row.id,
        offer_id=row.offer_id,
        started_at=row.started_at,
        issued_at=row.issued_at,
        actor=row.actor,
        signer_name=row.signer_name,
        signer_title=row.signer_title,
        signer_demo=row.signer_demo,
        batch_size=row.batch_size,
        total=row.total,
        cursor=row.cursor,
        done=row.done,
        batches=row.batches,
        accepted=row.accepted,
        rejected=row.rejected,
        withdrawn=row.withdrawn,
        letters=row.letters,
        finished_at=row.finished_at,
    )


@dataclass(slots=True)
class CloseRunRepository:
    session: AsyncSession

    async def unfinished(self, offer_id: str) -> CloseRun | None:
        """The run a crash or kill left behind (at most one: a new run starts only when none
        is unfinished, under the offer's lock)."""
        row = await self.session.scalar(
            select(CloseRunRow)
            .where(CloseRunRow.offer_id == offer_id, CloseRunRow.finished_at.is_(None))
            .order_by(CloseRunRow.id.desc())
            .limit(1)
        )
        return None if row is None else _run(row)

    async def latest(self, offer_id: str) -> CloseRun | None:
        row = await self.session.scalar(
            select(CloseRunRow)
            .where(CloseRunRow.offer_id == offer_id)
            .order_by(CloseRunRow.id.desc())
            .limit(1)
        )
        return None if row is None else _run(row)

    async def start(self, run: CloseRun) -> CloseRun:
        row = CloseRunRow(
            offer_id=run.offer_id,
            started_at=run.started_at,
            issued_at=run.issued_at,
            actor=run.actor,
            signer_name=run.signer_name,
            signer_title=run.signer_title,
            signer_demo=run.signer_demo,
            batch_size=run.batch_size,
            total=run.total,
            cursor=None,
            done=0,
            batches=0,
            accepted=0,
            rejected=0,
            withdrawn=0,
            letters=0,
            updated_at=run.started_at,
            finished_at=None,
        )
        self.session.add(row)
        await self.session.flush()
        return replace(run, id=row.id)

    async def lock(self, run_id: int) -> CloseRun | None:
        """The run as committed, locked until the transaction ends (``FOR UPDATE`` on
        PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises anyway): two ``hr close`` processes
        resuming one run take turns, and the second sees the first one's cursor."""
        row = await self.session.get(
            CloseRunRow, run_id, with_for_update=True, populate_existing=True
        )
        return None if row is None else _run(row)

    async def save(self, run: CloseRun, *, at: datetime) -> None:
        """The run's progress (cursor and counts) or its end, in the open transaction."""
        if run.id is None:
            raise ValueError("save a run that was started")
        await self.session.execute(
            update(CloseRunRow)
            .where(CloseRunRow.id == run.id)
            .values(
                cursor=run.cursor,
                done=run.done,
                batches=run.batches,
                accepted=run.accepted,
                rejected=run.rejected,
                withdrawn=run.withdrawn,
                letters=run.letters,
                updated_at=at,
                finished_at=run.finished_at,
            )
        )

    # --- one batch -------------------------------------------------------------------------

    async def count_with_receipts(self) -> int:
        """Employees with at least one received signed form."""
        return int(
            await self.session.scalar(select(func.count(func.distinct(FormReceiptRow.employee_id))))
            or 0
        )

    async def next_with_receipts(self, *, after: str | None, limit: int) -> list[str]:
        """The next ``limit`` employee ids with a received form, in id order, after ``after``."""
        query = select(FormReceiptRow.employee_id).distinct()
        if after is not None:
            query = query.where(FormReceiptRow.employee_id > after)
        rows = await self.session.scalars(query.order_by(FormReceiptRow.employee_id).limit(limit))
        return list(rows)

    async def batch_inputs(self, employee_ids: Sequence[str]) -> BatchInputs:
        ids = list(employee_ids)
        employees = {
            row.employee_id: _employee(row)
            for row in await self.session.scalars(
                select(EmployeeRow).where(EmployeeRow.employee_id.in_(ids))
            )
        }
        grants: dict[str, list[Grant]] = defaultdict(list)
        for grant_row in await self.session.scalars(
            select(GrantRow).where(GrantRow.employee_id.in_(ids)).order_by(GrantRow.grant_number)
        ):
            grants[grant_row.employee_id].append(_grant(grant_row))
        intents: dict[str, list[ElectionIntent]] = defaultdict(list)
        for intent_row in await self.session.scalars(
            select(ElectionIntentRow)
            .where(ElectionIntentRow.employee_id.in_(ids))
            .order_by(ElectionIntentRow.employee_id, ElectionIntentRow.version)
        ):
            intents[intent_row.employee_id].append(_intent(intent_row))
        receipts: dict[str, list[FormReceipt]] = defaultdict(list)
        for receipt_row in await self.session.scalars(
            select(FormReceiptRow)
            .where(FormReceiptRow.employee_id.in_(ids))
            .order_by(FormReceiptRow.employee_id, FormReceiptRow.received_at)
        ):
            receipts[receipt_row.employee_id].append(_receipt(receipt_row))
        accepted: dict[str, set[str]] = defaultdict(set)
        for employee_id, grant_number in await self.session.execute(
            select(AcceptedTenderRow.employee_id, AcceptedTenderRow.grant_number).where(
                AcceptedTenderRow.employee_id.in_(ids)
            )
        ):
            accepted[employee_id].add(grant_number)
        return BatchInputs(
            employees=employees,
            grants=dict(grants),
            intents=dict(intents),
            receipts=dict(receipts),
            accepted=dict(accepted),
        )

    async def add_accepted(self, tenders: Sequence[AcceptedTender]) -> dict[str, int]:
        """Insert the tenders whose grant is not accepted yet; employee id → grants added."""
        numbers = [t.line.grant_number for t in tenders]
        existing: set[str] = set()
        if numbers:
            existing = set(
                await self.session.scalars(
                    select(AcceptedTenderRow.grant_number).where(
                        AcceptedTenderRow.grant_number.in_(numbers)
                    )
                )
            )
        rows = []
        added: dict[str, int] = defaultdict(int)
        for t in tenders:
            if t.line.grant_number in existing:
                continue
            existing.add(t.line.grant_number)
            rows.append(
                {
                    "grant_number": t.line.grant_number,
                    "employee_id": t.employee_id,
                    "version": t.version,
                    "line": line_to_json(t.line),
                    "accepted_at": t.accepted_at,
                }
            )
            added[t.employee_id] += 1
        if rows:
            await self.session.execute(insert(AcceptedTenderRow), rows)
        return dict(added)

    async def enqueue_letters(self, messages: Sequence[OutboxMessage]) -> int:
        """Queue messages with their attachments, skipping keys already queued (a rerun after a
        finished close); returns how many were added."""
        ids = await insert_new_messages(self.session, messages)
        fresh = [m for m in messages if m.idempotency_key in ids]
        attachments = [
            {
                "message_id": ids[m.idempotency_key],
                "filename": a.filename,
                "content_type": a.content_type,
                "content": a.content,
            }
            for m in fresh
            for a in m.attachments
        ]
        if attachments:
            await self.session.execute(insert(OutboxAttachmentRow), attachments)
        return len(ids)

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            await self.session.execute(
                insert(AuditRow),
                [
                    {
                        "at": e.at,
                        "actor": e.actor,
                        "action": e.action,
                        "channel": e.channel,
                        "subject": e.subject,
                        "detail": dict(e.detail),
                    }
                    for e in entries
                ],
            )
