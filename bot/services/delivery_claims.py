"""A Slack delivery claimed in the same transaction as the first write made for it.

Slack delivers an event again when it thinks the first delivery failed (``X-Slack-Retry-Num``),
and a view submission can arrive twice. The use case that handles a delivery is handed its
:class:`~bot.domain.slack_records.DeliveryKey` by the handler, wraps it in a
:class:`DeliveryClaim` and passes that, as an explicit ``claim=`` argument, to every service
that may write on the delivery's behalf (recording an abstention, an audit row, an intent). The
first of them to open a transaction claims the key there (:meth:`DeliveryClaim.within`), before
its own write, and marks the claim made once that transaction committed
(:meth:`DeliveryClaim.committed`); later writers of the same answer see it made and claim
nothing. So:

* a second delivery of the key fails on the unique key in its first write's transaction
  (:class:`~storage.slack_repo.DuplicateDeliveryError`), which rolls back: it writes nothing;
* a failure between the claim and the write rolls both back: the retry finds no claim and
  answers — nothing is answered twice and nothing is lost;
* an answer that writes nothing is claimed on its own (:meth:`DeliveryClaim.alone`) before the
  reply is posted: the claim is then the answer's only write.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.ports import UnitOfWork

if TYPE_CHECKING:  # an annotation only: `offerbot ask` need not load the Slack records
    from bot.domain.slack_records import DeliveryKey

__all__ = ["DeliveryClaim", "claim_within", "mark_committed"]


class DeliveryClaim:
    """One delivery's claim, made at most once per answer (see the module docstring).

    Not shared between deliveries: each delivery of a key builds its own, and the database's
    unique key decides which of them claims it.
    """

    __slots__ = ("_made", "delivery")

    def __init__(self, delivery: DeliveryKey) -> None:
        self.delivery = delivery
        self._made = False

    @property
    def made(self) -> bool:
        """Whether a committed transaction of this answer holds the claim."""
        return self._made

    async def within(self, uow: UnitOfWork, *, at: datetime) -> None:
        """Claim the key in ``uow``'s open transaction unless an earlier transaction of this
        answer did; raises ``DuplicateDeliveryError`` when another delivery holds it."""
        if self._made:
            return
        await uow.slack_events.claim(
            self.delivery.key,
            kind=self.delivery.kind,
            user_id=self.delivery.user_id,
            at=at,
            state=self.delivery.state,
        )

    def committed(self) -> None:
        """The transaction that called :meth:`within` committed: the claim is made."""
        self._made = True

    async def alone(self, uow: UnitOfWork, *, at: datetime) -> None:
        """Claim the key in a transaction of its own if nothing the answer wrote did."""
        if self._made:
            return
        async with uow:
            await self.within(uow, at=at)
            await uow.commit()
        self._made = True


async def claim_within(uow: UnitOfWork, claim: DeliveryClaim | None, *, at: datetime) -> None:
    """:meth:`DeliveryClaim.within` for a writer called with or without a claim."""
    if claim is not None:
        await claim.within(uow, at=at)


def mark_committed(claim: DeliveryClaim | None) -> None:
    """:meth:`DeliveryClaim.committed` for a writer called with or without a claim."""
    if claim is not None:
        claim.committed()
