"""Reminders over the real tables (SQLite and PostgreSQL), on a manual clock: the audience, the
plan, the scheduler running a round, quiet hours, stale and superseded rounds, extensions."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.elections import (
    Delivery,
    ElectionIntent,
    FormKind,
    FormReceipt,
    IntentKind,
    IntentLine,
    Transition,
)
from bot.domain.eligibility import assess
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.jobs import JobState
from bot.domain.reminders import ReminderState, reminder_slots, reminder_state_of
from bot.domain.roster import EmployeeClass, Grant
from bot.runtime.scheduler import JobContext, run_due_jobs
from bot.services.messaging import reminders
from bot.services.messaging.reminders import plan_reminders, run_reminder_job
from bot.services.offer.live_offer import current_terms, load_offer
from bot.services.roster.audience import Recipient, eligible_recipients
from knowledge.answerer import RECOMMENDATION
from knowledge.demo_roster import generate_demo_roster
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.services.elections_setup import EMPLOYEES, GRANTS, option, person

PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_offer_terms()
PREFIX = f"reminder:{TERMS.offer_id}:"
NIGHT = (time(20, 0), time(8, 0))
SLACK = Settings(slack_bot_token="xoxb-test", quiet_hours=NIGHT)  # type: ignore[call-arg]
EMAIL_ONLY = Settings(slack_bot_token=None, quiet_hours=NIGHT)  # type: ignore[call-arg]
AUG_7 = datetime(2003, 8, 7, 17, 0, tzinfo=PACIFIC)


def pdt(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2003, month, day, hour, minute, tzinfo=PACIFIC)


SLOT_10 = "10bd@2003-07-10T16:00Z"
SLOT_5 = "5bd@2003-07-17T16:00Z"

# Beyond elections_setup's E1 (no intent), E2 (form received below) and E3 (executive officer).
EXTRA_PEOPLE = [
    person("E4", "Perpetua Quillfeather"),  # tendered, form not received
    person("E5", "Ambrose Wetherell"),  # tendered (received), then withdrew: notice missing
    person("E6", "Cordelia Mapplethorpe"),  # only a grant below $2.00: not eligible
    dataclasses.replace(person("E7", "Barnaby Oakes"), country="GB"),  # not a US resident
    person("E8", "Hester Pennyworth"),  # v1 received, then changed to v2: not received
    dataclasses.replace(person("E9", "Ivo Lindqvist"), slack_user_id=None),  # e-mail only
]
EXTRA_GRANTS = [
    option("G40", "E4", "4.10", 1000),
    option("G50", "E5", "6.00", 2000),
    option("G60", "E6", "1.89", 1000, day=date(2002, 6, 3)),
    option("G70", "E7", "8.00", 1000),
    option("G80", "E8", "5.00", 500),
    option("G81", "E8", "7.00", 500),
    option("G90", "E9", "3.00", 800),
]


def _intent(eid: str, version: int, kind: IntentKind, *grants: Grant) -> ElectionIntent:
    transition = Transition.WITHDRAW if kind is IntentKind.WITHDRAW else Transition.TENDER
    if kind is IntentKind.TENDER and version > 1:
        transition = Transition.CHANGE
    return ElectionIntent(
        employee_id=eid,
        version=version,
        kind=kind,
        transition=transition,
        lines=tuple(IntentLine.of(g) for g in grants),
        recorded_at=pdt(7, 1),
        actor=eid,
        channel="slack",
    )


def _received(eid: str, version: int, form: FormKind) -> FormReceipt:
    return FormReceipt(eid, version, form, pdt(7, 2), Delivery.FAX, pdt(7, 2), "cli:hr", "cli")


GRANT = {g.grant_number: g for g in [*GRANTS, *EXTRA_GRANTS]}
INTENTS = [
    _intent("E2", 1, IntentKind.TENDER, GRANT["G5"], GRANT["G6"]),
    _intent("E4", 1, IntentKind.TENDER, GRANT["G40"]),
    _intent("E5", 1, IntentKind.TENDER, GRANT["G50"]),
    _intent("E5", 2, IntentKind.WITHDRAW),
    _intent("E8", 1, IntentKind.TENDER, GRANT["G80"]),
    _intent("E8", 2, IntentKind.TENDER, GRANT["G80"], GRANT["G81"]),
]
RECEIPTS = [
    _received("E2", 1, FormKind.ELECTION),
    _received("E5", 1, FormKind.ELECTION),
    _received("E8", 1, FormKind.ELECTION),
]
EXPECTED_STATES = {
    "E1": ReminderState.NO_INTENT,
    "E2": ReminderState.FORM_RECEIVED,
    "E4": ReminderState.AWAITING_SIGNED_FORM,
    "E5": ReminderState.WITHDRAWN,
    "E8": ReminderState.AWAITING_SIGNED_FORM,
    "E9": ReminderState.NO_INTENT,
}
REMINDED = ["E1", "E4", "E5", "E8", "E9"]


@pytest.fixture
async def ready(uow: UnitOfWork) -> UnitOfWork:
    await load_offer(uow=uow, terms=TERMS, digest="test", now=pdt(6, 30))
    async with uow:
        await uow.employees.upsert_many([*EMPLOYEES, *EXTRA_PEOPLE])
        await uow.grants.upsert_many([*GRANTS, *EXTRA_GRANTS])
        for intent in INTENTS:
            await uow.elections.add_intent(intent)
        for receipt in RECEIPTS:
            await uow.elections.add_receipt(receipt)
        await uow.commit()
    return uow


async def _plan(uow: UnitOfWork, settings: Settings, now: datetime) -> int:
    terms = await current_terms(uow=uow, terms=TERMS)
    async with uow:
        count = await plan_reminders(uow, terms=terms, settings=settings, now=now)
        await uow.commit()
    return count


async def _jobs(uow: UnitOfWork) -> dict[str, JobState]:
    async with uow:
        return {j.key: j.state for j in await uow.jobs.list(kind="reminder")}


async def _reminders(uow: UnitOfWork) -> list[OutboxMessage]:
    async with uow:
        return await uow.outbox.by_kind(MessageKind.REMINDER)


async def _run(uow: UnitOfWork, clock: ManualClock, settings: Settings, **kw: object):  # type: ignore[no-untyped-def]
    return await run_due_jobs(uow=uow, clock=clock, settings=settings, base_terms=TERMS, **kw)  # type: ignore[arg-type]


# --- the audience -------------------------------------------------------------------------------


async def test_audience_is_the_eligible_people_with_their_state(ready: UnitOfWork) -> None:
    async with ready:
        recipients = await eligible_recipients(ready, TERMS, now=pdt(7, 10))
    assert {r.employee_id: r.state for r in recipients} == EXPECTED_STATES
    assert [r.employee_id for r in recipients] == sorted(EXPECTED_STATES)
    e9 = next(r for r in recipients if r.employee_id == "E9")
    assert e9 == Recipient("E9", "Ivo Lindqvist", "e9@example.com", None, ReminderState.NO_INTENT)
    # The bulk classification agrees with the per-person state machine.
    async with ready:
        for r in recipients:
            history = await ready.elections.intents_for(r.employee_id)
            receipts = await ready.elections.receipts_for(r.employee_id)
            assert reminder_state_of(history, receipts) is r.state


async def test_audience_matches_per_person_eligibility_on_the_demo_roster(
    uow: UnitOfWork,
) -> None:
    roster = generate_demo_roster(TERMS, seed=2003, employees=600)
    async with uow:
        await uow.employees.upsert_many(roster.employees)
        await uow.grants.upsert_many(roster.grants)
        await uow.commit()
        recipients = await eligible_recipients(uow, TERMS, now=pdt(7, 10))
    calendar = business_calendar(TERMS)
    by_person: dict[str, list[Grant]] = {}
    for g in roster.grants:
        by_person.setdefault(g.employee_id, []).append(g)
    expected = sorted(
        e.employee_id
        for e in roster.employees
        if assess(
            e,
            by_person.get(e.employee_id, []),
            TERMS,
            cancellation=cancellation_date(TERMS),
            new_grant=new_grant_date(TERMS, calendar),
        ).eligible_grants
    )
    assert [r.employee_id for r in recipients] == expected
    assert 200 < len(expected) < 500  # a real mix of eligible and not
    classes = {e.employee_id: e.employee_class for e in roster.employees}
    assert all(classes[r.employee_id] is EmployeeClass.EMPLOYEE for r in recipients)
    assert {r.state for r in recipients} == {ReminderState.NO_INTENT}


# --- planning -----------------------------------------------------------------------------------


async def test_plan_is_idempotent_and_due_on_the_hand_checked_days(ready: UnitOfWork) -> None:
    assert await _plan(ready, SLACK, pdt(7, 1)) == 5
    assert await _plan(ready, SLACK, pdt(7, 1)) == 5
    async with ready:
        jobs = await ready.jobs.list(kind="reminder")
    assert [(j.key, j.due_at) for j in jobs] == [
        (PREFIX + SLOT_10, pdt(7, 10)),
        (PREFIX + SLOT_5, pdt(7, 17)),
        (PREFIX + "2bd@2003-07-22T16:00Z", pdt(7, 22)),
        (PREFIX + "1bd@2003-07-23T16:00Z", pdt(7, 23)),
        (PREFIX + "last_day@2003-07-24T16:00Z", pdt(7, 24)),
    ]
    assert all(j.state is JobState.PENDING for j in jobs)
    assert jobs[0].payload == {"slot": SLOT_10, "expiration": "2003-07-24T17:00:00-07:00"}


async def test_replan_at_restart_keeps_a_due_round_that_has_not_run(ready: UnitOfWork) -> None:
    await _plan(ready, SLACK, pdt(7, 1))
    assert await _plan(ready, SLACK, pdt(7, 10, 9, 5)) == 5  # 10bd is due, not yet run
    assert set((await _jobs(ready)).values()) == {JobState.PENDING}


async def test_replan_after_an_extension_moves_the_plan(ready: UnitOfWork) -> None:
    await _plan(ready, SLACK, pdt(7, 1))
    clock = ManualClock(pdt(7, 10))
    await _run(ready, clock, SLACK)  # the 10bd round of July 24 went out
    async with ready:
        state = await ready.offers.get(TERMS.offer_id)
        assert state is not None
        await ready.offers.save(dataclasses.replace(state, expiration=AUG_7))
        await ready.commit()
    assert await _plan(ready, SLACK, pdt(7, 15)) == 5
    jobs = await _jobs(ready)
    assert {k: s for k, s in jobs.items() if s is not JobState.PENDING} == {
        PREFIX + SLOT_10: JobState.DONE,
        PREFIX + SLOT_5: JobState.CANCELLED,
        PREFIX + "2bd@2003-07-22T16:00Z": JobState.CANCELLED,
        PREFIX + "1bd@2003-07-23T16:00Z": JobState.CANCELLED,
        PREFIX + "last_day@2003-07-24T16:00Z": JobState.CANCELLED,
    }
    pending = sorted(k for k, s in jobs.items() if s is JobState.PENDING)
    assert pending == sorted(
        PREFIX + k
        for k in (
            "10bd@2003-07-24T16:00Z",
            "5bd@2003-07-31T16:00Z",
            "2bd@2003-08-05T16:00Z",
            "1bd@2003-08-06T16:00Z",
            "last_day@2003-08-07T16:00Z",
        )
    )
    async with ready:
        moved = await ready.jobs.get(PREFIX + "last_day@2003-08-07T16:00Z")
    assert moved is not None and moved.payload["expiration"] == "2003-08-07T17:00:00-07:00"


async def test_turned_off_cancels_the_plan(ready: UnitOfWork) -> None:
    await _plan(ready, SLACK, pdt(7, 1))
    off = Settings(reminders_enabled=False)  # type: ignore[call-arg]
    assert await _plan(ready, off, pdt(7, 2)) == 0
    assert set((await _jobs(ready)).values()) == {JobState.CANCELLED}


CHANNELS = ("email", "slack")


# --- running a round ----------------------------------------------------------------------------


async def test_a_round_reminds_each_person_once_per_channel(ready: UnitOfWork) -> None:
    await _plan(ready, SLACK, pdt(7, 1))
    clock = ManualClock(pdt(7, 10))
    report = await _run(ready, clock, SLACK)
    assert report.outcomes == {PREFIX + SLOT_10: "done"}
    sent = await _reminders(ready)
    expected_keys = {f"reminder:{SLOT_10}:{eid}:email" for eid in REMINDED} | {
        f"reminder:{SLOT_10}:{eid}:slack" for eid in REMINDED if eid != "E9"
    }
    assert {m.idempotency_key for m in sent} == expected_keys
    assert len(sent) == len(expected_keys) == 9
    by_key = {m.idempotency_key: m for m in sent}
    e1_mail = by_key[f"reminder:{SLOT_10}:E1:email"]
    assert (e1_mail.channel, e1_mail.recipient, e1_mail.employee_id) == (
        "email",
        "e1@example.com",
        "E1",
    )
    assert by_key[f"reminder:{SLOT_10}:E4:slack"].recipient == "U4"
    assert e1_mail.body_text.startswith("Dear Rosalind Ashcombe,")
    assert "5:00 p.m. Pacific Time on Thursday, July 24, 2003" in e1_mail.body_text
    assert "You have not recorded an intent" in e1_mail.body_text
    assert "HR has not received your signed Election Form" in (
        by_key[f"reminder:{SLOT_10}:E8:email"].body_text
    )
    assert "If you want to re-tender" in by_key[f"reminder:{SLOT_10}:E5:email"].body_text
    for m in sent:
        assert not RECOMMENDATION.search(m.body_text)
        assert m.due_at == pdt(7, 10) and m.kind is MessageKind.REMINDER
    # Each template is kept verbatim once per round and state; every copy points to it.
    async with ready:
        comms = {c.key: c for c in await ready.communications.list_all()}
        stats = await ready.communications.stats(c.reference for c in comms.values())
    assert set(comms) == {
        f"reminder:{SLOT_10}:no_intent",
        f"reminder:{SLOT_10}:awaiting_signed_form",
        f"reminder:{SLOT_10}:withdrawn",
    }
    no_intent = comms[f"reminder:{SLOT_10}:no_intent"]
    assert no_intent.kind == "reminder" and no_intent.body.startswith("Dear {name},")
    assert e1_mail.reference == no_intent.reference
    # Each copy is personal: the name and the person's eligible grants fill the template.
    assert e1_mail.body_text == no_intent.body.replace(
        "{grants}", reminders.grants_list([GRANT["G1"], GRANT["G2"], GRANT["G3"]])
    ).replace("{name}", "Rosalind Ashcombe")
    assert "- Grant G2: granted November 1, 2001, exercise price $3.33" in e1_mail.body_text
    assert "Grant G4" not in e1_mail.body_text  # below the minimum price: not eligible
    assert stats[no_intent.reference].queued == 3  # E1 e-mail + Slack, E9 e-mail
    # Running again (the scheduler, or the same job by a second runner) adds nothing.
    assert (await _run(ready, clock, SLACK)).ran == 0
    async with ready:
        job = await ready.jobs.get(PREFIX + SLOT_10)
    assert job is not None
    ctx = JobContext(uow=ready, clock=clock, settings=SLACK, base_terms=TERMS, owner="other")
    await run_reminder_job(job, ctx)
    assert len(await _reminders(ready)) == 9
    async with ready:
        assert len(await ready.communications.list_all()) == 3


async def test_without_slack_only_email_goes_out(ready: UnitOfWork) -> None:
    await _plan(ready, EMAIL_ONLY, pdt(7, 1))
    await _run(ready, ManualClock(pdt(7, 10)), EMAIL_ONLY)
    sent = await _reminders(ready)
    assert sorted(m.employee_id or "" for m in sent) == REMINDED
    assert {m.channel for m in sent} == {"email"}


async def test_the_next_round_reaches_people_whose_state_changed(ready: UnitOfWork) -> None:
    await _plan(ready, EMAIL_ONLY, pdt(7, 1))
    clock = ManualClock(pdt(7, 10))
    await _run(ready, clock, EMAIL_ONLY)
    async with ready:  # E4's form arrives; E1 records an intent
        await ready.elections.add_receipt(_received("E4", 1, FormKind.ELECTION))
        await ready.elections.add_intent(_intent("E1", 1, IntentKind.TENDER, GRANT["G2"]))
        await ready.commit()
    clock.set(pdt(7, 17))
    assert (await _run(ready, clock, EMAIL_ONLY)).outcomes == {PREFIX + SLOT_5: "done"}
    second = {
        m.employee_id or "": m for m in await _reminders(ready) if SLOT_5 in m.idempotency_key
    }
    assert sorted(second) == ["E1", "E5", "E8", "E9"]
    assert "HR has not received your signed Election Form" in second["E1"].body_text


async def test_large_roster_goes_out_in_chunks_keeping_the_lease(
    ready: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "CHUNK", 2)
    await _plan(ready, SLACK, pdt(7, 1))
    seen: list[tuple[int, int]] = []
    report = await _run(
        ready, ManualClock(pdt(7, 10)), SLACK, progress=lambda d, t: seen.append((d, t))
    )
    assert report.outcomes == {PREFIX + SLOT_10: "done"}
    # pages of two employees (E1–E9: eligible or not), each its own transaction
    assert seen == [(2, 9), (4, 9), (6, 9), (8, 9), (9, 9)]
    assert len(await _reminders(ready)) == 9


async def test_a_round_that_dies_midway_resumes_without_duplicates(
    ready: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "CHUNK", 2)
    await _plan(ready, SLACK, pdt(7, 1))

    def dies_after_two_pages(done: int, total: int) -> None:
        if done >= 4:
            raise RuntimeError("the worker was killed")

    clock = ManualClock(pdt(7, 10))
    report = await _run(ready, clock, SLACK, progress=dies_after_two_pages)
    assert report.outcomes == {PREFIX + SLOT_10: "retry"}
    first = {m.idempotency_key for m in await _reminders(ready)}
    assert first == {  # the two committed pages: E1 (E2's form is in, E3 is not eligible), E4
        f"reminder:{SLOT_10}:{eid}:{channel}" for eid in ("E1", "E4") for channel in CHANNELS
    }
    clock.set(pdt(7, 10, 12))  # the retry is due
    assert (await _run(ready, clock, SLACK)).outcomes == {PREFIX + SLOT_10: "done"}
    sent = await _reminders(ready)
    assert len(sent) == len({m.idempotency_key for m in sent}) == 9
    assert first <= {m.idempotency_key for m in sent}
    async with ready:  # each state's template kept once, whichever page met it first
        assert len(await ready.communications.list_all()) == 3


async def test_a_round_that_loses_its_lease_stops_and_drops_the_page_read_ahead(
    ready: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the next page is being read while a page is written; when the lease is
    lost after the first page, that read is cancelled and nothing of it is queued."""
    monkeypatch.setattr(reminders, "CHUNK", 2)

    async def lost(self: JobContext, job: object) -> bool:
        return False

    monkeypatch.setattr(JobContext, "renew", lost)
    await _plan(ready, SLACK, pdt(7, 1))
    await _run(ready, ManualClock(pdt(7, 10)), SLACK)
    keys = {m.idempotency_key for m in await _reminders(ready)}
    assert keys == {f"reminder:{SLOT_10}:E1:{channel}" for channel in CHANNELS}  # E2: received
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_a_stale_round_sends_nothing(ready: UnitOfWork) -> None:
    await _plan(ready, SLACK, pdt(7, 1))
    async with ready:  # extended, but the plan was not made again yet
        state = await ready.offers.get(TERMS.offer_id)
        assert state is not None
        await ready.offers.save(dataclasses.replace(state, expiration=AUG_7))
        await ready.commit()
    report = await _run(ready, ManualClock(pdt(7, 10)), SLACK)
    assert report.outcomes == {PREFIX + SLOT_10: "done"}
    assert await _reminders(ready) == []


