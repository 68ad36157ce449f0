"""The broadcast job over the real tables (SQLite and PostgreSQL), on a manual clock: one copy per
eligible employee per channel plus one channel post, nothing for the ineligible, the filed text,
and exactly-once across re-runs and a runner that dies half-way through the enqueue."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.domain.amendments import AmendmentKind, AmendmentStatus, OfferAmendment
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.jobs import Job, JobState
from bot.runtime.scheduler import JobContext, run_due_jobs
from bot.services.messaging import broadcast
from bot.services.messaging.broadcast import run_broadcast_job
from bot.services.offer.live_offer import load_offer
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.services.elections_setup import NOW, option, person, seed

PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_offer_terms()
CHANNEL = "C0ANNOUNCE"
HR_NOTE = "Questions? Ask Jo in HR — 555-0100.\nWe will hold an information session on Monday."
EXTRA = [person(f"E{n}", f"Person Number{n}") for n in range(4, 9)]  # five more eligible
EXTRA_GRANTS = [option(f"X{n}", f"E{n}", "5.00", 100 * n) for n in range(4, 9)]
ELIGIBLE = ["E1", "E2", "E4", "E5", "E6", "E7", "E8"]  # E3 is an executive officer


@pytest.fixture
async def ready(uow: UnitOfWork) -> UnitOfWork:
    await load_offer(uow=uow, terms=TERMS, digest="test", now=NOW)
    await seed(uow)
    async with uow:
        await uow.employees.upsert_many(EXTRA)
        await uow.grants.upsert_many(EXTRA_GRANTS)
        await uow.commit()
    return uow


def _settings(**extra: object) -> Settings:
    values: dict[str, object] = {"slack_bot_token": "xoxb-test", "announcement_channel": CHANNEL}
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


async def _amendment(
    uow: UnitOfWork,
    *,
    kind: AmendmentKind = AmendmentKind.EXTENSION,
    status: AmendmentStatus = AmendmentStatus.APPLIED,
    description: str = "The offer is extended.",
) -> int:
    async with uow:
        stored = await uow.amendments.add(
            OfferAmendment(
                offer_id=TERMS.offer_id,
                kind=kind,
                previous_expiration=TERMS.original_expiration,
                new_expiration=TERMS.original_expiration + timedelta(days=7),
                description=description,
                message=HR_NOTE,
                announce=True,
                requested_by="cli:hr",
                requested_at=NOW,
                status=status,
                applied_at=NOW,
            )
        )
        assert stored.id is not None
        await uow.jobs.schedule(_job(stored.id), now=NOW)
        await uow.commit()
    return stored.id


def _job(amendment_id: int) -> Job:
    return Job(
        key=f"broadcast:amendment:{amendment_id}",
        kind="broadcast",
        due_at=NOW,
        payload={"amendment_id": amendment_id},
    )


async def _copies(uow: UnitOfWork) -> list[OutboxMessage]:
    async with uow:
        return await uow.outbox.by_kind(MessageKind.EXTENSION_ANNOUNCEMENT)


def _expected_keys(amendment_id: int, *, slack: bool = True, channel: bool = True) -> list[str]:
    keys = [f"announce:{amendment_id}:{e}:email" for e in ELIGIBLE]
    if slack:
        keys += [f"announce:{amendment_id}:{e}:slack" for e in ELIGIBLE]
    if channel:
        keys.append(f"announce:{amendment_id}:channel:{CHANNEL}")
    return sorted(keys)


async def test_one_copy_per_eligible_employee_per_channel_and_one_channel_post(
    ready: UnitOfWork,
) -> None:
    amendment_id = await _amendment(ready)
    seen: list[tuple[int, int]] = []
    report = await run_due_jobs(
        uow=ready,
        clock=ManualClock(NOW),
        settings=_settings(),
        base_terms=TERMS,
        kinds=["broadcast"],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.outcomes == {f"broadcast:amendment:{amendment_id}": "done"}
    copies = await _copies(ready)
    assert sorted(c.idempotency_key for c in copies) == _expected_keys(amendment_id)
    assert not any(c.employee_id == "E3" for c in copies)  # the executive officer: nothing
    by_key = {c.idempotency_key: c for c in copies}
    mail = by_key[f"announce:{amendment_id}:E1:email"]
    dm = by_key[f"announce:{amendment_id}:E1:slack"]
    post = by_key[f"announce:{amendment_id}:channel:{CHANNEL}"]
    assert (mail.channel, mail.recipient, dm.channel, dm.recipient) == (
        "email",
        "e1@example.com",
        "slack",
        "U1",
    )
    assert (post.channel, post.recipient, post.employee_id) == ("slack", CHANNEL, None)
    assert seen[0] == (0, 15) and seen[-1] == (15, 15)

    async with ready:
        communication = await ready.communications.get(f"amendment:{amendment_id}")
    assert communication is not None and communication.kind == "extension_announcement"
    assert {c.reference for c in copies} == {communication.reference}
    assert communication.body.startswith("Dear {name},")  # the filed template
    assert mail.body_text == communication.body.replace("{name}", "Rosalind Ashcombe")
    assert dm.body_text == mail.body_text and dm.subject == mail.subject == communication.subject
    assert post.body_text == communication.channel_post and "Dear" not in post.body_text
    body = mail.body_text
    assert "now expires at 5:00 p.m. Pacific Time on Thursday, July 31, 2003" in body
    assert "was to expire at 5:00 p.m. Pacific Time on Thursday, July 24, 2003" in body
    assert HR_NOTE in body and HR_NOTE in post.body_text  # HR's words, verbatim
    assert TERMS.hr_delivery.fax in body and "not elections" in body
    # neutral: the only mention of a recommendation is that there is none
    assert body.lower().count("recommend") == 1 and "makes no recommendation" in body


async def test_running_the_job_again_adds_nothing(ready: UnitOfWork) -> None:
    amendment_id = await _amendment(ready)
    clock = ManualClock(NOW)
    run = dict(uow=ready, clock=clock, settings=_settings(), base_terms=TERMS)
    await run_due_jobs(**run, kinds=["broadcast"])  # type: ignore[arg-type]
    first = await _copies(ready)
    ctx = JobContext(uow=ready, clock=clock, settings=_settings(), base_terms=TERMS, owner="x")
    await run_broadcast_job(_job(amendment_id), ctx)  # a second run of the same job
    again = await _copies(ready)
    assert sorted(c.idempotency_key for c in again) == _expected_keys(amendment_id)
    assert [c.id for c in again] == [c.id for c in first]


async def test_without_slack_only_email_and_no_channel_post(ready: UnitOfWork) -> None:
    amendment_id = await _amendment(ready)
    await run_due_jobs(
        uow=ready,
        clock=ManualClock(NOW),
        settings=Settings(),
        base_terms=TERMS,
        kinds=["broadcast"],
    )
    copies = await _copies(ready)
    assert sorted(c.idempotency_key for c in copies) == _expected_keys(
        amendment_id, slack=False, channel=False
    )


@pytest.mark.parametrize("status", [AmendmentStatus.AWAITING_APPROVAL, AmendmentStatus.REJECTED])
async def test_an_amendment_not_applied_is_not_announced(
    ready: UnitOfWork, status: AmendmentStatus
) -> None:
    amendment_id = await _amendment(ready, status=status)
    report = await run_due_jobs(
        uow=ready, clock=ManualClock(NOW), settings=_settings(), base_terms=TERMS
    )
    assert report.outcomes == {f"broadcast:amendment:{amendment_id}": "done"}
    assert await _copies(ready) == []
    async with ready:
        assert await ready.communications.get(f"amendment:{amendment_id}") is None


async def test_a_consideration_amendment_goes_out_as_an_amendment_notice(
    ready: UnitOfWork,
) -> None:
    change = "The exchange ratio is now one new option for every two old options."
    amendment_id = await _amendment(ready, kind=AmendmentKind.CONSIDERATION, description=change)
    await run_due_jobs(uow=ready, clock=ManualClock(NOW), settings=_settings(), base_terms=TERMS)
    async with ready:
        communication = await ready.communications.get(f"amendment:{amendment_id}")
    assert communication is not None and communication.kind == "amendment_notice"
    assert "amendment notice" in communication.subject
    assert change in communication.body and HR_NOTE in communication.body
    assert "now expires at 5:00 p.m. Pacific Time on Thursday, July 31, 2003" in communication.body
    assert len(await _copies(ready)) == len(_expected_keys(amendment_id))


class _Crash(Exception):
    """The runner dies here (its lease is still held: nobody marks the job)."""


async def test_a_runner_killed_mid_enqueue_is_finished_by_the_next_after_the_lease(
    ready: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broadcast, "ENQUEUE_CHUNK", 4)  # 15 copies → chunks of 4, 4, 4, 3
    amendment_id = await _amendment(ready)
    clock = ManualClock(NOW)
    settings = _settings()

    class DyingContext(JobContext):
        async def renew(self, job: Job) -> bool:  # the runner dies after the first chunk
            raise _Crash()

    async with ready:  # the doomed runner claims the job, as the scheduler does
        [job] = await ready.jobs.claim_due(
            now=clock.now(), owner="dead", lease=timedelta(minutes=10), kinds=["broadcast"]
        )
        await ready.commit()
    dying = DyingContext(uow=ready, clock=clock, settings=settings, base_terms=TERMS, owner="dead")
    with pytest.raises(_Crash):
        await run_broadcast_job(job, dying)
    assert len(await _copies(ready)) == 4  # one chunk made it

    run = dict(uow=ready, clock=clock, settings=settings, base_terms=TERMS, kinds=["broadcast"])
    assert (await run_due_jobs(**run)).outcomes == {}  # type: ignore[arg-type]  # still leased
    clock.advance(minutes=11)
    report = await run_due_jobs(**run)  # type: ignore[arg-type]
    assert report.outcomes == {f"broadcast:amendment:{amendment_id}": "done"}
    copies = await _copies(ready)
    assert sorted(c.idempotency_key for c in copies) == _expected_keys(amendment_id)
    async with ready:
        finished = await ready.jobs.get(f"broadcast:amendment:{amendment_id}")
    assert finished is not None and finished.state is JobState.DONE and finished.attempts == 2


async def test_a_handler_failing_after_the_first_chunk_is_retried_without_duplicates(
    ready: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broadcast, "ENQUEUE_CHUNK", 4)
    amendment_id = await _amendment(ready)
    clock = ManualClock(NOW)
    calls = 0

    async def flaky(job: Job, ctx: JobContext) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:

            class Failing(JobContext):
                async def renew(self, job: Job) -> bool:
                    raise RuntimeError("database went away")

            ctx = Failing(
                uow=ctx.uow,
                clock=ctx.clock,
                settings=ctx.settings,
                base_terms=ctx.base_terms,
                owner=ctx.owner,
            )
        await run_broadcast_job(job, ctx)

    run = dict(
        uow=ready,
        clock=clock,
        settings=_settings(),
        base_terms=TERMS,
        handlers={"broadcast": flaky},
    )
    assert (await run_due_jobs(**run)).outcomes == {  # type: ignore[arg-type]
        f"broadcast:amendment:{amendment_id}": "retry"
    }
    clock.advance(minutes=2)
    assert (await run_due_jobs(**run)).outcomes == {  # type: ignore[arg-type]
        f"broadcast:amendment:{amendment_id}": "done"
    }
    copies = await _copies(ready)
    assert sorted(c.idempotency_key for c in copies) == _expected_keys(amendment_id)
