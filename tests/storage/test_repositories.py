"""Repositories over real databases: domain objects in and out, exact values, honest counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.records import AuditEntry, OfferState, UpsertCounts
from bot.domain.roster import CapitalizationAdjustment, EmployeeStatus, OptionType
from storage.errors import ConstraintViolationError
from storage.uow import UnitOfWork
from tests.storage.examples import employee, grant

T0 = datetime(2003, 7, 10, 16, tzinfo=UTC)


async def test_offer_state_save_inserts_then_replaces(uow: UnitOfWork) -> None:
    first = OfferState("capstone-2003", T0, T0, "abc", T0)
    extended = replace(first, expiration=T0 + timedelta(days=14), updated_at=T0 + timedelta(1))
    async with uow:
        assert await uow.offers.get("capstone-2003") is None
        await uow.offers.save(first)
        await uow.commit()
    async with uow:
        assert await uow.offers.get("capstone-2003") == first
        await uow.offers.save(extended)
        await uow.commit()
    async with uow:
        assert await uow.offers.get("capstone-2003") == extended


async def test_employee_upsert_counts_inserts_updates_and_unchanged(uow: UnitOfWork) -> None:
    async with uow:
        counts = await uow.employees.upsert_many([employee("E1"), employee("E2")])
        await uow.commit()
    assert counts == UpsertCounts(inserted=2, updated=0, unchanged=0)

    async with uow:
        counts = await uow.employees.upsert_many(
            [employee("E1"), employee("E2", status=EmployeeStatus.LEAVE), employee("E3")]
        )
        await uow.commit()
    assert counts == UpsertCounts(inserted=1, updated=1, unchanged=1)

    async with uow:
        assert await uow.employees.count() == 3
        assert [e.employee_id for e in await uow.employees.list_all()] == ["E1", "E2", "E3"]
        assert await uow.employees.get("E2") == employee("E2", status=EmployeeStatus.LEAVE)
        assert await uow.employees.get("E9") is None


async def test_email_lookup_ignores_case_and_spaces_but_keeps_the_original(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1", email="Ann.Lee@Example.COM")])
        await uow.commit()
    async with uow:
        found = await uow.employees.by_email("  ann.lee@example.com ")
        assert found is not None and found.employee_id == "E1"
        assert found.email == "Ann.Lee@Example.COM"
        assert await uow.employees.by_email("ann.lee@example.org") is None


async def test_changing_only_the_case_of_an_email_is_an_update(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1", email="ann@example.com")])
        counts = await uow.employees.upsert_many([employee("E1", email="Ann@example.com")])
    assert counts.updated == 1


async def test_slack_lookup(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1"), employee("E2", slack_user_id=None)])
        found = await uow.employees.by_slack_user_id("UE1")
        assert found is not None and found.employee_id == "E1"
        assert await uow.employees.by_slack_user_id("UE2") is None


@pytest.mark.parametrize(
    "clash",
    [{"email": "E1@EXAMPLE.com"}, {"slack_user_id": "UE1"}],
    ids=["email", "slack"],
)
async def test_two_employees_cannot_share_an_email_or_slack_id(
    uow: UnitOfWork, clash: dict[str, Any]
) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1")])
        with pytest.raises(ConstraintViolationError):
            await uow.employees.upsert_many([employee("E2", **clash)])


async def test_a_key_twice_in_one_batch_is_refused(uow: UnitOfWork) -> None:
    async with uow:
        with pytest.raises(ValueError, match=r"employee_id appears more than once.*E1"):
            await uow.employees.upsert_many([employee("E1"), employee("E1", name="Other")])
        assert await uow.employees.count() == 0


async def test_existing_ids_across_chunks(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many(employee(f"E{n:04}") for n in range(0, 1200, 2))
        asked = [f"E{n:04}" for n in range(1200)] + ["nobody"]
        found = await uow.employees.existing_ids(asked)
        assert found == {f"E{n:04}" for n in range(0, 1200, 2)}
        assert await uow.employees.existing_ids([]) == set()


@pytest.mark.parametrize("price", ["29.07", "3.33", "0.0001", "1.8900", "99999999.9999"])
async def test_exercise_price_round_trips_exactly(uow: UnitOfWork, price: str) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1")])
        await uow.grants.upsert_many([grant("G1", "E1", exercise_price=Decimal(price))])
        await uow.commit()
    async with uow:
        stored = await uow.grants.get("G1")
    assert stored is not None
    assert isinstance(stored.exercise_price, Decimal)
    assert stored.exercise_price == Decimal(price)
    assert stored.exercise_price.quantize(Decimal("0.0001")) == Decimal(price)


@pytest.mark.parametrize("price", ["1.00005", "100000000", "NaN"])
async def test_a_price_the_column_would_round_is_refused(uow: UnitOfWork, price: str) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1")])
        with pytest.raises(ConstraintViolationError, match="cannot be stored exactly"):
            await uow.grants.upsert_many([grant("G1", "E1", exercise_price=Decimal(price))])


async def test_grants_round_trip_and_come_back_in_date_order(uow: UnitOfWork) -> None:
    later = grant(
        "G-A",
        "E1",
        grant_date=date(2002, 1, 2),
        option_type=OptionType.ISO,
        split_group="S1",
        shares_exercised=250,
        expiration_date=None,
    )
    earlier_b = grant("G-B", "E1", grant_date=date(2000, 3, 1))
    earlier_a = grant("G-C", "E1", grant_date=date(2000, 3, 1), plan="2000 Plan")
    async with uow:
        await uow.employees.upsert_many([employee("E1"), employee("E2")])
        counts = await uow.grants.upsert_many([later, earlier_b, earlier_a, grant("G-Z", "E2")])
        await uow.commit()
    assert counts == UpsertCounts(inserted=4)
    async with uow:
        assert await uow.grants.for_employee("E1") == [earlier_b, earlier_a, later]
        assert await uow.grants.for_employee("E9") == []
        assert await uow.grants.count() == 4
        counts = await uow.grants.upsert_many(
            [later, replace(earlier_b, shares_exercised=10), grant("G-N", "E2")]
        )
    assert counts == UpsertCounts(inserted=1, updated=1, unchanged=1)


async def test_grant_for_an_unknown_employee_is_refused(uow: UnitOfWork) -> None:
    async with uow:
        with pytest.raises(ConstraintViolationError, match="rejected by the database"):
            await uow.grants.upsert_many([grant("G1", "NOBODY")])
    async with uow:
        assert await uow.grants.count() == 0


async def test_roster_sized_upsert_uses_one_select_per_chunk(
    uow: UnitOfWork, db_engine: AsyncEngine
) -> None:
    employees = [employee(f"E{n:04}") for n in range(600)]
    grants = [grant(f"G{n:05}", f"E{n % 600:04}") for n in range(2000)]
    selects: list[str] = []

    def count_selects(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db_engine.sync_engine, "before_cursor_execute", count_selects)
    try:
        async with uow:
            assert await uow.employees.upsert_many(employees) == UpsertCounts(inserted=600)
            assert await uow.grants.upsert_many(grants) == UpsertCounts(inserted=2000)
            await uow.commit()
        assert len(selects) == 2 + 4  # ceil(600/500) + ceil(2000/500)

        selects.clear()
        changed = [*grants[:1999], replace(grants[1999], shares_exercised=1)]
        async with uow:
            assert await uow.employees.upsert_many(employees) == UpsertCounts(unchanged=600)
            assert await uow.grants.upsert_many(changed) == UpsertCounts(updated=1, unchanged=1999)
            await uow.commit()
        assert len(selects) == 2 + 4
    finally:
        event.remove(db_engine.sync_engine, "before_cursor_execute", count_selects)


async def test_adjustments_come_back_oldest_first(uow: UnitOfWork) -> None:
    split = CapitalizationAdjustment(date(2003, 8, 1), 1, 5, "1-for-5 reverse split")
    dividend = CapitalizationAdjustment(date(2001, 2, 1), 3, 2)
    async with uow:
        await uow.adjustments.add(split)
        await uow.adjustments.add(dividend)
        await uow.commit()
    async with uow:
        assert await uow.adjustments.list_all() == [dividend, split]


async def test_audit_entries_are_recorded_and_read_newest_first(uow: UnitOfWork) -> None:
    entries = [
        AuditEntry(T0, "cli", "roster.import", "cli", detail={"employees": {"inserted": 3}}),
        AuditEntry(T0 + timedelta(minutes=1), "U1", "grants.view", "slack", subject="E1"),
        AuditEntry(
            T0 + timedelta(minutes=2),
            "E2",
            "grants.view",
            "console",
            subject="E2",
            detail={"grants": ["G1", "G2"], "note": "ünïcode ✓", "n": None},
        ),
    ]
    async with uow:
        for entry in entries:
            await uow.audit.record(entry)
        await uow.commit()
    async with uow:
        assert await uow.audit.recent() == entries[::-1]
        assert await uow.audit.recent(limit=1) == [entries[2]]
        assert await uow.audit.recent(subject="E1") == [entries[1]]
        assert await uow.audit.recent(subject="E9") == []
        with pytest.raises(ValueError):
            await uow.audit.recent(limit=0)


async def test_unanswered_questions_are_kept_newest_first(uow) -> None:
    from datetime import UTC, datetime

    from bot.domain.records import UnansweredQuestion

    async with uow:
        for minute, text in ((1, "first?"), (2, "second?")):
            await uow.questions.record_unanswered(
                UnansweredQuestion(
                    asked_at=datetime(2003, 7, 10, 16, minute, tzinfo=UTC),
                    channel="slack",
                    actor="U1",
                    question=text,
                    confidence=0.12,
                    best_entry_id="Q21",
                )
            )
        await uow.commit()
    async with uow:
        found = await uow.questions.unanswered()
    assert [q.question for q in found] == ["second?", "first?"]
    assert found[0].id is not None and found[0].confidence == pytest.approx(0.12)
    assert found[0].asked_at == datetime(2003, 7, 10, 16, 2, tzinfo=UTC)
