"""The Slack delivery claims on both backends: a reply parked after a failed post is taken by
exactly one later delivery, a claim stuck in progress is taken only once it is stale, and a
posted reply's text is not kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.slack_repo import (
    DuplicateDeliveryError,
    SlackDeliveryState,
    SlackPost,
    Takeover,
    slack_events,
)
from storage.uow import UnitOfWork

T0 = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
KEY = "event:Ev1"
REPLY = SlackPost(
    channel="D1001",
    thread_ts="1057852800.000100",
    text="The offer expires at 5:00 p.m. on July 24, 2003.",
    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "The offer expires…"}}],
)
STALE = timedelta(minutes=3)


async def _claim(uow: UnitOfWork, *, state: SlackDeliveryState, at: datetime = T0) -> None:
    async with uow:
        await slack_events(uow).claim(KEY, kind="message", user_id="U1001", at=at, state=state)
        await uow.commit()


async def _park(uow: UnitOfWork, *, at: datetime, taken_at: datetime | None = None) -> bool:
    async with uow:
        parked = await slack_events(uow).park(KEY, REPLY, at=at, taken_at=taken_at)
        await uow.commit()
    return parked


async def _take(uow: UnitOfWork, *, at: datetime) -> Takeover | None:
    async with uow:
        taken = await slack_events(uow).take(KEY, at=at, stale_before=at - STALE)
        await uow.commit()
    return taken


async def test_a_parked_reply_is_taken_once_posted_and_then_forgotten(uow: UnitOfWork) -> None:
    await _claim(uow, state=SlackDeliveryState.ANSWERING)
    assert await _park(uow, at=T0 + timedelta(seconds=2))
    async with uow:
        parked = await slack_events(uow).get(KEY)
    assert parked is not None
    assert parked.state is SlackDeliveryState.UNPOSTED and parked.reply == REPLY

    retry_at = T0 + timedelta(seconds=5)
    taken = await _take(uow, at=retry_at)
    assert taken is not None and taken.reply == REPLY
    assert await _take(uow, at=retry_at) is None  # posting now: nobody else takes it

    async with uow:
        await slack_events(uow).finish(KEY, at=retry_at)
        await uow.commit()
    async with uow:
        done = await slack_events(uow).get(KEY)
    assert done is not None
    assert done.state is SlackDeliveryState.DONE and done.reply is None
    assert await _take(uow, at=T0 + timedelta(hours=1)) is None  # done stays done


async def test_two_deliveries_racing_for_a_parked_reply_one_takes_it(uow: UnitOfWork) -> None:
    await _claim(uow, state=SlackDeliveryState.ANSWERING)
    assert await _park(uow, at=T0)
    at = T0 + timedelta(minutes=1)
    for _ in range(3):  # the race, repeated: the winner gives the reply back each time
        results = await asyncio.gather(*(_take(uow, at=at) for _ in range(4)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        assert winners[0].reply == REPLY
        assert await _park(uow, at=at, taken_at=at)  # its post failed: parked again
        at += timedelta(seconds=1)


async def test_a_claim_in_progress_is_taken_only_once_stale(uow: UnitOfWork) -> None:
    await _claim(uow, state=SlackDeliveryState.ANSWERING)
    assert await _take(uow, at=T0 + timedelta(minutes=1)) is None  # still being answered
    late = T0 + timedelta(minutes=5)
    taken = await _take(uow, at=late)
    assert taken is not None and taken.reply is None
    # the first delivery wakes up and its post fails: the claim is no longer its to park
    assert not await _park(uow, at=late + timedelta(seconds=1))
    async with uow:
        delivery = await slack_events(uow).get(KEY)
    assert delivery is not None
    assert delivery.state is SlackDeliveryState.POSTING and delivery.reply is None


async def test_a_posting_taker_that_died_is_taken_over_after_the_stale_time(
    uow: UnitOfWork,
) -> None:
    await _claim(uow, state=SlackDeliveryState.ANSWERING)
    assert await _park(uow, at=T0)
    first = T0 + timedelta(minutes=1)
    assert await _take(uow, at=first) is not None
    assert await _take(uow, at=first + timedelta(minutes=2)) is None  # it may still be posting
    second = first + timedelta(minutes=4)
    taken = await _take(uow, at=second)
    assert taken is not None and taken.reply == REPLY
    # the first taker's belated failure does not undo the second's posting state
    assert not await _park(uow, at=second, taken_at=first)
    assert await _park(uow, at=second, taken_at=second)


async def test_view_claims_are_done_at_once_and_duplicates_still_refused(
    uow: UnitOfWork,
) -> None:
    await _claim(uow, state=SlackDeliveryState.DONE)
    assert await _take(uow, at=T0 + timedelta(hours=1)) is None
    assert not await _park(uow, at=T0)  # nothing in progress to park into
    with pytest.raises(DuplicateDeliveryError):
        await _claim(uow, state=SlackDeliveryState.ANSWERING)
    async with uow:
        delivery = await slack_events(uow).get(KEY)
        assert await slack_events(uow).get("event:never") is None
    assert delivery is not None
    assert delivery.state is SlackDeliveryState.DONE and delivery.reply is None
    assert delivery.state_changed_at == T0 and delivery.user_id == "U1001"


# --- the worker's sweep: parked replies after a grace period, and pruning ---------------------

GRACE = timedelta(seconds=90)
OVERDUE = timedelta(hours=1)


async def _claim_key(
    uow: UnitOfWork, key: str, *, state: SlackDeliveryState, at: datetime = T0
) -> None:
    async with uow:
        await slack_events(uow).claim(key, kind="message", user_id="U1001", at=at, state=state)
        await uow.commit()


async def _waiting_keys(uow: UnitOfWork, *, now: datetime) -> list[str]:
    async with uow:
        waiting = await slack_events(uow).waiting(
            parked_before=now - GRACE,
            stale_before=now - STALE,
            overdue_before=now - OVERDUE,
            limit=10,
        )
    return [d.delivery_key for d in waiting]


async def _take_parked(uow: UnitOfWork, *, at: datetime) -> Takeover | None:
    async with uow:
        taken = await slack_events(uow).take_parked(
            KEY, at=at, parked_before=at - GRACE, stale_before=at - STALE
        )
        await uow.commit()
    return taken


async def test_the_worker_takes_a_parked_reply_only_after_the_grace(uow: UnitOfWork) -> None:
    await _claim(uow, state=SlackDeliveryState.ANSWERING)
    parked_at = T0 + timedelta(seconds=2)
    assert await _park(uow, at=parked_at)
    early = parked_at + GRACE - timedelta(seconds=1)
    assert await _waiting_keys(uow, now=early) == []
    assert await _take_parked(uow, at=early) is None  # left to Slack's retry for now

    late = parked_at + GRACE + timedelta(seconds=1)
    assert await _waiting_keys(uow, now=late) == [KEY]
    taken = await _take_parked(uow, at=late)
    assert taken is not None and taken.reply == REPLY
    assert await _take(uow, at=late) is None  # a retry arriving now finds it being posted
    assert await _waiting_keys(uow, now=late) == []  # and so does another worker
    # the worker's post failed: parked again, and the next try waits a grace period again
    assert await _park(uow, at=late, taken_at=late)
    assert await _waiting_keys(uow, now=late + GRACE - timedelta(seconds=1)) == []
    assert await _waiting_keys(uow, now=late + GRACE + timedelta(seconds=1)) == [KEY]


async def test_a_worker_and_retries_racing_for_a_parked_reply_one_takes_it(
    uow: UnitOfWork,
) -> None:
    await _claim(uow, state=SlackDeliveryState.ANSWERING)
    assert await _park(uow, at=T0)
    at = T0 + GRACE + timedelta(seconds=1)
    for _ in range(3):
        results = await asyncio.gather(
            _take_parked(uow, at=at), _take_parked(uow, at=at), _take(uow, at=at), _take(uow, at=at)
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1 and winners[0].reply == REPLY
        assert await _park(uow, at=T0, taken_at=at)  # parked long enough ago to race again
        at += timedelta(seconds=1)


async def test_a_claim_without_a_reply_is_never_the_workers_to_post(uow: UnitOfWork) -> None:
    """A delivery that died before parking left no channel to post to: the worker does not
    take it, however stale, and lists it only once overdue (to give it up, HR told)."""
    await _claim(uow, state=SlackDeliveryState.ANSWERING)
    stale = T0 + STALE + timedelta(minutes=1)
    assert await _waiting_keys(uow, now=stale) == []
    assert await _take_parked(uow, at=stale) is None
    overdue = T0 + OVERDUE + timedelta(seconds=1)
    assert await _waiting_keys(uow, now=overdue) == [KEY]
    taken = await _take(uow, at=overdue)  # the give-up takes it as a retry would
    assert taken is not None and taken.reply is None
    async with uow:
        assert await slack_events(uow).finish(KEY, at=overdue, taken_at=overdue)
        await uow.commit()
    assert await _waiting_keys(uow, now=overdue + OVERDUE) == []


async def test_a_reply_being_posted_is_not_listed_until_its_poster_is_stale(
    uow: UnitOfWork,
) -> None:
    await _claim(uow, state=SlackDeliveryState.ANSWERING)
    assert await _park(uow, at=T0)
    taken_at = T0 + OVERDUE + timedelta(seconds=30)  # a late retry is posting it, overdue
    assert await _take(uow, at=taken_at) is not None
    assert await _waiting_keys(uow, now=taken_at + timedelta(seconds=10)) == []
    later = taken_at + STALE + timedelta(seconds=1)  # it died while posting
    assert await _waiting_keys(uow, now=later) == [KEY]
    taken = await _take_parked(uow, at=later)
    assert taken is not None and taken.reply == REPLY
    # the dead taker's belated finish no longer holds: only the new taker finishes
    async with uow:
        assert not await slack_events(uow).finish(KEY, at=later, taken_at=taken_at)
        assert await slack_events(uow).finish(KEY, at=later, taken_at=later)
        await uow.commit()


async def test_prune_forgets_old_done_rows_and_keeps_recent_and_unsettled_ones(
    uow: UnitOfWork,
) -> None:
    week = timedelta(days=7)
    now = T0 + timedelta(days=30)
    await _claim_key(uow, "event:old", state=SlackDeliveryState.DONE, at=now - week - week)
    await _claim_key(uow, "view:old", state=SlackDeliveryState.DONE, at=now - week - GRACE)
    await _claim_key(uow, "event:recent", state=SlackDeliveryState.DONE, at=now - week + GRACE)
    await _claim_key(uow, KEY, state=SlackDeliveryState.ANSWERING, at=now - week - week)
    assert await _park(uow, at=now - week - week)  # an old parked reply nobody has seen
    async with uow:
        assert await slack_events(uow).prune(before=now - week) == 2
        await uow.commit()
    async with uow:
        events = slack_events(uow)
        assert await events.get("event:old") is None and await events.get("view:old") is None
        assert await events.get("event:recent") is not None
        parked = await events.get(KEY)
    assert parked is not None and parked.reply == REPLY  # left to the sweep, never pruned
