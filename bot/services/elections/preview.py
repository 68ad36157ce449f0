"""Check a tender before recording it, and say exactly what recording it would do.

Channels with a confirmation step (the Slack election modal) call :func:`preview_tender` first;
:func:`~bot.services.elections.intents.record_intent` checks the same rules again when it records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.tender import TenderSelection, validate_tender
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_shares
from bot.ports import UnitOfWork
from bot.services.access import authorize_self_or_operator
from bot.services.elections.person import load_person
from bot.services.elections.wording import deadline_text, delivery_text
from bot.services.identity import Identity

__all__ = ["TenderPreview", "preview_tender"]


@dataclass(frozen=True, slots=True)
class TenderPreview:
    selection: TenderSelection
    summary: str  # what will be recorded and what the employee must still do


async def preview_tender(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    employee_id: str,
    grant_numbers: Sequence[str],
    identity: Identity,
    now: datetime,
) -> TenderPreview:
    """Validate ``grant_numbers`` as a tender (raises a DomainError naming the broken rule)."""
    authorize_self_or_operator(identity, employee_id)
    async with uow:
        person = await load_person(uow, terms, employee_id)
    selection = validate_tender(grant_numbers, person.assessment, terms, now=now)
    count = len(selection.grant_numbers)
    summary = (
        f"I will record your intent to tender {count} whole grant{'s' * (count != 1)}: "
        f"{', '.join(selection.grant_numbers)} ({format_shares(selection.unexercised_shares)} "
        f"unexercised shares, {format_shares(selection.new_option_shares)} new-option shares), "
        "and prepare your pre-filled Election Form. This is not itself an election: the signed "
        f"form must reach {delivery_text(terms)} by fax or by hand before "
        f"{deadline_text(terms)}. E-mail is not accepted."
    )
    return TenderPreview(selection=selection, summary=summary)
