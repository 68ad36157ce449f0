"""HR's digest: each business day, what happened since the last one and what needs HR today.

:func:`plan_digests` plans one ``digest`` job per business day from now through the business
day after expiration, at ``OFFERBOT_DIGEST_TIME`` (08:00) in the offer's deadline zone
(Pacific); planning again (after an extension, or with a new time) adds the missing days, moves
pending ones and cancels pending ones past the new plan. :func:`run_digest_job` composes the
digest of the period since the previous business day's digest (24 hours; Monday's covers the
weekend): new intents, signed forms received, receipt confirmations due and their delivery
state, unanswered questions, SLA risks, the time left — plus the totals of
:func:`bot.services.elections.reports.hr_report` — and queues it to HR's mailbox (``HR_NOTICE``)
and, when Slack is configured, as a DM to each HR admin. Employees are named next to their ids.

After an outage HR gets one digest, not one per missed day: a digest followed by a later one
already due is skipped, and the later one covers every business day since the last digest that
went out (its subject and first lines say which).

The questions' texts go to HR in the digest body only; logs carry counts and ids.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.domain.deadlines import business_calendar, end_of_business_day
from bot.domain.elections import ElectionIntent, FormReceipt, IntentKind
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.domain.jobs import Job, JobState
from bot.domain.records import UnansweredQuestion
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_duration, format_instant
from bot.ports import UnitOfWork
from bot.services.elections.intents import HR_RECIPIENT
from bot.services.elections.reports import hr_report
from bot.services.elections.wording import FORM_TITLE
from bot.services.identity import Identity
from bot.services.retry import retry_on_conflict

if TYPE_CHECKING:
    from bot.runtime.scheduler import JobContext

__all__ = [
    "ConfirmationLine",
    "Digest",
    "compose_digest",
    "digest_text",
    "plan_digests",
    "run_digest_job",
]

logger = logging.getLogger(__name__)

# The scheduler reads HR's report on HR's behalf (the report itself is not personal data).
_SCHEDULER = Identity(channel="cli", actor="system:digest")
# Longer lists are cut (Slack refuses messages over 40,000 characters); the CLI has them all.
LIST_LIMIT = 50
_QUESTION_CHARS = 300


def _digest_clock(settings: Settings) -> time:
    hour, minute = settings.digest_time.split(":")
    return time(int(hour), int(minute))


def _digest_instant(day: date, terms: OfferTerms, settings: Settings) -> datetime:
    return datetime.combine(day, _digest_clock(settings), tzinfo=terms.deadline_zone)


async def plan_digests(
    uow: UnitOfWork, *, terms: OfferTerms, settings: Settings, now: datetime
) -> int:
    """Plan the digests (inside the caller's open unit of work; no commit). Returns how many
    jobs were added; with digests disabled, cancels the pending ones and returns 0."""
    prefix = f"digest:{terms.offer_id}:"
    if not settings.digests_enabled:
        await uow.jobs.cancel_pending(kind="digest", key_prefix=prefix, at=now)
        return 0
    calendar = business_calendar(terms)
    last = calendar.next_business_day(calendar.date_of(terms.expiration))
    day = now.astimezone(terms.deadline_zone).date()
    planned: list[Job] = []
    while day <= last:
        due = _digest_instant(day, terms, settings)
        if calendar.is_business_day(day) and due >= now:
            payload = {"offer_id": terms.offer_id, "date": day.isoformat(), "at": due.isoformat()}
            planned.append(Job(key=f"{prefix}{day}", kind="digest", due_at=due, payload=payload))
        day += timedelta(days=1)
    # A digest already due but not run yet (the worker was down) still goes out.
    overdue = [
        j.key
        for j in await uow.jobs.list(kind="digest", state=JobState.PENDING)
        if j.key.startswith(prefix) and j.due_at <= now
    ]
    await uow.jobs.cancel_pending(
        kind="digest", key_prefix=prefix, keep=[j.key for j in planned] + overdue, at=now
    )
    added = 0
    for job in planned:
        added += await uow.jobs.schedule(job, now=now, replace=True)
    return added


@dataclass(frozen=True, slots=True)
class ConfirmationLine:
    """One receipt confirmation (its e-mail and any Slack copy), for the digest."""

    employee_id: str
    reference: str  # "v<version>"
    due_at: datetime
    state: DeliveryState  # sent if any copy was sent, else the e-mail's state
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    start: datetime
    end: datetime
    now: datetime
    expiration: datetime
    intents: list[ElectionIntent]
    receipts: list[FormReceipt]
    confirmations: list[ConfirmationLine]  # not sent yet, or sent in the period
    sla_risks: list[ConfirmationLine]  # not sent and due by the end of the next business day
    questions: list[UnansweredQuestion]
    report: dict[str, Any]
    # the business days whose digests this one stands for (more than ``day`` after an outage)
    days: tuple[date, ...] = ()
    names: dict[str, str] = field(default_factory=dict)  # employee id → name, for HR's eyes

    def who(self, employee_id: str) -> str:
        """``Rosalind Ashcombe (E1)``: the name HR knows, next to the id the CLI takes."""
        name = self.names.get(employee_id)
        return f"{name} ({employee_id})" if name else employee_id


async def compose_digest(
    uow: UnitOfWork,
    *,
    terms: OfferTerms,
    day: date,
    start: datetime,
    end: datetime,
    now: datetime,
    days: Sequence[date] = (),
) -> Digest:
    """What happened in ``[start, end)`` and where things stand at ``now``; ``days``: the
    business days it covers (default: ``day`` alone)."""
    report = await hr_report(uow=uow, terms=terms, identity=_SCHEDULER, now=now)
    async with uow:
        intents = [i for i in await uow.elections.all_intents() if start <= i.recorded_at < end]
        receipts = [r for r in await uow.elections.all_receipts() if start <= r.recorded_at < end]
        rows = await uow.outbox.by_kind(MessageKind.RECEIPT_CONFIRMATION)
        questions = [
            q for q in await uow.questions.unanswered(limit=10_000) if start <= q.asked_at < end
        ]
        confirmations = _confirmations(rows)
        listed = {i.employee_id for i in sorted(intents, key=_recorded)[:LIST_LIMIT]}
        listed |= {r.employee_id for r in sorted(receipts, key=_recorded)[:LIST_LIMIT]}
        listed |= {c.employee_id for c in confirmations}
        names = {}
        for employee_id in sorted(listed):
            employee = await uow.employees.get(employee_id)
            if employee is not None:
                names[employee_id] = employee.name
    calendar = business_calendar(terms)
    risk_until = end_of_business_day(calendar.next_business_day(calendar.date_of(now)), terms)
    return Digest(
        day=day,
        start=start,
        end=end,
        now=now,
        expiration=terms.expiration,
        intents=sorted(intents, key=_recorded),
        receipts=sorted(receipts, key=_recorded),
        confirmations=[
            c
            for c in confirmations
            if c.state is not DeliveryState.SENT or (c.sent_at and start <= c.sent_at < end)
        ],
        sla_risks=[
            c for c in confirmations if c.state is not DeliveryState.SENT and c.due_at <= risk_until
        ],
        questions=sorted(questions, key=lambda q: (q.asked_at, q.id or 0)),
        report=report,
        days=tuple(days) if days else (day,),
        names=names,
    )


def _recorded(item: ElectionIntent | FormReceipt) -> tuple[datetime, str, int]:
    return (item.recorded_at, item.employee_id, item.version)


def _confirmations(rows: list[OutboxMessage]) -> list[ConfirmationLine]:
    copies: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
    for m in rows:
        copies[(m.employee_id or "?", m.reference or "?")].append(m)
    lines = []
    for (employee_id, reference), ms in copies.items():
        sent = [m for m in ms if m.state is DeliveryState.SENT]
        main = next((m for m in ms if m.channel == "email"), ms[0])
        lines.append(
            ConfirmationLine(
                employee_id=employee_id,
                reference=reference,
                due_at=main.due_at,
                state=DeliveryState.SENT if sent else main.state,
                sent_at=min((m.sent_at for m in sent if m.sent_at), default=None),
                last_error=main.last_error or None,
            )
        )
    return sorted(lines, key=lambda c: (c.due_at, c.employee_id, c.reference))


def _section(heading: str, lines: list[str], total: int, where: str) -> str:
    """A heading and its first :data:`LIST_LIMIT` lines, saying where the rest are."""
    more = [f"- … and {total - LIST_LIMIT} more ({where})"] if total > LIST_LIMIT else []
    return "\n".join([heading, *lines[:LIST_LIMIT], *more])


def digest_text(digest: Digest, terms: OfferTerms) -> tuple[str, str]:
    """Subject and plain-text body (the same text goes by e-mail and Slack)."""
    pacific, eastern = terms.deadline_zone, terms.business_day_zone

    def when(instant: datetime) -> str:
        return format_instant(instant, pacific)

    def due(c: ConfirmationLine) -> str:
        last_day = (c.due_at - timedelta(microseconds=1)).astimezone(eastern).date()
        return f"due by the end of {format_date(last_day)} Eastern ({when(c.due_at)})"

    def state(c: ConfirmationLine) -> str:
        if c.state is DeliveryState.SENT and c.sent_at is not None:
            return f"sent at {when(c.sent_at)}"
        text = {
            DeliveryState.PENDING: "queued, not sent yet",
            DeliveryState.FAILED: "FAILED",
            DeliveryState.AMBIGUOUS: "maybe delivered (connection broke)",
        }.get(c.state, c.state.value)
        late = "; OVERDUE" if digest.now >= c.due_at else ""
        error = f"; last error: {c.last_error}" if c.last_error else ""
        return text + late + error

    days = digest.days or (digest.day,)
    span = f"{format_date(days[0])} to {format_date(days[-1])}"
    period = format_date(days[0]) if len(days) == 1 else f"{span} ({len(days)} business days)"
    subject = f"{terms.company_short_name} option exchange: HR digest for {period}"
    left = digest.expiration - digest.now
    if left > timedelta(0):
        time_left = (
            f"> Time left: {format_duration(left)} until the offer expires at "
            f"{when(digest.expiration)}."
        )
    else:
        time_left = f"> Deadline: the offer expired at {when(digest.expiration)}."
    if len(days) == 1:
        covers = (
            f"Digest for {format_date(digest.day)}: from {when(digest.start)} to "
            f"{when(digest.end)}."
        )
    else:
        missed = [format_date(d) for d in days[:-1]]
        listed = missed[0] if len(missed) == 1 else f"{', '.join(missed[:-1])} and {missed[-1]}"
        covers = (
            f"This digest covers {len(days)} business days, from {when(digest.start)} to "
            f"{when(digest.end)}. The digests of {listed} were not sent when due (offerbot was "
            "not running); this one replaces them."
        )
    parts = [covers, time_left, _next_step(digest)]

    parts.append(
        _section(
            f"New intents: {len(digest.intents)}",
            [
                f"- {digest.who(i.employee_id)}: {i.kind.value} v{i.version}"
                + (f" ({', '.join(i.grant_numbers)})" if i.kind is IntentKind.TENDER else "")
                + f", {when(i.recorded_at)}"
                for i in digest.intents[:LIST_LIMIT]
            ],
            len(digest.intents),
            "offerbot hr report",
        )
    )
    parts.append(
        _section(
            f"Signed forms received: {len(digest.receipts)}",
            [
                f"- {digest.who(r.employee_id)}: {FORM_TITLE[r.form]} v{r.version}, by "
                f"{r.via.value} at "
                f"{when(r.received_at)}"
                for r in digest.receipts[:LIST_LIMIT]
            ],
            len(digest.receipts),
            "offerbot hr report",
        )
    )
    parts.append(
        _section(
            f"Receipt confirmations open or sent in this period: {len(digest.confirmations)}",
            [
                f"- {digest.who(c.employee_id)} {c.reference}: {state(c)}, {due(c)}"
                for c in digest.confirmations[:LIST_LIMIT]
            ],
            len(digest.confirmations),
            "offerbot hr report",
        )
    )
    parts.append(
        _section(
            "SLA risks (receipt confirmations due within one business day, not sent): "
            f"{len(digest.sla_risks)}",
            [
                f"- {digest.who(c.employee_id)} {c.reference}: {state(c)}, {due(c)}"
                for c in digest.sla_risks[:LIST_LIMIT]
            ],
            len(digest.sla_risks),
            "offerbot hr report",
        )
    )
    ids = ", ".join(f"#{q.id}" for q in digest.questions)
    parts.append(
        _section(
            f"Unanswered questions: {len(digest.questions)}" + (f" ({ids})" if ids else ""),
            [
                f"- #{q.id} ({q.channel}, {when(q.asked_at)}): {_quote(q.question)}"
                for q in digest.questions[:LIST_LIMIT]
            ],
            len(digest.questions),
            "offerbot hr unanswered",
        )
    )
    r = digest.report
    parts.append(
        "Where things stand: "
        f"{r['eligible']['employees']:,} eligible employees; "
        f"{r['signed_forms_received']['election_forms']:,} Election Forms and "
        f"{r['signed_forms_received']['notices_to_withdraw']:,} Notices to Withdraw received; "
        f"{r['shares']['tendered']:,} of {r['shares']['eligible']:,} eligible shares tendered "
        f"({r['shares']['tendered_percent']}%); "
        f"{r['pending_signatures']['count']:,} signed forms awaited; "
        f"{r['receipt_confirmations']['overdue']:,} receipt confirmations overdue."
    )
    return subject, "\n\n".join(parts)


def _next_step(digest: Digest) -> str:
    """The one thing HR should do first today (the call to action of the digest)."""
    risks, questions = len(digest.sla_risks), len(digest.questions)
    if risks:
        return (
            f"> Next step: make sure the {risks} receipt confirmation{'s' * (risks != 1)} at "
            "risk below reach the employees before they are due (`offerbot hr report`; "
            "confirm another way if the e-mail keeps failing)."
        )
    if questions:
        return (
            f"> Next step: answer the {questions} unanswered question{'s' * (questions != 1)} "
            "below (`offerbot hr unanswered`)."
        )
    return (
        "> Next step: nothing is at risk today; record each signed form as it arrives by fax "
        "or by hand (`offerbot hr receive`)."
    )


def _days_since_last_digest(others: Sequence[Job], job: Job, day: date) -> list[date]:
    """``day`` and the days of the earlier digests that did not go out (skipped because a
    later one was already due, failed, or not run yet), back to the last one that went out."""
    days = [day]
    for other in sorted((j for j in others if j.due_at < job.due_at), key=lambda j: j.due_at)[::-1]:
        finished = other.finished_at
        skipped = finished is not None and any(
            other.due_at < j.due_at <= finished for j in [*others, job]
        )
        if other.state is JobState.DONE and not skipped:
            break
        days.insert(0, date.fromisoformat(str(other.payload["date"])))
    return days


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _QUESTION_CHARS:
        flat = flat[: _QUESTION_CHARS - 1] + "…"
    return f"“{flat}”"


async def run_digest_job(job: Job, ctx: JobContext) -> None:
    """``digest`` handler: compose the digest and queue it to HR (e-mail, Slack DMs).

    One digest per business day, even after an outage: a digest whose day is followed by a
    later digest already due is skipped, and that later one covers every day since the last
    digest that went out (and says so)."""
    settings = ctx.settings
    if not settings.digests_enabled:
        return
    terms = await ctx.terms()
    day = date.fromisoformat(str(job.payload["date"]))
    end = datetime.fromisoformat(str(job.payload["at"]))
    calendar = business_calendar(terms)
    now = ctx.clock.now()
    async with ctx.uow as uow:
        prefix = f"digest:{terms.offer_id}:"
        jobs = [
            j
            for j in await uow.jobs.list(kind="digest", limit=10_000)
            if j.key.startswith(prefix) and j.state is not JobState.CANCELLED and j.key != job.key
        ]
    if any(job.due_at < j.due_at <= now for j in jobs):
        logger.info("digest %s skipped: a later digest is due and covers this day", day)
        return
    days = _days_since_last_digest(jobs, job, day)
    start = _digest_instant(calendar.previous_business_day(days[0]), terms, settings)
    digest = await compose_digest(
        ctx.uow, terms=terms, day=day, start=start, end=end, now=now, days=days
    )
    subject, body = digest_text(digest, terms)
    recipients = [("email", HR_RECIPIENT)]
    if settings.slack_bot_token is not None:
        recipients += [("slack", admin) for admin in settings.hr_admins]

    async def attempt() -> int:
        async with ctx.uow as uow:
            added = 0
            for channel, recipient in recipients:
                added += await uow.outbox.enqueue(
                    OutboxMessage(
                        idempotency_key=f"digest:{day}:{channel}:{recipient}",
                        channel=channel,
                        recipient=recipient,
                        kind=MessageKind.HR_NOTICE,
                        subject=subject,
                        body_text=body,
                        created_at=now,
                        due_at=now,
                        reference=f"digest:{day}",
                    )
                )
            await uow.commit()
            return added

    added = await retry_on_conflict(attempt)
    logger.info(
        "digest %s: %d intents, %d forms, %d confirmations open, %d SLA risks, "
        "%d unanswered questions; %d message(s) queued",
        day,
        len(digest.intents),
        len(digest.receipts),
        len(digest.confirmations),
        len(digest.sla_risks),
        len(digest.questions),
        added,
    )
