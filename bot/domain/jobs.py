"""Durable scheduled work: a reminder round, an SLA check, a broadcast, a daily digest.

A job is a row, not a timer: it survives restarts, and several replicas can share the table
because a job is *claimed* with a lease before it runs. ``key`` makes scheduling idempotent —
planning the same reminder round twice yields one job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Job", "JobState"]


class JobState(StrEnum):
    PENDING = "pending"  # waiting for its due time (or for its lease to run out)
    DONE = "done"
    FAILED = "failed"  # gave up after too many attempts; HR was told
    CANCELLED = "cancelled"  # superseded, e.g. reminders re-planned after an extension


@dataclass(frozen=True, slots=True)
class Job:
    key: str  # idempotency key, e.g. "reminder:capstone-2003:2003-07-10T16:00:00+00:00"
    kind: str  # the handler that runs it, e.g. "reminder", "sla_check", "broadcast"
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
    state: JobState = JobState.PENDING
    attempts: int = 0
    created_at: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    finished_at: datetime | None = None
    last_error: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.due_at.tzinfo is None or self.due_at.utcoffset() is None:
            raise ValueError("due_at must be timezone-aware")
