"""What a valid tender looks like (Offer Q12, p. 2; §1, p. 13; §4, p. 15).

- whole grants only: "all or none of the unexercised shares covered by each option" (Q12, p. 2);
- a grant split the same day into an ISO and an NSO part: "you must tender either both or
  neither of those options" (§1, p. 13);
- only eligible grants of an eligible person (§1, p. 13);
- only while the offer is open: before 5:00 p.m. Pacific on the expiration date (§4, p. 15).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.deadlines import ensure_open
from bot.domain.eligibility import REASON_TEXT, PersonAssessment
from bot.domain.errors import TenderError
from bot.domain.terms import OfferTerms

__all__ = [
    "TenderLine",
    "TenderSelection",
    "grants_named_in",
    "split_groups",
    "validate_tender",
]


@dataclass(frozen=True, slots=True)
class TenderLine:
    """One grant named in a tender; ``shares`` is what the person wrote, if anything."""

    grant_number: str
    shares: int | None = None


@dataclass(frozen=True, slots=True)
class TenderSelection:
    """A validated tender: grant numbers in a stable order, with their share counts."""

    grant_numbers: tuple[str, ...]
    unexercised_shares: int
    new_option_shares: int


_GRANT_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def grants_named_in(text: str, assessment: PersonAssessment) -> list[str]:
    """The person's own grant numbers that a message names ("tender G00002 and g00003")."""
    tokens = {t.upper() for t in _GRANT_TOKEN.findall(text)}
    return [
        g.grant.grant_number for g in assessment.grants if g.grant.grant_number.upper() in tokens
    ]


def split_groups(assessment: PersonAssessment) -> dict[str, tuple[str, ...]]:
    """ISO/NSO halves of one split grant, keyed by split group, grant numbers sorted."""
    groups: dict[str, list[str]] = defaultdict(list)
    for g in assessment.grants:
        if g.grant.split_group:
            groups[g.grant.split_group].append(g.grant.grant_number)
    return {k: tuple(sorted(v)) for k, v in groups.items() if len(v) > 1}


def validate_tender(
    lines: Iterable[TenderLine | str],
    assessment: PersonAssessment,
    terms: OfferTerms,
    *,
    now: datetime,
) -> TenderSelection:
    """Check a tender against every rule above; raise a :class:`DomainError` naming the rule."""
    ensure_open(terms, now)
    if not assessment.eligible_person:
        why = "; ".join(REASON_TEXT[r] for r in assessment.reasons)
        raise TenderError(f"You are not eligible to take part in this offer: {why}.")
    requested = [TenderLine(x) if isinstance(x, str) else x for x in lines]
    if not requested:
        raise TenderError("Name at least one grant to tender (to tender nothing, do nothing).")
    by_number = assessment.by_number()
    chosen: dict[str, TenderLine] = {}
    for line in requested:
        if line.grant_number in chosen:
            raise TenderError(f"Grant {line.grant_number} is named twice.")
        chosen[line.grant_number] = line
    unknown = sorted(n for n in chosen if n not in by_number)
    if unknown:
        raise TenderError(f"These grants are not yours or do not exist: {', '.join(unknown)}.")
    for number, line in chosen.items():
        grant = by_number[number]
        if not grant.eligible:
            why = "; ".join(REASON_TEXT[r] for r in grant.reasons)
            raise TenderError(f"Grant {number} cannot be tendered: {why}.")
        if line.shares is not None and line.shares != grant.grant.unexercised_shares:
            raise TenderError(
                f"Grant {number}: partial tenders are not accepted. You may tender all "
                f"{grant.grant.unexercised_shares:,} unexercised shares of this grant or none "
                "(Q12, p. 2)."
            )
    for group in split_groups(assessment).values():
        # A fully exercised half has nothing left to tender (Q12, p. 2): tendering the other
        # half already tenders every unexercised share of the grant, so it does not block it.
        members = tuple(m for m in group if by_number[m].grant.unexercised_shares > 0)
        picked = [m for m in members if m in chosen]
        if picked and len(picked) != len(members):
            missing = [m for m in members if m not in chosen]
            raise TenderError(
                f"Grants {' and '.join(members)} were granted the same day as an incentive and "
                f"a non-statutory part of one grant: tender both or neither (§1, p. 13). "
                f"Add {', '.join(missing)} or remove {', '.join(picked)}."
            )
    numbers = tuple(sorted(chosen, key=lambda n: (by_number[n].grant.grant_date, n)))
    return TenderSelection(
        grant_numbers=numbers,
        unexercised_shares=sum(by_number[n].grant.unexercised_shares for n in numbers),
        new_option_shares=sum(by_number[n].new_option_shares for n in numbers),
    )
