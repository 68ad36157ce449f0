"""The scheduler: claim due jobs from the durable ``jobs`` table and run their handlers.

A job row is the plan (see :mod:`bot.domain.jobs`); this module only runs what is due on the
injectable clock. Several replicas may run it against one PostgreSQL database: a job is leased
to one runner (``FOR UPDATE SKIP LOCKED``) and a crashed runner's lease runs out, after which
another runner takes the job again — so every handler must be idempotent (they write with keys:
outbox idempotency keys, ``schedule`` keys).

Handlers are looked up by job kind in :data:`HANDLERS` ("module:function", imported when first
needed, so a deployment without e-mail never imports the e-mail code). A handler has the
signature ``async def handler(job: Job, ctx: JobContext) -> None`` and raises to ask for a
retry; after :data:`MAX_ATTEMPTS` the job fails and HR is alerted.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.config import Settings
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.jobs import Job
from bot.domain.terms import OfferTerms
from bot.ports import Clock, UnitOfWork
from bot.services.elections.intents import HR_RECIPIENT
from bot.services.offer.live_offer import current_terms
from bot.services.retry import retry_on_conflict

__all__ = [
    "HANDLERS",
    "LEASE",
    "MAX_ATTEMPTS",
    "Handler",
    "JobContext",
    "SchedulerReport",
    "resolve_handler",
    "run_due_jobs",
]

logger = logging.getLogger(__name__)

Handler = Callable[[Job, "JobContext"], Awaitable[None]]
Progress = Callable[[int, int], None]  # (done, total)

HANDLERS: dict[str, str] = {
    "reminder": "bot.services.messaging.reminders:run_reminder_job",
    "sla_check": "bot.services.messaging.receipt_sla:run_sla_check",
    "broadcast": "bot.services.messaging.broadcast:run_broadcast_job",
    "digest": "bot.services.messaging.digest:run_digest_job",
}

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
RETRY_MINUTES = (1, 2, 5, 10, 20, 30, 60)


@dataclass(slots=True)
class JobContext:
    """What a handler may use: storage, the clock, settings and the bundled terms.

    ``renew`` keeps a long job's lease (a broadcast to 20,000 people); ``progress`` lets the
    CLI draw a bar when HR runs a broadcast in the foreground.
    """

    uow: UnitOfWork
    clock: Clock
    settings: Settings
    base_terms: OfferTerms
    owner: str
    lease: timedelta = LEASE
    progress: Progress | None = None

    async def terms(self) -> OfferTerms:
        """The live terms (after any extension) — never the printed ones."""
        return await current_terms(uow=self.uow, terms=self.base_terms)

    async def renew(self, job: Job) -> bool:
        """Push the lease forward; False when another runner has taken the job meanwhile."""
        assert job.id is not None
        async with self.uow:
            kept = await self.uow.jobs.renew(
                job.id, owner=self.owner, until=self.clock.now() + self.lease
            )
            await self.uow.commit()
        return kept


@dataclass(slots=True)
class SchedulerReport:
    ran: int = 0
    retried: int = 0
    failed: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # job key → done / retry / failed


def resolve_handler(kind: str, handlers: Mapping[str, str | Handler] | None = None) -> Handler:
    target = (HANDLERS if handlers is None else handlers).get(kind)
    if target is None:
        raise LookupError(f"no handler for job kind {kind!r}")
    if not isinstance(target, str):
        return target
    module, _, name = target.partition(":")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


async def run_due_jobs(
    *,
    uow: UnitOfWork,
    clock: Clock,
    settings: Settings,
    base_terms: OfferTerms,
    kinds: Iterable[str] | None = None,
    handlers: Mapping[str, str | Handler] | None = None,
    progress: Progress | None = None,
    batch: int = 10,
    max_rounds: int = 1000,
) -> SchedulerReport:
    """Run every job due now (and those that become due while running, e.g. a follow-up
    scheduled for "now" by a handler), then return."""
    report = SchedulerReport()
    owner = f"scheduler-{uuid.uuid4().hex[:12]}"
    ctx = JobContext(
        uow=uow,
        clock=clock,
        settings=settings,
        base_terms=base_terms,
        owner=owner,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        progress=progress,
    )
    kinds = list(kinds) if kinds is not None else None
    for _ in range(max_rounds):
        async with uow:
            claimed = await uow.jobs.claim_due(
                now=clock.now(), owner=owner, lease=ctx.lease, limit=batch, kinds=kinds
            )
            await uow.commit()
        if not claimed:
            break
        for job in claimed:  # one at a time: jobs are few and some are large
            await _run_one(job, ctx, handlers, report)
    return report


async def _run_one(
    job: Job,
    ctx: JobContext,
    handlers: Mapping[str, str | Handler] | None,
    report: SchedulerReport,
) -> None:
    assert job.id is not None
    job_id = job.id
    uow, clock = ctx.uow, ctx.clock
    try:
        handler = resolve_handler(job.kind, handlers)
        await handler(job, ctx)
    except Exception as exc:  # a handler's failure must not stop the other jobs
        error = f"{type(exc).__name__}: {exc}"
        if job.attempts >= MAX_ATTEMPTS or isinstance(exc, LookupError):
            logger.exception("job %s failed for good after %d attempt(s)", job.key, job.attempts)
            await retry_on_conflict(lambda: _fail(job, error, uow, clock))
            report.failed += 1
            report.outcomes[job.key] = "failed"
            return
        logger.warning("job %s: attempt %d failed: %s", job.key, job.attempts, type(exc).__name__)
        wait = timedelta(minutes=RETRY_MINUTES[min(job.attempts, len(RETRY_MINUTES)) - 1])

        async def retry() -> None:
            async with uow:
                await uow.jobs.retry_at(job_id, when=clock.now() + wait, error=error)
                await uow.commit()

        await retry_on_conflict(retry)
        report.retried += 1
        report.outcomes[job.key] = "retry"
        return

    async def complete() -> None:
        async with uow:
            await uow.jobs.complete(job_id, at=clock.now())
            await uow.commit()

    await retry_on_conflict(complete)
    report.ran += 1
    report.outcomes[job.key] = "done"


async def _fail(job: Job, error: str, uow: UnitOfWork, clock: Clock) -> None:
    """Mark the job failed and, in the same transaction, tell HR (nothing fails silently)."""
    assert job.id is not None
    now = clock.now()
    async with uow:
        await uow.jobs.fail(job.id, at=now, error=error)
        await uow.outbox.enqueue(
            OutboxMessage(
                idempotency_key=f"hr_alert:job_failed:{job.key}",
                channel="email",
                recipient=HR_RECIPIENT,
                kind=MessageKind.HR_ALERT,
                subject=f"offerbot: scheduled job failed ({job.kind})",
                body_text=(
                    f"The scheduled job {job.key} ({job.kind}, due {job.due_at.isoformat()}) "
                    f"failed after {job.attempts} attempt(s) and will not be retried.\n"
                    f"Last error: {error}\n"
                    "Please check the offerbot logs and run the step by hand if needed."
                ),
                created_at=now,
                due_at=now,
            )
        )
        await uow.commit()
