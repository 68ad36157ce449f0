"""Repositories: domain objects in, domain objects out. No SQL leaves this module.

Each repository works inside the session of one :class:`~storage.uow.UnitOfWork` and flushes
its writes at once, so a broken constraint is reported by the call that caused it (as
:class:`~storage.errors.ConstraintViolationError`) rather than later at commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.domain.records import AuditEntry, OfferState, UnansweredQuestion, UpsertCounts
from bot.domain.roster import (
    CapitalizationAdjustment,
    Employee,
    EmployeeClass,
    EmployeeStatus,
    Grant,
    OptionType,
)
from storage.errors import ConstraintViolationError, WriteConflictError
from storage.models import (
    PRICE_PRECISION,
    PRICE_SCALE,
    AdjustmentRow,
    AuditRow,
    Base,
    EmployeeRow,
    GrantRow,
    OfferStateRow,
    UnansweredQuestionRow,
)

__all__ = [
    "AdjustmentRepository",
    "AuditRepository",
    "EmployeeRepository",
    "GrantRepository",
    "OfferStateRepository",
    "QuestionRepository",
    "is_lock_error",
    "normalize_email",
]

# Keys per SELECT … IN (…): well under SQLite's and asyncpg's bound-parameter limits.
CHUNK = 500

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
D = TypeVar("D")  # a domain object
R = TypeVar("R", bound=Base)  # its row


def normalize_email(email: str) -> str:
    """The form e-mail addresses are matched in: trimmed and lower-cased."""
    return email.strip().lower()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def is_lock_error(error: OperationalError) -> bool:
    """SQLite's "database is locked" (SQLITE_BUSY): another connection holds the write lock, or
    this transaction's read snapshot went stale before its first write."""
    return "database is locked" in str(error.orig)


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as error:
        raise ConstraintViolationError(f"rejected by the database: {error.orig}") from error
    except OperationalError as error:
        if is_lock_error(error):
            raise WriteConflictError(f"a concurrent write won: {error.orig}") from error
        raise


def _unique_keys(items: Iterable[T], key: Callable[[T], K], what: str) -> tuple[list[T], list[K]]:
    """The items and their keys; a key twice in one batch is an error (which one would win?)."""
    listed = list(items)
    keys = [key(item) for item in listed]
    twice = sorted(str(k) for k, n in Counter(keys).items() if n > 1)
    if twice:
        raise ValueError(f"{what} appears more than once in one batch: {', '.join(twice)}")
    return listed, keys


@dataclass(slots=True)
class OfferStateRepository:
    session: AsyncSession

    async def get(self, offer_id: str) -> OfferState | None:
        row = await self.session.get(OfferStateRow, offer_id)
        return None if row is None else _offer_state(row)

    async def save(self, state: OfferState) -> None:
        """Insert or replace the state of ``state.offer_id``."""
        row = await self.session.get(OfferStateRow, state.offer_id)
        if row is None:
            row = OfferStateRow(offer_id=state.offer_id)
            self.session.add(row)
        row.expiration = state.expiration
        row.original_expiration = state.original_expiration
        row.terms_digest = state.terms_digest
        row.updated_at = state.updated_at
        await _flush(self.session)


