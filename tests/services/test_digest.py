"""HR's digest on a manual clock over the real jobs and outbox tables (SQLite and PostgreSQL):
the plan (one job per business day, idempotent, re-planned), and what a digest says."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.domain.elections import Delivery, FormKind
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.jobs import Job, JobState
from bot.domain.records import UnansweredQuestion
from bot.domain.terms import OfferTerms
from bot.runtime.scheduler import run_due_jobs
from bot.services import elections
from bot.services.messaging.digest import plan_digests
from bot.services.offer.live_offer import load_offer
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.services.elections_setup import HR, NOW, seed

PACIFIC = ZoneInfo("America/Los_Angeles")
PREFIX = "digest:capstone-2003:"
# Business days from Friday, July 11 through Friday, July 25 (the day after expiration).
PLAN = [date(2003, 7, 11)] + [date(2003, 7, d) for d in (14, 15, 16, 17, 18, 21, 22, 23, 24, 25)]
SECRET_QUESTION = "Can I tender my options if I am on leave for my divorce hearing?"


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A July 2003 instant, Pacific."""
    return datetime(2003, 7, day, hour, minute, tzinfo=PACIFIC)


async def _plan(uow: UnitOfWork, terms: OfferTerms, now: datetime, **settings: Any) -> int:
    async with uow:
        added = await plan_digests(uow, terms=terms, settings=Settings(**settings), now=now)
        await uow.commit()
    return added


async def _digest_jobs(uow: UnitOfWork) -> dict[str, Job]:
    async with uow:
        return {j.key: j for j in await uow.jobs.list(kind="digest")}


async def test_one_digest_per_business_day_through_the_day_after_expiration(
    uow: UnitOfWork, terms: OfferTerms
) -> None:
    # 9:00 a.m. Thursday: today's 8:00 digest is past, so the plan starts on Friday.
    assert await _plan(uow, terms, NOW) == len(PLAN)
    jobs = await _digest_jobs(uow)
    assert sorted(jobs) == [f"{PREFIX}{d}" for d in PLAN]
    friday = jobs[f"{PREFIX}2003-07-11"]
    assert friday.due_at == at(11, 8) and friday.kind == "digest"
    assert friday.payload == {
        "offer_id": "capstone-2003",
        "date": "2003-07-11",
        "at": "2003-07-11T08:00:00-07:00",
    }
    assert await _plan(uow, terms, NOW) == 0  # idempotent
    assert len(await _digest_jobs(uow)) == len(PLAN)

    # A new time moves the pending jobs; nothing is added.
    assert await _plan(uow, terms, NOW, digest_time="07:30") == 0
    assert (await _digest_jobs(uow))[f"{PREFIX}2003-07-11"].due_at == at(11, 7, 30)

    # An extension to Thursday, July 31 adds the new days through Friday, August 1.
    extended = terms.with_expiration(datetime(2003, 7, 31, 17, 0, tzinfo=PACIFIC))
    assert await _plan(uow, extended, NOW) == 5
    assert f"{PREFIX}2003-08-01" in await _digest_jobs(uow)

    # Planning again with the printed expiration cancels the pending days past it.
    assert await _plan(uow, terms, NOW) == 0
    jobs = await _digest_jobs(uow)
    cancelled = sorted(k for k, j in jobs.items() if j.state is JobState.CANCELLED)
    assert cancelled == [f"{PREFIX}2003-07-{d}" for d in (28, 29, 30, 31)] + [f"{PREFIX}2003-08-01"]

    # Disabled: every pending digest is cancelled.
    assert await _plan(uow, terms, NOW, digests_enabled=False) == 0
    assert all(j.state is JobState.CANCELLED for j in (await _digest_jobs(uow)).values())


async def test_a_digest_due_while_the_worker_was_down_is_kept(
    uow: UnitOfWork, terms: OfferTerms
) -> None:
    await _plan(uow, terms, NOW)
    late = at(11, 8, 20)  # the worker starts again 20 minutes after Friday's digest was due
    assert await _plan(uow, terms, late) == 0
    friday = (await _digest_jobs(uow))[f"{PREFIX}2003-07-11"]
    assert friday.state is JobState.PENDING and friday.due_at == at(11, 8)


async def _day_one(uow: UnitOfWork, terms: OfferTerms) -> int:
    """Thursday: E1 and E2 tender, E1's signed form arrives, one question goes unanswered."""
    await seed(uow)
    await load_offer(uow=uow, terms=terms, digest="d", now=NOW)
    await elections.record_intent(
        uow=uow, terms=terms, employee_id="E1", grant_numbers=["G2"], identity=HR, now=NOW
    )
    await elections.record_intent(
        uow=uow,
        terms=terms,
        employee_id="E2",
        grant_numbers=["G5", "G6"],
        identity=HR,
        now=at(10, 10),
    )
    await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id="E1",
        form=FormKind.ELECTION,
        version=1,
        received_at=at(10, 10, 30),
        via=Delivery.FAX,
        identity=HR,
        now=at(10, 11),
    )
    async with uow:
        for asked, text in ((at(10, 7), "asked before the period"), (at(10, 12), SECRET_QUESTION)):
            question_id = await uow.questions.record_unanswered(
                UnansweredQuestion(
                    asked_at=asked, channel="slack", actor="U1", question=text, confidence=0.2
                )
            )
        await plan_digests(uow, terms=terms, settings=Settings(), now=NOW)
        await uow.commit()
    return question_id


