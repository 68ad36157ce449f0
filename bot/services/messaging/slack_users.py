"""Who a Slack user is on HR's roster, and the bot's DM channel with them.

By ``slack_user_id``, else by the e-mail ``users.info`` gives (scope users:read.email); cached
in ``slack_users`` for :data:`CACHE_TTL`. Guests, bots, deleted users and users of another
workspace (Slack Connect) never map to an employee, so they never see anyone's data. The Web
API calls themselves are the channel's: it hands in ``users_info`` / ``open_dm``.

A DM channel is worth keeping but never worth failing a delivery for: when the database is
busy, :func:`keep_dm_channel` says so and the caller keeps the channel in memory only (the row
is written by whichever process opens that DM next).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.domain.slack_records import SlackUser
from bot.ports import Clock, UnitOfWork
from bot.services.identity import Identity
from storage.errors import StorageError

__all__ = ["CACHE_TTL", "dm_channel", "keep_dm_channel", "slack_identity"]

CACHE_TTL = timedelta(hours=1)

# users.info for one user: its ``user`` object, or None when Slack would not say
UsersInfo = Callable[[], Awaitable[dict[str, Any] | None]]


async def slack_identity(
    *,
    uow: UnitOfWork,
    clock: Clock,
    user_id: str | None,
    home_team: str | None,
    users_info: UsersInfo,
) -> Identity:
    """The identity of a Slack user: an employee only when mapped and not restricted."""
    if not user_id:
        return Identity(channel="slack", actor="slack:unknown")
    user = await _user(uow, clock, user_id, home_team, users_info)
    employee_id = None if user is None or user.restricted else user.employee_id
    return Identity(channel="slack", actor=user_id, employee_id=employee_id)


async def _user(
    uow: UnitOfWork, clock: Clock, user_id: str, home_team: str | None, users_info: UsersInfo
) -> SlackUser | None:
    now = clock.now()
    async with uow:
        cached = await uow.slack_users.get(user_id)
    if cached is not None and now - cached.fetched_at < CACHE_TTL:
        return cached
    info = await users_info()
    if info is None:
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
        await uow.slack_users.save(user)
        await uow.commit()
    return user


async def dm_channel(
    *, uow: UnitOfWork, user_id: str, open_dm: Callable[[], Awaitable[str]]
) -> str:
    """The bot's DM with ``user_id``: opened once (``open_dm``), then kept in ``slack_users``
    (a minimal row for a user not cached yet), so no process opens it again."""
    async with uow:
        known = (await uow.slack_users.dm_channels([user_id])).get(user_id)
    if known is not None:
        return known
    channel = await open_dm()
    async with uow:
        await uow.slack_users.remember_dm_channel(user_id, channel)
        await uow.commit()
    return channel


async def keep_dm_channel(*, uow: UnitOfWork, user_id: str, channel: str) -> str | None:
    """Store ``channel`` as ``user_id``'s DM; ``None`` when stored, else why it was not."""
    try:
        async with uow:
            await uow.slack_users.remember_dm_channel(user_id, channel)
            await uow.commit()
    except StorageError as error:
        return str(error)
    return None
