"""Company-wide reads in pages (issue 15): the streamed HR report, the roster check of
``offerbot doctor``, the paged audience and the one-query follow-up lookup give what reading
everything at once gave.

``hr report --json`` is compared byte for byte: the HR console's dashboard compares against it.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.elections import Delivery, FormKind
from bot.domain.terms import OfferTerms
from bot.services import elections
from bot.services.elections.reports import export_csv, hr_report, load_snapshot
from bot.services.offer.live_offer import load_offer
from bot.services.roster import audience
from bot.services.roster.audience import eligible_recipients
from knowledge.demo_roster import generate_demo_roster
from knowledge.offer_terms import load_offer_terms
from storage.uow import UnitOfWork
from tests.conftest import seeded_once
from tests.services.elections_setup import HR, NOW

TERMS = load_offer_terms()


@pytest.fixture
async def roster(db_url: str, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch) -> UnitOfWork:
    """600 generated people; 40 eligible ones recorded intents, HR received half of the forms,
    a few withdrew. Pages of 37 people, so every read crosses many page boundaries. (Written
    once per backend, each test reads its own copy: :func:`tests.conftest.seeded_once`.)"""
    monkeypatch.setattr(audience, "PAGE", 37)
    await seeded_once(db_url, "report-streaming", _six_hundred_people)
    return uow


async def _six_hundred_people(uow: UnitOfWork) -> None:
    await load_offer(uow=uow, terms=TERMS, digest="test", now=NOW)
    generated = generate_demo_roster(TERMS, seed=2003, employees=600)
    async with uow:
        await uow.employees.upsert_many(generated.employees)
        await uow.grants.upsert_many(generated.grants)
        await uow.commit()
    snap = await load_snapshot(uow, TERMS)
    eligible = sorted(eid for eid, a in snap.assessments.items() if a.eligible_grants)
    rng = random.Random(15)
    for n, eid in enumerate(rng.sample(eligible, 40)):
        grants = [g.grant.grant_number for g in snap.assessments[eid].eligible_grants]
        at = NOW + timedelta(minutes=n)
        result = await elections.record_intent(
            uow=uow, terms=TERMS, employee_id=eid, grant_numbers=grants, identity=HR, now=at
        )
        version, form = result.intent.version, FormKind.ELECTION
        if n % 7 == 0:
            withdrawn = await elections.record_withdrawal(
                uow=uow, terms=TERMS, employee_id=eid, identity=HR, now=at + timedelta(seconds=1)
            )
            version, form = withdrawn.intent.version, FormKind.WITHDRAWAL
        if n % 2 == 0:
            await elections.record_receipt(
                uow=uow,
                terms=TERMS,
                employee_id=eid,
                form=form,
                version=version,
                received_at=at + timedelta(hours=1),
                via=Delivery.FAX,
                identity=HR,
                now=at + timedelta(hours=1),
            )


def _old_eligible_block(snap: Any) -> dict[str, Any]:
    """The eligible figures exactly as the report computed them before it streamed."""
    eligible = {
        eid: a for eid, a in snap.assessments.items() if a.eligible_person and a.eligible_grants
    }
    return {
        "employees": len(eligible),
        "grants": sum(len(a.eligible_grants) for a in eligible.values()),
        "unexercised_shares": sum(
            g.grant.unexercised_shares for a in eligible.values() for g in a.eligible_grants
        ),
        "new_option_shares": sum(
            g.new_option_shares for a in eligible.values() for g in a.eligible_grants
        ),
    }


async def test_the_streamed_report_is_byte_identical_to_reading_everything(
    roster: UnitOfWork,
) -> None:
    terms: OfferTerms = TERMS
    now = NOW + timedelta(days=1)
    full = await load_snapshot(roster, terms)
    everything = await hr_report(uow=roster, terms=terms, identity=HR, now=now, snapshot=full)
    streamed = await hr_report(uow=roster, terms=terms, identity=HR, now=now)
    assert json.dumps(streamed, indent=2) == json.dumps(everything, indent=2)
    assert streamed["employees"] == 600 == len(full.assessments)
    assert streamed["eligible"] == _old_eligible_block(full)
    assert streamed["intents"]["employees"] == 40
    assert streamed["signed_forms_received"]["total"] == 20
    assert all(streamed["checks"].values())


async def test_the_export_reads_the_same_rows_streamed(roster: UnitOfWork) -> None:
    text, rows = await export_csv(uow=roster, terms=TERMS, identity=HR)
    lines = text.strip().splitlines()
    assert rows == len(lines) - 1 > 0
    tendered = {line.split(",")[0] for line in lines[1:]}
    report = await hr_report(uow=roster, terms=TERMS, identity=HR, now=NOW)
    assert len(tendered) == report["eligible_employees_by_signed_form"]["tendered"]


async def test_the_paged_audience_is_everyone_once_in_order(roster: UnitOfWork) -> None:
    full = await load_snapshot(roster, TERMS)
    async with roster:
        recipients = await eligible_recipients(roster, TERMS, now=NOW)
    expected = sorted(
        eid for eid, a in full.assessments.items() if a.eligible_person and a.eligible_grants
    )
    assert [r.employee_id for r in recipients] == expected


async def test_follow_ups_read_their_people_in_one_call(roster: UnitOfWork) -> None:
    async with roster:
        people = await roster.employees.get_many(["E1001", "E1002", "nobody", "E1001"])
        one = await roster.employees.get("E1002")
    assert sorted(people) == ["E1001", "E1002"] and people["E1002"] == one
