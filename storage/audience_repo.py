"""Bulk reads for whole-roster work (reminders, broadcasts): a few queries per page of people.

Reminding 100,000 people must not cost 100,000 queries, nor 250,000 ORM objects, nor every
grant of the roster in memory at once: :meth:`AudienceRepository.page` reads one page of
employees by keyset (``employee_id > last seen``, in the database's order) and, with one range
query per table, their grants, intent versions and receipts — plain columns, Core SELECTs, no
ORM identity map — and builds the small domain values the rules need. Dates and prices are
read raw and parsed here with the C parsers (``date.fromisoformat``), several times faster
than the generic SQLite result processors; PostgreSQL hands back ``date``/``Decimal``
already. Domain objects out; no SQL leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, String, func, select, true, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from bot.domain.elections import IntentKind
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from storage.models import ElectionIntentRow, EmployeeRow, FormReceiptRow, GrantRow

__all__ = ["AudienceRepository", "IntentHead", "RosterPage"]

_E = EmployeeRow.__table__.c
_G = GrantRow.__table__.c
_I = ElectionIntentRow.__table__.c
_R = FormReceiptRow.__table__.c


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _price(value: Any) -> Decimal:
    """As the column type reads it: exact on PostgreSQL; on SQLite (a REAL) to 4 places."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value)
    return Decimal(f"{value:.4f}")


@dataclass(frozen=True, slots=True)
class IntentHead:
    """One intent version without its grant lines (enough to know the latest and its kind)."""

    employee_id: str
    version: int
    kind: IntentKind


@dataclass(frozen=True, slots=True)
class RosterPage:
    """One page of the roster: its employees (in the database's order of employee id) and
    everything of theirs a whole-roster rule needs. ``last`` is where the next page starts."""

    employees: list[Employee]
    grant_rows: list[Any]  # raw: a grant is built only when asked for
    intent_heads: list[IntentHead]
    received: set[tuple[str, int]]

    @property
    def last(self) -> str | None:
        return self.employees[-1].employee_id if self.employees else None

    @property
    def grants(self) -> list[Grant]:
        """Every grant of the page's employees (built on each call: keep the list)."""
        return list(AudienceRepository._grants(self.grant_rows, None))

    def grants_lazily(self, *, skip: Callable[[str], bool]) -> Iterator[Grant]:
        """The grants whose employee id ``skip`` refuses (asked as the iterator is consumed)
        are never built: a person settled by an earlier grant costs nothing more."""
        return AudienceRepository._grants(self.grant_rows, skip)


_EMPLOYEE_COLUMNS = (
    _E.employee_id,
    _E.name,
    _E.email,
    _E.country,
    _E.status,
    _E.employee_class,
    _E.slack_user_id,
    _E.department,
    _E.location,
    _E.manager_email,
)
_GRANT_COLUMNS = (
    _G.grant_number,
    _G.employee_id,
    _G.plan,
    type_coerce(_G.grant_date, String),
    _G.option_type,
    type_coerce(_G.exercise_price, String),
    _G.shares_granted,
    _G.shares_exercised,
    type_coerce(_G.expiration_date, String),
    _G.split_group,
)


