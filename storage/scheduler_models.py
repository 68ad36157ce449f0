"""Tables of deadlines in motion (migration 0007): durable jobs, offer amendments, and the
communications log kept for the filing.

Imported at the end of :mod:`storage.models` so they belong to the one ``Base.metadata``;
their base comes from :mod:`storage.model_base` (no import circle).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.amendments import AmendmentKind, AmendmentStatus
from bot.domain.jobs import JobState
from storage.model_base import ID, TEXT, Base, values_in

__all__ = ["AmendmentRow", "CommunicationRow", "JobRow"]


class JobRow(Base):
    """Scheduled work. A runner claims a due row by setting ``claimed_by``/``claimed_until``
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL); a crashed runner's lease runs out and another
    runner takes the job again, so handlers must be idempotent (they enqueue with keys)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(values_in("state", JobState), name="state"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        Index(None, "state", "due_at"),
        Index(None, "kind", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(TEXT), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=JobState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(ID))
    claimed_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class AmendmentRow(Base):
    """An extension or a change in consideration; evidence, so it only moves forward."""

    __tablename__ = "offer_amendments"
    __table_args__ = (
        CheckConstraint(values_in("kind", AmendmentKind), name="kind"),
        CheckConstraint(values_in("status", AmendmentStatus), name="status"),
        Index(None, "offer_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    offer_id: Mapped[str] = mapped_column(String(ID))
    kind: Mapped[str] = mapped_column(String(16))
    previous_expiration: Mapped[datetime]
    new_expiration: Mapped[datetime]
    description: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    announce: Mapped[bool] = mapped_column(Boolean)
    requested_by: Mapped[str] = mapped_column(String(TEXT))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(24))
    approved_by: Mapped[str | None] = mapped_column(String(TEXT))
    applied_at: Mapped[datetime | None]


class CommunicationRow(Base):
    """A broadcast or reminder template as sent, verbatim (Schedule TO exhibits)."""

    __tablename__ = "communications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(TEXT), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    channel_post: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
