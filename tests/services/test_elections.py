"""Election intents, receipts, status and audit through the real service layer, on SQLite and
PostgreSQL (the ``uow`` fixture), including two requests for one employee at the same time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from bot.domain.elections import Delivery, FormKind, Step
from bot.domain.errors import OfferClosedError, ReceiptError, TenderError
from bot.domain.hr_records import MessageKind, TaskStatus
from bot.domain.terms import OfferTerms
from bot.services import elections
from bot.services.errors import NotAuthorizedError, NotFoundError
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.services.elections_setup import DEADLINE_TEXT, HR, NOW, employee_identity, seed


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


@pytest.fixture
async def seeded(uow: UnitOfWork) -> UnitOfWork:
    await seed(uow)
    return uow


async def elect(uow, terms, grants, employee_id="E1", now=NOW, identity=HR):
    return await elections.record_intent(
        uow=uow,
        terms=terms,
        employee_id=employee_id,
        grant_numbers=grants,
        identity=identity,
        now=now,
    )


async def withdraw(uow, terms, employee_id="E1", now=NOW):
    return await elections.record_withdrawal(
        uow=uow, terms=terms, employee_id=employee_id, identity=HR, now=now
    )


async def receive(uow, terms, version, form=FormKind.ELECTION, at=None, now=None):
    at = at or NOW + timedelta(hours=1)
    return await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id="E1",
        form=form,
        version=version,
        received_at=at,
        via=Delivery.FAX,
        identity=HR,
        now=now or at + timedelta(minutes=1),
    )


async def status(uow, terms, now=NOW, employee_id="E1"):
    return await elections.employee_status(
        uow=uow, terms=terms, employee_id=employee_id, identity=HR, now=now
    )


def assert_says_everything(text: str, terms: OfferTerms, title: str) -> None:
    """Not itself an election, what to sign, where (HR contact, address, fax), by when."""
    hr = terms.hr_delivery
    assert "not itself" in text
    assert title in text
    for fact in (hr.name, hr.street, hr.city, hr.postal_code, hr.fax, DEADLINE_TEXT):
        assert fact in text, fact
    assert "E-mail is not accepted" in text


async def test_an_intent_writes_version_task_outbox_and_audit_in_one_go(seeded, terms) -> None:
    result = await elect(seeded, terms, ["G2"])
    assert result.intent.version == 1 and result.intent.grant_numbers == ("G2",)
    assert result.form_pdf.startswith(b"%PDF")
    async with seeded:
        tasks = await seeded.hr_tasks.for_employee("E1")
        messages = await seeded.outbox.for_employee("E1")
        audit = await seeded.audit.recent(subject="E1")
    assert [(t.version, t.status) for t in tasks] == [(1, TaskStatus.OPEN)]
    assert {m.kind for m in messages} == {MessageKind.INTENT_CONFIRMATION, MessageKind.HR_NOTICE}
    to_employee = next(m for m in messages if m.kind is MessageKind.INTENT_CONFIRMATION)
    assert to_employee.recipient == "e1@example.com" and to_employee.sent_at is None
    assert to_employee.attachments[0].filename == "election-form-E1-v1.pdf"
    assert to_employee.attachments[0].content == result.form_pdf
    assert_says_everything(to_employee.body_text, terms, "Election Form")
    assert "G2" in to_employee.body_text and "$3.33" in to_employee.body_text
    (entry,) = [e for e in audit if e.action == "election.tender"]
    assert entry.actor == "cli:hr" and entry.channel == "cli" and entry.at == NOW
    assert entry.detail["before"] is None
    assert entry.detail["after"]["grants"] == ["G2"] and entry.detail["after"]["version"] == 1


async def test_change_withdraw_retender_keep_history_and_supersede_tasks(seeded, terms) -> None:
    await elect(seeded, terms, ["G2"])
    changed = await elect(seeded, terms, ["G2", "G3"], now=NOW + timedelta(minutes=1))
    withdrawn = await withdraw(seeded, terms, now=NOW + timedelta(minutes=2))
    again = await elect(seeded, terms, ["G1"], now=NOW + timedelta(minutes=3))
    assert [changed.intent.version, withdrawn.intent.version, again.intent.version] == [2, 3, 4]
    assert changed.previous is not None and changed.previous.version == 1
    reply = elections.intent_reply(withdrawn, terms)
    assert_says_everything(" ".join([reply.text, *reply.notes]), terms, "Notice to Withdraw")
    assert "withdraws all of your tendered options" in reply.text
    assert "re-tenders" in " ".join(elections.intent_reply(again, terms).notes)
    assert "replaces your earlier intent" in " ".join(elections.intent_reply(changed, terms).notes)
    async with seeded:
        history = await seeded.elections.intents_for("E1")
        tasks = await seeded.hr_tasks.for_employee("E1")
        audit = await seeded.audit.recent(subject="E1")
    assert [(i.version, i.transition.value) for i in history] == [
        (1, "tender"),
        (2, "change"),
        (3, "withdraw"),
        (4, "re-tender"),
    ]
    assert [t.status for t in tasks] == [TaskStatus.SUPERSEDED] * 3 + [TaskStatus.OPEN]
    changes = [e for e in reversed(audit) if e.action.startswith("election.")]
    assert [(e.detail["before"] or {}).get("version") for e in changes] == [None, 1, 2, 3]
    assert [e.detail["after"]["version"] for e in changes] == [1, 2, 3, 4]


async def test_refusals_write_nothing(seeded, terms) -> None:
    with pytest.raises(TenderError, match="tender both or neither"):
        await elect(seeded, terms, ["G5"], employee_id="E2")
    with pytest.raises(TenderError, match="not eligible"):
        await elect(seeded, terms, ["G7"], employee_id="E3")
    with pytest.raises(TenderError, match="cannot be tendered"):
        await elect(seeded, terms, ["G4"])
    for late in (terms.expiration, terms.expiration + timedelta(days=1)):
        with pytest.raises(OfferClosedError, match=DEADLINE_TEXT):
            await elect(seeded, terms, ["G2"], now=late)
        with pytest.raises(OfferClosedError, match=DEADLINE_TEXT):
            await withdraw(seeded, terms, now=late)
    with pytest.raises(NotFoundError):
        await elect(seeded, terms, ["G2"], employee_id="E404")
    with pytest.raises(NotAuthorizedError):
        await elect(seeded, terms, ["G2"], identity=employee_identity("E2"))
    async with seeded:
        assert await seeded.elections.all_intents() == []
        assert await seeded.outbox.count() == 0
    both = await elect(
        seeded, terms, ["G5", "G6"], employee_id="E2", identity=employee_identity("E2")
    )
    assert both.intent.grant_numbers == ("G5", "G6") and both.intent.channel == "slack"


@pytest.mark.parametrize("requests", [2, 6])
async def test_concurrent_requests_for_one_employee_get_consecutive_versions(
    seeded, terms, requests
) -> None:
    """Slack and e-mail at once: each its own task and session, one consistent history."""
    choices = [["G2"], ["G3"], ["G1"], ["G2", "G3"], ["G1", "G3"], ["G1", "G2"]]
    results = await asyncio.gather(
        *(elect(seeded, terms, choices[i], now=NOW + timedelta(seconds=i)) for i in range(requests))
    )
    assert sorted(r.intent.version for r in results) == list(range(1, requests + 1))
    async with seeded:
        history = await seeded.elections.intents_for("E1")
        tasks = await seeded.hr_tasks.for_employee("E1")
        messages = await seeded.outbox.for_employee("E1")
    assert [i.version for i in history] == list(range(1, requests + 1))
    assert [i.transition.value for i in history] == ["tender"] + ["change"] * (requests - 1)
    # Each result saw exactly the version before it as its predecessor.
    for r in results:
        assert (r.previous.version if r.previous else 0) == r.intent.version - 1
    assert [t.status for t in sorted(tasks, key=lambda t: t.version)] == [TaskStatus.SUPERSEDED] * (
        requests - 1
    ) + [TaskStatus.OPEN]
    assert len(messages) == 2 * requests
    latest = (await status(seeded, terms)).latest
    assert latest is not None and latest.version == requests


async def test_receipt_queues_confirmation_closes_task_and_shows_in_status(seeded, terms) -> None:
    await elect(seeded, terms, ["G2"])
    got = await receive(seeded, terms, 1)
    assert got.becomes_effective and got.effective is not None and got.effective.tendered
    # Thursday July 10 + 2 business days = Monday July 14, end of day Eastern.
    assert got.confirmation_due_day.isoformat() == "2003-07-14"
    assert got.confirmation_due.isoformat() == "2003-07-15T00:00:00-04:00"
    s = await status(seeded, terms)
    data = elections.status_json(s, terms)
    assert data["hr_receipt"]["via"] == "fax"
    assert data["hr_receipt"]["received_at"] == "2003-07-10T10:00:00-07:00"
    assert data["confirmation"]["status"] == "queued"
    assert data["form_sent"]["status"] == "queued"
    assert data["hr_task"]["status"] == "done"
    assert data["to_do"] == [Step.AWAIT_RECEIPT_CONFIRMATION.value]
    assert data["effective_election"]["state"] == "tendered"
    async with seeded:
        (confirmation,) = [
            m
            for m in await seeded.outbox.for_employee("E1")
            if m.kind is MessageKind.RECEIPT_CONFIRMATION
        ]
    assert "Receipt is not acceptance" in confirmation.body_text
    assert confirmation.recipient == "e1@example.com"
    overdue = await status(seeded, terms, now=confirmation.due_at + timedelta(seconds=1))
    assert overdue.steps == (Step.CONFIRMATION_OVERDUE,)
    async with seeded:
        await seeded.outbox.mark_sent(confirmation.idempotency_key, at=NOW + timedelta(hours=2))
        await seeded.outbox.mark_sent("intent_confirmation:E1:v1", at=NOW)
        await seeded.commit()
    done = elections.status_json(await status(seeded, terms), terms)
    assert done["to_do"] == ["nothing_left"] and done["confirmation"]["status"] == "sent"
    assert done["form_sent"]["status"] == "sent"


async def test_late_duplicate_and_older_receipts(seeded, terms) -> None:
    await elect(seeded, terms, ["G2"])
    await elect(seeded, terms, ["G2", "G3"], now=NOW + timedelta(minutes=1))
    with pytest.raises(ReceiptError, match=f"late.*{DEADLINE_TEXT}"):
        await receive(seeded, terms, 2, at=terms.expiration)
    later = await receive(seeded, terms, 2)
    assert later.becomes_effective
    with pytest.raises(ReceiptError, match="already recorded"):
        await receive(seeded, terms, 2)
    older = await receive(seeded, terms, 1, at=NOW + timedelta(hours=2))
    assert not older.becomes_effective and older.superseded_by == 2
    assert older.effective is not None and older.effective.intent.version == 2
    reply = elections.receipt_reply(older, terms)
    assert "does not replace" in " ".join(reply.notes)
    async with seeded:
        tasks = {t.version: t.status for t in await seeded.hr_tasks.for_employee("E1")}
        messages = await seeded.outbox.for_employee("E1")
    assert tasks == {1: TaskStatus.DONE, 2: TaskStatus.DONE}
    older_text = next(m for m in messages if m.idempotency_key == "receipt_confirmation:E1:v1")
    assert "does not replace it" in older_text.body_text


async def test_a_withdrawal_form_received_makes_the_effective_election_withdrawn(
    seeded, terms
) -> None:
    await elect(seeded, terms, ["G2"])
    await withdraw(seeded, terms, now=NOW + timedelta(minutes=1))
    await receive(seeded, terms, 1)
    got = await receive(seeded, terms, 2, form=FormKind.WITHDRAWAL)
    assert got.effective is not None and not got.effective.tendered


async def test_only_hr_records_receipts_and_reads_the_audit(seeded, terms) -> None:
    await elect(seeded, terms, ["G2"])
    with pytest.raises(NotAuthorizedError):
        await elections.record_receipt(
            uow=seeded,
            terms=terms,
            employee_id="E1",
            form=FormKind.ELECTION,
            version=1,
            received_at=NOW,
            via=Delivery.HAND,
            identity=employee_identity("E1"),
            now=NOW,
        )
    with pytest.raises(NotAuthorizedError):
        await elections.audit_trail(uow=seeded, employee_id="E1", identity=employee_identity("E1"))
    with pytest.raises(NotAuthorizedError):
        await elections.employee_status(
            uow=seeded, terms=terms, employee_id="E1", identity=employee_identity("E2"), now=NOW
        )
    own = await elections.employee_status(
        uow=seeded, terms=terms, employee_id="E1", identity=employee_identity("E1"), now=NOW
    )
    assert own.latest is not None


async def test_audit_trail_lists_every_change_oldest_first(seeded, terms) -> None:
    await elect(seeded, terms, ["G2"])
    await withdraw(seeded, terms, now=NOW + timedelta(minutes=1))
    await receive(seeded, terms, 2, form=FormKind.WITHDRAWAL)
    entries = await elections.audit_trail(uow=seeded, employee_id="E1", identity=HR)
    data = elections.audit_json(entries, terms)
    actions = [e["action"] for e in data]
    assert actions == ["election.tender", "election.withdraw", "election.receipt"]
    receipt = data[-1]
    assert receipt["before"] is None
    assert receipt["after"] == {
        "version": 2,
        "form": "withdrawal",
        "state": "withdrawn",
        "grants": [],
    }
    assert all(e["actor"] == "cli:hr" and e["channel"] == "cli" for e in data)
    assert [datetime.fromisoformat(e["at"]) for e in data] == sorted(
        datetime.fromisoformat(e["at"]) for e in data
    )


async def test_status_reply_without_intent_and_after_close(seeded, terms) -> None:
    nothing = await status(seeded, terms)
    assert nothing.steps == (Step.NOTHING_RECORDED,)
    assert "not recorded" in elections.status_reply(nothing, terms).text
    await elect(seeded, terms, ["G2"])
    closed = await status(seeded, terms, now=terms.expiration)
    reply = elections.status_reply(closed, terms)
    assert "closed" in reply.text
    assert closed.steps == (Step.FORM_NOT_RECEIVED_BEFORE_CLOSE,)
    assert DEADLINE_TEXT in " ".join(reply.notes)
