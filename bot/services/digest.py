"""HR's digest: each business day, what happened since the last one and what needs HR today.

:func:`plan_digests` plans one ``digest`` job per business day from now through the business
day after expiration, at ``OFFERBOT_DIGEST_TIME`` (08:00) in the offer's deadline zone
(Pacific); planning again (after an extension, or with a new time) adds the missing days, moves
pending ones and cancels pending ones past the new plan. :func:`run_digest_job` composes the
digest of the period since the previous business day's digest (24 hours; Monday's covers the
weekend): new intents, signed forms received, receipt confirmations due and their delivery
state, unanswered questions, SLA risks, the time left — plus the totals of
:func:`bot.services.election_reports.hr_report` — and queues it to HR's mailbox (``HR_NOTICE``)
and, when Slack is configured, as a DM to each HR admin.

The questions' texts go to HR in the digest body only; logs carry counts and ids.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.domain.deadlines import business_calendar
from bot.domain.elections import ElectionIntent, FormReceipt, IntentKind
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.domain.jobs import Job, JobState
from bot.domain.records import UnansweredQuestion
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_instant
from bot.services.election_intents import HR_RECIPIENT
from bot.services.election_reports import hr_report
from bot.services.election_support import end_of_business_day, retry_on_conflict
from bot.services.election_wording import FORM_TITLE, time_left_text
from bot.services.identity import Identity

if TYPE_CHECKING:
    from bot.scheduler import JobContext

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


async def plan_digests(uow: Any, *, terms: OfferTerms, settings: Settings, now: datetime) -> int:
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


async def compose_digest(
    uow: Any, *, terms: OfferTerms, day: date, start: datetime, end: datetime, now: datetime
) -> Digest:
    """What happened in ``[start, end)`` and where things stand at ``now``."""
    report = await hr_report(uow=uow, terms=terms, identity=_SCHEDULER, now=now)
    async with uow:
        intents = [i for i in await uow.elections.all_intents() if start <= i.recorded_at < end]
        receipts = [r for r in await uow.elections.all_receipts() if start <= r.recorded_at < end]
        rows = await uow.outbox.by_kind(MessageKind.RECEIPT_CONFIRMATION)
        questions = [
            q for q in await uow.questions.unanswered(limit=10_000) if start <= q.asked_at < end
        ]
    confirmations = _confirmations(rows)
    calendar = business_calendar(terms)
    risk_until = end_of_business_day(calendar.next_business_day(calendar.date_of(now)), terms)
    return Digest(
        day=day,
        start=start,
        end=end,
        now=now,
        expiration=terms.expiration,
        intents=sorted(intents, key=lambda i: (i.recorded_at, i.employee_id, i.version)),
        receipts=sorted(receipts, key=lambda r: (r.recorded_at, r.employee_id, r.version)),
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
    )


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

    subject = f"{terms.company_short_name} option exchange: HR digest for {format_date(digest.day)}"
    left = digest.expiration - digest.now
    if left > timedelta(0):
        time_left = (
            f"Time left: {time_left_text(left)} until the offer expires at "
            f"{when(digest.expiration)}."
        )
    else:
        time_left = f"The offer expired at {when(digest.expiration)}."
    parts = [
        f"Digest for {format_date(digest.day)}: from {when(digest.start)} to {when(digest.end)}.",
        time_left,
    ]

    parts.append(
        _section(
            f"New intents: {len(digest.intents)}",
            [
                f"- {i.employee_id} {i.kind.value} v{i.version}"
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
                f"- {r.employee_id} {FORM_TITLE[r.form]} v{r.version}, by {r.via.value} at "
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
                f"- {c.employee_id} {c.reference}: {state(c)}, {due(c)}"
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
                f"- {c.employee_id} {c.reference}: {state(c)}, {due(c)}"
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


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _QUESTION_CHARS:
        flat = flat[: _QUESTION_CHARS - 1] + "…"
    return f"“{flat}”"


async def run_digest_job(job: Job, ctx: JobContext) -> None:
    """``digest`` handler: compose the digest and queue it to HR (e-mail, Slack DMs)."""
    settings = ctx.settings
    if not settings.digests_enabled:
        return
    terms = await ctx.terms()
    day = date.fromisoformat(str(job.payload["date"]))
    end = datetime.fromisoformat(str(job.payload["at"]))
    calendar = business_calendar(terms)
    start = _digest_instant(calendar.previous_business_day(day), terms, settings)
    now = ctx.clock.now()
    digest = await compose_digest(ctx.uow, terms=terms, day=day, start=start, end=end, now=now)
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
