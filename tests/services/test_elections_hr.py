"""HR's side of elections: report, export, close (Promise to Grant), splits, the neutral model,
and the PDF forms read back with pypdf."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from bot.config import Settings
from bot.domain.elections import Delivery, FormKind
from bot.domain.errors import ElectionError
from bot.domain.hr_records import MessageKind
from bot.domain.terms import OfferTerms
from bot.services import elections
from bot.services.elections.close import parse_ratio
from bot.services.errors import InvalidRequestError, NotAuthorizedError
from bot.services.offer.extension import extend_offer
from bot.services.offer.live_offer import load_offer
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.services.close_setup import MemoryLetters, close
from tests.services.elections_setup import DEADLINE_TEXT, HR, NOW, employee_identity, seed


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


@pytest.fixture
async def seeded(uow: UnitOfWork) -> UnitOfWork:
    await seed(uow)
    return uow


def pdf_text(content: bytes) -> str:
    """The PDF's text with runs of whitespace (line wraps) collapsed to one space."""
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


async def elect(uow, terms, grants, employee_id="E1", now=NOW):
    return await elections.record_intent(
        uow=uow, terms=terms, employee_id=employee_id, grant_numbers=grants, identity=HR, now=now
    )


async def receive(uow, terms, version, employee_id="E1", form=FormKind.ELECTION):
    at = NOW + timedelta(hours=1)
    return await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id=employee_id,
        form=form,
        version=version,
        received_at=at,
        via=Delivery.HAND,
        identity=HR,
        now=at,
    )


# --- forms ------------------------------------------------------------------------------------


async def test_the_election_form_carries_what_the_offer_requires(seeded, terms) -> None:
    result = await elect(seeded, terms, ["G1", "G2", "G3"])
    text = pdf_text(result.form_pdf)
    assert "Election Form" in text
    assert "Option holder: Rosalind Ashcombe" in text
    assert "Form version: 1" in text
    # §4, p. 16: grant number, grant date, exercise price, unexercised shares of each option.
    for row in (
        "G1 2001-04-16 $29.07 300",
        "G2 2001-11-01 $3.33 1,000",
        "G3 2002-04-15 $2.50 2,000",
    ):
        assert row in text, row
    assert "Signature of option holder (Rosalind Ashcombe) Date" in text
    hr = terms.hr_delivery
    for fact in (hr.name, hr.street, hr.fax, hr.phone, "e-mail is not accepted", DEADLINE_TEXT):
        assert fact in text, fact
    meta = PdfReader(io.BytesIO(result.form_pdf)).metadata
    assert meta is not None and "version=1" in (meta.get("/Keywords") or "")
    again, pdf = await elections.latest_form(
        uow=seeded, terms=terms, employee_id="E1", identity=HR, version=None
    )
    assert again.version == 1 and pdf == result.form_pdf  # same bytes every time


async def test_the_notice_to_withdraw(seeded, terms) -> None:
    await elect(seeded, terms, ["G2"])
    result = await elections.record_withdrawal(
        uow=seeded, terms=terms, employee_id="E1", identity=HR, now=NOW + timedelta(minutes=1)
    )
    text = pdf_text(result.form_pdf)
    assert "Notice to Withdraw from the Offer" in text
    assert "Rosalind Ashcombe" in text and "Form version: 2" in text
    assert "cannot be rescinded" in text and terms.hr_delivery.fax in text
    assert "Signature of option holder" in text
    with pytest.raises(Exception, match="version 9"):
        await elections.latest_form(
            uow=seeded, terms=terms, employee_id="E1", identity=HR, version=9
        )


# --- report and export --------------------------------------------------------------------------


