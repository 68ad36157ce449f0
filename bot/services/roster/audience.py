"""Who a roster-wide message goes to: the eligible employees, with what is left for each.

Shared by reminders and broadcasts. Eligibility is the offer's (:mod:`bot.domain.eligibility`):
an eligible person holding at least one eligible grant; the state is the reminder state of
their latest intent (:func:`bot.domain.reminders.reminder_state`). The roster is read a page
of :data:`PAGE` people at a time (four queries per page: employees, their grants, intent
versions, receipts), never one query per person and never every grant at once: 100,000 people
are classified in seconds, and what is held at the end is one small :class:`Recipient` per
eligible person, not the roster's 150,000 grants (``offerbot serve`` stays under 200 MB while a
round runs).
"""

from __future__ import annotations

import gc
from collections.abc import Container, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from bot.domain.deadlines import cancellation_date
from bot.domain.elections import IntentKind
from bot.domain.eligibility import grant_reasons, person_reasons
from bot.domain.reminders import ReminderState, reminder_state
from bot.domain.roster import Grant
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork

__all__ = [
    "PAGE",
    "Recipient",
    "eligible_grants_between",
    "eligible_recipients",
    "garbage_collection_paused",
]

PAGE = 5_000  # employees per read


@dataclass(frozen=True, slots=True)
class Recipient:
    employee_id: str
    name: str
    email: str | None
    slack_user_id: str | None
    state: ReminderState


@contextmanager
def garbage_collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while ~100,000 plain objects (no reference cycles)
    are built: its full passes over the growing heap otherwise cost a third of the time.
    Turns it back on only if it was on, so nested or concurrent uses end as they began."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def eligible_recipients(
    uow: UnitOfWork, terms: OfferTerms, *, now: datetime, database_order: bool = False
) -> list[Recipient]:
    """The eligible employees (at least one eligible grant), sorted by employee id.

    Call inside an open ``async with uow:`` (nothing is written). ``now`` is the instant the
    roster is read at: eligibility follows the roster and the terms as they stand then.
    ``database_order``: in the database's order of employee id instead of Python's, so that
    consecutive recipients are a contiguous id range there (see :func:`eligible_grants_between`).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    with garbage_collection_paused():
        return await _classify(uow, terms, sort=not database_order)


async def _classify(uow: UnitOfWork, terms: OfferTerms, *, sort: bool) -> list[Recipient]:
    repo = uow.audience
    cancellation = cancellation_date(terms)
    recipients: list[Recipient] = []
    after: str | None = None
    while True:
        page = await repo.page(after=after, limit=PAGE)
        if not page.employees:
            break
        after = page.last
        people = {e.employee_id: e for e in page.employees if not person_reasons(e, terms)}
        holders: set[str] = set()
        # A person is settled by their first eligible grant; the others are never even built.
        settled = partial(_settled, holders, people)
        for grant in page.grants_lazily(skip=settled):
            if not grant_reasons(grant, terms, cancellation=cancellation):
                holders.add(grant.employee_id)
        latest: dict[str, tuple[int, IntentKind]] = {}
        for head in page.intent_heads:
            if head.employee_id in holders:
                known = latest.get(head.employee_id)
                if known is None or head.version > known[0]:
                    latest[head.employee_id] = (head.version, head.kind)
        for employee_id in (e.employee_id for e in page.employees if e.employee_id in holders):
            person = people[employee_id]
            top = latest.get(employee_id)
            state = reminder_state(
                top[1] if top else None,
                latest_received=top is not None and (employee_id, top[0]) in page.received,
            )
            recipients.append(
                Recipient(
                    employee_id=employee_id,
                    name=person.name,
                    email=person.email.strip() or None,
                    slack_user_id=person.slack_user_id or None,
                    state=state,
                )
            )
    if sort:
        recipients.sort(key=lambda r: r.employee_id)  # Python's order: a collation may differ
    return recipients


def _settled(holders: set[str], people: dict[str, Any], employee_id: str) -> bool:
    return employee_id in holders or employee_id not in people


async def eligible_grants_between(
    uow: UnitOfWork,
    terms: OfferTerms,
    *,
    after: str | None,
    last: str,
    of: Container[str] | None = None,
) -> dict[str, list[Grant]]:
    """The eligible grants of everyone with ``after < employee_id <= last`` in the database's
    order (one index range; call inside an open unit of work): a chunk of a round taken from
    :func:`eligible_recipients` with ``database_order=True``. ``of``: only these people (the
    chunk's), whose grants alone are built."""
    cancellation = cancellation_date(terms)
    held: dict[str, list[Grant]] = {}
    for grant in await uow.audience.grants_between(after=after, last=last, of=of):
        if not grant_reasons(grant, terms, cancellation=cancellation):
            held.setdefault(grant.employee_id, []).append(grant)
    return held
