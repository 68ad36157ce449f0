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
    """Record the offer in the database once; later calls keep the stored (maybe extended) state.

    Once recorded, the state is read in one statement outside any transaction (as every
    question reads it): a command that checks on each start that the offer is there
    (``offerbot ask``) opens no transaction, and in a fresh process loads no SQLAlchemy."""
    stored = await uow.read_offer_state(terms.offer_id)
    if stored is not None:
        return stored
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


async def current_terms(
    *, uow: UnitOfWork, terms: OfferTerms, for_question: bool = False
) -> OfferTerms:
    """The bundled terms with the stored expiration; refuses to guess when nothing is stored.

    The state is read fresh every time, in one statement outside any transaction
    (:meth:`~bot.ports.UnitOfWork.read_offer_state`): an extension committed anywhere is in
    the next answer. ``for_question`` (answering a question, never recording or deciding): on
    PostgreSQL the copy kept while every change is notified, still in the next answer after an
    extension commits. Only building the terms from it is remembered (33 µs, per expiration).
    """
    state = await uow.read_offer_state(terms.offer_id, for_question=for_question)
    if state is None:
        raise OfferNotLoadedError(
            "No offer is loaded in the database yet. "
            "Run `offerbot init` (or `offerbot init --demo`)."
        )
    return _with_expiration(terms, state.expiration.astimezone(terms.deadline_zone))


# (bundled terms, expiration) -> live terms. Keyed by the terms object's identity (hashing the
# frozen terms costs 14 µs); the object is kept in the value so its id is not reused.
_LIVE: dict[tuple[int, datetime], tuple[OfferTerms, OfferTerms]] = {}
_LIVE_LIMIT = 16


def _with_expiration(terms: OfferTerms, expiration: datetime) -> OfferTerms:
    key = (id(terms), expiration)
    known = _LIVE.get(key)
    if known is not None and known[0] is terms:
        return known[1]
    live = terms.with_expiration(expiration)
    if len(_LIVE) >= _LIVE_LIMIT:
        _LIVE.clear()
    _LIVE[key] = (terms, live)
    return live
