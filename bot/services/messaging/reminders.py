"""Deadline reminders: plan one durable job per reminder round, and run a round when it is due.

``plan_reminders`` turns the offer's live expiration and the settings into ``reminder`` jobs
(key ``reminder:<offer>:<slot>``) and cancels the pending ones of an older plan, so planning
again — at every start, after an extension — is idempotent and moves the plan with the
deadline. ``run_reminder_job`` is the scheduler's handler (:data:`bot.runtime.scheduler.HANDLERS`):
it reads the roster a page of :data:`CHUNK` employees at a time (the page classified and its
copies built), then, in one transaction per page, keeps each template
verbatim once per round and state (the filing's record of written communications, with
``{name}`` and ``{grants}`` as the personal fields; recorded on the page where the state first
turns up) and queues one personal outbox copy per person and channel with an idempotency key,
renewing its lease between pages. A copy names its template and holds only the personal fields
(the outbox keeps the text once: 1.2 KB a copy was most of a 120,000-copy round's insert work).
Each page's grants are read once, for both the state and the copy's grant list. On PostgreSQL
(``uow.reads_beside_writes()``) the next page is read while this page's copies are written: the
round's Python work and the server's inserts then share the two cores instead of taking turns
(100,000 people in ``offerbot serve``: median 6.0 → 3.8 s).
The outbox sender delivers them; a crash or a second runner re-queues nothing that is already there.

A round is skipped, not sent, when its job belongs to an older expiration (the re-plan made a
new one), when the offer has closed, or when a later round is already due (after an outage only
the latest reminder goes out). A round that comes due inside the quiet hours is moved to their
end as a new job (key ``…~quiet@<instant>``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Container, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from functools import partial
from typing import Any

from bot.config import Settings
from bot.domain.communications import Communication, PersonalCopy
from bot.domain.deadlines import business_calendar
from bot.domain.hr_records import MessageKind
from bot.domain.jobs import Job, JobState
from bot.domain.reminders import (
    ReminderSlot,
    ReminderState,
    apply_quiet_hours,
    grants_list,
    in_quiet_hours,
    reminder_slots,
    reminder_text,
)
from bot.domain.roster import Grant
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork
from bot.services.retry import retry_on_conflict
from bot.services.roster.audience import Recipient, eligible_page, garbage_collection_paused

__all__ = [
    "CHUNK",
    "JOB_KIND",
    "plan_reminders",
    "planned_slots",
    "reminder_copies",
    "run_reminder_job",
]

logger = logging.getLogger(__name__)

JOB_KIND = "reminder"
CHUNK = 5_000  # employees read (and their copies queued) per transaction; lease renewed between
_EVERY_STATE = frozenset(ReminderState)  # a round records a template for each state it meets
_DEFERRED = "~quiet@"  # a round moved out of the quiet hours: "<job key>~quiet@<instant>"


def _prefix(terms: OfferTerms) -> str:
    return f"{JOB_KIND}:{terms.offer_id}:"


def planned_slots(terms: OfferTerms, settings: Settings) -> list[ReminderSlot]:
    """Every round of the plan for ``terms``' expiration, past ones included."""
    return reminder_slots(
        terms,
        business_calendar(terms),
        business_days=settings.reminder_business_days,
        at=settings.reminder_time,
        quiet_hours=settings.quiet_hours,
        now=None,
    )


async def plan_reminders(
    uow: UnitOfWork, *, terms: OfferTerms, settings: Settings, now: datetime
) -> int:
    """Schedule a ``reminder`` job for each round still ahead and cancel pending ones of older
    plans; returns how many rounds are pending. Runs inside the caller's open ``async with
    uow:`` and does not commit.

    Jobs of this plan that are already due but not yet run are kept (a restart re-plans at
    once and must not drop the round the worker was about to send), as are their quiet-hours
    deferrals.
    """
    prefix = _prefix(terms)
    if not settings.reminders_enabled:
        await uow.jobs.cancel_pending(kind=JOB_KIND, key_prefix=prefix, at=now)
        return 0
    slots = planned_slots(terms, settings)
    expiration = terms.expiration.isoformat()
    keep: set[str] = set()
    for slot in slots:
        key = prefix + slot.key
        keep.add(key)
        if slot.instant < now.astimezone(UTC):
            continue
        await uow.jobs.schedule(
            Job(
                key=key,
                kind=JOB_KIND,
                due_at=slot.instant,
                payload={"slot": slot.key, "expiration": expiration},
            ),
            now=now,
            replace=True,
        )
    pending = await _pending(uow, prefix)
    keep.update(j.key for j in pending if j.key.partition(_DEFERRED)[0] in keep)
    await uow.jobs.cancel_pending(kind=JOB_KIND, key_prefix=prefix, keep=keep, at=now)
    return sum(1 for j in pending if j.key in keep)


