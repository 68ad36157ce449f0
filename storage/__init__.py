"""Storage: SQLAlchemy 2 models, engine and sessions, repositories, unit of work, migrations.

Everything outside ``storage/`` talks to the database through :class:`UnitOfWork` and the
repositories it exposes, which take and return domain objects.
"""

from __future__ import annotations

from storage.db import create_engine, session_factory
from storage.errors import ConstraintViolationError, StorageError, UnitOfWorkError
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
