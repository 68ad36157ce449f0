"""The participation funnel, overall and by the roster's groups (department, location).

Everyone eligible stands on the first step, counted with the roster's totals (people and
shares, overall and per group); one function places those who got further — eligible → saw
their grants → intent recorded → signed form received → receipt confirmed — and the figures are
sums over those places. The dashboard's funnel, ``hr report``'s ``by_group`` and
``GET /hr/api/report`` add up the same places, so a group's figures always add up to the whole.

Definitions (eligible employees only): *saw their grants* — a ``grants.view`` audit entry the
employee wrote themselves (Slack, e-mail, console chat; HR looking does not count); *intent
recorded* — any unvoided intent version (shares: those of the latest intent when it tenders);
*signed form received* — any form recorded (shares: the effective, countable Election Form's,
as the report counts them); *receipt confirmed* — the receipt confirmation e-mail was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.elections import ElectionIntent, FormReceipt, IntentKind, latest_intent
from bot.domain.roster import Employee
from bot.services.elections.tender_books import Standing, TenderStanding, Void, unvoided


class OfferSnapshot(Protocol):
    """What the funnel reads of ``bot.services.elections.reports.OfferSnapshot`` (named here,
    not imported: the report imports this module)."""

    @property
    def intents(self) -> dict[str, list[ElectionIntent]]: ...
    @property
    def receipts(self) -> dict[str, list[FormReceipt]]: ...
    @property
    def voids(self) -> dict[str, Void]: ...
    def standing(self, employee_id: str) -> TenderStanding: ...


__all__ = [
    "FUNNEL_STEPS",
    "GROUP_DIMENSIONS",
    "NOT_GIVEN",
    "GroupKey",
    "Place",
    "eligible_by_group",
    "funnel",
    "funnel_by_group",
    "group_dimensions",
    "group_key",
    "group_name",
    "group_order",
    "places",
]

FUNNEL_STEPS = (
    ("eligible", "Eligible"),
    ("saw_grants", "Saw their grants"),
    ("intent_recorded", "Intent recorded"),
    ("form_received", "Signed form received"),
    ("receipt_confirmed", "Receipt confirmed"),
)
# The roster columns figures are broken down by (employees.csv, optional), in the order of
# :func:`group_key`'s pair.
GROUP_DIMENSIONS = ("department", "location")
GroupKey = tuple[str | None, str | None]


def group_key(e: Employee) -> GroupKey:
    return (e.department, e.location)


NOT_GIVEN = "(not given)"  # people whose row leaves the column empty


def group_name(key: GroupKey | None, index: int) -> str:
    """The group of ``GROUP_DIMENSIONS[index]`` a :func:`group_key` names (:data:`NOT_GIVEN`
    for no key or an empty column)."""
    return (key[index] if key else None) or NOT_GIVEN


def group_order(name: str) -> tuple[bool, str]:
    """Sort key of group names wherever they are listed: by name, :data:`NOT_GIVEN` last."""
    return name == NOT_GIVEN, name.casefold()


@dataclass(frozen=True, slots=True)
class Place:
    """How far one eligible employee has come, in people (flags) and shares."""

    eligible_shares: int
    saw: bool = False
    intended: bool = False
    intent_shares: int = 0  # of the latest intent when it tenders
    received: bool = False
    received_shares: int = 0  # of the effective Election Form when it counts
    confirmed: bool = False


def places(
    snap: OfferSnapshot,
    eligible: Iterable[str],
    *,
    viewed: set[str],
    confirmed: set[str],
    shares: Mapping[str, int],
) -> dict[str, Place]:
    """The places of the eligible employees who got past the first step (looked at their
    grants, recorded an intent or sent a form). Everyone else is only eligible, which the
    roster's totals already count: at 20,000 people a place for each cost more than the rest
    of the dashboard. ``shares``: each eligible employee's eligible unexercised shares."""
    result: dict[str, Place] = {}
    moved = snap.intents.keys() | snap.receipts.keys()
    for eid in sorted((viewed | moved).intersection(eligible)):
        own = shares[eid]
        if eid not in moved:
            result[eid] = Place(own, saw=True)
            continue
        latest = latest_intent(unvoided(snap.intents.get(eid, []), snap.voids.get(eid)))
        received = eid in snap.receipts
        received_shares = 0
        if received:
            standing = snap.standing(eid)
            effective = standing.effective
            if standing.standing is Standing.TENDERED and effective is not None:
                received_shares = effective.intent.unexercised_shares
        result[eid] = Place(
            own,
            saw=eid in viewed,
            intended=latest is not None,
            intent_shares=latest.unexercised_shares
            if latest is not None and latest.kind is IntentKind.TENDER
            else 0,
            received=received,
            received_shares=received_shares,
            confirmed=received and eid in confirmed,
        )
    return result


