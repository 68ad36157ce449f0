"""How an ``offerbot`` command runs: build the app, await the work, and the error edge.

Errors a person can fix (bad CSV, unknown employee, closed offer, late receipt) are printed as
one sentence — or as ``{"error": ..., "details": [...]}`` with ``--json`` — and exit with
status 1; invalid configuration exits with 2; anything else is a bug and keeps its traceback.
What the commands print goes through :mod:`bot.cli.terminal`.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from bot.cli.terminal import err, print_json

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime.bootstrap import App
    from bot.services.identity import Identity

# Nothing heavier than typer and rich is imported here at module level: every command module
# imports this one, and `offerbot --help` must not pay for SQLAlchemy, numpy or fpdf. The
# application, the storage errors and the settings are imported by the functions that use them.

__all__ = [
    "UserError",
    "is_missing_table",
    "load_settings",
    "operator",
    "run",
    "settings_if_valid",
]

T = TypeVar("T")

_DATABASE_BUSY = (
    "The database stayed locked by other offerbot commands for longer than "
    "OFFERBOT_SQLITE_BUSY_TIMEOUT allows, so this command stopped; run it again."
)


class UserError(Exception):
    """An error already worded for the person at the terminal."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


def run(as_json: bool, work: Callable[[App], Awaitable[T]], settings: Settings | None = None) -> T:
    """Build the app, await ``work(app)``, dispose of it; turn user errors into exit status 1.

    This is the one edge every database command passes through, so the cases a person can fix
    are caught here once: a missing table (a database ``offerbot init`` never created, or one an
    older offerbot made) and a SQLite file other processes kept locked.
    """
    from bot.domain.errors import DomainError
    from bot.runtime.bootstrap import build
    from bot.services.errors import ServiceError
    from knowledge.offer_terms import OfferTermsError

    async def main() -> T:
        application = build(settings)
        try:
            return await work(application)
        except Exception as exc:
            if _is_database_error(exc) and is_missing_table(exc):
                raise UserError(await _schema_missing(application)) from None
            raise
        finally:
            await application.aclose()

    try:
        try:
            return asyncio.run(main())
        except Exception as exc:
            # A SQLite file other processes kept locked past the busy timeout: a queue that did
            # not move, not a bug; one sentence instead of a traceback.
            if not _is_database_busy(exc):
                raise
            raise UserError(_DATABASE_BUSY) from None
    except (UserError, DomainError, ServiceError, OfferTermsError) as exc:
        details = getattr(exc, "details", None) or [str(e) for e in getattr(exc, "errors", [])]
        if as_json:
            print_json({"error": str(exc), "details": details})
        else:
            # soft_wrap: one sentence stays one line, however narrow the terminal
            err.print(f"error: {exc}", style="red", markup=False, soft_wrap=True)
            for line in details[:50]:
                err.print(f"  {line}", markup=False)
            if len(details) > 50:
                err.print(f"  … and {len(details) - 50} more")
        raise typer.Exit(1) from None


def _is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLAlchemy's wrapper of a driver error. Its classes are imported only
    if SQLAlchemy already is: a command that never opened the database (``offerbot ask`` as a
    rule, :mod:`storage.deferred`) cannot have raised one, and must not pay for the import."""
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy.exc import DBAPIError

    return isinstance(exc, DBAPIError)


def _is_database_busy(exc: BaseException) -> bool:
    """A write that lost to another process, or SQLite's lock held past the busy timeout."""
    from storage.errors import WriteConflictError

    if isinstance(exc, WriteConflictError):
        return True
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy.exc import OperationalError

    from storage.repositories import is_lock_error

    return isinstance(exc, OperationalError) and is_lock_error(exc)


async def _schema_missing(application: App) -> str:
    """What to run when a table is missing: `offerbot init` creates the schema, or migrates one
    an older offerbot made (Alembic is imported only here, on the error path)."""
    from sqlalchemy.exc import DBAPIError

    from storage.migrate import current_revision

    database = application.engine.url.render_as_string(hide_password=True)
    try:
        revision = await current_revision(application.engine)
    except DBAPIError:
        revision = None
    if revision is None:
        return f"The database ({database}) has no offerbot tables yet: run `offerbot init` first."
    return (
        f"The database ({database}) was made by an older offerbot (schema {revision}): run "
        "`offerbot init` to migrate it."
    )


# SQLSTATE 42P01 (PostgreSQL's undefined_table); SQLite words it in the message.
_UNDEFINED_TABLE = "42P01"


def is_missing_table(exc: BaseException) -> bool:
    """Whether a database error says a table does not exist: the schema was never created."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == _UNDEFINED_TABLE:
        return True
    if getattr(orig, "pgcode", None) == _UNDEFINED_TABLE:
        return True
    return str(orig).startswith("no such table")


def load_settings() -> Settings:
    """The settings from the environment; invalid configuration is printed and exits 2."""
    from pydantic import ValidationError

    try:
        return _settings()
    except ValidationError as exc:
        err.print(f"error: invalid configuration:\n{exc}", style="red", markup=False)
        raise typer.Exit(2) from None


def settings_if_valid() -> Settings | None:
    """The settings, or None when they do not validate (the command that loads them reports
    why): what the logging set-up before every command uses."""
    try:
        return _settings()
    except ValueError:  # pydantic's ValidationError and pydantic-settings' SettingsError
        return None


# The last settings built, with what they were built from: the logging set-up before a command
# and the command itself both need them, and a second ``Settings()`` cost each command ~5 ms.
_LAST: list[tuple[tuple[object, ...], Settings]] = []


def _settings() -> Settings:
    """``Settings()``, or the one built last from the very same inputs: the environment, the
    working folder and the bytes of the local env file are all ``Settings()`` reads, and the
    settings are frozen. A changed variable or a rewritten file builds them again."""
    from bot.config import LOCAL_ENV_FILE, Settings

    try:
        env_file: bytes | None = LOCAL_ENV_FILE.read_bytes()
    except OSError:
        env_file = None
    inputs = (tuple(sorted(os.environ.items())), os.getcwd(), env_file)
    if _LAST and _LAST[0][0] == inputs:
        return _LAST[0][1]
    settings = Settings()
    _LAST[:] = [(inputs, settings)]
    return settings


def operator() -> Identity:
    """HR (or an operator) at the terminal."""
    from bot.services.identity import Identity

    return Identity(channel="cli", actor=f"cli:{getpass.getuser()}")