async def _pending(uow: UnitOfWork, prefix: str) -> list[Job]:
    jobs = await uow.jobs.list(kind=JOB_KIND, state=JobState.PENDING, limit=10_000)
    return [j for j in jobs if j.key.startswith(prefix)]


def reminder_copies(
    recipients: Iterable[Recipient],
    states: Container[ReminderState],
    *,
    slot: str,
    slack: bool,
    grants: Mapping[str, Sequence[Grant]] | None = None,
) -> dict[ReminderState, list[PersonalCopy]]:
    """Each state's copies, one per person and channel: e-mail when they have an address, a
    Slack DM when they have a Slack id and ``slack`` is configured. Nobody whose form was
    received, nobody whose state is not among ``states`` (those with a template). A copy holds
    the personal fields of its state's template (the name; ``grants``: each person's eligible
    grants, listed)."""
    with garbage_collection_paused():
        return _copies(recipients, states, slot=slot, slack=slack, grants=grants or {})


def _copies(
    recipients: Iterable[Recipient],
    states: Container[ReminderState],
    *,
    slot: str,
    slack: bool,
    grants: Mapping[str, Sequence[Grant]],
) -> dict[ReminderState, list[PersonalCopy]]:
    copies: dict[ReminderState, list[PersonalCopy]] = {}
    for person in recipients:
        if person.state is ReminderState.FORM_RECEIVED or person.state not in states:
            continue
        employee_id, name = person.employee_id, person.name
        listed = grants_list(grants.get(employee_id, ()))
        of_state = copies.setdefault(person.state, [])
        key = f"reminder:{slot}:{employee_id}:"
        if person.email:
            of_state.append(
                PersonalCopy(key + "email", "email", person.email, employee_id, name, listed)
            )
        if slack and person.slack_user_id:
            of_state.append(
                PersonalCopy(
                    key + "slack", "slack", person.slack_user_id, employee_id, name, listed
                )
            )
    return copies


async def run_reminder_job(job: Job, ctx: Any) -> None:
    """Send one reminder round (the scheduler's ``reminder`` handler); idempotent."""
    settings: Settings = ctx.settings
    slot = str(job.payload.get("slot", ""))
    if not settings.reminders_enabled:
        logger.info("reminder %s skipped: reminders are turned off", job.key)
        return
    terms: OfferTerms = await ctx.terms()
    now = ctx.clock.now()
    planned_for = datetime.fromisoformat(str(job.payload.get("expiration")))
    if planned_for != terms.expiration:
        logger.info("reminder %s skipped: planned for an earlier expiration", job.key)
        return
    if now >= terms.expiration:
        logger.info("reminder %s skipped: the offer has closed", job.key)
        return
    if _superseded(slot, job, terms, settings, now):
        logger.info("reminder %s skipped: a later round is already due", job.key)
        return
    quiet = settings.quiet_hours
    if quiet is not None and in_quiet_hours(now, *quiet, terms.deadline_zone):
        await _defer(job, ctx, terms, quiet, now)
        return
    async with ctx.uow:
        roster = await ctx.uow.audience.employee_count()
    round_ = _Round(
        slot=slot,
        terms=terms,
        now=now,
        inbox=settings.imap_host is not None,
        slack=settings.slack_bot_token is not None,
    )
    read = reminded = queued = 0
    # PostgreSQL: the next page is read while this one's copies are written
    beside = ctx.uow.reads_beside_writes()
    reading: asyncio.Task[_Read] | None = _read_ahead(ctx.uow, round_, after=None)
    try:
        while reading is not None:  # streaming (issue 15): one page of the roster at a time
            page = await reading
            more = page.last is not None and page.read >= CHUNK
            reading = _read_ahead(ctx.uow, round_, after=page.last) if more and beside else None
            written = await retry_on_conflict(partial(_queue_page, ctx.uow, round_, page))
            round_.templates.update(written.templates)
            read, reminded = read + page.read, reminded + page.reminded
            queued += written.queued
            if ctx.progress is not None:
                ctx.progress(read, max(read, roster))
            if not more:
                break
            if not await ctx.renew(job):
                logger.warning("reminder %s: lease lost after %d people; stopping", job.key, read)
                return
            if reading is None:
                reading = _read_ahead(ctx.uow, round_, after=page.last)
    finally:  # the round stopped early (lease lost, a failed write): drop the page read ahead
        if reading is not None:
            reading.cancel()
            # what the abandoned read raised, if anything, is not this round's error
            with suppress(asyncio.CancelledError, Exception):
                await reading
    if not reminded:
        logger.info("reminder %s: nobody has anything left to do", job.key)
        return
    logger.info("reminder %s: %d people, %d message(s) queued", job.key, reminded, queued)