async def test_report_numbers_add_up(seeded, terms) -> None:
    await elect(seeded, terms, ["G2"])  # E1 v1
    await elect(seeded, terms, ["G2", "G3"], now=NOW + timedelta(minutes=1))  # E1 v2
    await receive(seeded, terms, 2)
    await elect(seeded, terms, ["G5", "G6"], employee_id="E2")  # E2 v1, form pending
    report = await elections.hr_report(uow=seeded, terms=terms, identity=HR, now=NOW)
    assert report["employees"] == 3
    # E1: G1 300 + G2 1000 + G3 2000; E2: G5 3000 + G6 1500. E3 (officer) and G4 ($1.89) not.
    assert report["eligible"] == {
        "employees": 2,
        "grants": 5,
        "unexercised_shares": 7800,
        "new_option_shares": 7800,
    }
    assert report["intents"]["employees"] == 2 and report["intents"]["versions"] == 3
    assert report["intents"]["latest_tender"] == 2
    assert report["intents"]["unexercised_shares_intended"] == 3000 + 4500
    assert report["signed_forms_received"]["total"] == 1
    assert report["eligible_employees_by_signed_form"] == {
        "tendered": 1,
        "withdrawn": 0,
        "no_signed_form": 1,
        "void": 0,
        "not_acceptable": 0,
    }
    assert report["shares"]["tendered"] == 3000
    assert report["shares"]["tendered_percent"] == round(100 * 3000 / 7800, 2)
    assert report["pending_signatures"]["count"] == 1
    assert report["pending_signatures"]["items"][0]["employee_id"] == "E2"
    assert report["receipt_confirmations"] == {
        "queued": 1,
        "sent": 0,
        "overdue": 0,
        "overdue_items": [],
    }
    assert all(report["checks"].values())
    later = await elections.hr_report(
        uow=seeded, terms=terms, identity=HR, now=NOW + timedelta(days=6)
    )
    assert later["receipt_confirmations"]["overdue"] == 1
    with pytest.raises(NotAuthorizedError):
        await elections.hr_report(
            uow=seeded, terms=terms, identity=employee_identity("E1"), now=NOW
        )


async def test_export_lists_the_grants_of_received_election_forms(seeded, terms) -> None:
    await elect(seeded, terms, ["G2", "G3"])
    await receive(seeded, terms, 1)
    await elect(seeded, terms, ["G5", "G6"], employee_id="E2")  # not received: not exported
    text, rows = await elections.export_csv(uow=seeded, terms=terms, identity=HR)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert rows == 2 == len(parsed)
    assert [r["grant_number"] for r in parsed] == ["G2", "G3"]
    assert parsed[0]["exercise_price"] == "3.33" and parsed[0]["unexercised_shares"] == "1000"
    assert (
        parsed[0]["received_via"] == "hand" and parsed[0]["new_option_grant_date"] == "2004-01-26"
    )


# --- close, splits --------------------------------------------------------------------------------


async def test_close_accepts_received_tenders_once_and_writes_promises(seeded, terms) -> None:
    await elect(seeded, terms, ["G2", "G3"])
    await receive(seeded, terms, 1)
    await elect(seeded, terms, ["G5", "G6"], employee_id="E2")
    await elections.record_withdrawal(
        uow=seeded, terms=terms, employee_id="E2", identity=HR, now=NOW + timedelta(minutes=1)
    )
    await receive(seeded, terms, 2, employee_id="E2", form=FormKind.WITHDRAWAL)
    with pytest.raises(ElectionError, match=DEADLINE_TEXT):
        await close(seeded, terms, identity=HR, now=NOW)
    closed_at = terms.expiration + timedelta(hours=1)
    letters = MemoryLetters()
    result = await close(seeded, terms, identity=HR, now=closed_at, letters=letters)
    assert result.withdrawn == ("E2",) and result.rejected == ()
    (promise,) = result.promises
    assert promise.employee_id == "E1" and promise.newly_accepted == 2
    assert [(line.grant_number, n) for line, n in promise.options] == [("G2", 1000), ("G3", 2000)]
    assert promise.grant_date == date(2004, 1, 26)
    text = pdf_text(letters.files[promise.filename])
    assert "Promise to Grant Stock Option(s)" in text and "Rosalind Ashcombe" in text
    assert "G3 2,000 2,000 250 2007-07-26" in text
    assert "Monday, January 26, 2004" in text
    data = elections.close_json(result, terms, {"E1": "x.pdf"})
    assert data["accepted"][0]["new_option_shares"] == 3000
    assert data["run"]["letters_queued"] == 1
    again = await close(seeded, terms, identity=HR, now=closed_at)
    assert again.promises[0].newly_accepted == 0
    async with seeded:
        accepted = await seeded.accepted.list_all()
        promises = await seeded.outbox.by_kind(MessageKind.PROMISE_TO_GRANT)
    assert sorted(a.line.grant_number for a in accepted) == ["G2", "G3"]
    assert len(promises) == 1  # idempotent
    s = await elections.employee_status(
        uow=seeded, terms=terms, employee_id="E1", identity=HR, now=closed_at
    )
    assert [a["grant_number"] for a in elections.status_json(s, terms)["accepted"]] == ["G2", "G3"]


