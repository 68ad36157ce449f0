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
from datetime import date, datetime
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
    "AudiencePage",
    "Recipient",
    "eligible_page",
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
    uow: UnitOfWork, terms: OfferTerms, *, now: datetime
) -> list[Recipient]:
    """The eligible employees (at least one eligible grant), sorted by employee id.

    Call inside an open ``async with uow:`` (nothing is written). ``now`` is the instant the
    roster is read at: eligibility follows the roster and the terms as they stand then.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    with garbage_collection_paused():
        return await _classify(uow, terms)


async def _classify(uow: UnitOfWork, terms: OfferTerms) -> list[Recipient]:
    cancellation = cancellation_date(terms)
    recipients: list[Recipient] = []
    after: str | None = None
    while True:
        page = await uow.audience.page(after=after, limit=PAGE)
        if not page.employees:
            break
        after = page.last
        recipients.extend(_eligible(page, terms, cancellation, grants=False).recipients)
    recipients.sort(key=lambda r: r.employee_id)  # Python's order: a collation may differ
    return recipients


@dataclass(frozen=True, slots=True)
class AudiencePage:
    """The eligible people of one page of the roster (see :func:`eligible_page`)."""

    recipients: list[Recipient]  # in the database's order of employee id
    grants: dict[str, list[Grant]]  # each recipient's eligible grants
    read: int  # employees on the page, eligible or not
    last: str | None  # where the next page starts; None: the roster is done


async def eligible_page(
    uow: UnitOfWork, terms: OfferTerms, *, after: str | None, limit: int
) -> AudiencePage:
    """The eligible people among the next ``limit`` employees after ``after`` (None: from the
    first, in the database's order), each with their state and eligible grants: one read of
    the page's rows serves both (a round used to read every grant twice — once to classify,
    once more per chunk to list them). Call inside an open unit of work; nothing is written."""
    with garbage_collection_paused():
        page = await uow.audience.page(after=after, limit=limit)
        return _eligible(page, terms, cancellation_date(terms), grants=True)


def _eligible(page: Any, terms: OfferTerms, cancellation: date, *, grants: bool) -> AudiencePage:
    """Classify one page. ``grants``: build and keep every eligible grant of the page's
    eligible people; otherwise a person is settled by their first eligible grant and their
    others are never built."""
    people = {e.employee_id: e for e in page.employees if not person_reasons(e, terms)}
    held: dict[str, list[Grant]] = {}
    holders: Container[str]
    if grants:
        for grant in page.grants_lazily(skip=lambda eid: eid not in people):
            if not grant_reasons(grant, terms, cancellation=cancellation):
                held.setdefault(grant.employee_id, []).append(grant)
        holders = held
    else:
        settled_holders: set[str] = set()
        settled = partial(_settled, settled_holders, people)
        for grant in page.grants_lazily(skip=settled):
            if not grant_reasons(grant, terms, cancellation=cancellation):
                settled_holders.add(grant.employee_id)
        holders = settled_holders
    latest: dict[str, tuple[int, IntentKind]] = {}
    for head in page.intent_heads:
        if head.employee_id in holders:
            known = latest.get(head.employee_id)
            if known is None or head.version > known[0]:
                latest[head.employee_id] = (head.version, head.kind)
    recipients = []
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
    return AudiencePage(recipients, held, len(page.employees), page.last)


def _settled(holders: set[str], people: dict[str, Any], employee_id: str) -> bool:
    return employee_id in holders or employee_id not in people
