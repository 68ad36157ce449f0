"""The declarative base and the column conventions every table module shares.

Its own module so that :mod:`storage.models` can import the other table modules
(:mod:`storage.slack_models`, :mod:`storage.scheduler_models`, …) to register them on the one
``Base.metadata`` while those import their base from here — not from :mod:`storage.models`,
which would be an import circle (``tests/ops/test_import_graph.py`` refuses one).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import Date, DateTime, Dialect, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

__all__ = [
    "EMAIL",
    "ID",
    "NAMING_CONVENTION",
    "PRICE_PRECISION",
    "PRICE_SCALE",
    "TEXT",
    "Base",
    "UTCDateTime",
    "utcnow",
    "values_in",
]

ID = 64  # employee ids, grant numbers, offer ids, Slack ids
TEXT = 200  # names, plans, actors
EMAIL = 254  # RFC 5321 path limit
PRICE_PRECISION, PRICE_SCALE = 12, 4

# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """A column default: the database row's write time, in UTC."""
    return datetime.now(UTC)


def values_in(column: str, values: type[Any]) -> str:
    """SQL for a CHECK that a column holds one of an enum's values (from code, never input)."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: refuses naive datetimes, stores UTC, always loads aware UTC datetimes.

    SQLite has no time-zone type and SQLAlchemy's SQLite ``DATETIME`` drops ``tzinfo`` without
    a word, so a naive value (or a local one) would be stored as if it were UTC. Refusing naive
    values and normalising to UTC makes both backends hold the same instants.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: storage keeps instants, "
                "give it a time zone (e.g. datetime.now(UTC) or .replace(tzinfo=...))"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)  # stored as UTC wall time
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), date: Date()}
