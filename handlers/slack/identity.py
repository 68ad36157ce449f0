"""Who a Slack user is on HR's roster: by ``slack_user_id``, else by the e-mail ``users.info``
gives (scope users:read.email). Cached in ``slack_users``. Guests, bots and users of another
workspace (Slack Connect) never map to an employee, so they never see anyone's data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.conversation import ConversationDeps
from bot.services.identity import Identity
from storage.slack_repo import SlackUser, slack_users

__all__ = ["CACHE_TTL", "SlackIdentities", "hr_identity"]

logger = logging.getLogger(__name__)
CACHE_TTL = timedelta(hours=1)


def hr_identity(user_id: str) -> Identity:
    """An HR admin acting through Slack (only after the admin list was checked)."""
    return Identity(channel="slack-hr", actor=f"slack:{user_id}")


@dataclass(frozen=True, slots=True)
class SlackIdentities:
    deps: ConversationDeps

    async def resolve(
        self, user_id: str | None, *, client: AsyncWebClient, home_team: str | None
    ) -> Identity:
        if not user_id:
            return Identity(channel="slack", actor="slack:unknown")
        user = await self._user(user_id, client=client, home_team=home_team)
        employee_id = None if user is None or user.restricted else user.employee_id
        return Identity(channel="slack", actor=user_id, employee_id=employee_id)

    async def dm_channel(self, user_id: str, *, client: AsyncWebClient) -> str:
        """The bot's DM with ``user_id``: conversations.open once, then kept in ``slack_users``
        (a minimal row for a user not cached yet), so no process opens it again."""
        uow = self.deps.uow
        async with uow:
            known = (await slack_users(uow).dm_channels([user_id])).get(user_id)
        if known is not None:
            return known
        opened = await client.conversations_open(users=user_id)
        channel = str(opened["channel"]["id"])
        async with uow:
            await slack_users(uow).remember_dm_channel(user_id, channel)
            await uow.commit()
        return channel

    async def _user(
        self, user_id: str, *, client: AsyncWebClient, home_team: str | None
    ) -> SlackUser | None:
        uow, now = self.deps.uow, self.deps.clock.now()
        async with uow:
            cached = await slack_users(uow).get(user_id)
        if cached is not None and now - cached.fetched_at < CACHE_TTL:
            return cached
        try:
            info = (await client.users_info(user=user_id))["user"]
        except SlackApiError as error:
            logger.warning("users.info failed for %s: %s", user_id, error)
            return None
        profile: dict[str, Any] = info.get("profile") or {}
        email = profile.get("email")
        team = info.get("team_id")
        restricted = bool(
            info.get("is_restricted")
            or info.get("is_ultra_restricted")
            or info.get("is_bot")
            or info.get("deleted")
            or info.get("is_stranger")
            or (home_team is not None and team is not None and team != home_team)
        )
        async with uow:
            employee = await uow.employees.by_slack_user_id(user_id)
            if employee is None and email:
                employee = await uow.employees.by_email(email)
            user = SlackUser(
                slack_user_id=user_id,
                fetched_at=now,
                team_id=team,
                email=email,
                employee_id=employee.employee_id if employee else None,
                restricted=restricted,
                dm_channel=cached.dm_channel if cached else None,
            )
            await slack_users(uow).save(user)
            await uow.commit()
        return user
