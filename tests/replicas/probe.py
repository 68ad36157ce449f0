"""A job kind for the replica tests: records every run it makes, then queues one e-mail.

Real job handlers are idempotent (their writes carry keys), so running one twice leaves no
trace; this one appends ``<job key> <pid>`` to the file named by ``REPLICA_PROBE_FILE`` on
every run, so a test can count runs per job across processes. Registered by
:mod:`tests.replicas.worker_process`.
"""

from __future__ import annotations

import os

from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.jobs import Job
from bot.runtime.scheduler import JobContext

__all__ = ["PROBE_KIND", "run_probe"]

PROBE_KIND = "replica_probe"


async def run_probe(job: Job, ctx: JobContext) -> None:
    """Record this run, then queue the job's e-mail (once, by key, like a real handler)."""
    with open(os.environ["REPLICA_PROBE_FILE"], "a", encoding="utf-8") as runs:
        runs.write(f"{job.key} {os.getpid()}\n")  # one short O_APPEND write: atomic
    now = ctx.clock.now()
    async with ctx.uow:
        await ctx.uow.outbox.enqueue(
            OutboxMessage(
                idempotency_key=f"probe-mail:{job.key}",
                channel="email",
                recipient=str(job.payload["to"]),
                kind=MessageKind.REMINDER,
                subject="Reminder from a scheduled job",
                body_text=f"Sent by the scheduled job {job.key}.",
                created_at=now,
                due_at=now,
            )
        )
        await ctx.uow.commit()
