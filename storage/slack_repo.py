"""Slack bookkeeping: which deliveries were handled, and who Slack users are on the roster.

Reached through :func:`slack_events` / :func:`slack_users` over an open unit of work, so the
dedupe row joins the transaction of whatever side effect it guards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import ConstraintViolationError
from storage.slack_models import SlackEventRow, SlackUserRow

__all__ = [
    "DuplicateDeliveryError",
    "SlackEventRepository",
    "SlackUser",
    "SlackUserRepository",
    "slack_events",
    "slack_users",
]


class DuplicateDeliveryError(ConstraintViolationError):
    """This Slack delivery was already handled (its key is in ``slack_events``)."""


@dataclass(frozen=True, slots=True)
class SlackUser:
    slack_user_id: str
    fetched_at: datetime
    team_id: str | None = None
    email: str | None = None
    employee_id: str | None = None
    restricted: bool = False  # guest, bot, or another workspace: never personal data
    dm_channel: str | None = None


@dataclass(slots=True)
class SlackEventRepository:
    session: AsyncSession

    async def claim(
        self, delivery_key: str, *, kind: str, user_id: str | None, at: datetime
    ) -> None:
        """Record the delivery; raise :class:`DuplicateDeliveryError` if it was recorded before.

        A savepoint keeps the surrounding transaction usable when the key is taken.
        """
        try:
            async with self.session.begin_nested():
                self.session.add(
                    SlackEventRow(
                        delivery_key=delivery_key, kind=kind, user_id=user_id, received_at=at
                    )
                )
        except IntegrityError as error:
            raise DuplicateDeliveryError(f"already handled: {delivery_key}") from error

    async def release(self, delivery_key: str) -> None:
        """Forget a claim whose side effect failed, so Slack's retry is handled."""
        await self.session.execute(
            delete(SlackEventRow).where(SlackEventRow.delivery_key == delivery_key)
        )

    async def seen(self, delivery_key: str) -> bool:
        found = await self.session.scalar(
            select(SlackEventRow.id).where(SlackEventRow.delivery_key == delivery_key)
        )
        return found is not None

    async def prune(self, *, before: datetime) -> int:
        """Forget deliveries older than Slack's retry window."""
        result: Any = await self.session.execute(
            delete(SlackEventRow).where(SlackEventRow.received_at < before)
        )
        return int(result.rowcount or 0)


@dataclass(slots=True)
class SlackUserRepository:
    session: AsyncSession

    async def get(self, slack_user_id: str) -> SlackUser | None:
        row = await self.session.get(SlackUserRow, slack_user_id)
        if row is None:
            return None
        return SlackUser(
            slack_user_id=row.slack_user_id,
            fetched_at=row.fetched_at,
            team_id=row.team_id,
            email=row.email,
            employee_id=row.employee_id,
            restricted=row.restricted,
            dm_channel=row.dm_channel,
        )

    async def save(self, user: SlackUser) -> None:
        """Insert or refresh; a concurrent insert of the same user wins quietly (same data)."""
        try:
            async with self.session.begin_nested():
                row = await self.session.get(SlackUserRow, user.slack_user_id)
                if row is None:
                    row = SlackUserRow(slack_user_id=user.slack_user_id)
                    self.session.add(row)
                row.team_id = user.team_id
                row.email = user.email
                row.employee_id = user.employee_id
                row.restricted = user.restricted
                row.dm_channel = user.dm_channel
                row.fetched_at = user.fetched_at
        except IntegrityError:
            pass  # another request cached this user between our read and our insert

    async def forget(self, slack_user_id: str) -> None:
        """Drop the cached mapping (after a roster change)."""
        await self.session.execute(
            delete(SlackUserRow).where(SlackUserRow.slack_user_id == slack_user_id)
        )


def slack_events(uow: Any) -> SlackEventRepository:
    """The dedupe table inside ``uow``'s open transaction."""
    return SlackEventRepository(uow.session)


def slack_users(uow: Any) -> SlackUserRepository:
    return SlackUserRepository(uow.session)