@dataclass(slots=True)
class AudienceRepository:
    session: AsyncSession

    @classmethod
    def of(cls, uow: Any) -> AudienceRepository:
        """Over the open unit of work's session (call inside ``async with uow:``)."""
        return cls(uow.session)

    async def employees(self) -> list[Employee]:
        """Every employee (in no particular order)."""
        return _employees(await self._core(select(*_EMPLOYEE_COLUMNS)))

    async def page(self, *, after: str | None, limit: int) -> RosterPage:
        """The next ``limit`` employees after employee id ``after`` (None: from the first), in
        the database's order, with their grants, intent versions and received forms.

        Four queries whatever the page's size; the later three select the page's id range
        (``after < employee_id <= last``) in the same collation as the keyset, so nobody is
        missed or read twice even where the database's order differs from Python's."""
        query = select(*_EMPLOYEE_COLUMNS).order_by(_E.employee_id).limit(limit)
        if after is not None:
            query = query.where(_E.employee_id > after)
        employees = _employees(await self._core(query))
        if not employees:
            return RosterPage([], [], [], set())
        last = employees[-1].employee_id

        def mine(column: Any) -> ColumnElement[bool]:
            low = column > after if after is not None else true()
            return low & (column <= last)  # type: ignore[no-any-return]

        grant_rows = await self._core(select(*_GRANT_COLUMNS).where(mine(_G.employee_id)))
        heads = _heads(
            await self._core(
                select(_I.employee_id, _I.version, _I.kind).where(mine(_I.employee_id))
            )
        )
        received = {
            (eid, version)
            for eid, version in await self._core(
                select(_R.employee_id, _R.version).where(mine(_R.employee_id))
            )
        }
        return RosterPage(employees, grant_rows, heads, received)

    async def employee_count(self) -> int:
        """How many employees the roster holds (a round's progress is counted against it)."""
        return int(await self.session.scalar(select(func.count()).select_from(EmployeeRow)) or 0)

    async def grants(self, *, skip: Callable[[str], bool] | None = None) -> Iterator[Grant]:
        """Every grant, built lazily from one read: a grant whose employee id ``skip`` refuses
        (asked as the caller consumes the iterator) is never built. Cheaper than a large
        ``IN`` list, and lets the caller stop caring about a person once they are settled."""
        rows = await self._core(select(*_GRANT_COLUMNS))
        return self._grants(rows, skip)

    @staticmethod
    def _grants(rows: Iterable[Any], skip: Callable[[str], bool] | None) -> Iterator[Grant]:
        types = {t.value: t for t in OptionType}
        for number, eid, plan, granted, kind, price, shares, exercised, expires, split in rows:
            if skip is not None and skip(eid):
                continue
            yield Grant(
                grant_number=number,
                employee_id=eid,
                plan=plan,
                grant_date=_date(granted),  # type: ignore[arg-type]
                option_type=types[kind],
                exercise_price=_price(price),
                shares_granted=shares,
                shares_exercised=exercised,
                expiration_date=_date(expires),
                split_group=split,
            )

    async def intent_heads(self) -> list[IntentHead]:
        """Every intent version's employee, number and kind (no grant lines)."""
        return _heads(await self._core(select(_I.employee_id, _I.version, _I.kind)))

    async def received_versions(self) -> set[tuple[str, int]]:
        """(employee id, version) of every signed form HR recorded as received."""
        rows = await self._core(select(_R.employee_id, _R.version))
        return {(eid, version) for eid, version in rows}

    async def _core(self, query: Select[Any]) -> Any:  # rows of plain values
        """Run ``query`` on the session's connection, without the ORM's loading machinery.

        The rows are fetched at once: row-by-row iteration goes through the async adapters'
        ``fetchone``, which is far slower (quadratic on some drivers) for 100,000 rows.
        """
        connection = await self.session.connection()
        return (await connection.execute(query)).all()


def _employees(rows: Iterable[Any]) -> list[Employee]:
    statuses = {s.value: s for s in EmployeeStatus}
    classes = {c.value: c for c in EmployeeClass}
    return [
        Employee(
            employee_id=eid,
            name=name,
            email=email,
            country=country,
            status=statuses[status],
            employee_class=classes[cls],
            slack_user_id=slack,
            department=department,
            location=location,
            manager_email=manager,
        )
        for eid, name, email, country, status, cls, slack, department, location, manager in rows
    ]


def _heads(rows: Iterable[Any]) -> list[IntentHead]:
    kinds = {k.value: k for k in IntentKind}
    return [IntentHead(eid, version, kinds[kind]) for eid, version, kind in rows]