async def _digests(uow: UnitOfWork) -> list[OutboxMessage]:
    async with uow:
        return [
            m
            for m in await uow.outbox.by_kind(MessageKind.HR_NOTICE)
            if m.idempotency_key.startswith("digest:")
        ]


async def test_the_digest_tells_hr_what_happened_and_what_is_at_risk(
    uow: UnitOfWork, terms: OfferTerms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    question_id = await _day_one(uow, terms)
    clock = ManualClock(at(11, 7, 59))
    slack = {"slack_bot_token": "xoxb-test", "hr_admins": "UHR1"}
    run = dict(uow=uow, clock=clock, base_terms=terms, kinds=["digest"])
    assert (await run_due_jobs(settings=Settings(**slack), **run)).ran == 0  # type: ignore[arg-type]
    clock.set(at(11, 8))
    report = await run_due_jobs(settings=Settings(**slack), **run)  # type: ignore[arg-type]
    assert report.outcomes == {f"{PREFIX}2003-07-11": "done"}

    sent = await _digests(uow)
    assert sorted(m.idempotency_key for m in sent) == [
        "digest:2003-07-11:email:role:hr",
        "digest:2003-07-11:slack:UHR1",
    ]
    email = next(m for m in sent if m.channel == "email")
    assert email.recipient == "role:hr" and email.due_at == at(11, 8)
    assert email.subject == "Capstone option exchange: HR digest for Friday, July 11, 2003"
    body = email.body_text
    assert "from 8:00 a.m. PDT on Thursday, July 10, 2003 to 8:00 a.m. PDT on Friday" in body
    assert "Time left: 13 days, 9 hours, 0 minutes until the offer expires at 5:00 p.m. PDT" in body
    assert "New intents: 2\n- Rosalind Ashcombe (E1): tender v1 (G2), 9:00 a.m. PDT" in body
    assert "- Dorian Fallowby (E2): tender v1 (G5, G6), 10:00 a.m. PDT" in body
    assert (
        "Signed forms received: 1\n- Rosalind Ashcombe (E1): Election Form v1, by fax at "
        "10:30 a.m. PDT"
    ) in body
    # Due by the end of Monday (Thursday + 2 business days): within one business day of Friday.
    assert "Receipt confirmations open or sent in this period: 1" in body
    assert (
        "SLA risks (receipt confirmations due within one business day, not sent): 1\n"
        "- Rosalind Ashcombe (E1) v1: queued, not sent yet, due by the end of Monday, July 14, "
        "2003 Eastern "
        "(9:00 p.m. PDT on Monday, July 14, 2003)"
    ) in body
    assert f"Unanswered questions: 1 (#{question_id})" in body
    assert SECRET_QUESTION in body and "asked before the period" not in body
    assert "2 eligible employees" in body and "0 receipt confirmations overdue" in body
    assert next(m for m in sent if m.channel == "slack").body_text == body
    assert SECRET_QUESTION not in caplog.text  # question texts never reach the logs

    # Once only: the job is done, and running it again would queue nothing new.
    clock.advance(minutes=5)
    assert (await run_due_jobs(settings=Settings(**slack), **run)).ran == 0  # type: ignore[arg-type]
    assert len(await _digests(uow)) == 2


async def test_mondays_digest_covers_the_weekend(uow: UnitOfWork, terms: OfferTerms) -> None:
    await _day_one(uow, terms)
    clock = ManualClock(at(11, 8))
    run = dict(uow=uow, clock=clock, settings=Settings(), base_terms=terms, kinds=["digest"])
    await run_due_jobs(**run)  # type: ignore[arg-type]
    # Saturday: E1 changes the tender, and the receipt confirmation finally goes out.
    await elections.record_intent(
        uow=uow,
        terms=terms,
        employee_id="E1",
        grant_numbers=["G2", "G3"],
        identity=HR,
        now=at(12, 9),
    )
    async with uow:
        await uow.outbox.mark_sent("receipt_confirmation:E1:v1", at=at(12, 9, 5))
        await uow.commit()
    clock.set(at(14, 8))
    assert (await run_due_jobs(**run)).outcomes == {f"{PREFIX}2003-07-14": "done"}  # type: ignore[arg-type]
    [monday] = [m for m in await _digests(uow) if "2003-07-14" in m.idempotency_key]
    body = monday.body_text
    assert "from 8:00 a.m. PDT on Friday, July 11, 2003 to 8:00 a.m. PDT on Monday" in body
    assert "New intents: 1\n- Rosalind Ashcombe (E1): tender v2 (G2, G3), 9:00 a.m. PDT" in body
    assert "Signed forms received: 0" in body and "Unanswered questions: 0" in body
    assert "- Rosalind Ashcombe (E1) v1: sent at 9:05 a.m. PDT on Saturday, July 12, 2003" in body
    assert "SLA risks (receipt confirmations due within one business day, not sent): 0" in body


async def test_disabled_digests_send_nothing(uow: UnitOfWork, terms: OfferTerms) -> None:
    await _day_one(uow, terms)
    report = await run_due_jobs(
        uow=uow,
        clock=ManualClock(at(11, 9)),
        settings=Settings(digests_enabled=False),
        base_terms=terms,
        kinds=["digest"],
    )
    assert report.ran == 1 and await _digests(uow) == []


def test_digest_time_is_validated() -> None:
    assert Settings(digest_time=" 7:05").digest_time == "07:05"
    with pytest.raises(ValueError, match="HH:MM"):
        Settings(digest_time="8 am")
    assert datetime(2003, 7, 11, 15, 0, tzinfo=UTC) == at(11, 8)  # 8:00 PDT is 15:00 UTC
