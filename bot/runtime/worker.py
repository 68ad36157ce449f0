"""The background work of a running offerbot: read the mailbox, run due jobs, drain the outbox.

``offerbot worker --once`` runs one pass and exits (tests, cron); ``offerbot run`` and
``offerbot serve`` run :func:`run_worker` until ``stop`` is set, next to the Slack listener.
A pass reads new mail first and runs due jobs (reminders, broadcasts, SLA checks) next, so the
messages they queue go out in the same pass. With Slack configured, an outbox pass that leaves no
Slack row due then opens some employees' DM channels ahead of the next broadcast
(:mod:`handlers.slack.dm_channels`), at the outbox's pace; while more are left to open, the
outbox loop comes straight back instead of waiting for its interval. A loop of its own (so a
long broadcast being drained does not hold an answer back) posts the answers whose post failed
and that no Slack retry came for, hands those it cannot post to HR, and forgets handled
deliveries (:mod:`handlers.slack.parked_replies`); ``worker_pass`` runs it once, before the drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.ports import OutboxTransport
from bot.runtime.bootstrap import App
from bot.runtime.scheduler import SchedulerReport, run_due_jobs
from bot.services.errors import OfferNotLoadedError
from bot.services.messaging.outbox import DrainReport, drain_outbox
from bot.services.offer.planning import refresh_plan

if TYPE_CHECKING:
    from handlers.slack.parked_replies import SlackEventSweep

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
    dm_channels_opened: int = 0
    slack_replies_posted: int = 0  # answers Slack had not taken, posted by the worker
    slack_replies_given_up: int = 0  # HR was told
    slack_events_pruned: int = 0


async def worker_pass(app: App, transports: dict[str, OutboxTransport]) -> PassReport:
    """Read new mail once, run the due jobs, then send everything due."""
    read = 0
    watcher = app.inbox_watcher()
    if watcher is not None:
        read = await watcher.read_once()
    jobs = await _run_jobs(app)
    report = PassReport(mail_read=read, outbox=DrainReport(), jobs=jobs)
    sweep = _slack_event_sweep(app, transports)
    if sweep is not None:  # answers to people before the outbox's (perhaps bulk) messages
        swept = await sweep.run()
        report.slack_replies_posted, report.slack_replies_given_up = swept.posted, swept.given_up
        report.slack_events_pruned = swept.pruned
    report.outbox = await _drain(app, transports)
    report.dm_channels_opened, _more = await _open_dm_channels_ahead(app, transports)
    return report


async def run_worker(app: App, *, once: bool = False, stop: asyncio.Event | None = None) -> None:
    """One pass (``once``) or passes until ``stop`` is set (the inbox watched with IDLE)."""
    transports = app.outbox_transports()
    try:
        if once:
            await worker_pass(app, transports)
            return
        stop = stop or asyncio.Event()
        watcher = app.inbox_watcher()
        sweep = _slack_event_sweep(app, transports)
        async with asyncio.TaskGroup() as group:
            if watcher is not None:
                group.create_task(watcher.run(stop))
            group.create_task(_outbox_loop(app, transports, stop))
            group.create_task(_scheduler_loop(app, stop))
            group.create_task(_warm_answers(app, stop))
            if sweep is not None:
                group.create_task(_slack_event_loop(app, sweep, stop))
    finally:
        for transport in transports.values():
            close = getattr(transport, "aclose", None)
            if close is not None:
                await close()


async def _warm_answers(app: App, stop: asyncio.Event) -> None:
    """Load the knowledge base and prepare every sentence an answer can quote, entry by entry
    in a thread (``KnowledgeBase.warm``), so the first questions after a start do not pay for
    it, and a stop is never held up by more than one entry. A failure is logged and the bot
    goes on: the same work then happens lazily, question by question."""
    from knowledge.answerer import knowledge_base

    started = time.perf_counter()
    prepared = 0
    try:
        kb = await asyncio.to_thread(knowledge_base, app.offer_dir)
        for entry in kb.entries:
            if stop.is_set():
                return
            prepared += await asyncio.to_thread(kb.warm, [entry])
    except Exception:
        logger.exception("preparing the answers' sentences failed; they are prepared lazily")
        return
    logger.info(
        "answers prepared",
        extra={"sentences": prepared, "seconds": round(time.perf_counter() - started, 3)},
    )


async def _outbox_loop(
    app: App, transports: dict[str, OutboxTransport], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        more = False
        try:
            await _drain(app, transports, stop=stop)
            _opened, more = await _open_dm_channels_ahead(app, transports, stop=stop)
        except Exception:  # the database may be briefly away: log once per pass, go on
            logger.exception("outbox pass failed")
        if more:  # DMs left to open ahead: drain again, then open the next few
            continue
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


async def _slack_event_loop(app: App, sweep: SlackEventSweep, stop: asyncio.Event) -> None:
    """The sweep at the outbox's interval: a parked answer goes out within about
    ``PARKED_GRACE`` plus one interval, its post waiting its turn at the shared pace."""
    while not stop.is_set():
        try:
            await sweep.run(stop=stop)
        except Exception:  # the database may be briefly away: log once per pass, go on
            logger.exception("Slack event sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), app.settings.worker_interval)


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


async def _open_dm_channels_ahead(
    app: App, transports: dict[str, OutboxTransport], *, stop: asyncio.Event | None = None
) -> tuple[int, bool]:
    """(DM channels opened, whether more may be left), when Slack is configured."""
    slack = transports.get("slack")
    if slack is None:
        return 0, False
    from handlers.slack.dm_channels import open_dm_channels_ahead
    from handlers.slack.transport import SlackOutboxTransport

    if not isinstance(slack, SlackOutboxTransport):
        return 0, False
    report = await open_dm_channels_ahead(slack, uow=app.uow(), clock=app.clock, stop=stop)
    return report.opened, report.more


def _slack_event_sweep(app: App, transports: dict[str, OutboxTransport]) -> SlackEventSweep | None:
    """The Slack event sweep over the outbox's Slack transport (its pace), when configured."""
    slack = transports.get("slack")
    if slack is None:
        return None
    from handlers.slack.parked_replies import SlackEventSweep
    from handlers.slack.transport import SlackOutboxTransport

    if not isinstance(slack, SlackOutboxTransport):
        return None
    return SlackEventSweep(slack, uow=app.uow(), clock=app.clock)


async def _drain(
    app: App, transports: dict[str, OutboxTransport], *, stop: asyncio.Event | None = None
) -> DrainReport:
    from handlers.email.assembly import message_id_factory

    return await drain_outbox(
        uow=app.uow(),
        transports=transports,
        clock=app.clock,
        message_id_for=message_id_factory(app),  # type: ignore[arg-type]
        concurrency=app.settings.outbox_concurrency,
        lease=timedelta(seconds=app.settings.outbox_lease_seconds),
        ambiguous_retry=timedelta(minutes=app.settings.outbox_ambiguous_retry_minutes),
        hr_slack_ids=app.settings.hr_admins,  # used when Slack is one of the transports
        stop=stop,
    )
