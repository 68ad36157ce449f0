"""Announce an applied amendment of the offer to everyone it concerns, once each.

The ``broadcast`` job (``Job(key="broadcast:amendment:<id>", payload={"amendment_id": id})``,
scheduled by the extension use case) runs :func:`run_broadcast_job`:

1. it loads the amendment and does nothing unless it is ``applied`` and meant to be announced;
2. it keeps the announcement once, verbatim, as a :class:`Communication` (``amendment:<id>``) —
   the text filed with the Schedule TO, the personal field as ``{name}``;
3. it queues one copy per eligible employee per channel (an e-mail to the address on file, a
   Slack DM when Slack is configured) and one post to the announcement channel, in chunks of
   about :data:`ENQUEUE_CHUNK` per transaction, renewing the job's lease between chunks; the
   copies are built a chunk at a time, never the whole round's bodies at once.

Why a crash cannot send twice or skip anyone: each copy has an idempotency key
(``announce:<id>:<employee>:<channel>``, ``announce:<id>:channel:<channel id>``) and
``enqueue_many`` skips keys already present; a runner that dies mid-way leaves the job leased,
and when the lease runs out the scheduler runs the job again, which adds only what is missing.
A re-run uses the stored communication's text, so every copy matches the filed one.

Wording rules (cover, p. i; Q29, p. 7; §3, p. 15): the new and previous expiration instants in
the offer's zone, HR's message verbatim, how and where signed forms go — never a
recommendation whether to tender.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from bot.domain.amendments import AmendmentKind, AmendmentStatus, OfferAmendment
from bot.domain.communications import Communication
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.reminders import NAME_PLACEHOLDER, deadline_phrase
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date
from bot.services.retry import retry_on_conflict

if TYPE_CHECKING:
    from bot.domain.jobs import Job
    from bot.runtime.scheduler import JobContext
    from bot.services.roster.audience import Recipient

__all__ = [
    "ENQUEUE_CHUNK",
    "Announcement",
    "LeaseLostError",
    "announcement",
    "announcement_messages",
    "run_broadcast_job",
]

logger = logging.getLogger(__name__)

ENQUEUE_CHUNK = 2000  # copies per transaction; the lease is renewed between chunks


class LeaseLostError(RuntimeError):
    """Another runner took the broadcast job (our lease ran out): stop, it carries on."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """What is kept for the filing: ``body`` holds :data:`NAME_PLACEHOLDER` for the name."""

    kind: str  # Communication.kind: "extension_announcement" | "amendment_notice"
    subject: str
    body: str
    channel_post: str | None  # the announcement-channel post, exactly as posted


def announcement(
    amendment: OfferAmendment, terms: OfferTerms, *, channel_post: bool
) -> Announcement:
    """The announcement of ``amendment`` (an extension, or a change in the consideration)."""
    zone = terms.deadline_zone
    new = deadline_phrase(amendment.new_expiration, zone)
    previous = deadline_phrase(amendment.previous_expiration, zone)
    short = terms.company_short_name
    moved = amendment.new_expiration != amendment.previous_expiration
    if amendment.kind is AmendmentKind.EXTENSION:
        kind = "extension_announcement"
        day = format_date(amendment.new_expiration.astimezone(zone).date())
        subject = f"{short} option exchange: the offer is extended to {day}"
        news = [
            f"{terms.company_name} has extended its {terms.title}. The offer now expires at "
            f"{new}. It was to expire at {previous}.",
            "Nothing else in the offer changes. Signed forms HR has already received stay in "
            "effect, and you may still tender, change your election or withdraw until the new "
            "expiration.",
        ]
    else:
        kind = "amendment_notice"
        subject = f"{short} option exchange: amendment notice"
        when = (
            f"The offer now expires at {new}. It was to expire at {previous}."
            if moved
            else f"The offer expires at {new}."
        )
        news = [
            f"{terms.company_name} has amended its {terms.title}. What changed:",
            amendment.description,
            when,
        ]
    if amendment.message.strip():
        news.append(f"A message from HR:\n{amendment.message}")
    hr = terms.hr_delivery
    news += [
        f"To tender, change or withdraw, HR must receive your signed Election Form or Notice to "
        f"Withdraw before {new}, by fax to {hr.fax} or by hand to {hr.name}, {hr.department}, "
        f"{hr.organization}, {hr.street}, {hr.city}, {hr.region} {hr.postal_code}. E-mail, "
        "Slack messages and intents recorded with this assistant are not elections, and late "
        "forms are not accepted.",
        "This notice makes no recommendation whether to tender your options; the decision is "
        "yours. Questions about the offer: ask me, or contact " + _contacts(terms) + ".",
    ]
    body = "\n\n".join([f"Dear {NAME_PLACEHOLDER},", *news])
    post = f"*{subject}*\n" + "\n\n".join(news) if channel_post else None
    return Announcement(kind=kind, subject=subject, body=body, channel_post=post)


def _contacts(terms: OfferTerms) -> str:
    people = [f"{c.name} ({c.phone}, {c.email})" for c in terms.question_contacts[:2]]
    hr = terms.hr_delivery
    return " or ".join(people) if people else f"{hr.name} at {hr.phone}"


def announcement_messages(
    communication: Communication,
    recipients: Sequence[Recipient],
    *,
    amendment_id: int,
    slack: bool,
    channel_id: str | None,
    now: datetime,
) -> Iterator[OutboxMessage]:
    """The channel post, then one copy per recipient per channel; keys make them idempotent."""
    reference = communication.reference

    def copy(key: str, channel: str, to: str, subject: str, body: str, who: str | None) -> Any:
        return OutboxMessage(
            idempotency_key=key,
            channel=channel,
            recipient=to,
            kind=MessageKind.EXTENSION_ANNOUNCEMENT,  # the outbox's kind for every announcement
            subject=subject,
            body_text=body,
            created_at=now,
            due_at=now,
            employee_id=who,
            reference=reference,
        )

    if channel_id and communication.channel_post:
        # first, so the public post does not wait behind thousands of DMs; subject "": the
        # post is stored (and sent) exactly as kept in the communication
        yield copy(
            f"announce:{amendment_id}:channel:{channel_id}",
            "slack",
            channel_id,
            "",
            communication.channel_post,
            None,
        )
    for r in recipients:
        body = communication.body.replace(NAME_PLACEHOLDER, r.name)
        prefix = f"announce:{amendment_id}:{r.employee_id}"
        if r.email:
            yield copy(
                f"{prefix}:email", "email", r.email, communication.subject, body, r.employee_id
            )
        if slack and r.slack_user_id:
            yield copy(
                f"{prefix}:slack",
                "slack",
                r.slack_user_id,
                communication.subject,
                body,
                r.employee_id,
            )


async def run_broadcast_job(job: Job, ctx: JobContext) -> None:
    """The ``broadcast`` job handler (see the module docstring)."""
    from bot.services.roster.audience import eligible_recipients

    amendment_id = int(job.payload["amendment_id"])
    uow = ctx.uow
    async with uow:
        amendment = await uow.amendments.get(amendment_id)
    if amendment is None:
        raise LookupError(f"amendment {amendment_id} does not exist")
    if amendment.status is not AmendmentStatus.APPLIED or not amendment.announce:
        logger.info("broadcast of amendment %d skipped: %s", amendment_id, amendment.status.value)
        return
    terms = await ctx.terms()
    now = ctx.clock.now()
    settings = ctx.settings
    channel_id = getattr(settings, "announcement_channel", None) or None
    text = announcement(amendment, terms, channel_post=channel_id is not None)

    async def record() -> tuple[Communication, list[Recipient]]:
        async with uow:
            kept = await uow.communications.record(
                Communication(
                    key=f"amendment:{amendment_id}",
                    kind=text.kind,
                    subject=text.subject,
                    body=text.body,
                    channel_post=text.channel_post,
                    created_at=now,
                )
            )
            audience = await eligible_recipients(uow, terms, now=now)
            await uow.commit()
        return kept, audience

    communication, recipients = await retry_on_conflict(record)
    slack = settings.slack_bot_token is not None
    post = channel_id is not None and communication.channel_post is not None
    # Counted, not built: the copies are made a chunk at a time (issue 15, bounded memory).
    total = int(post) + sum(bool(r.email) + (slack and bool(r.slack_user_id)) for r in recipients)
    done = added = 0
    _report(ctx, 0, total)
    messages = announcement_messages(  # a generator: each copy is built as it is taken
        communication,
        recipients,
        amendment_id=amendment_id,
        slack=slack,
        channel_id=channel_id,
        now=now,
    )
    while chunk := list(islice(messages, ENQUEUE_CHUNK)):
        if done and not await ctx.renew(job):
            raise LeaseLostError(f"job {job.key}: another runner took it over")

        async def enqueue(chunk: list[OutboxMessage] = chunk) -> int:
            async with uow:
                count = await uow.outbox.enqueue_many(chunk)
                await uow.commit()
            return int(count)

        added += await retry_on_conflict(enqueue)
        done += len(chunk)
        _report(ctx, done, total)
    logger.info(
        "broadcast of amendment %d: %d recipient(s), %d cop(ies) queued now, %d already queued",
        amendment_id,
        len(recipients),
        added,
        total - added,
    )


def _report(ctx: JobContext, done: int, total: int) -> None:
    if ctx.progress is not None:
        ctx.progress(done, total)
