"""The scheduler loop over the real jobs table (SQLite and PostgreSQL), on a manual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.domain.hr_records import MessageKind
from bot.domain.jobs import Job, JobState
from bot.domain.terms import OfferTerms
from bot.runtime.scheduler import MAX_ATTEMPTS, JobContext, run_due_jobs
from bot.services.offer.live_offer import load_offer
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork

T0 = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


async def _schedule(uow: UnitOfWork, *jobs: Job) -> None:
    async with uow:
        for job in jobs:
            await uow.jobs.schedule(job, now=T0)
        await uow.commit()


async def test_runs_due_jobs_once_and_leaves_future_ones(uow: UnitOfWork, terms) -> None:
    await load_offer(uow=uow, terms=terms, digest="d", now=T0)
    clock = ManualClock(T0)
    seen: list[tuple[str, str]] = []

    async def handler(job: Job, ctx: JobContext) -> None:
        live = await ctx.terms()
        seen.append((job.key, live.offer_id))

    await _schedule(uow, Job("a", "t", T0), Job("b", "t", T0 + timedelta(hours=1)))
    run = dict(uow=uow, clock=clock, settings=Settings(), base_terms=terms, handlers={"t": handler})
    report = await run_due_jobs(**run)  # type: ignore[arg-type]
    assert (report.ran, seen) == (1, [("a", terms.offer_id)])
    assert (await run_due_jobs(**run)).ran == 0  # type: ignore[arg-type]
    clock.advance(hours=1)
    assert (await run_due_jobs(**run)).outcomes == {"b": "done"}  # type: ignore[arg-type]
    async with uow:
        assert {j.key: j.state for j in await uow.jobs.list()} == {
            "a": JobState.DONE,
            "b": JobState.DONE,
        }


async def test_failing_job_retries_with_backoff_then_fails_and_alerts_hr(
    uow: UnitOfWork, terms
) -> None:
    clock = ManualClock(T0)
    calls = 0

    async def broken(job: Job, ctx: JobContext) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("smtp down")

    await _schedule(uow, Job("x", "t", T0))
    run = dict(uow=uow, clock=clock, settings=Settings(), base_terms=terms, handlers={"t": broken})
    first = await run_due_jobs(**run)  # type: ignore[arg-type]
    assert first.outcomes == {"x": "retry"}
    assert (await run_due_jobs(**run)).outcomes == {}  # not before the backoff
    for _ in range(MAX_ATTEMPTS):
        clock.advance(hours=2)
        await run_due_jobs(**run)  # type: ignore[arg-type]
    assert calls == MAX_ATTEMPTS
    async with uow:
        job = await uow.jobs.get("x")
        alerts = await uow.outbox.by_kind(MessageKind.HR_ALERT)
    assert (
        job is not None and job.state is JobState.FAILED and "smtp down" in (job.last_error or "")
    )
    assert [a.idempotency_key for a in alerts] == ["hr_alert:job_failed:x"]


async def test_unknown_kind_fails_at_once(uow: UnitOfWork, terms) -> None:
    await _schedule(uow, Job("y", "no-such-kind", T0))
    report = await run_due_jobs(
        uow=uow, clock=ManualClock(T0), settings=Settings(), base_terms=terms, handlers={}
    )
    assert report.outcomes == {"y": "failed"}
