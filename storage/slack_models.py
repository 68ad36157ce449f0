"""Slack tables: delivery dedupe and the Slack user → roster cache (migration 0005).

Imported at the end of :mod:`storage.models` so they belong to the one ``Base.metadata``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import EMAIL, ID, TEXT, Base

__all__ = ["SlackEventRow", "SlackUserRow"]


class SlackEventRow(Base):
    """One handled Slack delivery (an Events API ``event_id`` or an interaction's id).

    The row is written in the transaction of the side effect it guards, so a retried delivery
    finds it and does nothing, while a delivery whose first attempt failed is still handled.
    """

    __tablename__ = "slack_events"
    __table_args__ = (Index(None, "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_key: Mapped[str] = mapped_column(String(TEXT), unique=True)  # "event:Ev1", "view:…"
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(ID))
    received_at: Mapped[datetime]


class SlackUserRow(Base):
    """What ``users.info`` said about a Slack user, and the roster employee it maps to."""

    __tablename__ = "slack_users"

    slack_user_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(ID))
    email: Mapped[str | None] = mapped_column(String(EMAIL))
    employee_id: Mapped[str | None] = mapped_column(String(ID))
    # a guest (restricted / single-channel), a bot, or a user of another workspace
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    dm_channel: Mapped[str | None] = mapped_column(String(ID))
    fetched_at: Mapped[datetime]