def funnel(eligible: tuple[int, int], rows: Iterable[Place]) -> list[dict[str, Any]]:
    """The five steps: ``key``, ``label``, ``people``, ``shares`` and ``percent`` (of the
    eligible people). ``eligible``: (people, shares) of everyone eligible; ``rows``: the
    places of those of them who got further (:func:`places`)."""
    people = [eligible[0], 0, 0, 0, 0]
    shares = [eligible[1], 0, 0, 0, 0]
    for p in rows:
        if p.saw:
            people[1] += 1
            shares[1] += p.eligible_shares
        if p.intended:
            people[2] += 1
            shares[2] += p.intent_shares
        if p.received:
            people[3] += 1
            shares[3] += p.received_shares
            if p.confirmed:
                people[4] += 1
                shares[4] += p.received_shares
    top = max(people[0], 1)
    return [
        {
            "key": key,
            "label": label,
            "people": n,
            "shares": s,
            "percent": round(100 * n / top, 1),
        }
        for (key, label), n, s in zip(FUNNEL_STEPS, people, shares, strict=True)
    ]


def group_dimensions(groups: Iterable[GroupKey]) -> list[str]:
    """The group columns at least one of ``groups`` has a value in."""
    found = [False] * len(GROUP_DIMENSIONS)
    for key in groups:
        for i, value in enumerate(key):
            found[i] = found[i] or bool(value)
        if all(found):
            break
    return [name for name, present in zip(GROUP_DIMENSIONS, found, strict=True) if present]


def eligible_by_group(
    groups: Mapping[str, GroupKey], shares: Mapping[str, int]
) -> dict[str, dict[str, tuple[int, int]]]:
    """Per dimension with a value somewhere, per group: (eligible people, their shares).
    ``shares``: every eligible employee's; ``groups``: the keys of those who have one."""
    result: dict[str, dict[str, tuple[int, int]]] = {}
    present = group_dimensions(groups.values())
    for index, dimension in enumerate(GROUP_DIMENSIONS):
        if dimension not in present:
            continue
        people: dict[str, int] = {}
        total: dict[str, int] = {}
        for eid, own in shares.items():
            name = group_name(groups.get(eid), index)
            people[name] = people.get(name, 0) + 1
            total[name] = total.get(name, 0) + own
        result[dimension] = {name: (people[name], total[name]) for name in people}
    return result


def funnel_by_group(
    eligible: Mapping[str, tuple[int, int]],
    placed: Mapping[str, Place],
    groups: Mapping[str, GroupKey],
    dimension: str,
) -> list[dict[str, Any]]:
    """One entry per group of ``dimension`` (by name; people without a value last, as
    :data:`NOT_GIVEN`): ``group`` and each step's ``people`` and ``shares``. ``eligible``: the
    group's (people, shares) from :func:`eligible_by_group`; ``groups``: each employee's
    :func:`group_key` (those with neither may be left out)."""
    index = GROUP_DIMENSIONS.index(dimension)
    members: dict[str, list[Place]] = {}
    for eid, place in placed.items():
        members.setdefault(group_name(groups.get(eid), index), []).append(place)
    order = sorted(eligible, key=group_order)
    return [
        {
            "group": name,
            **{
                s["key"]: {"people": s["people"], "shares": s["shares"]}
                for s in funnel(eligible[name], members.get(name, ()))
            },
        }
        for name in order
    ]
