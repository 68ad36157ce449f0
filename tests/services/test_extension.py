"""Extensions and amendments of the offer over the real tables (SQLite and PostgreSQL), on a
manual clock: the live expiration, the broadcast job, the two-person rule, the ten-business-day
rule after a change in consideration, and follow-ups to people who asked about the deadline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import ManualClock
from bot.config import Settings
from bot.domain.amendments import AmendmentKind, AmendmentStatus
from bot.domain.errors import ExtensionError
from bot.domain.hr_records import MessageKind
from bot.domain.jobs import JobState
from bot.runtime.scheduler import run_due_jobs
from bot.services.errors import InvalidRequestError, NotAuthorizedError, NotFoundError
from bot.services.identity import Identity
from bot.services.offer.amendment_wording import result_json
from bot.services.offer.deadline_follow_ups import DEADLINE_ASKED
from bot.services.offer.extension import (
    amend_offer,
    announcement_counts,
    approve_amendment,
    extend_offer,
    list_amendments,
    reject_amendment,
)
from bot.services.offer.live_offer import current_terms, load_offer
from bot.services.offer.planning import refresh_plan
from bot.services.questions.conversation import ConversationDeps, respond
from knowledge.offer_terms import load_offer_terms
from storage.db import session_factory
from storage.uow import UnitOfWork
from tests.services.elections_setup import HR, NOW, employee_identity, seed

PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_offer_terms()
AUG_7 = datetime(2003, 8, 7, 17, 0, tzinfo=PACIFIC)
AUG_14 = datetime(2003, 8, 14, 17, 0, tzinfo=PACIFIC)
SECOND_HR = Identity(channel="cli", actor="cli:second")


@pytest.fixture
async def ready(uow: UnitOfWork) -> UnitOfWork:
    await load_offer(uow=uow, terms=TERMS, digest="test", now=NOW)
    await seed(uow)
    return uow


async def _extend(uow: UnitOfWork, to: datetime = AUG_7, **kw: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "uow": uow,
        "base_terms": TERMS,
        "settings": Settings(),
        "identity": HR,
        "new_expiration": to,
        "announce": True,
        "message": "",
        "now": NOW,
    }
    values.update(kw)
    return await extend_offer(**values)  # type: ignore[arg-type]


async def _audit(uow: UnitOfWork, action: str) -> list:  # type: ignore[type-arg]
    async with uow:
        return await uow.audit.with_action(action)


async def test_extension_moves_the_live_expiration_and_schedules_the_broadcast(
    ready: UnitOfWork,
) -> None:
    await refresh_plan(uow=ready, base_terms=TERMS, settings=Settings(), now=NOW)
    async with ready:
        before = await ready.jobs.list(kind="reminder", state=JobState.PENDING)
    assert before and all(j.due_at < TERMS.original_expiration for j in before)
    result = await _extend(ready, message="More time to decide.")
    a = result.amendment
    assert (a.kind, a.status, a.announce) == (
        AmendmentKind.EXTENSION,
        AmendmentStatus.APPLIED,
        True,
    )
    assert a.previous_expiration == TERMS.original_expiration
    assert a.new_expiration == AUG_7 and a.message == "More time to decide."
    assert result.warnings == () and result.announcement == "queued"
    live = await current_terms(uow=ready, terms=TERMS)
    assert live.expiration == AUG_7 and live.is_extended
    async with ready:
        job = await ready.jobs.get(f"broadcast:amendment:{a.id}")
    assert job is not None and (job.kind, job.payload) == ("broadcast", {"amendment_id": a.id})
    async with ready:  # the reminder rounds were re-planned in the same transaction
        reminders = await ready.jobs.list(kind="reminder", state=JobState.PENDING)
    assert reminders and max(j.due_at for j in reminders) > TERMS.original_expiration
    assert all(j.due_at < AUG_7 for j in reminders)
    [entry] = await _audit(ready, "offer.extend")
    assert entry.actor == "cli:hr" and entry.detail["new_expiration"] == AUG_7.isoformat()
    data = result_json(result, {"email": 2})
    assert data["expiration"] == "2003-08-07T17:00:00-07:00"
    assert data["announcement"] == {"status": "queued", "queued": {"email": 2}}


async def test_the_broadcast_queues_one_announcement_per_eligible_employee(
    ready: UnitOfWork,
) -> None:
    result = await _extend(ready)
    assert result.amendment.id is not None
    report = await run_due_jobs(
        uow=ready,
        clock=ManualClock(NOW),
        settings=Settings(),
        base_terms=TERMS,
        kinds=["broadcast"],
    )
    assert report.outcomes == {f"broadcast:amendment:{result.amendment.id}": "done"}
    # E1 and E2 hold eligible grants; E3 is an executive officer (not eligible)
    assert await announcement_counts(uow=ready, amendment_id=result.amendment.id) == {"email": 2}
    async with ready:
        sent = await ready.outbox.by_kind(MessageKind.EXTENSION_ANNOUNCEMENT)
    assert sorted(m.employee_id for m in sent) == ["E1", "E2"]
    assert all("August 7, 2003" in m.body_text for m in sent)


@pytest.mark.parametrize(
    ("to", "why"),
    [
        (datetime(2003, 7, 24, 17, 0, tzinfo=PACIFIC), "later than the current one"),
        (datetime(2003, 7, 20, 17, 0, tzinfo=PACIFIC), "later than the current one"),
    ],
)
async def test_an_extension_must_be_later(ready: UnitOfWork, to: datetime, why: str) -> None:
    with pytest.raises(ExtensionError, match=why):
        await _extend(ready, to=to)
    assert (await current_terms(uow=ready, terms=TERMS)).expiration == TERMS.original_expiration
    assert await list_amendments(uow=ready, base_terms=TERMS) == []


async def test_only_hr_may_extend(ready: UnitOfWork) -> None:
    with pytest.raises(NotAuthorizedError):
        await _extend(ready, identity=employee_identity("E1"))
    assert await list_amendments(uow=ready, base_terms=TERMS) == []


async def test_an_announcement_after_the_deadline_for_it_is_applied_with_a_warning(
    ready: UnitOfWork,
) -> None:
    # 7:00 a.m. PDT on Friday July 25: the offer says 6:00 a.m. Pacific that day at the latest
    late = datetime(2003, 7, 25, 14, 0, tzinfo=UTC)
    result = await _extend(ready, now=late)
    assert result.amendment.status is AmendmentStatus.APPLIED
    [warning] = result.warnings
    assert "6:00 a.m. PDT on Friday, July 25, 2003" in warning and "later than that" in warning
    assert (await current_terms(uow=ready, terms=TERMS)).expiration == AUG_7


async def test_without_announce_nothing_is_broadcast(ready: UnitOfWork) -> None:
    result = await _extend(ready, announce=False)
    assert (result.announcement, result.broadcast_job) == ("not_requested", None)
    async with ready:
        assert await ready.jobs.list(kind="broadcast") == []


async def test_two_person_rule_applies_the_date_at_once_but_holds_the_announcement(
    ready: UnitOfWork,
) -> None:
    result = await _extend(ready, settings=Settings(two_person_rule=True))
    a = result.amendment
    assert a.id is not None
    assert (a.status, result.announcement) == (
        AmendmentStatus.AWAITING_APPROVAL,
        "awaiting_approval",
    )
    assert (await current_terms(uow=ready, terms=TERMS)).expiration == AUG_7  # at once
    async with ready:
        assert await ready.jobs.list(kind="broadcast") == []

    with pytest.raises(NotAuthorizedError, match="different HR administrator"):
        await approve_amendment(
            uow=ready, base_terms=TERMS, identity=HR, amendment_id=a.id, now=NOW
        )
    approved = await approve_amendment(
        uow=ready, base_terms=TERMS, identity=SECOND_HR, amendment_id=a.id, now=NOW
    )
    assert approved.amendment.status is AmendmentStatus.APPLIED
    assert approved.amendment.approved_by == "cli:second"
    assert approved.announcement == "queued"
    async with ready:
        job = await ready.jobs.get(f"broadcast:amendment:{a.id}")
    assert job is not None and job.payload == {"amendment_id": a.id}
    with pytest.raises(InvalidRequestError, match="applied"):
        await approve_amendment(
            uow=ready, base_terms=TERMS, identity=SECOND_HR, amendment_id=a.id, now=NOW
        )
    with pytest.raises(NotFoundError):
        await approve_amendment(
            uow=ready, base_terms=TERMS, identity=SECOND_HR, amendment_id=999, now=NOW
        )
    assert [e.actor for e in await _audit(ready, "offer.amendment.approve")] == ["cli:second"]


async def test_a_rejected_announcement_is_never_broadcast(ready: UnitOfWork) -> None:
    result = await _extend(ready, settings=Settings(two_person_rule=True))
    assert result.amendment.id is not None
    rejected = await reject_amendment(
        uow=ready, base_terms=TERMS, identity=SECOND_HR, amendment_id=result.amendment.id, now=NOW
    )
    assert rejected.amendment.status is AmendmentStatus.REJECTED
    assert rejected.announcement == "rejected"
    assert "still has to be announced" in rejected.warnings[0]
    async with ready:
        assert await ready.jobs.list(kind="broadcast") == []
    with pytest.raises(InvalidRequestError):
        await approve_amendment(
            uow=ready,
            base_terms=TERMS,
            identity=SECOND_HR,
            amendment_id=result.amendment.id,
            now=NOW,
        )


async def test_an_announcement_overtaken_by_a_later_extension_cannot_be_approved(
    ready: UnitOfWork,
) -> None:
    two_person = Settings(two_person_rule=True)
    first = await _extend(ready, settings=two_person)
    await _extend(ready, to=AUG_14, settings=two_person)
    assert first.amendment.id is not None
    with pytest.raises(InvalidRequestError, match="no longer holds"):
        await approve_amendment(
            uow=ready,
            base_terms=TERMS,
            identity=SECOND_HR,
            amendment_id=first.amendment.id,
            now=NOW,
        )
    async with ready:
        assert await ready.jobs.list(kind="broadcast") == []


# --- a change in the consideration (§2, p. 13-14) ------------------------------------------

THU_JULY_17 = datetime(2003, 7, 17, 16, 0, tzinfo=UTC)  # 9:00 a.m. PDT


async def _amend(uow: UnitOfWork, *, extend: bool, now: datetime, **kw: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "uow": uow,
        "base_terms": TERMS,
        "settings": Settings(),
        "identity": HR,
        "description": "The exchange ratio becomes one new option for each 1.5 old ones.",
        "extend": extend,
        "announce": True,
        "now": now,
    }
    values.update(kw)
    return await amend_offer(**values)  # type: ignore[arg-type]


async def test_a_change_in_consideration_needs_ten_business_days(ready: UnitOfWork) -> None:
    # Notice on Thu July 17: July 17, 18, 21, 22, 23, 24, 25, 28, 29, 30 → open to July 30
    with pytest.raises(ExtensionError, match="July 30, 2003") as refused:
        await _amend(ready, extend=False, now=THU_JULY_17)
    assert "--extend" in str(refused.value)
    assert await list_amendments(uow=ready, base_terms=TERMS) == []

    result = await _amend(ready, extend=True, now=THU_JULY_17)
    a = result.amendment
    assert a.kind is AmendmentKind.CONSIDERATION and a.status is AmendmentStatus.APPLIED
    assert a.new_expiration == datetime(2003, 7, 30, 17, 0, tzinfo=PACIFIC)
    assert a.description.startswith("The exchange ratio")
    live = await current_terms(uow=ready, terms=TERMS)
    assert live.expiration == datetime(2003, 7, 30, 17, 0, tzinfo=PACIFIC)
    assert result.broadcast_job == f"broadcast:amendment:{a.id}"
    assert [e.detail["kind"] for e in await _audit(ready, "offer.amend")] == ["consideration"]


async def test_a_change_with_enough_time_left_keeps_the_expiration(ready: UnitOfWork) -> None:
    # Notice on Thu July 10: the tenth business day is July 23, before July 24
    result = await _amend(ready, extend=True, now=NOW)
    a = result.amendment
    assert a.new_expiration == a.previous_expiration == TERMS.original_expiration
    assert "No extension was needed" in result.warnings[0]
    assert (await current_terms(uow=ready, terms=TERMS)).expiration == TERMS.original_expiration


async def test_an_approval_checks_the_ten_days_again_from_the_approval_day(
    ready: UnitOfWork,
) -> None:
    pending = await _amend(ready, extend=False, now=NOW, settings=Settings(two_person_rule=True))
    assert pending.amendment.id is not None
    with pytest.raises(ExtensionError, match="July 30, 2003"):
        await approve_amendment(
            uow=ready,
            base_terms=TERMS,
            identity=SECOND_HR,
            amendment_id=pending.amendment.id,
            now=THU_JULY_17,
        )
    approved = await approve_amendment(
        uow=ready,
        base_terms=TERMS,
        identity=SECOND_HR,
        amendment_id=pending.amendment.id,
        now=NOW,
    )
    assert approved.amendment.status is AmendmentStatus.APPLIED


# --- follow-ups to people who asked about the deadline --------------------------------------


async def test_people_told_the_deadline_get_one_follow_up_per_channel(ready: UnitOfWork) -> None:
    deps = ConversationDeps(uow=ready, clock=ManualClock(NOW), base_terms=TERMS)
    e2_mail = Identity(channel="email", actor="E2@Example.com", employee_id="E2")
    await respond(text="When does the offer expire?", identity=employee_identity("E1"), deps=deps)
    await respond(text="what's the deadline", identity=employee_identity("E1"), deps=deps)
    await respond(text="when is the deadline?", identity=e2_mail, deps=deps)
    await respond(text="deadline", identity=Identity("console", "E3", "E3"), deps=deps)
    await respond(text="deadline", identity=Identity("slack", "U999"), deps=deps)  # unverified
    await respond(text="how will the new options vest?", identity=e2_mail, deps=deps)  # no date
    await respond(text="how do I tender?", identity=employee_identity("E3"), deps=deps)  # quotes it
    asked = await _audit(ready, DEADLINE_ASKED)
    assert [(e.subject, e.channel) for e in asked] == [
        ("E1", "slack"),
        ("E1", "slack"),
        ("E2", "email"),
        ("E3", "slack"),
    ]

    result = await _extend(ready, now=datetime(2003, 7, 11, 16, 0, tzinfo=UTC))
    assert result.follow_ups == 3
    async with ready:
        answers = [
            m
            for m in await ready.outbox.by_kind(MessageKind.ANSWER)
            if m.idempotency_key.startswith("deadline_follow_up:")
        ]
        comm = await ready.communications.get(f"deadline_follow_up:{result.amendment.id}")
    by_key = {m.idempotency_key: m for m in answers}
    aid = result.amendment.id
    assert set(by_key) == {
        f"deadline_follow_up:{aid}:E1:slack",
        f"deadline_follow_up:{aid}:E2:email",
        f"deadline_follow_up:{aid}:E3:slack",
    }
    slack = by_key[f"deadline_follow_up:{aid}:E1:slack"]
    email = by_key[f"deadline_follow_up:{aid}:E2:email"]
    assert (slack.channel, slack.recipient) == ("slack", "U1")
    assert (email.channel, email.recipient) == ("email", "e2@example.com")  # the address on file
    for message in (slack, email):
        assert "5:00 p.m. PDT on Thursday, August 7, 2003" in message.body_text
        assert "extended" in message.body_text
        assert comm is not None and message.reference == comm.reference
    assert email.body_html and "August 7, 2003" in email.body_html

    # asked after the first extension: told the new date already, so only the next one writes
    await respond(text="deadline?", identity=employee_identity("E2"), deps=deps)
    second = await _extend(ready, to=AUG_14, now=datetime(2003, 7, 14, 16, 0, tzinfo=UTC))
    assert second.follow_ups == 4  # E1 slack, E2 email, E3 slack, and now E2 slack
    later = datetime(2003, 7, 15, 16, 0, tzinfo=UTC)
    again = await _extend(ready, to=AUG_14.replace(day=15), announce=False, now=later)
    assert again.follow_ups == 4  # a new amendment, a new set of keys


async def test_follow_ups_wait_for_the_approval_under_the_two_person_rule(
    ready: UnitOfWork,
) -> None:
    deps = ConversationDeps(uow=ready, clock=ManualClock(NOW), base_terms=TERMS)
    await respond(text="deadline?", identity=employee_identity("E1"), deps=deps)
    later = datetime(2003, 7, 11, 16, 0, tzinfo=UTC)
    pending = await _extend(ready, now=later, settings=Settings(two_person_rule=True))
    assert pending.follow_ups == 0 and pending.amendment.id is not None
    approved = await approve_amendment(
        uow=ready,
        base_terms=TERMS,
        identity=SECOND_HR,
        amendment_id=pending.amendment.id,
        now=later,
    )
    assert approved.follow_ups == 1


async def test_answers_follow_the_extension(ready: UnitOfWork) -> None:
    deps = ConversationDeps(uow=ready, clock=ManualClock(NOW), base_terms=TERMS)
    await _extend(ready)
    me = employee_identity("E1")
    deadline = await respond(text="when does the offer expire?", identity=me, deps=deps)
    assert "5:00 p.m. PDT on Thursday, August 7, 2003" in deadline.text
    assert any("extended" in n for n in deadline.notes)
    faq = await respond(text="may I withdraw previously tendered options?", identity=me, deps=deps)
    assert "July 24, 2003" in faq.text  # the document's words are quoted, not rewritten
    assert faq.notes[0].startswith("Update: the offer was extended; it now expires at 5:00 p.m.")
    assert "August 7, 2003" in faq.notes[0]


async def test_an_emailed_question_is_answered_with_the_new_deadline_and_noted(
    ready: UnitOfWork,
) -> None:
    from handlers.email.inbox import InboxConfig, process_message
    from tests.email.servers import mail

    await _extend(ready)
    deps = ConversationDeps(uow=ready, clock=ManualClock(NOW), base_terms=TERMS)
    raw = mail(sender="E2@example.com", subject="deadline", body="When does the offer expire?")
    outcome = await process_message(
        raw,
        uid=1,
        uidvalidity=1,
        received_at=None,
        deps=deps,
        config=InboxConfig(company=TERMS.company_short_name),
    )
    assert outcome == "answered"
    async with ready:
        [reply] = [
            m
            for m in await ready.outbox.by_kind(MessageKind.ANSWER)
            if m.idempotency_key.startswith("answer:")
        ]
    assert reply.recipient == "e2@example.com"
    assert "5:00 p.m. PDT on Thursday, August 7, 2003" in reply.body_text
    assert "extended" in reply.body_text
    [asked] = await _audit(ready, DEADLINE_ASKED)
    assert (asked.subject, asked.channel) == ("E2", "email")


async def test_two_extensions_at_once_take_turns(ready: UnitOfWork, db_engine: AsyncEngine) -> None:
    """Both admins check "later than the current expiration": without a lock both would check
    against July 24 and the later commit could move the deadline back from August 14."""
    other = UnitOfWork(session_factory(db_engine))  # a second HR admin's own connection
    outcomes = await asyncio.gather(
        _extend(ready, to=AUG_14), _extend(other, to=AUG_7), return_exceptions=True
    )
    live = await current_terms(uow=ready, terms=TERMS)
    assert live.expiration == AUG_14
    amendments = await list_amendments(uow=ready, base_terms=TERMS)
    chain = sorted((a.previous_expiration, a.new_expiration) for a in amendments)
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    if refused:  # August 14 first: August 7 is no longer later
        assert len(refused) == 1 and isinstance(refused[0], ExtensionError)
        assert chain == [(TERMS.original_expiration, AUG_14)]
    else:  # August 7 first, then August 14 against August 7
        assert chain == [(TERMS.original_expiration, AUG_7), (AUG_7, AUG_14)]
