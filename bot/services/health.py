"""Is this process's database usable? (``GET /healthz``)

Healthy means: a ``SELECT 1`` answered within the time limit and the schema carries an Alembic
revision. The reason of an unhealthy answer names the kind of failure only — never a host,
user or message from the driver, since the endpoint answers anyone who can reach the port.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ports import UnitOfWork
from storage.migrate import current_revision

__all__ = ["Health", "check_health"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    database: str  # "ok" or "unreachable"
    migration: str | None  # the Alembic revision the database is at
    reason: str | None = None  # why not ok

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": "ok" if self.ok else "unavailable",
            "database": self.database,
            "migration": self.migration,
        }
        if self.reason:
            data["reason"] = self.reason
        return data


async def check_health(*, uow: UnitOfWork, engine: AsyncEngine, timeout: float = 5.0) -> Health:
    """``SELECT 1``, then the migration revision, within ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            async with uow:
                await uow.metrics.ping()
            revision = await current_revision(engine)
    except TimeoutError:
        logger.warning("health check: the database did not answer within %.1f s", timeout)
        return Health(False, "unreachable", None, f"database timeout after {timeout:g} s")
    except (SQLAlchemyError, OSError) as exc:
        logger.warning("health check: database unreachable (%s)", type(exc).__name__)
        return Health(False, "unreachable", None, f"database unreachable ({type(exc).__name__})")
    if revision is None:
        return Health(False, "ok", None, "database not migrated: run `offerbot db upgrade`")
    return Health(True, "ok", revision)
