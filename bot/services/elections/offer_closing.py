"""Whether HR has started closing the offer: from the moment ``offerbot hr close`` starts, no
intent, withdrawal, signed-form receipt or extension may change what it is accepting.

The mark is the close run (``close_runs``, a table of a row or two) that the close writes in
its first transaction, together with the ``offer.close`` audit row that extensions check. Kept
apart from :mod:`bot.services.elections.close` so the services that check it do not import the
PDF code.
"""

from __future__ import annotations

from bot.ports import UnitOfWork
from bot.services.errors import InvalidRequestError

__all__ = ["CLOSE_ACTION", "OfferClosingError", "ensure_not_closing"]

CLOSE_ACTION = "offer.close"


class OfferClosingError(InvalidRequestError):
    """The offer is being closed, or was closed: nothing about an election may change."""


async def ensure_not_closing(uow: UnitOfWork, offer_id: str, what: str) -> None:
    """Inside an open unit of work: refuse ``what`` ("record a signed form") once a close of
    the offer has started (finished or not)."""
    if await uow.close_runs.latest(offer_id) is not None:
        raise OfferClosingError(
            f"HR has closed the offer (offerbot hr close), so offerbot cannot {what} any more; "
            "the tenders it accepted and the letters it issued stand as they are."
        )
