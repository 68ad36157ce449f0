"""The background work of a running offerbot: read the mailbox, run due jobs, drain the outbox.

``offerbot worker --once`` runs one pass and exits (tests, cron); ``offerbot run`` and
``offerbot serve`` run :func:`run_worker` until ``stop`` is set, next to the Slack listener.
A pass reads new mail first and runs due jobs (reminders, broadcasts, SLA checks) next, so the
messages they queue go out in the same pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.bootstrap import App
from bot.ports import OutboxTransport
from bot.scheduler import SchedulerReport, run_due_jobs
from bot.services.errors import OfferNotLoadedError
from bot.services.outbox import DrainReport, drain_outbox
from bot.services.planning import refresh_plan

__all__ = ["PassReport", "run_worker", "worker_pass"]

logger = logging.getLogger(__name__)

# Defaults; OFFERBOT_WORKER_INTERVAL sets the outbox's, and the scheduler keeps this ratio.
OUTBOX_INTERVAL = 15.0  # seconds between outbox passes when running continuously
SCHEDULER_INTERVAL = 30.0  # seconds between looks at the jobs table


@dataclass(slots=True)
class PassReport:
    mail_read: int
    outbox: DrainReport
    jobs: SchedulerReport


async def worker_pass(app: App, transports: dict[str, OutboxTransport]) -> PassReport:
    """Read new mail once, run the due jobs, then send everything due."""
    read = 0
    watcher = app.inbox_watcher()
    if watcher is not None:
        read = await watcher.read_once()
    jobs = await _run_jobs(app)
    return PassReport(mail_read=read, outbox=await _drain(app, transports), jobs=jobs)


async def run_worker(app: App, *, once: bool = False, stop: asyncio.Event | None = None) -> None:
    """One pass (``once``) or passes until ``stop`` is set (the inbox watched with IDLE)."""
    transports = app.outbox_transports()
    try:
        if once:
            await worker_pass(app, transports)
            return
        stop = stop or asyncio.Event()
        watcher = app.inbox_watcher()
        async with asyncio.TaskGroup() as group:
            if watcher is not None:
                group.create_task(watcher.run(stop))
            group.create_task(_outbox_loop(app, transports, stop))
            group.create_task(_scheduler_loop(app, stop))
    finally:
        for transport in transports.values():
            close = getattr(transport, "aclose", None)
            if close is not None:
                await close()


async def _outbox_loop(
    app: App, transports: dict[str, OutboxTransport], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await _drain(app, transports)
        except Exception:  # the database may be briefly away: log once per pass, go on
            logger.exception("outbox pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), app.settings.worker_interval)


async def _scheduler_loop(app: App, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await _run_jobs(app)
        except Exception:  # the database may be briefly away: log once per pass, go on
            logger.exception("scheduler pass failed")
        with contextlib.suppress(TimeoutError):
            every = app.settings.worker_interval * SCHEDULER_INTERVAL / OUTBOX_INTERVAL
            await asyncio.wait_for(stop.wait(), every)


async def _run_jobs(app: App) -> SchedulerReport:
    """Bring the plan in step with the live offer (idempotent), then run what is due."""
    try:
        await refresh_plan(
            uow=app.uow(), base_terms=app.base_terms, settings=app.settings, now=app.clock.now()
        )
    except OfferNotLoadedError:
        logger.warning("no offer loaded yet (run `offerbot init`): nothing is scheduled")
        return SchedulerReport()
    return await run_due_jobs(
        uow=app.uow(), clock=app.clock, settings=app.settings, base_terms=app.base_terms
    )


async def _drain(app: App, transports: dict[str, OutboxTransport]) -> DrainReport:
    from handlers.email.wiring import message_id_factory

    return await drain_outbox(
        uow=app.uow(),
        transports=transports,
        clock=app.clock,
        message_id_for=message_id_factory(app),  # type: ignore[arg-type]
        concurrency=app.settings.outbox_concurrency,
        lease=timedelta(seconds=app.settings.outbox_lease_seconds),
    )