async def test_a_round_due_in_quiet_hours_waits_for_their_end(ready: UnitOfWork) -> None:
    await _plan(ready, SLACK, pdt(7, 1))
    clock = ManualClock(pdt(7, 10, 21, 30))  # the worker was down all day
    await _run(ready, clock, SLACK)
    assert await _reminders(ready) == []
    deferred = PREFIX + SLOT_10 + "~quiet@2003-07-11T15:00Z"
    jobs = await _jobs(ready)
    assert (jobs[PREFIX + SLOT_10], jobs[deferred]) == (JobState.DONE, JobState.PENDING)
    assert await _plan(ready, SLACK, pdt(7, 10, 22)) == 5  # a restart keeps the deferral
    clock.set(pdt(7, 11, 7, 59))
    assert (await _run(ready, clock, SLACK)).ran == 0
    clock.set(pdt(7, 11, 8, 0))
    assert (await _run(ready, clock, SLACK)).outcomes == {deferred: "done"}
    sent = await _reminders(ready)
    assert len(sent) == 9 and all(SLOT_10 in m.idempotency_key for m in sent)
    assert all(m.due_at == pdt(7, 11, 8) for m in sent)


async def test_after_an_outage_only_the_latest_round_goes_out(ready: UnitOfWork) -> None:
    await _plan(ready, EMAIL_ONLY, pdt(7, 1))
    report = await _run(ready, ManualClock(pdt(7, 17, 10)), EMAIL_ONLY)
    assert report.outcomes == {PREFIX + SLOT_10: "done", PREFIX + SLOT_5: "done"}
    keys = {m.idempotency_key for m in await _reminders(ready)}
    assert keys == {f"reminder:{SLOT_5}:{eid}:email" for eid in REMINDED}


