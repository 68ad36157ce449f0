"""The election state machine and the receipt rules (Offer Q21-Q23, p. 5-6; §4-§6, p. 15-19)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.domain.elections import (
    Delivery,
    ElectionIntent,
    FormKind,
    FormReceipt,
    IntentKind,
    IntentLine,
    Step,
    Transition,
    check_receipt,
    effective_election,
    ensure_closed,
    latest_intent,
    next_steps,
    next_tender,
    next_withdrawal,
)
from bot.domain.errors import ElectionError, OfferClosedError, ReceiptError
from bot.domain.modelling import (
    intrinsic_value,
    sample_dates,
    straight_line_vested,
    vested_on,
)
from bot.domain.new_option import vesting_schedule
from bot.domain.terms import OfferTerms
from tests.domain.examples import grant

OPEN = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)  # 9:00 a.m. PDT, inside the window
DEADLINE_TEXT = "5:00 p.m. PDT on Thursday, July 24, 2003"
LINE = IntentLine.of(grant("G1"))
LINE2 = IntentLine.of(grant("G2", exercise_price=Decimal("3.33")))


def tender(history, lines=(LINE,), terms=None, now=OPEN):
    return next_tender(
        history, lines, employee_id="E100", terms=terms, now=now, actor="U1", channel="slack"
    )


def withdraw(history, terms, now=OPEN):
    return next_withdrawal(
        history, employee_id="E100", terms=terms, now=now, actor="U1", channel="slack"
    )


def receipt(version: int, form: FormKind, at: datetime) -> FormReceipt:
    return FormReceipt(
        employee_id="E100",
        version=version,
        form=form,
        received_at=at,
        via=Delivery.FAX,
        recorded_at=at,
        actor="cli:hr",
        channel="cli",
    )


def test_first_tender_is_version_1(terms: OfferTerms) -> None:
    v1 = tender([], terms=terms)
    assert (v1.version, v1.kind, v1.transition, v1.form) == (
        1,
        IntentKind.TENDER,
        Transition.TENDER,
        FormKind.ELECTION,
    )
    assert v1.grant_numbers == ("G1",)
    assert v1.unexercised_shares == 1000


def test_change_withdraw_and_retender_keep_every_version(terms: OfferTerms) -> None:
    history: list[ElectionIntent] = []
    history.append(tender(history, terms=terms))
    history.append(tender(history, (LINE, LINE2), terms=terms))
    history.append(withdraw(history, terms))
    history.append(tender(history, (LINE2,), terms=terms))
    assert [i.version for i in history] == [1, 2, 3, 4]
    assert [i.transition for i in history] == [
        Transition.TENDER,
        Transition.CHANGE,
        Transition.WITHDRAW,
        Transition.RETENDER,
    ]
    assert history[2].lines == () and history[2].form is FormKind.WITHDRAWAL
    assert latest_intent(reversed(history)) is history[3]


def test_withdrawing_nothing_or_twice_is_refused(terms: OfferTerms) -> None:
    with pytest.raises(ElectionError, match="nothing to withdraw"):
        withdraw([], terms)
    history = [tender([], terms=terms)]
    history.append(withdraw(history, terms))
    with pytest.raises(ElectionError, match="already withdraws"):
        withdraw(history, terms)


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1), timedelta(days=3)])
def test_nothing_is_recorded_at_or_after_expiration(terms: OfferTerms, late: timedelta) -> None:
    now = terms.expiration + late
    with pytest.raises(OfferClosedError, match=DEADLINE_TEXT):
        tender([], terms=terms, now=now)
    with pytest.raises(OfferClosedError, match=DEADLINE_TEXT):
        withdraw([tender([], terms=terms)], terms, now=now)


def test_one_second_before_expiration_is_still_open(terms: OfferTerms) -> None:
    assert tender([], terms=terms, now=terms.expiration - timedelta(seconds=1)).version == 1


def test_an_extension_moves_the_deadline(terms: OfferTerms) -> None:
    extended = terms.with_expiration(terms.expiration + timedelta(days=7))
    assert tender([], terms=extended, now=terms.expiration + timedelta(hours=1)).version == 1


def test_intent_invariants() -> None:
    with pytest.raises(ValueError, match="withdrawal lists none"):
        ElectionIntent("E", 1, IntentKind.WITHDRAW, Transition.WITHDRAW, (LINE,), OPEN, "a", "c")
    with pytest.raises(ValueError, match="tender lists grants"):
        ElectionIntent("E", 1, IntentKind.TENDER, Transition.TENDER, (), OPEN, "a", "c")
    with pytest.raises(ValueError, match="versions start at 1"):
        ElectionIntent("E", 0, IntentKind.TENDER, Transition.TENDER, (LINE,), OPEN, "a", "c")
    with pytest.raises(ValueError, match="timezone-aware"):
        ElectionIntent(
            "E",
            1,
            IntentKind.TENDER,
            Transition.TENDER,
            (LINE,),
            OPEN.replace(tzinfo=None),
            "a",
            "c",
        )


# --- receipts ---------------------------------------------------------------------------------


@pytest.fixture
def three_versions(terms: OfferTerms) -> list[ElectionIntent]:
    history: list[ElectionIntent] = []
    history.append(tender(history, terms=terms))
    history.append(tender(history, (LINE, LINE2), terms=terms, now=OPEN + timedelta(hours=1)))
    history.append(withdraw(history, terms, now=OPEN + timedelta(hours=2)))
    return history


def check(history, receipts, terms, *, version, form, at, now=None):
    return check_receipt(
        history,
        receipts,
        form=form,
        version=version,
        received_at=at,
        terms=terms,
        now=now or at + timedelta(minutes=1),
    )


def test_a_receipt_after_the_deadline_is_refused_as_late(terms, three_versions) -> None:
    for at in (terms.expiration, terms.expiration + timedelta(seconds=1)):
        with pytest.raises(ReceiptError, match=f"late.*{DEADLINE_TEXT}"):
            check(three_versions, [], terms, version=1, form=FormKind.ELECTION, at=at)


def test_a_form_received_in_time_may_be_recorded_after_the_deadline(terms, three_versions) -> None:
    at = terms.expiration - timedelta(minutes=1)
    result = check(
        three_versions,
        [],
        terms,
        version=3,
        form=FormKind.WITHDRAWAL,
        at=at,
        now=terms.expiration + timedelta(days=1),
    )
    assert result.becomes_effective and result.superseded_by is None


def test_receipt_mistakes_are_refused(terms, three_versions) -> None:
    later = OPEN + timedelta(hours=3)
    with pytest.raises(ReceiptError, match="no intent version 9"):
        check(three_versions, [], terms, version=9, form=FormKind.ELECTION, at=later)
    with pytest.raises(ReceiptError, match="withdrawal form, not an election form"):
        check(three_versions, [], terms, version=3, form=FormKind.ELECTION, at=later)
    with pytest.raises(ReceiptError, match="in the future"):
        check(
            three_versions,
            [],
            terms,
            version=1,
            form=FormKind.ELECTION,
            at=later,
            now=later - timedelta(hours=1),
        )
    with pytest.raises(ReceiptError, match="only prepared"):
        check(
            three_versions,
            [],
            terms,
            version=2,
            form=FormKind.ELECTION,
            at=OPEN,  # version 2 was prepared an hour later
        )
    done = [receipt(1, FormKind.ELECTION, later)]
    with pytest.raises(ReceiptError, match="already recorded"):
        check(three_versions, done, terms, version=1, form=FormKind.ELECTION, at=later)
    with pytest.raises(ReceiptError, match="nothing was recorded yet"):
        check([], [], terms, version=1, form=FormKind.ELECTION, at=later)


def test_an_older_form_received_after_a_later_one_does_not_replace_it(
    terms, three_versions
) -> None:
    later = OPEN + timedelta(hours=3)
    got_v2 = [receipt(2, FormKind.ELECTION, later)]
    result = check(three_versions, got_v2, terms, version=1, form=FormKind.ELECTION, at=later)
    assert not result.becomes_effective and result.superseded_by == 2
    both = [*got_v2, receipt(1, FormKind.ELECTION, later + timedelta(minutes=5))]
    effective = effective_election(three_versions, both)
    assert effective is not None and effective.intent.version == 2 and effective.tendered


def test_the_highest_received_version_is_the_effective_election(terms, three_versions) -> None:
    assert effective_election(three_versions, []) is None
    later = OPEN + timedelta(hours=3)
    receipts = [receipt(1, FormKind.ELECTION, later)]
    eff = effective_election(three_versions, receipts)
    assert eff is not None and eff.intent.grant_numbers == ("G1",)
    receipts.append(receipt(3, FormKind.WITHDRAWAL, later))
    eff = effective_election(three_versions, receipts)
    assert eff is not None and eff.intent.version == 3 and not eff.tendered


def test_closing_is_only_at_or_after_the_deadline(terms: OfferTerms) -> None:
    with pytest.raises(ElectionError, match=DEADLINE_TEXT):
        ensure_closed(terms, terms.expiration - timedelta(seconds=1))
    ensure_closed(terms, terms.expiration)


def test_next_steps(terms, three_versions) -> None:
    later = OPEN + timedelta(hours=3)
    kwargs = {"confirmation_sent": False, "confirmation_overdue": False}
    assert next_steps([], [], is_open=True, **kwargs) == (Step.NOTHING_RECORDED,)
    assert next_steps(three_versions[:1], [], is_open=True, **kwargs)[0] is Step.SIGN_ELECTION_FORM
    assert next_steps(three_versions, [], is_open=True, **kwargs)[0] is (
        Step.SIGN_NOTICE_TO_WITHDRAW
    )
    assert next_steps(three_versions, [], is_open=False, **kwargs) == (
        Step.FORM_NOT_RECEIVED_BEFORE_CLOSE,
    )
    got = [receipt(3, FormKind.WITHDRAWAL, later)]
    assert next_steps(three_versions, got, is_open=True, **kwargs) == (
        Step.AWAIT_RECEIPT_CONFIRMATION,
    )
    assert next_steps(
        three_versions, got, is_open=True, confirmation_sent=False, confirmation_overdue=True
    ) == (Step.CONFIRMATION_OVERDUE,)
    assert next_steps(
        three_versions, got, is_open=False, confirmation_sent=True, confirmation_overdue=False
    ) == (Step.NOTHING_LEFT,)


# --- modelling arithmetic ------------------------------------------------------------------------


def test_intrinsic_value_is_never_negative() -> None:
    assert intrinsic_value(1000, Decimal("3.33"), Decimal("5.00")) == Decimal("1670.00")
    assert intrinsic_value(1000, Decimal("29.07"), Decimal("5.00")) == 0
    with pytest.raises(ValueError):
        intrinsic_value(-1, Decimal(1), Decimal(2))


def test_vested_shares_follow_the_schedule(terms: OfferTerms) -> None:
    schedule = vesting_schedule(2400, date(2004, 1, 26), terms.vesting)
    assert vested_on(schedule, date(2004, 1, 25)) == 0
    assert vested_on(schedule, date(2004, 1, 26)) == 300  # Q13, p. 3
    assert vested_on(schedule, date(2004, 2, 26)) == 350
    assert vested_on(schedule, date(2007, 7, 26)) == 2400
    dates = sample_dates(date(2004, 1, 26), 42)
    assert dates[0] == date(2004, 1, 26) and dates[-1] == date(2007, 7, 26) and len(dates) == 8
    assert straight_line_vested(4800, date(2001, 1, 1), 48, date(2000, 1, 1)) == 0
    assert straight_line_vested(4800, date(2001, 1, 1), 48, date(2002, 1, 1)) == 1200
    assert straight_line_vested(4800, date(2001, 1, 1), 48, date(2009, 1, 1)) == 4800
