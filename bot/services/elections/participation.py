"""The participation funnel, overall and by the roster's groups (department, location).

One function places each eligible employee on the funnel — eligible → saw their grants →
intent recorded → signed form received → receipt confirmed — and the figures are sums over
those places: the dashboard's funnel, ``hr report``'s ``by_group`` and ``GET /hr/api/report``
add up the same rows, so a group's figures always add up to the whole.

Definitions (eligible employees only): *saw their grants* — a ``grants.view`` audit entry the
employee wrote themselves (Slack, e-mail, console chat; HR looking does not count); *intent
recorded* — any unvoided intent version (shares: those of the latest intent when it tenders);
*signed form received* — any form recorded (shares: the effective, countable Election Form's,
as the report counts them); *receipt confirmed* — the receipt confirmation e-mail was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.domain.elections import IntentKind, latest_intent
from bot.domain.eligibility import PersonAssessment
from bot.domain.roster import Employee
from bot.services.elections.tender_books import Standing, unvoided

if TYPE_CHECKING:
    from bot.services.elections.reports import OfferSnapshot

__all__ = [
    "FUNNEL_STEPS",
    "GROUP_DIMENSIONS",
    "NOT_GIVEN",
    "GroupKey",
    "Place",
    "eligible_shares",
    "funnel",
    "funnel_by_group",
    "group_dimensions",
    "group_key",
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


def eligible_shares(a: PersonAssessment) -> int:
    return sum(g.grant.unexercised_shares for g in a.eligible_grants)


def places(
    snap: OfferSnapshot,
    eligible: Iterable[str],
    *,
    viewed: set[str],
    confirmed: set[str],
    shares: Mapping[str, int] | None = None,
) -> dict[str, Place]:
    """Each eligible employee's place; ``shares``: their eligible shares if the caller keeps
    them (the console, per roster revision), else summed here."""
    result: dict[str, Place] = {}
    moved = snap.intents.keys() | snap.receipts.keys()
    for eid in eligible:
        own = shares[eid] if shares is not None else eligible_shares(snap.assessments[eid])
        if eid not in moved:  # most people: nothing past the first two steps
            result[eid] = Place(own, saw=eid in viewed)
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


def funnel(rows: Iterable[Place]) -> list[dict[str, Any]]:
    """The five steps: ``key``, ``label``, ``people``, ``shares`` and ``percent`` (of the
    eligible people)."""
    people = [0] * 5
    shares = [0] * 5
    for p in rows:
        people[0] += 1
        shares[0] += p.eligible_shares
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


def funnel_by_group(
    placed: Mapping[str, Place], groups: Mapping[str, GroupKey], dimension: str
) -> list[dict[str, Any]]:
    """One entry per group of ``dimension`` (by name; people without a value last, as
    :data:`NOT_GIVEN`): ``group`` and each step's ``people`` and ``shares``. ``groups``: each
    employee's :func:`group_key` (those with neither may be left out)."""
    index = GROUP_DIMENSIONS.index(dimension)
    members: dict[str, list[Place]] = {}
    for eid, place in placed.items():
        key = groups.get(eid)
        name = (key[index] if key else None) or NOT_GIVEN
        members.setdefault(name, []).append(place)
    order = sorted(members, key=lambda n: (n == NOT_GIVEN, n.casefold()))
    return [
        {
            "group": name,
            **{
                s["key"]: {"people": s["people"], "shares": s["shares"]}
                for s in funnel(members[name])
            },
        }
        for name in order
    ]
