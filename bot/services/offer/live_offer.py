"""The live offer: the bundled terms plus what HR changed since (the expiration, after an
extension). Every service that states a date asks :func:`current_terms` first, so an answer
never quotes a deadline that no longer holds."""

from __future__ import annotations

from datetime import datetime

from bot.domain.records import OfferState
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork
from bot.services.errors import OfferNotLoadedError

__all__ = ["current_terms", "load_offer"]


async def load_offer(
    *, uow: UnitOfWork, terms: OfferTerms, digest: str, now: datetime
) -> OfferState:
    """Record the offer in the database once; later calls keep the stored (maybe extended) state."""
    async with uow:
        state = await uow.offers.get(terms.offer_id)
        if state is None:
            state = OfferState(
                offer_id=terms.offer_id,
                expiration=terms.original_expiration,
                original_expiration=terms.original_expiration,
                terms_digest=digest,
                updated_at=now,
            )
            await uow.offers.save(state)
            await uow.commit()
        return state


async def current_terms(*, uow: UnitOfWork, terms: OfferTerms) -> OfferTerms:
    """The bundled terms with the stored expiration; refuses to guess when nothing is stored."""
    async with uow:
        state = await uow.offers.get(terms.offer_id)
    if state is None:
        raise OfferNotLoadedError(
            "No offer is loaded in the database yet. "
            "Run `offerbot init` (or `offerbot init --demo`)."
        )
    return terms.with_expiration(state.expiration.astimezone(terms.deadline_zone))
