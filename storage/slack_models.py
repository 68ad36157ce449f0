"""Slack tables: delivery dedupe and the Slack user → roster cache (migration 0005).

Imported at the end of :mod:`storage.models` so they belong to the one ``Base.metadata``;
their base comes from :mod:`storage.model_base` (no import circle).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.slack_records import SlackDeliveryState
from storage.model_base import EMAIL, ID, TEXT, Base, values_in

__all__ = ["SlackDeliveryState", "SlackEventRow", "SlackUserRow"]


class SlackEventRow(Base):
    """One handled Slack delivery (an Events API ``event_id`` or an interaction's id).

    The row is written in the transaction of the side effect it guards, so a retried delivery
    finds it and never repeats the side effect, while a delivery whose first attempt failed
    before committing anything is still handled. ``reply`` holds a rendered answer only while
    it waits to be posted (it is personal data: cleared once posted).
    """

    __tablename__ = "slack_events"
    __table_args__ = (
        CheckConstraint(values_in("state", SlackDeliveryState), name="state"),
        Index(None, "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_key: Mapped[str] = mapped_column(String(TEXT), unique=True)  # "event:Ev1", "view:…"
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(ID))
    received_at: Mapped[datetime]
    # --- the reply's journey (migration 0008; rows from before read as done) ---
    state: Mapped[str] = mapped_column(String(16), server_default=SlackDeliveryState.DONE.value)
    # {"channel", "thread_ts", "text", "blocks"} while unposted or posting; SQL NULL otherwise
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # when ``state`` last changed: a claim stuck in progress past a few minutes is stale, and a
    # taker's instant tells its own ``posting`` apart from a later taker's
    state_changed_at: Mapped[datetime | None]


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
