"""The bulk employee/grant upsert behind the roster import: both ways of reading the stored
rows agree, writes go in pages with progress, and entities already loaded stay current."""

from __future__ import annotations

from dataclasses import replace

import pytest

import storage.repositories as repositories
from bot.domain.records import UpsertCounts
from bot.domain.roster import EmployeeStatus
from storage.errors import ConstraintViolationError
from storage.models import EmployeeRow, GrantRow
from storage.uow import UnitOfWork
from tests.storage.examples import employee, grant


@pytest.fixture(params=["by chunk", "whole table"])
def lookup(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with SELECT … IN by chunk, once reading the whole table."""
    if request.param == "whole table":
        monkeypatch.setattr(repositories, "WHOLE_TABLE_AT", 1)
    else:
        monkeypatch.setattr(repositories, "CHUNK", 2)
    return str(request.param)


async def test_counts_agree_whichever_way_stored_rows_are_read(
    uow: UnitOfWork, lookup: str
) -> None:
    people = [employee(f"E{n}") for n in range(5)]
    grants = [grant(f"G{n}", f"E{n % 5}") for n in range(7)]
    async with uow:
        await uow.employees.upsert_many(people[:3])  # E3, E4 are new below
        await uow.commit()
    edited = [replace(people[0], name="Renamed"), *people[1:]]
    async with uow:
        assert await uow.employees.upsert_many(edited) == UpsertCounts(
            inserted=2, updated=1, unchanged=2
        )
        assert await uow.grants.upsert_many(grants) == UpsertCounts(inserted=7)
        await uow.commit()
    async with uow:
        assert await uow.employees.upsert_many(edited) == UpsertCounts(unchanged=5)
        assert await uow.grants.upsert_many(grants) == UpsertCounts(unchanged=7)
        e0 = await uow.employees.get("E0")
        assert await uow.grants.for_employee("E1") == [grants[1], grants[6]]
    assert e0 == edited[0]


async def test_progress_adds_up_to_the_rows_given_page_by_page(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repositories, "WRITE_PAGE", 2)
    people = [employee(f"E{n}") for n in range(5)]
    async with uow:
        await uow.employees.upsert_many(people[:2])
        ticks: list[int] = []
        changed = [replace(people[0], country="GB"), *people[1:]]
        counts = await uow.employees.upsert_many(changed, progress=ticks.append)
    assert counts == UpsertCounts(inserted=3, updated=1, unchanged=1)
    assert ticks == [1, 2, 1, 1]  # unchanged, two insert pages, one update page


async def test_an_entity_held_by_the_session_sees_the_update(uow: UnitOfWork) -> None:
    """Rows are updated by SQL, not through the ORM: an entity this session still holds (the
    identity map keeps only referenced ones) must not go on showing the old values."""
    async with uow:
        await uow.employees.upsert_many([employee("E1")])
        await uow.grants.upsert_many([grant("G1", "E1")])
        await uow.commit()
    async with uow:
        held_employee = await uow.session.get(EmployeeRow, "E1")
        held_grant = await uow.session.get(GrantRow, "G1")
        left = employee("E1", status=EmployeeStatus.TERMINATED, email="New@Example.com")
        await uow.employees.upsert_many([left])
        await uow.grants.upsert_many([grant("G1", "E1", shares_exercised=10)])
        assert held_employee is not None and held_grant is not None
        assert (held_employee.status, held_employee.email_normalized) == (
            "terminated",
            "new@example.com",
        )
        assert held_grant.shares_exercised == 10
        assert await uow.employees.get("E1") == left
        assert await uow.employees.by_email("new@example.com") == left
        await uow.commit()
    async with uow:
        assert await uow.employees.get("E1") == left


async def test_an_update_refused_by_the_database_names_the_constraint(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1"), employee("E2")])
        await uow.commit()
    async with uow:
        with pytest.raises(ConstraintViolationError, match="rejected by the database"):
            await uow.employees.upsert_many([employee("E2", email="e1@example.com")])
    async with uow:
        stored = await uow.employees.get("E2")
    assert stored == employee("E2")


async def test_list_all_returns_every_employee_in_id_order(uow: UnitOfWork) -> None:
    people = [employee("E2"), employee("E1", slack_user_id=None), employee("E3")]
    async with uow:
        await uow.employees.upsert_many(people)
        assert await uow.employees.list_all() == sorted(people, key=lambda e: e.employee_id)