async def test_a_holder_who_left_before_close_is_not_accepted(seeded, terms) -> None:
    from dataclasses import replace

    from bot.domain.roster import EmployeeStatus

    await elect(seeded, terms, ["G2"])
    await receive(seeded, terms, 1)
    async with seeded:
        e1 = await seeded.employees.get("E1")
        assert e1 is not None
        await seeded.employees.upsert_many([replace(e1, status=EmployeeStatus.TERMINATED)])
        await seeded.commit()
    result = await close(seeded, terms, identity=HR, now=terms.expiration)
    assert result.promises == () and result.rejected[0][0] == "E1"
    assert "employee through the Cancellation Date" in result.rejected[0][1]


async def test_a_reverse_split_changes_new_option_shares_everywhere(seeded, terms) -> None:
    await elect(seeded, terms, ["G2", "G3"])
    await receive(seeded, terms, 1)
    split = await elections.record_split(
        uow=seeded, terms=terms, ratio="1:10", effective=date(2003, 9, 1), identity=HR, now=NOW
    )
    assert split.affects_new_options and split.adjustment.description == "1-for-10 reverse split"
    s = await elections.employee_status(
        uow=seeded, terms=terms, employee_id="E1", identity=HR, now=NOW
    )
    assert elections.status_json(s, terms)["current_intent"]["new_option_shares"] == 300
    report = await elections.hr_report(uow=seeded, terms=terms, identity=HR, now=NOW)
    assert report["shares"]["new_option_shares_tendered"] == 300
    assert report["shares"]["tendered"] == 3000  # old shares do not change
    text, _ = await elections.export_csv(uow=seeded, terms=terms, identity=HR)
    assert [r["new_option_shares"] for r in csv.DictReader(io.StringIO(text))] == ["100", "200"]
    model = elections.model_json(
        await elections.model_options(
            uow=seeded,
            terms=terms,
            employee_id="E1",
            prices=[Decimal(5)],
            new_strikes=[],
            identity=HR,
            now=NOW,
        )
    )
    assert model["new_option_shares"] == 330  # 30 + 100 + 200
    letters = MemoryLetters()
    result = await close(seeded, terms, identity=HR, now=terms.expiration, letters=letters)
    assert sum(n for _, n in result.promises[0].options) == 300
    assert "capitalization adjustments" in pdf_text(letters.files[result.promises[0].filename])
    before_cancel = await elections.record_split(
        uow=seeded, terms=terms, ratio="1:5", effective=date(2003, 7, 1), identity=HR, now=NOW
    )
    assert not before_cancel.affects_new_options
    assert "does not change" in elections.split_json(before_cancel)["message"]
    with pytest.raises(InvalidRequestError, match="already recorded"):
        await elections.record_split(
            uow=seeded, terms=terms, ratio="1:10", effective=date(2003, 9, 1), identity=HR, now=NOW
        )
    for bad in ("ten", "0:5", "3:3", "1:"):
        with pytest.raises(InvalidRequestError):
            parse_ratio(bad)
    async with seeded:
        audit = [e for e in await seeded.audit.recent() if e.action == "offer.split"]
    assert len(audit) == 2 and audit[-1].detail["after"]["ratio"] == "1:10"


