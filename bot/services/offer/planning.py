"""Keep the scheduled plan (reminder rounds, HR digests) in step with the live offer.

Called when the offer is loaded (`offerbot init`), when a worker starts, and in the same
transaction as an extension; planning is idempotent (jobs have keys), so calling it again
changes nothing unless the expiration moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork
from bot.services.offer.live_offer import current_terms

__all__ = ["Plan", "plan_in", "refresh_plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    reminders: int  # pending reminder rounds
    digests: int  # pending daily digests


async def plan_in(uow: UnitOfWork, *, terms: OfferTerms, settings: Settings, now: datetime) -> Plan:
    """Plan inside the caller's open unit of work (it commits)."""
    from bot.services.messaging.digest import plan_digests
    from bot.services.messaging.reminders import plan_reminders

    return Plan(
        reminders=await plan_reminders(uow, terms=terms, settings=settings, now=now),
        digests=await plan_digests(uow, terms=terms, settings=settings, now=now),
    )


async def refresh_plan(
    *, uow: UnitOfWork, base_terms: OfferTerms, settings: Settings, now: datetime
) -> Plan:
    """Plan from the live terms in a transaction of its own."""
    terms = await current_terms(uow=uow, terms=base_terms)
    async with uow:
        plan = await plan_in(uow, terms=terms, settings=settings, now=now)
        await uow.commit()
    return plan
