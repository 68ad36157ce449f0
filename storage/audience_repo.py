"""Bulk reads for whole-roster work (reminders, broadcasts): a few queries for everyone.

Reminding 100,000 people must not cost 100,000 queries, nor 250,000 ORM objects: these read
plain columns with one Core SELECT per table (no ORM identity map) and build the small domain
values the rules need. Dates and prices are read raw and parsed here with the C parsers
(``date.fromisoformat``), which is several times faster than the generic SQLite result
processors on 150,000 grants; PostgreSQL hands back ``date``/``Decimal`` already. Domain
objects out; no SQL leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from bot.domain.elections import IntentKind
from bot.domain.roster import Employee, EmployeeClass, EmployeeStatus, Grant, OptionType
from storage.models import ElectionIntentRow, EmployeeRow, FormReceiptRow, GrantRow

__all__ = ["AudienceRepository", "IntentHead"]

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


@dataclass(slots=True)
class AudienceRepository:
    session: AsyncSession

    @classmethod
    def of(cls, uow: Any) -> AudienceRepository:
        """Over the open unit of work's session (call inside ``async with uow:``)."""
        return cls(uow.session)

    async def employees(self) -> list[Employee]:
        """Every employee (in no particular order)."""
        rows = await self._core(
            select(
                _E.employee_id,
                _E.name,
                _E.email,
                _E.country,
                _E.status,
                _E.employee_class,
                _E.slack_user_id,
            )
        )
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
            )
            for eid, name, email, country, status, cls, slack in rows
        ]

    async def grants(self, *, skip: Callable[[str], bool] | None = None) -> Iterator[Grant]:
        """Every grant, built lazily from one read: a grant whose employee id ``skip`` refuses
        (asked as the caller consumes the iterator) is never built. Cheaper than a large
        ``IN`` list, and lets the caller stop caring about a person once they are settled."""
        rows = await self._core(
            select(
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
        )
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
        rows = await self._core(select(_I.employee_id, _I.version, _I.kind))
        kinds = {k.value: k for k in IntentKind}
        return [IntentHead(eid, version, kinds[kind]) for eid, version, kind in rows]

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