# --- neutral modelling ----------------------------------------------------------------------------

RECOMMENDING = re.compile(
    r"\b(should|recommend\w*|advis\w*|better|worse|best|worst|good|bad|wise|smart|favou?rable|"
    r"attractive|suggest\w*|opportunity)\b",
    re.I,
)


async def test_model_is_labelled_factual_and_never_recommends(seeded, terms) -> None:
    result = await elections.model_options(
        uow=seeded,
        terms=terms,
        employee_id="E1",
        prices=[Decimal("5.00"), Decimal("1.00")],
        new_strikes=[Decimal("1.50")],
        identity=HR,
        now=NOW,
        old_vesting_months=48,
    )
    data = elections.model_json(result)
    assert data["label"] == "illustration" and "Illustration only" in data["illustration"]
    at5 = next(v for v in data["values"] if v["price"] == "5.00")
    assert {g["grant_number"]: g["intrinsic_value"] for g in at5["old_grants"]} == {
        "G1": "0.00",
        "G2": "1670.00",
        "G3": "5000.00",
    }
    assert at5["new_option"][0]["intrinsic_value"] == "11550.00"  # (5.00 - 1.50) x 3,300
    at1 = next(v for v in data["values"] if v["price"] == "1.00")
    assert at1["old_grants_total"] == "0.00" and at1["new_option"][0]["intrinsic_value"] == "0.00"
    first, last = data["vesting"][0], data["vesting"][-1]
    assert first["date"] == "2004-01-26" and first["new_option_vested"] == 37 + 125 + 250
    assert last["new_option_vested"] == 3300 and last["old_grants_vested"] == 3300
    reply = elections.model_reply(result)
    words = " ".join(
        [reply.text, *reply.notes, *(c for t in reply.tables for r in t.rows for c in r)]
    )
    assert not RECOMMENDING.search(words), RECOMMENDING.search(words)
    assert not RECOMMENDING.search(str(data))
    default = elections.model_json(
        await elections.model_options(
            uow=seeded,
            terms=terms,
            employee_id="E1",
            prices=[],
            new_strikes=[],
            identity=HR,
            now=NOW,
        )
    )
    assert [v["price"] for v in default["values"]] == ["2.50", "3.33", "29.07"]
    assert default["vesting"][0]["old_grants_vested"] is None
    with pytest.raises(InvalidRequestError):
        await elections.model_options(
            uow=seeded,
            terms=terms,
            employee_id="E1",
            prices=[Decimal(-1)],
            new_strikes=[],
            identity=HR,
            now=NOW,
        )


async def test_close_with_terms_read_before_an_extension_is_refused(seeded, terms) -> None:
    """HR ran `hr close` on the terms it had read; an extension committed meanwhile reopened
    the offer, and the close must see the live date (both take the offer's lock)."""
    await load_offer(uow=seeded, terms=terms, digest="test", now=NOW)
    await elect(seeded, terms, ["G2", "G3"])
    await receive(seeded, terms, 1)
    morning_after = terms.expiration + timedelta(hours=15)  # 8:00 a.m. Pacific, July 25
    await extend_offer(
        uow=seeded,
        base_terms=terms,
        settings=Settings(),
        identity=HR,
        new_expiration=terms.expiration + timedelta(days=14),
        announce=False,
        now=morning_after,
    )
    with pytest.raises(ElectionError, match="August 7, 2003"):
        await close(seeded, terms, identity=HR, now=morning_after)
    async with seeded:
        assert await seeded.accepted.list_all() == []
