"""Who a Slack user is on HR's roster (:mod:`bot.services.messaging.slack_users` decides and caches
it); here only the Web API calls it needs: ``users.info`` and ``conversations.open``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.identity import Identity
from bot.services.messaging import slack_users
from bot.services.questions.conversation import ConversationDeps

__all__ = ["CACHE_TTL", "SlackIdentities"]

logger = logging.getLogger(__name__)
CACHE_TTL = slack_users.CACHE_TTL


@dataclass(frozen=True, slots=True)
class SlackIdentities:
    deps: ConversationDeps

    async def resolve(
        self, user_id: str | None, *, client: AsyncWebClient, home_team: str | None
    ) -> Identity:
        async def users_info() -> dict[str, Any] | None:
            try:
                return dict((await client.users_info(user=user_id or ""))["user"])
            except SlackApiError as error:
                logger.warning("users.info failed for %s: %s", user_id, error)
                return None

        return await slack_users.slack_identity(
            uow=self.deps.uow,
            clock=self.deps.clock,
            user_id=user_id,
            home_team=home_team,
            users_info=users_info,
        )

    async def dm_channel(self, user_id: str, *, client: AsyncWebClient) -> str:
        """The bot's DM with ``user_id``: conversations.open once, then kept."""

        async def open_dm() -> str:
            opened = await client.conversations_open(users=user_id)
            return str(opened["channel"]["id"])

        return await slack_users.dm_channel(uow=self.deps.uow, user_id=user_id, open_dm=open_dm)