@dataclass(slots=True)
class _Round:
    """What every page of one round shares; ``templates`` fills in as states turn up."""

    slot: str
    terms: OfferTerms
    now: datetime
    inbox: bool
    slack: bool
    templates: dict[ReminderState, Communication] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Read:
    """One page of the roster, classified, with its copies built (nothing written yet)."""

    read: int  # employees on the page
    reminded: int  # people with something left to do
    copies: dict[ReminderState, list[PersonalCopy]]  # by state: each state's template
    last: str | None  # where the next page starts; None: the roster is done


@dataclass(frozen=True, slots=True)
class _Written:
    queued: int  # copies added (a re-run adds only what is missing)
    templates: dict[ReminderState, Communication]  # recorded by this page


def _read_ahead(uow: UnitOfWork, round_: _Round, *, after: str | None) -> asyncio.Task[_Read]:
    """Start reading the page after ``after`` in a task of its own (its own session: the unit
    of work's open block belongs to the task that entered it). Created outside any block."""
    return asyncio.create_task(_read_page(uow, round_, after))


async def _read_page(uow: UnitOfWork, round_: _Round, after: str | None) -> _Read:
    """Classify the next :data:`CHUNK` employees and build their copies, in a block of their
    own that writes nothing (on PostgreSQL it runs while the previous page is written). The
    page's grants are read once and serve both the state and the copy's grant list. Every
    state but "form received" gets a template (:func:`_queue_page`), so the copies can be
    built before the templates are recorded.

    The cyclic garbage collector stays paused while the page's objects are built (they have no
    cycles): turned back on while they were alive, its next passes walked them all — ~10 % of
    a round's time."""
    with garbage_collection_paused():
        async with uow:
            page = await eligible_page(uow, round_.terms, after=after, limit=CHUNK)
        to_remind = [r for r in page.recipients if r.state is not ReminderState.FORM_RECEIVED]
        copies = reminder_copies(
            to_remind, _EVERY_STATE, slot=round_.slot, slack=round_.slack, grants=page.grants
        )
    return _Read(page.read, len(to_remind), copies, page.last)


async def _queue_page(uow: UnitOfWork, round_: _Round, page: _Read) -> _Written:
    """Queue one page's copies in one transaction; a state first met on this page gets its
    template recorded in the same transaction (a retry after a conflict redoes the whole
    write, so nothing is half-kept). A crash between pages leaves whole pages: a re-run reads
    them again and queues only the copies whose key is missing."""
    async with uow:
        missing = page.copies.keys() - round_.templates.keys()
        templates = await _record_templates(
            uow, missing, round_.slot, round_.terms, round_.now, inbox=round_.inbox
        )
        every = {**round_.templates, **templates}
        queued = 0
        for state, of_state in page.copies.items():
            queued += await uow.outbox.enqueue_copies(
                every[state], of_state, kind=MessageKind.REMINDER, at=round_.now
            )
        await uow.commit()
    return _Written(queued, templates)


def _superseded(slot: str, job: Job, terms: OfferTerms, settings: Settings, now: datetime) -> bool:
    """Is a later round of the current plan already due? Then this one is old news."""
    slots = planned_slots(terms, settings)
    mine = next((s.instant for s in slots if s.key == slot), job.due_at)
    return any(mine < s.instant <= now for s in slots)


async def _defer(
    job: Job, ctx: Any, terms: OfferTerms, quiet: tuple[time, time], now: datetime
) -> None:
    resume = apply_quiet_hours(now, *quiet, terms.deadline_zone)
    if resume >= terms.expiration:
        logger.info("reminder %s dropped: the quiet hours end after the deadline", job.key)
        return
    key = f"{job.key.partition(_DEFERRED)[0]}{_DEFERRED}{resume:%Y-%m-%dT%H:%MZ}"

    async def schedule() -> None:
        async with ctx.uow:
            await ctx.uow.jobs.schedule(
                Job(key=key, kind=JOB_KIND, due_at=resume, payload=dict(job.payload)), now=now
            )
            await ctx.uow.commit()

    await retry_on_conflict(schedule)
    logger.info("reminder %s: quiet hours, moved to %s", job.key, resume.isoformat())


async def _record_templates(
    uow: UnitOfWork,
    states: Iterable[ReminderState],
    slot: str,
    terms: OfferTerms,
    now: datetime,
    *,
    inbox: bool,
) -> dict[ReminderState, Communication]:
    """Keep each state's template verbatim once per round; a re-run gets the stored one back,
    so every copy matches the record even if the wording would differ today. Runs inside the
    caller's open unit of work and does not commit."""
    templates: dict[ReminderState, Communication] = {}
    for state in sorted(states):
        subject, body = reminder_text(state, terms, now=now, inbox=inbox)
        templates[state] = await uow.communications.record(
            Communication(
                key=f"reminder:{slot}:{state.value}",
                kind="reminder",
                subject=subject,
                body=body,
                created_at=now,
            )
        )
    return templates