async def test_nothing_goes_out_once_the_offer_closed(ready: UnitOfWork) -> None:
    await _plan(ready, EMAIL_ONLY, pdt(7, 1))
    report = await _run(ready, ManualClock(pdt(7, 24, 17)), EMAIL_ONLY)
    assert len(report.outcomes) == 5 and set(report.outcomes.values()) == {"done"}
    assert await _reminders(ready) == []


async def test_last_day_round_says_so(ready: UnitOfWork) -> None:
    await _plan(ready, EMAIL_ONLY, pdt(7, 23, 12))
    await _run(ready, ManualClock(pdt(7, 24, 9)), EMAIL_ONLY)
    sent = await _reminders(ready)
    assert len(sent) == len(REMINDED)
    assert all(m.subject.startswith("Last day: ") for m in sent)
    assert all("today is the last day" in m.body_text for m in sent)


def test_reminder_copies_skip_form_received() -> None:
    assert (
        reminders.reminder_copies(
            [Recipient("E2", "D", "e2@example.com", "U2", ReminderState.FORM_RECEIVED)],
            {},
            slot=SLOT_10,
            slack=True,
        )
        == {}
    )


def test_slot_constant_matches_the_domain() -> None:
    slots = reminder_slots(TERMS, business_calendar(TERMS), now=None)
    assert [s.key for s in slots][:2] == [SLOT_10, SLOT_5]
    assert re.fullmatch(r"10bd@\S+Z", SLOT_10)
