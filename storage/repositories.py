"""Repositories: domain objects in, domain objects out. No SQL leaves this module.

Each repository works inside the session of one :class:`~storage.uow.UnitOfWork` and flushes
its writes at once, so a broken constraint is reported by the call that caused it (as
:class:`~storage.errors.ConstraintViolationError`) rather than later at commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.attributes import set_committed_value

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
from storage.offer_reads import WRITTEN as OFFER_STATE_WRITTEN

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
# Upserts of this many rows or more read the whole table once instead of SELECT … IN by chunk.
WHOLE_TABLE_AT = 5_000
# Rows per executemany page of an upsert (progress is reported after each).
WRITE_PAGE = 5_000

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


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

    async def lock(self, offer_id: str) -> OfferState | None:
        """The state, locked until the transaction ends (``SELECT … FOR UPDATE`` on PostgreSQL).

        Changes to the expiration (extend, amend, approve, close) read it, check a rule against
        it and write: two HR admins at once must take turns, or both would check against the old
        date and the later commit could move the deadline back. SQLite's ``BEGIN IMMEDIATE``
        already serialises every transaction.
        """
        row = await self.session.get(
            OfferStateRow, offer_id, with_for_update=True, populate_existing=True
        )
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
        # The questions' copies in this process are dropped when this commits (storage.uow);
        # other processes hear it from the trigger's notification (migration 0015).
        self.session.info[OFFER_STATE_WRITTEN] = True


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

    async def get_many(self, ids: Iterable[str]) -> dict[str, Employee]:
        """The employees among ``ids``, by id: one query for up to 30,000 ids (both databases
        take that many bound values), not one per person."""
        wanted = sorted(set(ids))
        found: dict[str, Employee] = {}
        for chunk in _chunks(wanted, 30_000):
            rows = await self.session.execute(
                select(*_EMPLOYEES.compared).where(
                    EmployeeRow.employee_id.in_(bindparam("ids", expanding=True))
                ),
                {"ids": list(chunk)},
            )
            for row in rows:
                employee = _employee_from_values(*row)
                found[employee.employee_id] = employee
        return found

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
        # Columns, not ORM entities: the roster import reads every employee, and building (and
        # tracking) 100,000 entities costs ten times as much as these tuples.
        rows = await self.session.execute(
            select(*_EMPLOYEES.compared).order_by(EmployeeRow.employee_id)
        )
        return [_employee_from_values(*row) for row in rows]

    async def upsert_many(
        self, employees: Iterable[Employee], *, progress: Callable[[int], None] | None = None
    ) -> UpsertCounts:
        """Insert new employees, update changed ones, leave equal ones alone (and count each).

        ``progress(n)`` is called as rows are dealt with; the ``n`` add up to the number of
        employees given.
        """
        return await _upsert(self.session, _EMPLOYEES, employees, progress)

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

    async def upsert_many(
        self, grants: Iterable[Grant], *, progress: Callable[[int], None] | None = None
    ) -> UpsertCounts:
        """Insert new grants, update changed ones, leave equal ones alone (and count each);
        ``progress`` as for :meth:`EmployeeRepository.upsert_many`.

        A grant whose employee is not in the database raises
        :class:`~storage.errors.ConstraintViolationError`.
        """
        grants = list(grants)
        for grant in grants:
            _check_price(grant)
        return await _upsert(self.session, _GRANTS, grants, progress)


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

    async def with_action(self, action: str, *, before: datetime | None = None) -> list[AuditEntry]:
        """Entries of one ``action`` (earlier than ``before`` when given), oldest first."""
        query = select(AuditRow).where(AuditRow.action == action)
        if before is not None:
            query = query.where(AuditRow.at < before)
        rows = await self.session.scalars(query.order_by(AuditRow.at, AuditRow.id))
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
        return [unanswered_question(row) for row in rows]


# --- mapping between rows and domain objects ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _UpsertSpec:
    """How one domain type maps onto its table for :func:`_upsert`.

    ``compared`` are the columns a domain object is made of (the key first): a stored row is
    unchanged exactly when these are equal. ``derived`` are written too but follow from them
    (``email_normalized``); ``updated_at`` is set on every write, ``created_at`` on insert.
    """

    model: type[Base]
    compared: tuple[InstrumentedAttribute[Any], ...]
    values: Callable[[Any], tuple[Any, ...]]  # domain object -> compared values, in order
    derived: Callable[[dict[str, Any]], dict[str, Any]] = lambda _values: {}
    stamps_created: bool = False

    @property
    def table(self) -> Table:
        table = self.model.__table__
        assert isinstance(table, Table)
        return table

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.key for column in self.compared)


async def _upsert(
    session: AsyncSession,
    spec: _UpsertSpec,
    items: Iterable[Any],
    progress: Callable[[int], None] | None = None,
) -> UpsertCounts:
    """Insert new items, update changed ones, leave equal ones alone (and count each).

    Bulk SQL rather than the ORM unit of work, which costs ~100 µs per row: the stored rows
    are read as plain tuples (:func:`_stored_values`), compared in Python, and the new and
    changed ones written by executemany, :data:`WRITE_PAGE` rows at a time (``progress`` is
    told how many rows each page, and the unchanged ones, account for). Entities of updated
    rows already loaded into this session are brought up to date, as a flush would.
    """
    names = spec.names
    key_name = names[0]
    rows, keys = _unique_keys(map(spec.values, items), lambda values: values[0], key_name)
    await _flush(session)  # pending ORM writes first, so the reads below see them
    stored = await _stored_values(session, spec, keys)
    now = _utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    for values in rows:
        before = stored.get(values[0])
        if before is not None and before == values:
            unchanged += 1
            continue
        written = dict(zip(names, values, strict=True))
        written.update(spec.derived(written))
        written["updated_at"] = now
        if before is None:
            if spec.stamps_created:
                written["created_at"] = now
            inserts.append(written)
        else:
            updates.append(written)
    tick = progress or (lambda _count: None)
    if unchanged:
        tick(unchanged)
    table = spec.table
    key = table.c[key_name]
    # RETURNING makes SQLAlchemy send many rows per INSERT ("insertmanyvalues"); without it
    # asyncpg runs one INSERT per row, three times slower on PostgreSQL (faster on SQLite too).
    adding = insert(table).returning(key)
    for page in _chunks(inserts, WRITE_PAGE):
        await _write(session, adding, page)
        tick(len(page))
    if updates:
        changed = [name for name in updates[0] if name != key_name]
        changing = (
            update(table)
            .where(key == bindparam("w_key"))
            .values({name: bindparam(f"w_{name}") for name in changed})
        )
        for page in _chunks(updates, WRITE_PAGE):
            await _write(
                session,
                changing,
                [{"w_key": v[key_name], **{f"w_{n}": v[n] for n in changed}} for v in page],
            )
            tick(len(page))
        _refresh_loaded(session, spec.model, updates, key_name)
    return UpsertCounts(inserted=len(inserts), updated=len(updates), unchanged=unchanged)


async def _stored_values(
    session: AsyncSession, spec: _UpsertSpec, keys: Sequence[Any]
) -> dict[Any, tuple[Any, ...]]:
    """The compared values of the stored rows among ``keys``, by key.

    Many keys (a roster import): one pass over the whole table, which costs less than
    hundreds of ``SELECT … IN`` lookups (and nothing at all on an empty table). Few keys:
    ``SELECT … IN`` by chunk.
    """
    found: dict[Any, tuple[Any, ...]] = {}
    if len(keys) >= WHOLE_TABLE_AT:
        wanted = set(keys)
        for row in await session.execute(select(*spec.compared)):
            if row[0] in wanted:
                found[row[0]] = tuple(row)
        return found
    key_column = spec.compared[0]
    async with _planned_for_its_keys(session):
        for chunk in _chunks(keys, CHUNK):
            for row in await session.execute(select(*spec.compared).where(key_column.in_(chunk))):
                found[row[0]] = tuple(row)
    return found


@asynccontextmanager
async def _planned_for_its_keys(session: AsyncSession) -> AsyncIterator[None]:
    """PostgreSQL: plan each ``SELECT … IN`` inside the block for its own keys.

    asyncpg prepares every statement, and after five runs PostgreSQL may keep one generic
    plan. An import starts on an empty table, so that plan is a sequential scan, kept while the
    (uncommitted) table grows to 100,000 rows: each lookup then reads the whole table
    (measured: ~1 s per chunk instead of ~2 ms). Only the lookups: planning every foreign-key
    check of the writes as well would cost more than it saves.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    await session.execute(_CUSTOM_PLANS)
    yield  # if a lookup fails, the transaction is over and the setting with it
    await session.execute(_USUAL_PLANS)


