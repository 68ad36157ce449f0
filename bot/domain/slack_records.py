"""Slack bookkeeping records: a rendered message, a cached Slack user, a handled delivery.

Plain values shared by the services (dedupe, identity) and by ``storage/`` (which persists
them in ``slack_events`` and ``slack_users``), so neither the handlers nor the services need to
import storage to name them. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "NEVER_FETCHED",
    "DeliveryKey",
    "SlackDelivery",
    "SlackDeliveryState",
    "SlackPost",
    "SlackUser",
    "Takeover",
]

# ``fetched_at`` of a user row written without asking users.info (a DM channel opened ahead of
# a broadcast, a refused conversations.open): older than any cache TTL, so identity resolution
# still asks users.info the first time the user talks to the bot.
NEVER_FETCHED = datetime(1970, 1, 1, tzinfo=UTC)


class SlackDeliveryState(StrEnum):
    """Where the reply to one delivery stands (migration 0008).

    ``answering`` → ``done`` is the usual path of an event. A failed post parks the rendered
    reply (``unposted``); a later delivery of the same event — or, once Slack has had its
    chance to retry, the worker's sweep — wins ``unposted`` → ``posting`` and posts it. Claims of
    view submissions are written ``done``: the modal is their reply.
    """

    ANSWERING = "answering"  # claimed; the reply is being built or posted
    UNPOSTED = "unposted"  # the post failed; the reply waits for Slack's retry or the worker
    POSTING = "posting"  # one later delivery took the parked reply and is posting it
    DONE = "done"  # handled: the reply is out (or there is none to post)


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    """One Slack delivery a use case handles at most once: ``key`` (``event:<event_id>``,
    ``view:<view id>:<hash>``) is claimed in the transaction that records its side effect, so a
    second delivery of the same key fails there and its side effect is rolled back."""

    key: str
    kind: str  # "message", "election", "withdrawal"
    user_id: str | None
    state: SlackDeliveryState = SlackDeliveryState.DONE


@dataclass(frozen=True, slots=True)
class SlackUser:
    slack_user_id: str
    fetched_at: datetime
    team_id: str | None = None
    email: str | None = None
    employee_id: str | None = None
    # guest, bot, or another workspace: never personal data; also set when Slack refused to
    # open a DM with the user (deleted, unknown): users.info clears it on their next contact
    restricted: bool = False
    dm_channel: str | None = None


@dataclass(frozen=True, slots=True)
class SlackPost:
    """A rendered Slack message: where it goes and what it says (fallback text and blocks)."""

    channel: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "thread_ts": self.thread_ts,
            "text": self.text,
            "blocks": self.blocks,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SlackPost:
        thread_ts = data.get("thread_ts")
        return cls(
            channel=str(data["channel"]),
            text=str(data["text"]),
            blocks=list(data.get("blocks") or []),
            thread_ts=None if thread_ts is None else str(thread_ts),
        )


@dataclass(frozen=True, slots=True)
class SlackDelivery:
    """One claimed delivery: where its reply stands, and the reply while it waits to be posted."""

    delivery_key: str
    kind: str
    user_id: str | None
    received_at: datetime
    state: SlackDeliveryState
    state_changed_at: datetime | None  # None on rows from before migration 0008 (all done)
    reply: SlackPost | None = None


@dataclass(frozen=True, slots=True)
class Takeover:
    """A later delivery won the right to post: the parked reply, or ``None`` when none was
    parked (the delivery holding the claim stopped before it could park one). ``taken_at``
    marks this taker's own ``posting`` state (see ``SlackEvents.park``)."""

    taken_at: datetime
    reply: SlackPost | None
