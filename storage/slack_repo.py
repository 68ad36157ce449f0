"""Slack bookkeeping: which deliveries were handled, and who Slack users are on the roster.

Reached as ``uow.slack_events`` / ``uow.slack_users`` (Protocols ``SlackEvents`` and
``SlackUsers`` in :mod:`bot.storage_ports`), so the dedupe row joins the transaction of
whatever side effect it guards. The records are :mod:`bot.domain.slack_records` values.

An event's reply moves through :class:`~storage.slack_models.SlackDeliveryState`: claimed
``answering``; ``done`` once posted; ``unposted`` with the rendered reply when the post failed
(:meth:`SlackEventRepository.park`); ``posting`` while the one delivery that won
:meth:`SlackEventRepository.take` posts it. Every move is a compare-and-set on the state, so two
deliveries racing on one row never both post. The worker's sweep
(:mod:`handlers.slack.parked_replies`) lists what waits (:meth:`SlackEventRepository.waiting`)
and takes a reply through the same compare-and-set (:meth:`SlackEventRepository.take_parked`),
so a worker and a retry, or two replicas, never both post either.
:meth:`~SlackEventRepository.prune` forgets handled rows once Slack can no longer retry them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.slack_records import (
    NEVER_FETCHED,
    SlackDelivery,
    SlackDeliveryState,
    SlackPost,
    SlackUser,
    Takeover,
)
from storage.errors import ConstraintViolationError
from storage.models import EmployeeRow
from storage.slack_models import SlackEventRow, SlackUserRow

__all__ = [
    "NEVER_FETCHED",
    "DuplicateDeliveryError",
    "SlackDelivery",
    "SlackDeliveryState",
    "SlackEventRepository",
    "SlackPost",
    "SlackUser",
    "SlackUserRepository",
    "Takeover",
    "slack_events",
    "slack_users",
]


class DuplicateDeliveryError(ConstraintViolationError):
    """This Slack delivery was already handled (its key is in ``slack_events``)."""


_IN_CHUNK = 500  # user ids per IN (…) list


@dataclass(slots=True)
class SlackEventRepository:
    session: AsyncSession

    async def claim(
        self,
        delivery_key: str,
        *,
        kind: str,
        user_id: str | None,
        at: datetime,
        state: SlackDeliveryState = SlackDeliveryState.DONE,
    ) -> None:
        """Record the delivery; raise :class:`DuplicateDeliveryError` if it was recorded before.

        A savepoint keeps the surrounding transaction usable when the key is taken. ``state`` is
        ``answering`` for an event whose reply is still to be posted after this commit.
        """
        try:
            async with self.session.begin_nested():
                self.session.add(
                    SlackEventRow(
                        delivery_key=delivery_key,
                        kind=kind,
                        user_id=user_id,
                        received_at=at,
                        state=state.value,
                        state_changed_at=at,
                    )
                )
        except IntegrityError as error:
            raise DuplicateDeliveryError(f"already handled: {delivery_key}") from error

    async def get(self, delivery_key: str) -> SlackDelivery | None:
        """Where the delivery stands; ``None`` if it was never claimed (or was pruned)."""
        row = await self.session.scalar(
            select(SlackEventRow).where(SlackEventRow.delivery_key == delivery_key)
        )
        return None if row is None else _delivery(row)

    async def waiting(
        self,
        *,
        parked_before: datetime,
        stale_before: datetime,
        overdue_before: datetime,
        limit: int,
    ) -> list[SlackDelivery]:
        """Up to ``limit`` deliveries the worker's sweep has something to do with, oldest first:
        a reply parked before ``parked_before``; a reply whose taker has been ``posting`` since
        before ``stale_before`` (it died); and any delivery received before ``overdue_before``
        that is not ``done``, unless another delivery is posting its reply right now."""
        row = SlackEventRow
        unposted = row.state == SlackDeliveryState.UNPOSTED.value
        stale = row.state_changed_at < stale_before
        query = (
            select(row)
            .where(
                or_(
                    and_(unposted, row.state_changed_at < parked_before),
                    and_(_posting_a_reply(), stale),
                    and_(
                        row.state != SlackDeliveryState.DONE.value,
                        row.received_at < overdue_before,
                        or_(unposted, stale),
                    ),
                )
            )
            .order_by(row.received_at, row.id)
            .limit(max(0, limit))
        )
        return [_delivery(found) for found in await self.session.scalars(query)]

    async def park(
        self,
        delivery_key: str,
        reply: SlackPost,
        *,
        at: datetime,
        taken_at: datetime | None = None,
    ) -> bool:
        """Keep a reply whose post failed, ``unposted``, for the next delivery of the event.

        Parks from ``answering`` (the first delivery) or, given ``taken_at``, from the caller's
        own ``posting``. ``False`` when another delivery took the claim over meanwhile (it
        judged this one stale): the reply is then not stored, since that one posts.
        """
        row = SlackEventRow
        if taken_at is None:
            mine = row.state == SlackDeliveryState.ANSWERING.value
        else:
            mine = and_(
                row.state == SlackDeliveryState.POSTING.value, row.state_changed_at == taken_at
            )
        parked = await self.session.scalar(
            update(row)
            .where(row.delivery_key == delivery_key, mine)
            .values(
                state=SlackDeliveryState.UNPOSTED.value, reply=reply.to_json(), state_changed_at=at
            )
            .returning(row.id)
            .execution_options(synchronize_session=False)
        )
        return parked is not None

    async def take(
        self, delivery_key: str, *, at: datetime, stale_before: datetime
    ) -> Takeover | None:
        """Compare-and-set to ``posting`` for one later delivery; ``None`` if there is nothing
        to take or another delivery took it first.

        Taken: an ``unposted`` reply, or a claim left in ``answering`` or ``posting`` since
        before ``stale_before`` (its delivery died on the way). One ``UPDATE … RETURNING``
        decides, so of two deliveries racing for the row exactly one gets it, on both backends.
        """
        row = SlackEventRow
        stuck = (SlackDeliveryState.ANSWERING.value, SlackDeliveryState.POSTING.value)
        return await self._take(
            delivery_key,
            or_(
                row.state == SlackDeliveryState.UNPOSTED.value,
                and_(row.state.in_(stuck), row.state_changed_at < stale_before),
            ),
            at=at,
        )

    async def take_parked(
        self, delivery_key: str, *, at: datetime, parked_before: datetime, stale_before: datetime
    ) -> Takeover | None:
        """The worker's :meth:`take`: the same compare-and-set, narrowed to a reply parked
        before ``parked_before`` (a parking younger than that is left to Slack's retry) or one
        whose taker has been ``posting`` it since before ``stale_before``. A claim without a
        reply is never taken here: the worker does not know where to post."""
        row = SlackEventRow
        return await self._take(
            delivery_key,
            or_(
                and_(
                    row.state == SlackDeliveryState.UNPOSTED.value,
                    row.state_changed_at < parked_before,
                ),
                and_(_posting_a_reply(), row.state_changed_at < stale_before),
            ),
            at=at,
        )

    async def _take(self, delivery_key: str, takeable: Any, *, at: datetime) -> Takeover | None:
        row = SlackEventRow
        taken = await self.session.execute(
            update(row)
            .where(row.delivery_key == delivery_key, takeable)
            .values(state=SlackDeliveryState.POSTING.value, state_changed_at=at)
            .returning(row.reply)
            .execution_options(synchronize_session=False)
        )
        found = taken.one_or_none()
        if found is None:
            return None
        reply = None if found.reply is None else SlackPost.from_json(found.reply)
        return Takeover(taken_at=at, reply=reply)

    async def finish(
        self, delivery_key: str, *, at: datetime, taken_at: datetime | None = None
    ) -> bool:
        """The reply is out (or given up): ``done``, and its text is forgotten (it was kept only
        to post). Given ``taken_at``, only from the caller's own ``posting`` state; ``False``
        when another delivery took the row over meanwhile."""
        row = SlackEventRow
        mine = (
            []
            if taken_at is None
            else [row.state == SlackDeliveryState.POSTING.value, row.state_changed_at == taken_at]
        )
        finished = await self.session.scalar(
            update(row)
            .where(row.delivery_key == delivery_key, *mine)
            .values(state=SlackDeliveryState.DONE.value, reply=None, state_changed_at=at)
            .returning(row.id)
            .execution_options(synchronize_session=False)
        )
        return finished is not None

    async def seen(self, delivery_key: str) -> bool:
        found = await self.session.scalar(
            select(SlackEventRow.id).where(SlackEventRow.delivery_key == delivery_key)
        )
        return found is not None

    async def prune(self, *, before: datetime) -> int:
        """Forget ``done`` deliveries received before ``before`` (past Slack's retry window);
        how many. A delivery not ``done`` may still hold a reply nobody has seen: the worker's
        sweep posts it or gives it up, with a log line and HR told, before it can go."""
        result: Any = await self.session.execute(
            delete(SlackEventRow).where(
                SlackEventRow.received_at < before,
                SlackEventRow.state == SlackDeliveryState.DONE.value,
            )
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
                # a refresh from users.info carries no DM channel of its own: keep the one that
                # was opened (perhaps by another process since this user was read)
                row.dm_channel = user.dm_channel or row.dm_channel
                row.fetched_at = user.fetched_at
        except IntegrityError:
            pass  # another request cached this user between our read and our insert

    async def dm_channels(self, slack_user_ids: Iterable[str]) -> dict[str, str]:
        """{user id: DM channel id} for those of ``slack_user_ids`` whose DM was opened."""
        ids = sorted(set(slack_user_ids))
        found: dict[str, str] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            rows = await self.session.execute(
                select(SlackUserRow.slack_user_id, SlackUserRow.dm_channel).where(
                    SlackUserRow.slack_user_id.in_(ids[start : start + _IN_CHUNK]),
                    SlackUserRow.dm_channel.is_not(None),
                )
            )
            found.update({user_id: channel for user_id, channel in rows if channel})
        return found

    async def roster_users_without_dm(self, *, limit: int) -> list[str]:
        """Up to ``limit`` Slack user ids (U…/W…) of roster employees whose DM with the bot is
        not opened yet, in id order. Users cached as restricted — guests, bots, other
        workspaces, or a DM Slack refused — are left out."""
        user = SlackUserRow
        query = (
            select(EmployeeRow.slack_user_id)
            .outerjoin(user, user.slack_user_id == EmployeeRow.slack_user_id)
            .where(
                func.substr(EmployeeRow.slack_user_id, 1, 1).in_(("U", "W")),
                user.dm_channel.is_(None),
                user.restricted.is_not(True),
            )
            .order_by(EmployeeRow.slack_user_id)
            .limit(max(0, limit))
        )
        return [str(user_id) for user_id in await self.session.scalars(query)]

    async def remember_dm_channel(self, slack_user_id: str, channel: str) -> None:
        """Keep the user's DM channel, in their row, which is created if they have none yet
        (``fetched_at`` :data:`NEVER_FETCHED`: identity still asks users.info on first use)."""
        await self._upsert(slack_user_id, dm_channel=channel)

    async def mark_dm_refused(self, slack_user_id: str) -> None:
        """Slack refused to open a DM with this user (unknown, deleted, …): cache them as
        restricted, so the DMs opened ahead of broadcasts skip them, with ``fetched_at``
        :data:`NEVER_FETCHED`, so their next contact asks users.info again and its answer
        replaces this mark."""
        await self._upsert(slack_user_id, restricted=True, fetched_at=NEVER_FETCHED)

    async def _upsert(self, slack_user_id: str, **values: Any) -> None:
        """Set ``values`` on the user's row, inserting a minimal row when there is none; a
        concurrent insert of the same user is updated instead."""
        try:
            async with self.session.begin_nested():
                row = await self.session.get(SlackUserRow, slack_user_id)
                if row is None:
                    row = SlackUserRow(
                        slack_user_id=slack_user_id, restricted=False, fetched_at=NEVER_FETCHED
                    )
                    self.session.add(row)
                for name, value in values.items():
                    setattr(row, name, value)
        except IntegrityError:  # another process inserted this user between our read and ours
            await self.session.execute(
                update(SlackUserRow)
                .where(SlackUserRow.slack_user_id == slack_user_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


def _delivery(row: SlackEventRow) -> SlackDelivery:
    return SlackDelivery(
        delivery_key=row.delivery_key,
        kind=row.kind,
        user_id=row.user_id,
        received_at=row.received_at,
        state=SlackDeliveryState(row.state),
        state_changed_at=row.state_changed_at,
        reply=None if row.reply is None else SlackPost.from_json(row.reply),
    )


def _posting_a_reply() -> Any:
    """``posting`` a parked reply (a taker of a stale claim posts one it holds in memory)."""
    row = SlackEventRow
    return and_(row.state == SlackDeliveryState.POSTING.value, row.reply.is_not(None))


def slack_events(uow: Any) -> SlackEventRepository:
    """The dedupe table inside ``uow``'s open transaction (tests; code uses
    ``uow.slack_events``)."""
    return SlackEventRepository(uow.session)


def slack_users(uow: Any) -> SlackUserRepository:
    """The Slack user cache inside ``uow``'s open transaction (tests; code uses
    ``uow.slack_users``)."""
    return SlackUserRepository(uow.session)