_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
_USUAL_PLANS = text("SET LOCAL plan_cache_mode = DEFAULT")


async def _write(session: AsyncSession, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany; database refusals become storage errors, as :func:`_flush` does."""
    try:
        await session.execute(statement, rows)
    except IntegrityError as error:
        raise ConstraintViolationError(f"rejected by the database: {error.orig}") from error
    except OperationalError as error:
        if is_lock_error(error):
            raise WriteConflictError(f"a concurrent write won: {error.orig}") from error
        raise


def _refresh_loaded(
    session: AsyncSession, model: type[Base], written: list[dict[str, Any]], key_name: str
) -> None:
    """Entities this session already holds for rows just updated by SQL get the new values
    (as stored, not as changes to flush), so a later ``get`` in the same unit of work agrees."""
    identity_map = session.sync_session.identity_map
    if not len(identity_map):
        return
    for values in written:
        entity = identity_map.get(session.sync_session.identity_key(model, values[key_name]))
        if entity is not None:
            for name, value in values.items():
                set_committed_value(entity, name, value)


def unanswered_question(row: UnansweredQuestionRow) -> UnansweredQuestion:
    """One stored question (also read by ``storage.hr_questions_repo``)."""
    return UnansweredQuestion(
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
        department=row.department,
        location=row.location,
        manager_email=row.manager_email,
    )


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


_EMPLOYEES = _UpsertSpec(
    model=EmployeeRow,
    compared=(
        EmployeeRow.employee_id,
        EmployeeRow.name,
        EmployeeRow.email,
        EmployeeRow.slack_user_id,
        EmployeeRow.country,
        EmployeeRow.status,
        EmployeeRow.employee_class,
        EmployeeRow.department,
        EmployeeRow.location,
        EmployeeRow.manager_email,
    ),
    values=lambda e: (
        e.employee_id,
        e.name,
        e.email,
        e.slack_user_id,
        e.country,
        EmployeeStatus(e.status).value,
        EmployeeClass(e.employee_class).value,
        e.department,
        e.location,
        e.manager_email,
    ),
    derived=lambda v: {"email_normalized": normalize_email(v["email"])},
    stamps_created=True,
)

_GRANTS = _UpsertSpec(
    model=GrantRow,
    compared=(
        GrantRow.grant_number,
        GrantRow.employee_id,
        GrantRow.plan,
        GrantRow.grant_date,
        GrantRow.option_type,
        GrantRow.exercise_price,
        GrantRow.shares_granted,
        GrantRow.shares_exercised,
        GrantRow.expiration_date,
        GrantRow.split_group,
    ),
    values=lambda g: (
        g.grant_number,
        g.employee_id,
        g.plan,
        g.grant_date,
        OptionType(g.option_type).value,
        g.exercise_price,
        g.shares_granted,
        g.shares_exercised,
        g.expiration_date,
        g.split_group,
    ),
)


def _employee_from_values(
    employee_id: str,
    name: str,
    email: str,
    slack_user_id: str | None,
    country: str,
    status: str,
    employee_class: str,
    department: str | None = None,
    location: str | None = None,
    manager_email: str | None = None,
) -> Employee:
    """An employee from the values of :data:`_EMPLOYEES`' compared columns, in order."""
    return Employee(
        employee_id=employee_id,
        name=name,
        email=email,
        slack_user_id=slack_user_id,
        country=country,
        status=EmployeeStatus(status),
        employee_class=EmployeeClass(employee_class),
        department=department,
        location=location,
        manager_email=manager_email,
    )


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
