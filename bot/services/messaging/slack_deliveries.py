"""Answer each Slack event once, whichever of its deliveries gets there, and post the answer once.

Slack retries an event it thinks failed (``X-Slack-Retry-Num``); after a failed first delivery
the retry is the only one, so retries are not dropped on sight. The handler passes the delivery
to :func:`answer_event_once` as an explicit :class:`DeliveryKey`; the use case claims it (state
``answering``) in the same transaction as the answer's first write — the abstention filed for
HR, the audit row of a grants or status view, a chat election, the deadline note — through a
:class:`~bot.services.delivery_claims.DeliveryClaim` passed down to those services. So a second
delivery of the same key fails on the unique key there, rolled back, and never answers — never
records the question, its audit row or a chat election — a second time; and a failure between
the claim and the write rolls back both, so the retry answers. An answer that writes nothing is
claimed on its own before it is posted. A delivery of an event already claimed is recognised
by a read before any work, so a retry costs one query. View submissions pass their key to the
use case that records them (``record_intent(..., claim=…)``), claimed in the intent's own
transaction.

An event's reply is posted after it was built, so posting can fail with the side effects
already recorded. :class:`EventReply` then keeps the claim and parks the rendered reply; a later
delivery of the event posts the parked reply instead of answering again. A delivery that died
before it could post or park leaves its claim ``answering``; once that is older than
:data:`STALE_AFTER`, a later delivery asks the person to send the message again
(:data:`ANSWER_LOST`) rather than leave them in silence.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from bot.domain.slack_records import DeliveryKey, SlackDeliveryState, SlackPost
from bot.ports import Clock, UnitOfWork
from bot.replies import Reply
from bot.services.delivery_claims import DeliveryClaim
from bot.services.identity import Identity
from bot.services.questions.conversation import ConversationDeps, respond
from storage.slack_repo import DuplicateDeliveryError

__all__ = [
    "ANSWER_FAILED",
    "ANSWER_LOST",
    "STALE_AFTER",
    "EventReply",
    "Post",
    "answer_event_once",
    "event_left_unanswered",
]

logger = logging.getLogger(__name__)

# A delivery normally builds and posts its reply within seconds (the Web API client gives up
# on a post well within a minute); one still "in progress" after this long has died. Slack's
# last retry comes about five minutes after the first delivery, after this has passed.
STALE_AFTER = timedelta(minutes=3)

# Posted by a late retry of an event whose first delivery died before it could post or park
# its reply: whether that reply went out is unknown, and answering again could record the
# question (or a chat election) twice, so the person is asked to send it again.
ANSWER_LOST = Reply(
    text="Sorry, I may not have finished answering your last message. If you did not get an "
    "answer, please send it again.",
    kind="error",
)
ANSWER_FAILED = Reply(  # the event failed before anything was recorded and no retry will come
    text="Sorry — something went wrong on my side and I could not finish answering that message. "
    "Please send it again in a minute (type `status` to see what is recorded for you). "
    "If it keeps happening, please contact HR.",
    kind="error",
)

Post = Callable[[SlackPost], Awaitable[None]]  # chat.postMessage of a rendered reply


async def answer_event_once(
    *,
    deps: ConversationDeps,
    delivery: DeliveryKey,
    text: str,
    identity: Identity,
    render: Callable[[Reply], SlackPost],
    post: Post,
) -> bool:
    """Answer a DM or mention once per ``delivery``; ``False`` when this delivery had nothing
    to post (the event is answered, or another delivery is answering it).

    A reply whose post failed is posted by a later delivery, which never answers (and records)
    the question a second time."""
    once = EventReply(deps.uow, key=delivery.key, clock=deps.clock)
    if await once.seen():
        return await once.post_parked(post, lost=render(ANSWER_LOST))
    claim = DeliveryClaim(replace(delivery, state=SlackDeliveryState.ANSWERING))
    try:
        reply = await respond(text=text, identity=identity, deps=deps, claim=claim)
        await claim.alone(deps.uow, at=deps.clock.now())  # an answer that wrote nothing
    except DuplicateDeliveryError:  # another delivery claimed it first; ours wrote nothing
        return await once.post_parked(post, lost=render(ANSWER_LOST))
    await once.post_first(post, render(reply))
    return True


async def event_left_unanswered(deps: ConversationDeps, event_id: str) -> bool:
    """Whether no delivery of the event was ever claimed: its answer failed before its first
    write, so nothing was recorded and no reply was parked for the worker to post."""
    return not await EventReply(deps.uow, key=f"event:{event_id}", clock=deps.clock).seen()


class EventReply:
    """Posts the reply to one Slack event once, whichever delivery of the event gets to post.

    The delivery that claimed the event posts with :meth:`post_first`; any later delivery calls
    :meth:`post_parked`, which posts only a reply parked by a failed post (or one whose
    delivery died on the way) and never builds a new one. Each step is its own short
    transaction: no transaction is held open across a Web API call.
    """

    def __init__(
        self, uow: UnitOfWork, *, key: str, clock: Clock, stale_after: timedelta = STALE_AFTER
    ) -> None:
        self._uow, self._key, self._clock, self._stale_after = uow, key, clock, stale_after

    async def seen(self) -> bool:
        """Whether a delivery of the event was claimed before (a read; the claim itself is
        made with the answer's first write, see :func:`answer_event_once`)."""
        async with self._uow as uow:
            return await uow.slack_events.seen(self._key)

    async def post_first(self, post: Post, reply: SlackPost) -> None:
        """Post the claiming delivery's reply; if the post fails, park it for Slack's retry.

        Only an error parks the reply: a cancelled task (shutdown) may or may not have posted,
        so its claim stays ``answering`` and a retry after :data:`STALE_AFTER` tells the person
        instead (see :meth:`post_parked`).
        """
        try:
            await post(reply)
        except Exception:
            async with self._uow as uow:
                parked = await uow.slack_events.park(self._key, reply, at=self._clock.now())
                await uow.commit()
            if not parked:
                logger.warning("%s: post failed after another delivery took over", self._key)
            raise
        await self._finish()

    async def post_parked(self, post: Post, *, lost: SlackPost) -> bool:
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
            taken = await uow.slack_events.take(
                self._key, at=now, stale_before=now - self._stale_after
            )
            await uow.commit()
        if taken is None:
            return False
        reply = taken.reply or self._lost(lost)
        try:
            await post(reply)
        except Exception:
            async with self._uow as uow:
                await uow.slack_events.park(
                    self._key, reply, at=self._clock.now(), taken_at=taken.taken_at
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
            await uow.slack_events.finish(self._key, at=self._clock.now())
            await uow.commit()
