"""Storage: SQLAlchemy 2 models, engine and sessions, repositories, unit of work, migrations.

Everything outside ``storage/`` talks to the database through :class:`UnitOfWork` and the
repositories it exposes, which take and return domain objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.db import create_engine, session_factory
from storage.errors import ConstraintViolationError, StorageError, UnitOfWorkError
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from storage.migrate import current_revision, upgrade

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
    """``upgrade`` and ``current_revision`` load Alembic (a third of a second): only on use, so
    a process that merely reads the database (``offerbot ask``) never imports it."""
    if name in ("current_revision", "upgrade"):
        from storage import migrate

        return getattr(migrate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
