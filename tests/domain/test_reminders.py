"""Reminder rounds, quiet hours, states and wording (pure rules, the bundled Capstone offer)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.domain.calendar import BusinessCalendar
from bot.domain.elections import (
    Delivery,
    ElectionIntent,
    FormKind,
    FormReceipt,
    IntentKind,
    IntentLine,
    Transition,
)
from bot.domain.reminders import (
    NAME_PLACEHOLDER,
    ReminderState,
    apply_quiet_hours,
    deadline_phrase,
    in_quiet_hours,
    parse_business_days,
    parse_quiet_hours,
    reminder_slots,
    reminder_state,
    reminder_state_of,
    reminder_text,
)
from bot.domain.terms import OfferTerms
from knowledge.answerer import RECOMMENDATION

PACIFIC = ZoneInfo("America/Los_Angeles")
BEFORE = datetime(2003, 7, 1, 12, 0, tzinfo=UTC)  # inside the window, before every round
NIGHT = (time(20, 0), time(8, 0))


def pdt(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2003, month, day, hour, minute, tzinfo=PACIFIC)


def test_capstone_rounds_by_hand(terms: OfferTerms, calendar: BusinessCalendar) -> None:
    """Expiration Thu July 24, 2003, 5:00 p.m. PDT. Counting back on the Eastern business-day
    calendar: 1 → Wed 23, 2 → Tue 22, 5 → Thu 17, 10 → Thu 10 (Jul 19-20 and 12-13 are
    weekends). July 4 (federal holiday) is further back, so it does not shift them."""
    slots = reminder_slots(terms, calendar, now=BEFORE)
    assert [(s.label, s.instant) for s in slots] == [
        ("10bd", pdt(7, 10)),
        ("5bd", pdt(7, 17)),
        ("2bd", pdt(7, 22)),
        ("1bd", pdt(7, 23)),
        ("last_day", pdt(7, 24)),
    ]
    assert all(s.instant.tzinfo is UTC for s in slots)
    assert slots[0].key == "10bd@2003-07-10T16:00Z" and slots[-1].business_days_before == 0


def test_july_fourth_is_skipped_when_counting_back(
    terms: OfferTerms, calendar: BusinessCalendar
) -> None:
    """15 business days before July 24: the count passes Fri July 4 (a holiday) and the
    weekends, landing on Wed July 2 rather than Thu July 3."""
    (slot, _last) = reminder_slots(terms, calendar, business_days=(15,), now=BEFORE)
    assert slot.instant == pdt(7, 2)
    assert calendar.business_days_between(date(2003, 7, 2), date(2003, 7, 24)) == 15


def test_past_rounds_and_rounds_at_expiration_are_left_out(
    terms: OfferTerms, calendar: BusinessCalendar
) -> None:
    later = reminder_slots(terms, calendar, now=pdt(7, 22, 9, 0))
    assert [s.label for s in later] == ["2bd", "1bd", "last_day"]  # 9:00 exactly still counts
    assert [s.label for s in reminder_slots(terms, calendar, now=pdt(7, 22, 9, 1))] == [
        "1bd",
        "last_day",
    ]
    late = reminder_slots(terms, calendar, last_day_at=time(17, 0), now=BEFORE)
    assert "last_day" not in [s.label for s in late]  # 5:00 p.m. is the expiration itself
    assert reminder_slots(terms, calendar, now=pdt(7, 24, 17)) == []
    assert len(reminder_slots(terms, calendar, now=None)) == 5


def test_rounds_follow_an_extension(terms: OfferTerms, calendar: BusinessCalendar) -> None:
    extended = terms.with_expiration(pdt(8, 7, 17))
    slots = reminder_slots(extended, calendar, now=BEFORE)
    assert [s.instant for s in slots] == [pdt(7, 24), pdt(7, 31), pdt(8, 5), pdt(8, 6), pdt(8, 7)]
    assert {s.key for s in slots}.isdisjoint(
        s.key for s in reminder_slots(terms, calendar, now=BEFORE)
    )


def test_quiet_hours_move_to_their_end() -> None:
    evening = pdt(7, 15, 21, 30)
    assert in_quiet_hours(evening, *NIGHT, PACIFIC)
    assert apply_quiet_hours(evening, *NIGHT, PACIFIC) == pdt(7, 16, 8, 0)
    early = pdt(7, 16, 6, 15)
    assert apply_quiet_hours(early, *NIGHT, PACIFIC) == pdt(7, 16, 8, 0)
    assert not in_quiet_hours(pdt(7, 16, 8, 0), *NIGHT, PACIFIC)  # the end is not quiet
    assert in_quiet_hours(pdt(7, 16, 20, 0), *NIGHT, PACIFIC)  # the start is
    noon = pdt(7, 16, 12, 0)
    assert apply_quiet_hours(noon, *NIGHT, PACIFIC) == noon
    lunch = (time(12, 0), time(13, 30))  # a window inside one day
    assert apply_quiet_hours(pdt(7, 16, 12, 45), *lunch, PACIFIC) == pdt(7, 16, 13, 30)
    assert not in_quiet_hours(pdt(7, 16, 11, 59), *lunch, PACIFIC)


def test_quiet_hours_across_a_dst_change() -> None:
    """Night of Sat Oct 25 → Sun Oct 26, 2003 (PDT → PST): the end is 8:00 local, PST."""
    moved = apply_quiet_hours(datetime(2003, 10, 25, 22, 0, tzinfo=PACIFIC), *NIGHT, PACIFIC)
    assert moved == datetime(2003, 10, 26, 16, 0, tzinfo=UTC)


def test_slots_inside_quiet_hours_move_or_are_dropped(
    terms: OfferTerms, calendar: BusinessCalendar
) -> None:
    slots = reminder_slots(terms, calendar, at=time(7, 0), quiet_hours=NIGHT, now=BEFORE)
    assert [s.instant for s in slots][:2] == [pdt(7, 10, 8), pdt(7, 17, 8)]
    assert slots[-1].instant == pdt(7, 24, 8)
    # Quiet from 4 p.m. to 9 a.m.: a 4:30 p.m. round on the last day would end after the
    # deadline, so it is dropped rather than sent inside the quiet hours.
    evening = reminder_slots(
        terms, calendar, at=time(16, 30), quiet_hours=(time(16, 0), time(9, 0)), now=BEFORE
    )
    assert [s.label for s in evening] == ["10bd", "5bd", "2bd", "1bd"]
    assert evening[-1].instant == pdt(7, 24, 9)  # 1bd (Jul 23, 4:30 p.m.) → Jul 24, 9:00 a.m.


def test_settings_parsers() -> None:
    assert parse_business_days("10, 5,2,1") == (10, 5, 2, 1)
    assert parse_business_days("1,5,5") == (5, 1)
    assert parse_business_days("") == ()
    with pytest.raises(ValueError):
        parse_business_days("0,5")
    assert parse_quiet_hours("20:00-08:00") == NIGHT
    assert parse_quiet_hours(" ") is None
    for bad in ("20:00", "8-20", "20:00-20:00"):
        with pytest.raises(ValueError):
            parse_quiet_hours(bad)


def _intent(version: int, kind: IntentKind) -> ElectionIntent:
    lines: tuple[IntentLine, ...] = ()
    if kind is IntentKind.TENDER:
        lines = (IntentLine("G1", date(2001, 4, 16), "ISO", Decimal("3.33"), 300),)
    return ElectionIntent(
        employee_id="E1",
        version=version,
        kind=kind,
        transition=Transition.TENDER if version == 1 else Transition.CHANGE,
        lines=lines,
        recorded_at=pdt(7, 10),
        actor="E1",
        channel="slack",
    )


def _receipt(version: int, form: FormKind) -> FormReceipt:
    return FormReceipt("E1", version, form, pdt(7, 11), Delivery.FAX, pdt(7, 11), "hr", "cli")


def test_states_follow_the_latest_version() -> None:
    tender, withdraw = IntentKind.TENDER, IntentKind.WITHDRAW
    assert reminder_state_of([], []) is ReminderState.NO_INTENT
    v1 = _intent(1, tender)
    assert reminder_state_of([v1], []) is ReminderState.AWAITING_SIGNED_FORM
    got_v1 = _receipt(1, FormKind.ELECTION)
    assert reminder_state_of([v1], [got_v1]) is ReminderState.FORM_RECEIVED
    v2 = _intent(2, tender)  # a change: v1's form no longer settles it
    assert reminder_state_of([v1, v2], [got_v1]) is ReminderState.AWAITING_SIGNED_FORM
    v3 = _intent(3, withdraw)
    assert reminder_state_of([v1, v2, v3], [got_v1]) is ReminderState.WITHDRAWN
    history = [v3, v1, v2]  # order does not matter
    assert (
        reminder_state_of(history, [got_v1, _receipt(3, FormKind.WITHDRAWAL)])
        is ReminderState.FORM_RECEIVED
    )
    assert reminder_state(None, latest_received=False) is ReminderState.NO_INTENT
    assert reminder_state(withdraw, latest_received=True) is ReminderState.FORM_RECEIVED


def test_deadline_phrase_is_pacific(terms: OfferTerms) -> None:
    assert (
        deadline_phrase(terms.expiration, terms.deadline_zone)
        == "5:00 p.m. Pacific Time on Thursday, July 24, 2003"
    )
    assert deadline_phrase(pdt(12, 1, 9), ZoneInfo("Europe/Paris")).endswith(
        "CET on Monday, December 1, 2003"
    )


STRICT_ADVICE = re.compile(
    r"\b(you should|should you|we suggest|i suggest|we advise|good idea|wise|best|better)\b", re.I
)


@pytest.mark.parametrize(
    ("state", "left_to_do"),
    [
        (ReminderState.NO_INTENT, "You have not recorded an intent to tender"),
        (ReminderState.AWAITING_SIGNED_FORM, "HR has not received your signed Election Form"),
        (ReminderState.WITHDRAWN, "HR has not received your signed Notice to Withdraw"),
    ],
)
def test_reminder_text_says_what_is_left_by_when_and_where(
    terms: OfferTerms, state: ReminderState, left_to_do: str
) -> None:
    subject, body = reminder_text(state, terms, now=pdt(7, 17))
    assert body.startswith(f"Dear {NAME_PLACEHOLDER},")
    assert body.count(NAME_PLACEHOLDER) == 1
    assert left_to_do in body
    assert "5:00 p.m. Pacific Time on Thursday, July 24, 2003" in body
    assert terms.hr_delivery.fax in body and terms.hr_delivery.street in body
    assert "E-mail is not accepted" in body
    assert "makes any recommendation" in body and "the decision is yours alone" in body
    assert not RECOMMENDATION.search(body) and not STRICT_ADVICE.search(body)
    assert subject.startswith("Capstone option exchange:")
    assert "no election" not in subject.lower() and "(7 days, 8 hours left)" in body
    named = reminder_text(state, terms, now=pdt(7, 17), name="Rosalind Ashcombe")[1]
    assert named == body.replace(NAME_PLACEHOLDER, "Rosalind Ashcombe")


def test_reminder_text_per_state_details(terms: OfferTerms) -> None:
    none = reminder_text(ReminderState.NO_INTENT, terms, now=pdt(7, 17))[1]
    assert "Next step (only if you want to tender): sign and date an Election Form" in none
    assert "Your eligible grants:\n{grants}" in none and "reply 'grants'" not in none.lower()
    with_inbox = reminder_text(ReminderState.NO_INTENT, terms, now=pdt(7, 17), inbox=True)[1]
    assert "Reply 'grants'" in with_inbox
    awaiting = reminder_text(ReminderState.AWAITING_SIGNED_FORM, terms, now=pdt(7, 17))[1]
    assert "An intent is not an election" in awaiting and "within 2 business days" in awaiting
    withdrawn = reminder_text(ReminderState.WITHDRAWN, terms, now=pdt(7, 17))[1]
    assert "If you want to re-tender" in withdrawn
    with pytest.raises(ValueError):
        reminder_text(ReminderState.FORM_RECEIVED, terms, now=pdt(7, 17))


def test_last_day_wording(terms: OfferTerms) -> None:
    subject, body = reminder_text(ReminderState.NO_INTENT, terms, now=pdt(7, 24, 9))
    assert subject.startswith("Last day: ")
    assert "today is the last day. The offer expires at 5:00 p.m. Pacific Time" in body
    assert "(8 hours left)" in body
    earlier = reminder_text(ReminderState.NO_INTENT, terms, now=pdt(7, 24) - timedelta(days=1))
    assert not earlier[0].startswith("Last day")
