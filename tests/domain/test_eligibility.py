"""Who may tender, and which grants (Offer Q1-Q3, p. 1; §1, p. 13; Q12, p. 2-3).

Eligible persons "(i) reside in the United States, (ii) hold their options as of the
Commencement Date and through the Cancellation Date and (iii) are non-executive employees"
(§1, p. 13). Eligible options are "outstanding, unexercised options ... with exercise prices
equal to or greater than $2.00 per share issued under our 1993 Incentive Stock Plan or our
2000 Equity Plan" (Q1, p. 1).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.domain.eligibility import REASON_TEXT, Reason, assess, assess_grant, person_reasons
from bot.domain.roster import CapitalizationAdjustment, EmployeeClass, EmployeeStatus
from bot.domain.terms import OfferTerms

from .examples import PLAN_1993, PLAN_2000, employee, grant, q12_grants

CANCELLATION = date(2003, 7, 25)  # cover, p. i
NEW_GRANT = date(2004, 1, 26)  # Q8, p. 2


def grant_reasons_of(terms: OfferTerms, **changes: object) -> tuple[Reason, ...]:
    assessed = assess_grant(
        grant(**changes),  # type: ignore[arg-type]
        terms,
        person=(),
        cancellation=CANCELLATION,
        new_grant=NEW_GRANT,
    )
    return assessed.reasons


class TestReasonCodes:
    def test_codes_are_the_documented_strings(self) -> None:
        assert {r.value for r in Reason} == {
            "executive_officer",
            "executive_management",
            "director",
            "consultant",
            "not_us_resident",
            "not_active",
            "exercise_price_below_minimum",
            "plan_not_eligible",
            "no_unexercised_shares",
            "granted_after_commencement",
            "expires_before_cancellation",
        }

    @pytest.mark.parametrize("reason", list(Reason))
    def test_every_reason_explains_itself_with_a_page(self, reason: Reason) -> None:
        assert "p. " in REASON_TEXT[reason]


class TestPerson:
    """Q2, p. 1; §1, p. 13: non-executive employees residing in the United States."""

    def test_active_us_employee_is_eligible(self, terms: OfferTerms) -> None:
        assert person_reasons(employee(), terms) == ()

    def test_employee_on_leave_stays_eligible(self, terms: OfferTerms) -> None:
        # On leave is still an employee through the Cancellation Date.
        assert person_reasons(employee(status=EmployeeStatus.LEAVE), terms) == ()

    @pytest.mark.parametrize(
        ("employee_class", "reason"),
        [
            (EmployeeClass.EXECUTIVE_OFFICER, Reason.EXECUTIVE_OFFICER),
            (EmployeeClass.EXECUTIVE_MANAGEMENT, Reason.EXECUTIVE_MANAGEMENT),
            (EmployeeClass.DIRECTOR, Reason.DIRECTOR),
            (EmployeeClass.CONSULTANT, Reason.CONSULTANT),
        ],
    )
    def test_excluded_classes(
        self, terms: OfferTerms, employee_class: EmployeeClass, reason: Reason
    ) -> None:
        assert person_reasons(employee(employee_class=employee_class), terms) == (reason,)

    def test_outside_the_united_states(self, terms: OfferTerms) -> None:
        # Q3, p. 1: "MAY ELIGIBLE PERSONS OUTSIDE THE UNITED STATES PARTICIPATE? No."
        assert person_reasons(employee(country="GB"), terms) == (Reason.NOT_US_RESIDENT,)

    def test_country_code_case_does_not_matter(self, terms: OfferTerms) -> None:
        assert person_reasons(employee(country="us"), terms) == ()

    def test_terminated_is_not_active(self, terms: OfferTerms) -> None:
        assert person_reasons(employee(status=EmployeeStatus.TERMINATED), terms) == (
            Reason.NOT_ACTIVE,
        )

    def test_all_reasons_are_reported_together(self, terms: OfferTerms) -> None:
        person = employee(
            employee_class=EmployeeClass.DIRECTOR,
            country="CA",
            status=EmployeeStatus.TERMINATED,
        )
        assert person_reasons(person, terms) == (
            Reason.DIRECTOR,
            Reason.NOT_US_RESIDENT,
            Reason.NOT_ACTIVE,
        )


class TestGrant:
    def test_typical_grant_is_eligible(self, terms: OfferTerms) -> None:
        assert grant_reasons_of(terms) == ()

    @pytest.mark.parametrize("price", ["2.00", "2", "2.000", "29.07"])
    def test_two_dollars_or_more_is_eligible(self, terms: OfferTerms, price: str) -> None:
        # Q1, p. 1: "equal to or greater than $2.00 per share".
        assert grant_reasons_of(terms, exercise_price=Decimal(price)) == ()

    @pytest.mark.parametrize("price", ["1.99", "1.89", "1.999", "0.59"])
    def test_below_two_dollars_is_not(self, terms: OfferTerms, price: str) -> None:
        assert grant_reasons_of(terms, exercise_price=Decimal(price)) == (
            Reason.PRICE_BELOW_MINIMUM,
        )

    @pytest.mark.parametrize("plan", [PLAN_1993, PLAN_2000])
    def test_eligible_plans(self, terms: OfferTerms, plan: str) -> None:
        assert grant_reasons_of(terms, plan=plan) == ()

    @pytest.mark.parametrize("plan", ["Non-Plan Grant", "2002 Employee Stock Purchase Plan"])
    def test_other_plans(self, terms: OfferTerms, plan: str) -> None:
        assert grant_reasons_of(terms, plan=plan) == (Reason.PLAN_NOT_ELIGIBLE,)

    def test_fully_exercised_grant_has_nothing_to_tender(self, terms: OfferTerms) -> None:
        assert grant_reasons_of(terms, shares_granted=1_000, shares_exercised=1_000) == (
            Reason.NO_UNEXERCISED_SHARES,
        )

    def test_partially_exercised_grant_is_eligible(self, terms: OfferTerms) -> None:
        # Q12, p. 2: "you may tender the remaining portion of an option that you have
        # partially exercised".
        assert grant_reasons_of(terms, shares_granted=1_000, shares_exercised=999) == ()

    def test_granted_on_the_commencement_date_is_held_on_it(self, terms: OfferTerms) -> None:
        assert grant_reasons_of(terms, grant_date=date(2003, 6, 25)) == ()

    def test_granted_after_commencement(self, terms: OfferTerms) -> None:
        # §1, p. 13: "hold their options as of the Commencement Date".
        assert grant_reasons_of(terms, grant_date=date(2003, 6, 26)) == (
            Reason.GRANTED_AFTER_COMMENCEMENT,
        )

    def test_expires_during_the_offer(self, terms: OfferTerms) -> None:
        assert grant_reasons_of(terms, expiration_date=date(2003, 7, 10)) == (
            Reason.EXPIRES_BEFORE_CANCELLATION,
        )

    def test_expiring_on_the_cancellation_date_is_not_held_through_it(
        self, terms: OfferTerms
    ) -> None:
        # §1, p. 13: options held "through the Cancellation Date"; one that lapses on July 25
        # is not. The rule uses ``<=``.
        assert grant_reasons_of(terms, expiration_date=CANCELLATION) == (
            Reason.EXPIRES_BEFORE_CANCELLATION,
        )
        assert grant_reasons_of(terms, expiration_date=date(2003, 7, 26)) == ()

    def test_no_expiration_recorded_is_not_a_reason(self, terms: OfferTerms) -> None:
        assert grant_reasons_of(terms, expiration_date=None) == ()

    def test_every_grant_reason_is_reported_in_order(self, terms: OfferTerms) -> None:
        assert grant_reasons_of(
            terms,
            plan="Non-Plan Grant",
            exercise_price=Decimal("1.50"),
            shares_exercised=1_000,
            grant_date=date(2003, 7, 1),
            expiration_date=date(2003, 7, 20),
        ) == (
            Reason.PLAN_NOT_ELIGIBLE,
            Reason.PRICE_BELOW_MINIMUM,
            Reason.NO_UNEXERCISED_SHARES,
            Reason.GRANTED_AFTER_COMMENCEMENT,
            Reason.EXPIRES_BEFORE_CANCELLATION,
        )


class TestAssess:
    def test_q12_example_holder(self, terms: OfferTerms) -> None:
        """Q12, p. 2-3: 300 unexercised of 1,000 @ $29.07, 1,000 @ $3.33 and 2,000 @ $2.50."""
        first, second, third = q12_grants()
        assessed = assess(
            employee(),
            [third, first, second],
            terms,
            cancellation=CANCELLATION,
            new_grant=NEW_GRANT,
        )
        assert assessed.eligible_person
        assert [g.grant.grant_number for g in assessed.grants] == ["Q12-A", "Q12-B", "Q12-C"]
        assert [g.grant.unexercised_shares for g in assessed.eligible_grants] == [300, 1_000, 2_000]
        # Q7, p. 2: one new share for one old share.
        assert [g.new_option_shares for g in assessed.eligible_grants] == [300, 1_000, 2_000]
        assert set(assessed.by_number()) == {"Q12-A", "Q12-B", "Q12-C"}

    def test_ineligible_person_makes_every_grant_ineligible(self, terms: OfferTerms) -> None:
        assessed = assess(
            employee(employee_class=EmployeeClass.CONSULTANT),
            q12_grants(),
            terms,
            cancellation=CANCELLATION,
            new_grant=NEW_GRANT,
        )
        assert not assessed.eligible_person
        assert assessed.reasons == (Reason.CONSULTANT,)
        assert assessed.eligible_grants == ()
        assert all(g.reasons == (Reason.CONSULTANT,) for g in assessed.grants)
        assert all(g.new_option_shares == 0 for g in assessed.grants)

    def test_person_reasons_come_before_grant_reasons(self, terms: OfferTerms) -> None:
        assessed = assess(
            employee(country="JP"),
            [grant(exercise_price=Decimal("1.89"))],
            terms,
            cancellation=CANCELLATION,
            new_grant=NEW_GRANT,
        )
        assert assessed.grants[0].reasons == (Reason.NOT_US_RESIDENT, Reason.PRICE_BELOW_MINIMUM)
        assert not assessed.grants[0].eligible

    def test_mixed_grants(self, terms: OfferTerms) -> None:
        cheap = grant("LOW", grant_date=date(2002, 9, 1), exercise_price=Decimal("1.89"))
        assessed = assess(
            employee(),
            [*q12_grants(), cheap],
            terms,
            cancellation=CANCELLATION,
            new_grant=NEW_GRANT,
        )
        assert [g.grant.grant_number for g in assessed.eligible_grants] == [
            "Q12-A",
            "Q12-B",
            "Q12-C",
        ]
        assert assessed.by_number()["LOW"].reasons == (Reason.PRICE_BELOW_MINIMUM,)
        assert assessed.by_number()["LOW"].new_option_shares == 0

    def test_reverse_split_after_cancellation_is_applied(self, terms: OfferTerms) -> None:
        # Q7, p. 2: adjusted for reverse splits between cancellation and grant; 1-for-5.
        split = CapitalizationAdjustment(
            effective_date=date(2003, 10, 1), numerator=1, denominator=5
        )
        assessed = assess(
            employee(),
            q12_grants(),
            terms,
            cancellation=CANCELLATION,
            new_grant=NEW_GRANT,
            adjustments=[split],
        )
        assert [g.new_option_shares for g in assessed.eligible_grants] == [60, 200, 400]