@dataclass(slots=True)
class EmployeeRepository:
    session: AsyncSession

    async def get(self, employee_id: str) -> Employee | None:
        row = await self.session.get(EmployeeRow, employee_id)
        return None if row is None else _employee(row)

    async def by_email(self, email: str) -> Employee | None:
        """Case-insensitive and blind to surrounding spaces."""
        return await self._one(EmployeeRow.email_normalized == normalize_email(email))

    async def by_slack_user_id(self, slack_user_id: str) -> Employee | None:
        return await self._one(EmployeeRow.slack_user_id == slack_user_id)

    async def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` that are employees in the database."""
        wanted = sorted(set(ids))
        found: set[str] = set()
        for chunk in _chunks(wanted):
            result = await self.session.scalars(
                select(EmployeeRow.employee_id).where(EmployeeRow.employee_id.in_(chunk))
            )
            found.update(result)
        return found

    async def count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(EmployeeRow)) or 0

    async def list_all(self) -> list[Employee]:
        rows = await self.session.scalars(select(EmployeeRow).order_by(EmployeeRow.employee_id))
        return [_employee(row) for row in rows]

    async def upsert_many(self, employees: Iterable[Employee]) -> UpsertCounts:
        """Insert new employees, update changed ones, leave equal ones alone (and count each)."""
        return await _upsert(
            self.session,
            employees,
            key=lambda e: e.employee_id,
            model=EmployeeRow,
            key_column=EmployeeRow.employee_id,
            new_row=lambda e, now: EmployeeRow(employee_id=e.employee_id, created_at=now),
            to_domain=_employee,
            fill=_fill_employee,
        )

    async def _one(self, condition: ColumnElement[bool]) -> Employee | None:
        row = await self.session.scalar(select(EmployeeRow).where(condition))
        return None if row is None else _employee(row)


@dataclass(slots=True)
class GrantRepository:
    session: AsyncSession

    async def get(self, grant_number: str) -> Grant | None:
        row = await self.session.get(GrantRow, grant_number)
        return None if row is None else _grant(row)

    async def for_employee(self, employee_id: str) -> list[Grant]:
        rows = await self.session.scalars(
            select(GrantRow)
            .where(GrantRow.employee_id == employee_id)
            .order_by(GrantRow.grant_date, GrantRow.grant_number)
        )
        return [_grant(row) for row in rows]

    async def count(self) -> int:
        return await self.session.scalar(select(func.count()).select_from(GrantRow)) or 0

    async def list_all(self) -> list[Grant]:
        """Every grant, by employee, then grant date and number."""
        rows = await self.session.scalars(
            select(GrantRow).order_by(
                GrantRow.employee_id, GrantRow.grant_date, GrantRow.grant_number
            )
        )
        return [_grant(row) for row in rows]

    async def upsert_many(self, grants: Iterable[Grant]) -> UpsertCounts:
        """Insert new grants, update changed ones, leave equal ones alone (and count each).

        A grant whose employee is not in the database raises
        :class:`~storage.errors.ConstraintViolationError`.
        """
        grants = list(grants)
        for grant in grants:
            _check_price(grant)
        return await _upsert(
            self.session,
            grants,
            key=lambda g: g.grant_number,
            model=GrantRow,
            key_column=GrantRow.grant_number,
            new_row=lambda g, now: GrantRow(grant_number=g.grant_number),
            to_domain=_grant,
            fill=_fill_grant,
        )


@dataclass(slots=True)
class AdjustmentRepository:
    session: AsyncSession

    async def list_all(self) -> list[CapitalizationAdjustment]:
        """Oldest first, the order in which they apply."""
        rows = await self.session.scalars(
            select(AdjustmentRow).order_by(AdjustmentRow.effective_date, AdjustmentRow.id)
        )
        return [
            CapitalizationAdjustment(
                effective_date=row.effective_date,
                numerator=row.numerator,
                denominator=row.denominator,
                description=row.description,
            )
            for row in rows
        ]

    async def add(self, adjustment: CapitalizationAdjustment) -> None:
        self.session.add(
            AdjustmentRow(
                effective_date=adjustment.effective_date,
                numerator=adjustment.numerator,
                denominator=adjustment.denominator,
                description=adjustment.description,
            )
        )
        await _flush(self.session)


@dataclass(slots=True)
class AuditRepository:
    """Insert and read only: audit entries are legal evidence and never change."""

    session: AsyncSession

    async def record(self, entry: AuditEntry) -> None:
        self.session.add(
            AuditRow(
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                channel=entry.channel,
                subject=entry.subject,
                detail=dict(entry.detail),
            )
        )
        await _flush(self.session)

    async def recent(self, limit: int = 100, subject: str | None = None) -> list[AuditEntry]:
        """Newest first; only entries about ``subject`` when given."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        rows = await self.session.scalars(query)
        return [
            AuditEntry(
                at=row.at,
                actor=row.actor,
                action=row.action,
                channel=row.channel,
                subject=row.subject,
                detail=dict(row.detail),
            )
            for row in rows
        ]


@dataclass(slots=True)
class QuestionRepository:
    """Questions the bot could not answer, kept for HR."""

    session: AsyncSession

    async def record_unanswered(self, question: UnansweredQuestion) -> int:
        row = UnansweredQuestionRow(
            asked_at=question.asked_at,
            channel=question.channel,
            actor=question.actor,
            employee_id=question.employee_id,
            question=question.question,
            confidence=question.confidence,
            best_entry_id=question.best_entry_id,
            reason=question.reason,
        )
        self.session.add(row)
        await _flush(self.session)
        return row.id

    async def unanswered(self, limit: int = 500) -> list[UnansweredQuestion]:
        """Newest first."""
        rows = await self.session.scalars(
            select(UnansweredQuestionRow)
            .order_by(UnansweredQuestionRow.asked_at.desc(), UnansweredQuestionRow.id.desc())
            .limit(limit)
        )
        return [
            UnansweredQuestion(
                id=row.id,
                asked_at=row.asked_at,
                channel=row.channel,
                actor=row.actor,
                employee_id=row.employee_id,
                question=row.question,
                confidence=row.confidence,
                best_entry_id=row.best_entry_id,
                reason=row.reason,
            )
            for row in rows
        ]


# --- mapping between rows and domain objects ------------------------------------------------


async def _upsert(
    session: AsyncSession,
    items: Iterable[D],
    *,
    key: Callable[[D], str],
    model: type[R],
    key_column: InstrumentedAttribute[str],
    new_row: Callable[[D, datetime], R],
    to_domain: Callable[[R], D],
    fill: Callable[[R, D, datetime], None],
) -> UpsertCounts:
    """Insert new items, update changed ones, leave equal ones alone (and count each).

    Existing rows are loaded in chunks (one ``SELECT … IN`` per chunk), never row by row.
    """
    unique, keys = _unique_keys(items, key, key_column.key)
    existing: dict[str, R] = await _load_by_key(session, model, key_column, keys)
    now = _utcnow()
    inserted = updated = unchanged = 0
    for item in unique:
        row = existing.get(key(item))
        if row is None:
            row = new_row(item, now)
            fill(row, item, now)
            session.add(row)
            inserted += 1
        elif to_domain(row) != item:
            fill(row, item, now)
            updated += 1
        else:
            unchanged += 1
    await _flush(session)
    return UpsertCounts(inserted=inserted, updated=updated, unchanged=unchanged)


async def _load_by_key(
    session: AsyncSession, model: type[T], column: Any, keys: Sequence[str]
) -> dict[str, T]:
    """The rows whose ``column`` is in ``keys``: one SELECT … IN per chunk, never one per row."""
    found: dict[str, T] = {}
    for chunk in _chunks(keys):
        rows = await session.scalars(select(model).where(column.in_(chunk)))
        for row in rows:
            found[getattr(row, column.key)] = row
    return found


def _offer_state(row: OfferStateRow) -> OfferState:
    return OfferState(
        offer_id=row.offer_id,
        expiration=row.expiration,
        original_expiration=row.original_expiration,
        terms_digest=row.terms_digest,
        updated_at=row.updated_at,
    )


def _employee(row: EmployeeRow) -> Employee:
    return Employee(
        employee_id=row.employee_id,
        name=row.name,
        email=row.email,
        country=row.country,
        status=EmployeeStatus(row.status),
        employee_class=EmployeeClass(row.employee_class),
        slack_user_id=row.slack_user_id,
    )


def _fill_employee(row: EmployeeRow, employee: Employee, now: datetime) -> None:
    row.name = employee.name
    row.email = employee.email
    row.email_normalized = normalize_email(employee.email)
    row.slack_user_id = employee.slack_user_id
    row.country = employee.country
    row.status = EmployeeStatus(employee.status).value
    row.employee_class = EmployeeClass(employee.employee_class).value
    row.updated_at = now


def _grant(row: GrantRow) -> Grant:
    return Grant(
        grant_number=row.grant_number,
        employee_id=row.employee_id,
        plan=row.plan,
        grant_date=row.grant_date,
        option_type=OptionType(row.option_type),
        exercise_price=row.exercise_price,
        shares_granted=row.shares_granted,
        shares_exercised=row.shares_exercised,
        expiration_date=row.expiration_date,
        split_group=row.split_group,
    )


def _fill_grant(row: GrantRow, grant: Grant, now: datetime) -> None:
    row.employee_id = grant.employee_id
    row.plan = grant.plan
    row.grant_date = grant.grant_date
    row.option_type = OptionType(grant.option_type).value
    row.exercise_price = grant.exercise_price
    row.shares_granted = grant.shares_granted
    row.shares_exercised = grant.shares_exercised
    row.expiration_date = grant.expiration_date
    row.split_group = grant.split_group
    row.updated_at = now


_PRICE_LIMIT = Decimal(10) ** (PRICE_PRECISION - PRICE_SCALE)
_PRICE_STEP = Decimal(1).scaleb(-PRICE_SCALE)


def _check_price(grant: Grant) -> None:
    """Refuse a price the column would round (both backends round silently past 4 places)."""
    price = grant.exercise_price
    if not price.is_finite() or abs(price) >= _PRICE_LIMIT or price != price.quantize(_PRICE_STEP):
        raise ConstraintViolationError(
            f"grant {grant.grant_number}: exercise price {price} cannot be stored exactly "
            f"(at most {PRICE_PRECISION - PRICE_SCALE} digits before and {PRICE_SCALE} after "
            "the decimal point)"
        )
