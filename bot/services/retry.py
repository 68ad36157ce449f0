"""Retrying a unit of work that lost a write race to a concurrent writer.

Every service that reads, decides and writes one employee's (or one job's) rows runs through
:func:`retry_on_conflict`, so two channels acting at once end up as two versions, not an error.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from storage.errors import WriteConflictError

__all__ = ["retry_on_conflict"]

T = TypeVar("T")
_ATTEMPTS = 12


async def retry_on_conflict(work: Callable[[], Awaitable[T]], *, attempts: int = _ATTEMPTS) -> T:
    """Run ``work`` (one whole unit of work) again when a concurrent writer won the race.

    Two requests for one employee (Slack and e-mail at once) both read version n and both try
    to write n + 1; the unique (employee_id, version) constraint (or SQLite's write lock) lets
    one win, and the other re-reads and becomes n + 2. Backoff is short and jittered.
    """
    for attempt in range(attempts):
        try:
            return await work()
        except WriteConflictError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 6)))
    raise AssertionError("unreachable")  # pragma: no cover
