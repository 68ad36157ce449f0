"""What a valid tender looks like (Offer Q12, p. 2-3; §1, p. 13; §4, p. 15; §6, p. 18).

- "You may only tender all or none of the unexercised shares covered by each option" (Q12);
- split ISO/NSO grants: "you must tender either both or neither of those options" (§1, p. 13);
- only eligible persons' eligible options (§1, p. 13);
- documents received "before 5:00 p.m., Pacific Time, on July 24, 2003" (§4, p. 15).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import combinations
from zoneinfo import ZoneInfo

import pytest

from bot.domain.eligibility import PersonAssessment, assess
from bot.domain.errors import DomainError, OfferClosedError, TenderError
from bot.domain.roster import EmployeeClass, Grant, OptionType
from bot.domain.tender import TenderLine, grants_named_in, split_groups, validate_tender
from bot.domain.terms import OfferTerms

from .examples import employee, grant, q12_grants

PACIFIC = ZoneInfo("America/Los_Angeles")
NOW = datetime(2003, 7, 10, 9, 0, tzinfo=PACIFIC)
EXPIRATION = datetime(2003, 7, 24, 17, 0, tzinfo=PACIFIC)
Q12_SHARES = {"Q12-A": 300, "Q12-B": 1_000, "Q12-C": 2_000}


def assessed(terms: OfferTerms, grants: list[Grant] | tuple[Grant, ...], **person: object):
    return assess(
        employee(**person),  # type: ignore[arg-type]
        grants,
        terms,
        cancellation=date(2003, 7, 25),
        new_grant=date(2004, 1, 26),
    )


@pytest.fixture(scope="module")
def q12(terms: OfferTerms) -> PersonAssessment:
    return assessed(terms, q12_grants())


def split_pair(exercised_iso: int = 0, exercised_nso: int = 0) -> list[Grant]:
    """One 2001 grant divided the same day into an ISO and an NSO part (§1, p. 13)."""
    day = date(2001, 5, 15)
    return [
        grant(
            "S-ISO",
            grant_date=day,
            option_type=OptionType.ISO,
            shares_granted=600,
            shares_exercised=exercised_iso,
            split_group="S",
        ),
        grant(
            "S-NSO",
            grant_date=day,
            option_type=OptionType.NSO,
            shares_granted=400,
            shares_exercised=exercised_nso,
            split_group="S",
        ),
        grant("OTHER", grant_date=date(2002, 1, 10)),
    ]


SUBSETS = [c for k in range(1, 4) for c in combinations(sorted(Q12_SHARES), k)]


class TestQ12Example:
    """Q12, p. 2-3: any one, any two, or all three; "none" is simply not tendering."""

    def test_there_are_seven_non_empty_choices(self) -> None:
        assert len(SUBSETS) == 7

    @pytest.mark.parametrize("subset", SUBSETS, ids="+".join)
    def test_any_non_empty_subset_is_valid(
        self, terms: OfferTerms, q12: PersonAssessment, subset: tuple[str, ...]
    ) -> None:
        selection = validate_tender(list(reversed(subset)), q12, terms, now=NOW)
        assert selection.grant_numbers == subset  # sorted by grant date
        assert selection.unexercised_shares == sum(Q12_SHARES[n] for n in subset)
        assert selection.new_option_shares == sum(Q12_SHARES[n] for n in subset)

    def test_the_empty_tender_is_refused(self, terms: OfferTerms, q12: PersonAssessment) -> None:
        with pytest.raises(TenderError, match="at least one grant"):
            validate_tender([], q12, terms, now=NOW)

    def test_stating_the_unexercised_count_is_accepted(
        self, terms: OfferTerms, q12: PersonAssessment
    ) -> None:
        # "your first option covering 300 remaining unexercised shares"
        selection = validate_tender(
            [TenderLine("Q12-A", 300), TenderLine("Q12-C", 2_000), "Q12-B"], q12, terms, now=NOW
        )
        assert selection.grant_numbers == ("Q12-A", "Q12-B", "Q12-C")
        assert selection.unexercised_shares == 3_300


class TestAllOrNone:
    @pytest.mark.parametrize("shares", [1, 150, 299, 301, 1_000])
    def test_any_other_share_count_is_refused(
        self, terms: OfferTerms, q12: PersonAssessment, shares: int
    ) -> None:
        # 1,000 is the originally granted count, but only 300 remain unexercised.
        with pytest.raises(TenderError) as caught:
            validate_tender([TenderLine("Q12-A", shares)], q12, terms, now=NOW)
        message = str(caught.value)
        assert "partial tenders are not accepted" in message
        assert "all 300 unexercised shares" in message
        assert "or none" in message
        assert "Q12, p. 2" in message


class TestSplitGrant:
    """§1, p. 13; §6, p. 18: the ISO and NSO halves of one grant go together."""

    def test_split_groups_pairs_the_halves(self, terms: OfferTerms) -> None:
        assert split_groups(assessed(terms, split_pair())) == {"S": ("S-ISO", "S-NSO")}

    def test_a_split_group_of_one_is_no_group(self, terms: OfferTerms) -> None:
        alone = [grant("S-ISO", split_group="S"), grant("OTHER")]
        assert split_groups(assessed(terms, alone)) == {}

    def test_both_is_valid(self, terms: OfferTerms) -> None:
        selection = validate_tender(
            ["S-NSO", "S-ISO"], assessed(terms, split_pair()), terms, now=NOW
        )
        assert selection.grant_numbers == ("S-ISO", "S-NSO")
        assert selection.new_option_shares == 1_000

    def test_neither_is_valid(self, terms: OfferTerms) -> None:
        selection = validate_tender(["OTHER"], assessed(terms, split_pair()), terms, now=NOW)
        assert selection.grant_numbers == ("OTHER",)

    @pytest.mark.parametrize(("picked", "missing"), [("S-ISO", "S-NSO"), ("S-NSO", "S-ISO")])
    def test_one_half_is_refused(self, terms: OfferTerms, picked: str, missing: str) -> None:
        with pytest.raises(TenderError) as caught:
            validate_tender([picked, "OTHER"], assessed(terms, split_pair()), terms, now=NOW)
        message = str(caught.value)
        assert "both or neither" in message
        assert "§1, p. 13" in message
        assert f"Add {missing} or remove {picked}" in message

    @pytest.mark.parametrize(
        ("exercised", "left", "shares"),
        [({"exercised_iso": 600}, "S-NSO", 400), ({"exercised_nso": 400}, "S-ISO", 600)],
    )
    def test_a_fully_exercised_half_does_not_block_the_other(
        self, terms: OfferTerms, exercised: dict[str, int], left: str, shares: int
    ) -> None:
        # The exercised half has no unexercised shares left (it cannot be tendered itself:
        # Q12, p. 2), so tendering the other half tenders every unexercised share of the grant.
        person = assessed(terms, split_pair(**exercised))
        selection = validate_tender([left], person, terms, now=NOW)
        assert selection.grant_numbers == (left,)
        assert selection.unexercised_shares == shares

    def test_the_fully_exercised_half_itself_is_refused(self, terms: OfferTerms) -> None:
        person = assessed(terms, split_pair(exercised_iso=600))
        with pytest.raises(TenderError, match="Grant S-ISO cannot be tendered: no unexercised"):
            validate_tender(["S-ISO", "S-NSO"], person, terms, now=NOW)

    def test_a_partly_exercised_half_still_binds_the_pair(self, terms: OfferTerms) -> None:
        person = assessed(terms, split_pair(exercised_iso=599))
        with pytest.raises(TenderError, match="both or neither"):
            validate_tender(["S-NSO"], person, terms, now=NOW)


class TestRefusals:
    def test_ineligible_grant_is_refused_with_its_reason(self, terms: OfferTerms) -> None:
        person = assessed(terms, [*q12_grants(), grant("LOW", exercise_price=Decimal("1.89"))])
        with pytest.raises(TenderError) as caught:
            validate_tender(["Q12-B", "LOW"], person, terms, now=NOW)
        message = str(caught.value)
        assert message.startswith("Grant LOW cannot be tendered")
        assert "below the offer's minimum (Q1, p. 1)" in message

    def test_fully_exercised_grant_is_refused(self, terms: OfferTerms) -> None:
        person = assessed(terms, [grant("DONE", shares_exercised=1_000)])
        with pytest.raises(TenderError, match="no unexercised shares remain"):
            validate_tender(["DONE"], person, terms, now=NOW)

    def test_unknown_grant_is_refused(self, terms: OfferTerms, q12: PersonAssessment) -> None:
        with pytest.raises(TenderError, match="not yours or do not exist: X-9, Z-1"):
            validate_tender(["Q12-A", "Z-1", "X-9"], q12, terms, now=NOW)

    @pytest.mark.parametrize(
        "lines",
        [["Q12-A", "Q12-A"], ["Q12-A", TenderLine("Q12-A", 300)]],
        ids=["twice", "with-and-without-count"],
    )
    def test_duplicate_is_refused(
        self, terms: OfferTerms, q12: PersonAssessment, lines: list[str | TenderLine]
    ) -> None:
        with pytest.raises(TenderError, match="Grant Q12-A is named twice"):
            validate_tender(lines, q12, terms, now=NOW)

    @pytest.mark.parametrize(
        ("person", "why"),
        [
            ({"employee_class": EmployeeClass.EXECUTIVE_OFFICER}, "executive officers"),
            ({"country": "DE"}, "residing in the United States"),
        ],
    )
    def test_ineligible_person_is_refused(
        self, terms: OfferTerms, person: dict[str, object], why: str
    ) -> None:
        with pytest.raises(TenderError) as caught:
            validate_tender(["Q12-A"], assessed(terms, q12_grants(), **person), terms, now=NOW)
        assert "not eligible to take part" in str(caught.value)
        assert why in str(caught.value)

    @pytest.mark.parametrize(
        "now",
        [EXPIRATION, datetime(2003, 7, 25, 0, 0, tzinfo=UTC), EXPIRATION + timedelta(days=1)],
    )
    def test_closed_offer_is_refused_quoting_the_deadline(
        self, terms: OfferTerms, q12: PersonAssessment, now: datetime
    ) -> None:
        with pytest.raises(OfferClosedError) as caught:
            validate_tender(["Q12-A"], q12, terms, now=now)
        assert "5:00 p.m. PDT on Thursday, July 24, 2003" in str(caught.value)

    def test_last_microsecond_is_accepted(self, terms: OfferTerms, q12: PersonAssessment) -> None:
        now = EXPIRATION - timedelta(microseconds=1)
        assert validate_tender(["Q12-A"], q12, terms, now=now).grant_numbers == ("Q12-A",)

    def test_closed_is_reported_before_anything_else(
        self, terms: OfferTerms, q12: PersonAssessment
    ) -> None:
        with pytest.raises(OfferClosedError):
            validate_tender([], q12, terms, now=EXPIRATION)

    def test_every_refusal_is_a_domain_error(self) -> None:
        assert issubclass(TenderError, DomainError)
        assert issubclass(OfferClosedError, DomainError)


def test_grants_named_in_a_message_are_only_the_persons_own(q12: PersonAssessment) -> None:
    """Chat and e-mail name grants in free text ("tender g1 and G3"); only own grants count."""
    numbers = [g.grant.grant_number for g in q12.grants]
    text = f"please tender {numbers[0].lower()} and {numbers[2]}, not X-999"
    assert grants_named_in(text, q12) == [numbers[0], numbers[2]]
    assert grants_named_in("nothing here", q12) == []
