"""At-most-once handling of a Slack delivery, recorded in the side effect's own transaction.

Slack retries an event it thinks failed (``X-Slack-Retry-Num``); after a failed first delivery
the retry is the only one, so retries are not dropped on sight. Instead the delivery's key
(``event:<event_id>``, ``view:<view id>:<hash>``) joins the first transaction the handling
commits (an intent, an audit row) — or a transaction of its own when it commits nothing — and a
second delivery of the same key fails there with
:class:`~storage.slack_repo.DuplicateDeliveryError`, rolling its side effect back.

An event's reply is posted after that commit, so posting can fail with the side effects already
recorded. :class:`EventReply` then keeps the claim and parks the rendered reply; a later delivery
of the event posts the parked reply instead of answering again (which would record the question,
its audit row — or a chat election — a second time).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from types import TracebackType
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import Clock
from storage.slack_repo import SlackDeliveryState, SlackPost, slack_events

__all__ = ["STALE_AFTER", "ClaimOnCommit", "EventReply"]

logger = logging.getLogger(__name__)

# A delivery normally builds and posts its reply within seconds (the Web API client gives up
# on a post well within a minute); one still "in progress" after this long has died. Slack's
# last retry comes about five minutes after the first delivery, after this has passed.
STALE_AFTER = timedelta(minutes=3)


class ClaimOnCommit:
    """A unit of work that writes one ``slack_events`` row in the first transaction it commits.

    ``state`` is what that row says once committed: ``done`` for a view submission (its modal
    is its reply), ``answering`` for an event whose reply :class:`EventReply` posts afterwards.
    """

    def __init__(
        self,
        inner: Any,
        *,
        key: str,
        kind: str,
        user_id: str | None,
        clock: Clock,
        state: SlackDeliveryState = SlackDeliveryState.DONE,
    ) -> None:
        self._inner = inner
        self._key, self._kind, self._user_id, self._clock = key, kind, user_id, clock
        self._state = state
        self.claimed = False

    async def __aenter__(self) -> ClaimOnCommit:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, traceback)

    async def commit(self) -> None:
        if not self.claimed:
            await slack_events(self._inner).claim(
                self._key,
                kind=self._kind,
                user_id=self._user_id,
                at=self._clock.now(),
                state=self._state,
            )
        await self._inner.commit()
        self.claimed = True

    async def claim(self) -> None:
        """Claim in a transaction of its own, unless a committed side effect already did."""
        if not self.claimed:
            async with self:
                await self.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class EventReply:
    """Posts the reply to one Slack event once, whichever delivery of the event gets to post.

    The delivery that claimed the event posts with :meth:`post_first`; any later delivery calls
    :meth:`post_parked`, which posts only a reply parked by a failed post (or one whose
    delivery died on the way) and never builds a new one. Each step is its own short
    transaction: no transaction is held open across a Web API call.
    """

    def __init__(
        self, uow: Any, *, key: str, clock: Clock, stale_after: timedelta = STALE_AFTER
    ) -> None:
        self._uow, self._key, self._clock, self._stale_after = uow, key, clock, stale_after

    async def claimed(self) -> bool:
        """Whether a delivery of this event was claimed already (then do not answer again)."""
        async with self._uow as uow:
            return await slack_events(uow).seen(self._key)

    async def post_first(self, client: AsyncWebClient, post: SlackPost) -> None:
        """Post the claiming delivery's reply; if the post fails, park it for Slack's retry.

        Only an error parks the reply: a cancelled task (shutdown) may or may not have posted,
        so its claim stays ``answering`` and a retry after :data:`STALE_AFTER` tells the person
        instead (see :meth:`post_parked`).
        """
        try:
            await _post(client, post)
        except Exception:
            async with self._uow as uow:
                parked = await slack_events(uow).park(self._key, post, at=self._clock.now())
                await uow.commit()
            if not parked:
                logger.warning("%s: post failed after another delivery took over", self._key)
            raise
        await self._finish()

    async def post_parked(self, client: AsyncWebClient, *, lost: SlackPost) -> bool:
        """Post the parked reply once; ``False`` when there is nothing for this delivery to post.

        Nothing to post when the reply is out (``done``), when another delivery is posting it,
        and when the claiming delivery is still at work (``answering``, fresh): answering again
        would record the question — or a chat election — twice, and that delivery may well
        still post. A claim stuck past :data:`STALE_AFTER` has lost its delivery; its reply was
        never parked, so the person gets ``lost`` (ask again) rather than silence. A failed
        post parks again for the next retry.
        """
        now = self._clock.now()
        async with self._uow as uow:
            taken = await slack_events(uow).take(
                self._key, at=now, stale_before=now - self._stale_after
            )
            await uow.commit()
        if taken is None:
            return False
        post = taken.reply or self._lost(lost)
        try:
            await _post(client, post)
        except Exception:
            async with self._uow as uow:
                await slack_events(uow).park(
                    self._key, post, at=self._clock.now(), taken_at=taken.taken_at
                )
                await uow.commit()
            raise
        await self._finish()
        return True

    def _lost(self, lost: SlackPost) -> SlackPost:
        logger.warning("%s: its delivery died before parking a reply; asking again", self._key)
        return lost

    async def _finish(self) -> None:
        async with self._uow as uow:
            await slack_events(uow).finish(self._key, at=self._clock.now())
            await uow.commit()


async def _post(client: AsyncWebClient, post: SlackPost) -> None:
    await client.chat_postMessage(
        channel=post.channel, thread_ts=post.thread_ts, text=post.text, blocks=post.blocks
    )
