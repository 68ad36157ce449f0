"""The HR console's storage: accounts, sessions, sign-in attempts, answered questions, and the
few counts the dashboard needs that no other repository has.

Reached through :func:`hr_console` over an open unit of work (``async with uow:``), like the
Slack tables. Only hashes of session tokens are stored; passwords only as argon2 hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from storage.hr_console_models import (
    HrAccountRow,
    HrFormScanRow,
    HrLoginAttemptRow,
    HrQuestionStateRow,
    HrSessionRow,
)
from storage.models import (
    AdjustmentRow,
    AuditRow,
    EmployeeRow,
    GrantRow,
    UnansweredQuestionRow,
)
from storage.repositories import _flush

__all__ = ["FormScan", "HrAccount", "HrConsoleRepository", "HrSession", "hr_console"]


@dataclass(frozen=True, slots=True)
class HrAccount:
    email: str
    role: str  # "admin" | "viewer"
    password_hash: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class HrSession:
    token_hash: str
    email: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class FormScan:
    """A scanned signed form stored with its receipt (``content`` is empty in listings)."""

    id: int
    employee_id: str
    version: int
    filename: str
    sha256: str
    size: int
    uploaded_at: datetime
    uploaded_by: str
    content: bytes = b""


def _account(row: HrAccountRow) -> HrAccount:
    return HrAccount(
        email=row.email,
        role=row.role,
        password_hash=row.password_hash,
        created_at=row.created_at,
        created_by=row.created_by,
    )


@dataclass(slots=True)
class HrConsoleRepository:
    session: AsyncSession

    # --- accounts ---------------------------------------------------------------------------

    async def account(self, email: str) -> HrAccount | None:
        row = await self.session.get(HrAccountRow, email)
        return None if row is None else _account(row)

    async def accounts(self) -> list[HrAccount]:
        rows = await self.session.scalars(select(HrAccountRow).order_by(HrAccountRow.email))
        return [_account(r) for r in rows]

    async def save_account(self, account: HrAccount) -> bool:
        """Insert or replace (role, password); True when the account is new."""
        row = await self.session.get(HrAccountRow, account.email)
        if row is None:
            self.session.add(
                HrAccountRow(
                    email=account.email,
                    role=account.role,
                    password_hash=account.password_hash,
                    created_at=account.created_at,
                    created_by=account.created_by,
                )
            )
        else:
            row.role, row.password_hash = account.role, account.password_hash
        await _flush(self.session)
        return row is None

    async def remove_account(self, email: str) -> bool:
        """Delete the account and every session of it; False when there was none."""
        await self.session.execute(delete(HrSessionRow).where(HrSessionRow.email == email))
        result: Any = await self.session.execute(
            delete(HrAccountRow).where(HrAccountRow.email == email)
        )
        await _flush(self.session)
        return bool(result.rowcount)

    # --- sessions ---------------------------------------------------------------------------

    async def add_session(self, s: HrSession, *, address: str) -> None:
        self.session.add(
            HrSessionRow(
                token_hash=s.token_hash,
                email=s.email,
                csrf_token=s.csrf_token,
                created_at=s.created_at,
                last_seen_at=s.last_seen_at,
                address=address[:64],
            )
        )
        await _flush(self.session)

    async def get_session(self, token_hash: str) -> HrSession | None:
        row = await self.session.get(HrSessionRow, token_hash)
        if row is None:
            return None
        return HrSession(
            token_hash=row.token_hash,
            email=row.email,
            csrf_token=row.csrf_token,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )

    async def touch_session(self, token_hash: str, *, at: datetime) -> None:
        row = await self.session.get(HrSessionRow, token_hash)
        if row is not None:
            row.last_seen_at = at
            await _flush(self.session)

    async def end_session(self, token_hash: str) -> None:
        await self.session.execute(
            delete(HrSessionRow).where(HrSessionRow.token_hash == token_hash)
        )

    async def end_sessions_of(self, email: str) -> int:
        result: Any = await self.session.execute(
            delete(HrSessionRow).where(HrSessionRow.email == email)
        )
        return int(result.rowcount or 0)

    async def end_idle_sessions(self, *, seen_before: datetime) -> int:
        result: Any = await self.session.execute(
            delete(HrSessionRow).where(HrSessionRow.last_seen_at < seen_before)
        )
        return int(result.rowcount or 0)

    # --- sign-in attempts -------------------------------------------------------------------

    async def record_attempt(
        self, *, at: datetime, email: str, address: str, succeeded: bool
    ) -> None:
        self.session.add(
            HrLoginAttemptRow(at=at, email=email, address=address[:64], succeeded=succeeded)
        )
        await _flush(self.session)

    async def failures_since(
        self, since: datetime, *, email: str | None = None, address: str | None = None
    ) -> int:
        """Failed attempts at or after ``since`` for this account or this address."""
        query = select(func.count(HrLoginAttemptRow.id)).where(
            HrLoginAttemptRow.at >= since, HrLoginAttemptRow.succeeded.is_(False)
        )
        if email is not None:
            query = query.where(HrLoginAttemptRow.email == email)
        if address is not None:
            query = query.where(HrLoginAttemptRow.address == address[:64])
        return int(await self.session.scalar(query) or 0)

    # --- questions --------------------------------------------------------------------------

    async def mark_answered(self, question_id: int, *, at: datetime, by: str) -> bool:
        """False when the question does not exist or was already marked."""
        if await self.session.get(UnansweredQuestionRow, question_id) is None:
            return False
        if await self.session.get(HrQuestionStateRow, question_id) is not None:
            return False
        self.session.add(
            HrQuestionStateRow(question_id=question_id, answered_at=at, answered_by=by)
        )
        await _flush(self.session)
        return True

    async def answered_question_ids(self) -> set[int]:
        return set(await self.session.scalars(select(HrQuestionStateRow.question_id)))

    async def open_questions_since(self, since: datetime) -> int:
        """Unanswered questions asked at or after ``since`` that HR has not marked answered."""
        answered = select(HrQuestionStateRow.question_id)
        query = select(func.count(UnansweredQuestionRow.id)).where(
            UnansweredQuestionRow.asked_at >= since,
            UnansweredQuestionRow.id.not_in(answered),
        )
        return int(await self.session.scalar(query) or 0)

    # --- scanned signed forms ---------------------------------------------------------------

    async def add_scan(self, scan: FormScan) -> int:
        """Store a scan of the received form (employee, version); its new id."""
        row = HrFormScanRow(
            employee_id=scan.employee_id,
            version=scan.version,
            filename=scan.filename,
            sha256=scan.sha256,
            size=scan.size,
            content=scan.content,
            uploaded_at=scan.uploaded_at,
            uploaded_by=scan.uploaded_by,
        )
        self.session.add(row)
        await _flush(self.session)
        return row.id

    async def scans_for(self, employee_id: str) -> list[FormScan]:
        """The employee's scans without their bytes (a listing never loads the files)."""
        columns = [c for c in HrFormScanRow.__table__.c if c.key != "content"]
        rows = await self.session.execute(
            select(*columns)
            .where(HrFormScanRow.employee_id == employee_id)
            .order_by(HrFormScanRow.id)
        )
        return [FormScan(**row._mapping) for row in rows]

    async def scan(self, scan_id: int) -> FormScan | None:
        """One scan with its bytes."""
        row = (
            await self.session.execute(
                select(*HrFormScanRow.__table__.c).where(HrFormScanRow.id == scan_id)
            )
        ).first()
        return None if row is None else FormScan(**row._mapping)

    # --- the dashboard ----------------------------------------------------------------------

    async def roster_revision(self) -> tuple[Any, ...]:
        """A cheap fingerprint of the roster, read in one query: the database, and per table the
        row count and the newest change (employees and grants: ``updated_at``, which every
        insert and update through an import sets; adjustments: the highest id, as they are only
        added). Nothing deletes these rows, so any import or adjustment that changed something
        changes the fingerprint, whichever process made it; the console keeps what it derives
        from the roster for as long as the fingerprint stays the same."""
        parts = [
            select(func.count().label("n"), func.max(column).label("m")).subquery()
            for column in (EmployeeRow.updated_at, GrantRow.updated_at, AdjustmentRow.id)
        ]
        joined = parts[0].join(parts[1], true()).join(parts[2], true())  # one row each
        query = select(*(c for p in parts for c in p.c)).select_from(joined)
        row = (await self.session.execute(query)).one()
        url = self.session.get_bind().engine.url
        return (url.render_as_string(hide_password=True), *row)

    async def employees_with_action(self, action: str, *, excluding_channels: set[str]) -> set[str]:
        """Subjects of audit entries of ``action`` written through other channels than these
        (e.g. employees who looked at their own grants, not HR looking for them)."""
        rows = await self.session.scalars(
            select(AuditRow.subject)
            .distinct()
            .where(
                AuditRow.action == action,
                AuditRow.subject.is_not(None),
                AuditRow.channel.not_in(sorted(excluding_channels)),
            )
        )
        return {r for r in rows if r is not None}


def hr_console(uow: Any) -> HrConsoleRepository:
    """The console's repository inside ``uow``'s open transaction."""
    return HrConsoleRepository(uow.session)
