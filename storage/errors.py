"""Errors raised by the storage layer.

::

    StorageError                      base of everything storage raises on purpose
    ├── ConstraintViolationError      (also ValueError) a row breaks a database rule: unknown
    │                                 employee for a grant, duplicate e-mail or Slack id, a value
    │                                 the column cannot hold exactly; the transaction is lost
    ├── WriteConflictError            a concurrent transaction won a race: the same intent
    │                                 version written twice, or SQLite's "database is locked"
    │                                 when two deferred transactions both read then write; the
    │                                 transaction is lost and the whole unit of work may be retried
    └── UnitOfWorkError               (also RuntimeError) a unit of work used outside
                                      ``async with`` or entered twice in one task

Driver and SQLAlchemy exceptions for anything else (a lost connection, a full disk)
are not translated: they are unexpected and should be logged with their traceback.
"""

from __future__ import annotations

__all__ = [
    "ConstraintViolationError",
    "StorageError",
    "UnitOfWorkError",
    "WriteConflictError",
]


class StorageError(Exception):
    """Base of the storage layer's own errors."""


class ConstraintViolationError(StorageError, ValueError):
    """A write broke a constraint (foreign key, unique, check) or a column's exact range."""


class UnitOfWorkError(StorageError, RuntimeError):
    """A :class:`~storage.uow.UnitOfWork` was used in a way it does not support."""


class WriteConflictError(StorageError):
    """Another transaction wrote first; retry the whole unit of work from its reads."""
