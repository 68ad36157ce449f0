"""``storage.uow.UnitOfWork`` implements the Protocol the services are typed against
(``bot.ports.UnitOfWork``, defined in ``bot/storage_ports.py``).

mypy checks it where the composition root hands it out (``bot.runtime.bootstrap.App.uow`` returns
the Protocol type); this test checks the same at run time, member by member, so a renamed
repository method or a parameter that drifted fails here with its name even when mypy is not
run — and it runs the two repositories that joined the unit of work (``audience``, ``metrics``)
on real databases.
"""

from __future__ import annotations

import ast
import inspect
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import ports, storage_ports
from bot.domain.elections import IntentKind
from storage.uow import UnitOfWork
from tests.storage.examples import employee, grant

NOW = datetime(2003, 6, 1, 17, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _members(protocol: type) -> dict[str, Any]:
    """The members a Protocol declares itself (methods and properties, no Protocol machinery)."""
    return {
        name: value
        for name, value in vars(protocol).items()
        if (not name.startswith("_") or name in ("__aenter__", "__aexit__"))
        and (inspect.isfunction(value) or isinstance(value, property))
    }


def _shape(function: Any) -> list[tuple[str, Any, bool]]:
    """(name, kind, has a default) of each parameter: what a caller may rely on."""
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(function).parameters.values()
    ]


def _mismatches(protocol: type, concrete: type) -> list[str]:
    problems = []
    for name, declared in _members(protocol).items():
        actual = inspect.getattr_static(concrete, name, None)
        where = f"{concrete.__module__}.{concrete.__name__}.{name}"
        if actual is None:
            problems.append(f"{where} is missing")
        elif isinstance(declared, property):
            if not isinstance(actual, property):
                problems.append(f"{where} is not a property")
        elif inspect.iscoroutinefunction(declared) != inspect.iscoroutinefunction(actual):
            problems.append(f"{where}: async in one, not in the other")
        elif _shape(declared) != _shape(actual):
            problems.append(f"{where}{inspect.signature(actual)} ≠ {inspect.signature(declared)}")
    return problems


def _repositories() -> list[tuple[str, type, type]]:
    """(property, repository Protocol, concrete repository) for each repository of the uow."""
    declared = typing.get_type_hints(storage_ports.UnitOfWork.offers.fget)  # resolves names
    assert declared["return"] is storage_ports.OfferStates
    pairs = []
    for name, member in _members(storage_ports.UnitOfWork).items():
        if isinstance(member, property):
            protocol = typing.get_type_hints(member.fget)["return"]
            concrete = typing.get_type_hints(getattr(UnitOfWork, name).fget)["return"]
            pairs.append((name, protocol, concrete))
    return pairs


def _untyped_uows(folder: Path) -> list[str]:
    """Parameters and fields named ``uow`` not typed as the Protocol (``Any``, ``object``,
    no annotation): there mypy would check nothing."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named: list[tuple[str, ast.expr | None, int]] = []
            if isinstance(node, ast.arg) and node.arg == "uow":
                named.append((node.arg, node.annotation, node.lineno))
            elif isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "uow":
                named.append(("uow", node.annotation, node.lineno))
            for _, annotation, line in named:
                text = ast.unparse(annotation) if annotation is not None else "(none)"
                if text not in ("UnitOfWork", "ports.UnitOfWork"):
                    found.append(f"{path.relative_to(ROOT)}:{line}: uow: {text}")
    return found


def test_services_take_the_typed_unit_of_work() -> None:
    """Issue 14: no ``uow: Any`` left in ``bot/`` (66 parameters and fields had it)."""
    assert _untyped_uows(ROOT / "bot") == []


def test_the_protocol_is_the_one_services_import() -> None:
    assert ports.UnitOfWork is storage_ports.UnitOfWork


def test_the_unit_of_work_has_every_member_of_the_protocol() -> None:
    assert _mismatches(storage_ports.UnitOfWork, UnitOfWork) == []


@pytest.mark.parametrize(
    ("name", "protocol", "concrete"), _repositories(), ids=[p[0] for p in _repositories()]
)
def test_each_repository_matches_its_protocol(name: str, protocol: type, concrete: type) -> None:
    assert _members(protocol), f"uow.{name}: {protocol.__name__} declares nothing"
    assert _mismatches(protocol, concrete) == []


def test_a_drifted_repository_is_caught() -> None:
    """The check itself: a missing method, a renamed keyword and a sync method are reported."""

    class Drifted:
        async def get(self, offer_id: str) -> None: ...

        async def lock(self, offer: str) -> None: ...

        def save(self, state: object) -> None: ...

    assert _mismatches(storage_ports.OfferStates, Drifted) == [
        "tests.storage.test_uow_contract.Drifted.lock(self, offer: 'str') -> 'None' ≠ "
        "(self, offer_id: 'str') -> 'OfferState | None'",
        "tests.storage.test_uow_contract.Drifted.save: async in one, not in the other",
    ]
    assert "is missing" in _mismatches(storage_ports.Jobs, Drifted)[0]


async def test_audience_and_metrics_read_through_the_unit_of_work(uow: UnitOfWork) -> None:
    async with uow:
        await uow.employees.upsert_many([employee("E1"), employee("E2")])
        await uow.grants.upsert_many([grant("G1", "E1")])
        await uow.commit()
    async with uow:
        await uow.metrics.ping()
        counts = await uow.metrics.counts(now=NOW)
        people = sorted(e.employee_id for e in await uow.audience.employees())
        grants = [g.grant_number for g in await uow.audience.grants()]
        heads = await uow.audience.intent_heads()
    assert people == ["E1", "E2"] and grants == ["G1"] and heads == []
    assert counts.intents.get(IntentKind.TENDER.value, 0) == 0 and counts.abstentions == 0
