"""Storage: SQLAlchemy 2 models, engine and sessions, repositories, unit of work, migrations.

Everything outside ``storage/`` talks to the database through :class:`UnitOfWork` and the
repositories it exposes, which take and return domain objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.errors import ConstraintViolationError, StorageError, UnitOfWorkError

if TYPE_CHECKING:
    from storage.db import create_engine, session_factory
    from storage.migrate import current_revision, upgrade
    from storage.uow import UnitOfWork

__all__ = [
    "ConstraintViolationError",
    "StorageError",
    "UnitOfWork",
    "UnitOfWorkError",
    "create_engine",
    "current_revision",
    "session_factory",
    "upgrade",
]


def __getattr__(name: str) -> Any:
    """``upgrade`` and ``current_revision`` load Alembic (a third of a second), the engine and
    the unit of work load SQLAlchemy (another third): only on use. Importing a light module of
    this package (``storage.errors``) runs this file first, and a question answered without
    opening a transaction (``offerbot ask``, :mod:`storage.deferred`) loads neither."""
    if name in ("current_revision", "upgrade"):
        from storage import migrate

        return getattr(migrate, name)
    if name in ("create_engine", "session_factory"):
        from storage import db

        return getattr(db, name)
    if name == "UnitOfWork":
        from storage import uow

        return uow.UnitOfWork
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
