"""At-most-once handling of a Slack delivery, recorded in the side effect's own transaction.

Slack retries an event it thinks failed (``X-Slack-Retry-Num``); after a failed first delivery
the retry is the only one, so retries are not dropped on sight. Instead the delivery's key
(``event:<event_id>``, ``view:<view id>:<hash>``) joins the first transaction the handling
commits (an intent, an audit row) — or a transaction of its own when it commits nothing — and a
second delivery of the same key fails there with
:class:`~storage.slack_repo.DuplicateDeliveryError`, rolling its side effect back.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from bot.ports import Clock
from storage.slack_repo import slack_events

__all__ = ["ClaimOnCommit"]


class ClaimOnCommit:
    """A unit of work that writes one ``slack_events`` row in the first transaction it commits."""

    def __init__(
        self, inner: Any, *, key: str, kind: str, user_id: str | None, clock: Clock
    ) -> None:
        self._inner = inner
        self._key, self._kind, self._user_id, self._clock = key, kind, user_id, clock
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
                self._key, kind=self._kind, user_id=self._user_id, at=self._clock.now()
            )
        await self._inner.commit()
        self.claimed = True

    async def claim(self) -> None:
        """Claim in a transaction of its own, unless a committed side effect already did."""
        if not self.claimed:
            async with self:
                await self.commit()

    async def release(self) -> None:
        """The reply could not be posted: let Slack's retry try again."""
        if self.claimed:
            async with self._inner:
                await slack_events(self._inner).release(self._key)
                await self._inner.commit()
            self.claimed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
