"""Deadline reminders: when they go out, who still has something to do, and what they say.

Pure rules (no I/O, no clock): ``now``, the calendar and the settings come in as arguments.

*Who*: a reminder only tells an eligible person what is left for their latest intent to count
(Offer Q21, p. 5; §4, p. 15): nothing recorded, a signed Election Form HR has not received, or
a signed Notice to Withdraw HR has not received. A person whose latest form HR received gets
none (:attr:`ReminderState.FORM_RECEIVED`). The state follows the election state machine of
:mod:`bot.domain.elections`: the latest intent version, and whether its form was received.

*When*: 9:00 a.m. in the offer's zone (Pacific Time) on the days N business days before the
expiration date (business days as §2, p. 14 defines them: Eastern Time, no weekends or US
federal holidays), and on the expiration day itself. Quiet hours move an instant to their end;
a slot that would then fall at or after the expiration is dropped (a reminder after the
deadline is useless, and one inside the quiet hours is what the settings forbid).

*What*: a personal message — the deadline and the time left, where the person stands, their
eligible grants, one next step — in neutral wording only, subject included: the offer forbids
anyone to recommend whether to tender (cover, p. i; Q29, p. 7; §3, p. 15).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.domain.calendar import BusinessCalendar
from bot.domain.communications import GRANTS_PLACEHOLDER, NAME_PLACEHOLDER
from bot.domain.elections import (
    ElectionIntent,
    FormReceipt,
    IntentKind,
    latest_intent,
    receipt_for,
)
from bot.domain.roster import Grant
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_money, format_shares

__all__ = [
    "DEFAULT_BUSINESS_DAYS",
    "GRANTS_PLACEHOLDER",
    "NAME_PLACEHOLDER",
    "ReminderSlot",
    "ReminderState",
    "apply_quiet_hours",
    "deadline_phrase",
    "grants_list",
    "in_quiet_hours",
    "parse_business_days",
    "parse_quiet_hours",
    "reminder_slots",
    "reminder_state",
    "reminder_state_of",
    "reminder_text",
    "time_left_phrase",
]

DEFAULT_BUSINESS_DAYS = (10, 5, 2, 1)

# Spoken names of the zones an offer states its deadline in; others fall back to "PDT"-style
# abbreviations.
_ZONE_NAMES = {
    "America/Los_Angeles": "Pacific Time",
    "America/Denver": "Mountain Time",
    "America/Phoenix": "Mountain Time",
    "America/Chicago": "Central Time",
    "America/New_York": "Eastern Time",
}


class ReminderState(StrEnum):
    """What is left for an eligible person's latest intent to count."""

    NO_INTENT = "no_intent"  # nothing recorded
    AWAITING_SIGNED_FORM = "awaiting_signed_form"  # a tender whose Election Form HR lacks
    WITHDRAWN = "withdrawn"  # a withdrawal whose Notice to Withdraw HR lacks
    FORM_RECEIVED = "form_received"  # HR received the signed form of the latest version


def reminder_state(latest_kind: IntentKind | None, *, latest_received: bool) -> ReminderState:
    """The state from the latest intent's kind and whether its signed form was received.

    Only the *latest* version counts: a received form of an earlier version is replaced by the
    later intent once that one's form arrives (§5, p. 17; Q23, p. 6), so until then something
    is still left to do.
    """
    if latest_kind is None:
        return ReminderState.NO_INTENT
    if latest_received:
        return ReminderState.FORM_RECEIVED
    if latest_kind is IntentKind.WITHDRAW:
        return ReminderState.WITHDRAWN
    return ReminderState.AWAITING_SIGNED_FORM


def reminder_state_of(
    history: Sequence[ElectionIntent], receipts: Sequence[FormReceipt]
) -> ReminderState:
    """:func:`reminder_state` of one employee's full intent history and receipts."""
    latest = latest_intent(history)
    if latest is None:
        return ReminderState.NO_INTENT
    received = receipt_for(receipts, latest.version) is not None
    return reminder_state(latest.kind, latest_received=received)


# --- when -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReminderSlot:
    """One reminder round: ``instant`` (UTC) and a stable ``key`` such as
    ``10bd@2003-07-10T16:00Z`` (its label and instant, so a moved deadline makes new keys)."""

    label: str  # "10bd", "5bd", …, "last_day"
    instant: datetime
    business_days_before: int  # 0 for the expiration day

    @property
    def key(self) -> str:
        return f"{self.label}@{self.instant.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def reminder_slots(
    terms: OfferTerms,
    calendar: BusinessCalendar,
    *,
    business_days: Iterable[int] = DEFAULT_BUSINESS_DAYS,
    at: time = time(9, 0),
    last_day_at: time | None = None,
    quiet_hours: tuple[time, time] | None = None,
    now: datetime | None,
) -> list[ReminderSlot]:
    """The reminder rounds of the offer's current expiration, earliest first.

    For each N in ``business_days``: ``at`` (in ``terms.deadline_zone``) on the day N business
    days before the expiration date, business days counted on ``calendar`` (Eastern Time, §2,
    p. 14); plus ``last_day_at`` (default ``at``) on the expiration day. Slots are moved out of
    ``quiet_hours``; those at or after the expiration, or before ``now`` (when given), are left
    out; two rounds never share an instant.
    """
    zone = terms.deadline_zone
    expiration = terms.expiration.astimezone(UTC)
    exp_day = calendar.date_of(terms.expiration)
    wanted: list[tuple[str, int, datetime]] = []
    for n in sorted(set(business_days), reverse=True):
        if n < 1:
            raise ValueError("reminders are set a positive number of business days before")
        day = calendar.subtract_business_days(exp_day, n)
        wanted.append((f"{n}bd", n, _at(day, at, zone)))
    local_exp_day = terms.expiration.astimezone(zone).date()
    wanted.append(("last_day", 0, _at(local_exp_day, last_day_at or at, zone)))
    slots: list[ReminderSlot] = []
    seen: set[datetime] = set()
    for label, n, instant in wanted:
        if quiet_hours is not None:
            instant = apply_quiet_hours(instant, *quiet_hours, zone)
        if instant >= expiration or (now is not None and instant < now.astimezone(UTC)):
            continue
        if instant in seen:
            continue
        seen.add(instant)
        slots.append(ReminderSlot(label=label, instant=instant, business_days_before=n))
    return sorted(slots, key=lambda s: s.instant)


def in_quiet_hours(instant: datetime, quiet_start: time, quiet_end: time, zone: ZoneInfo) -> bool:
    """Is ``instant`` inside the quiet hours (local times in ``zone``; ``start > end`` wraps
    midnight: 20:00-08:00 is the night)? The start is inside, the end is not."""
    local = instant.astimezone(zone).time().replace(tzinfo=None)
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= local < quiet_end
    return local >= quiet_start or local < quiet_end


def apply_quiet_hours(
    instant: datetime, quiet_start: time, quiet_end: time, zone: ZoneInfo
) -> datetime:
    """``instant`` (UTC) moved to the end of the quiet hours when it falls inside them.

    The caller decides what a moved instant past the deadline means (:func:`reminder_slots`
    drops it).
    """
    if not in_quiet_hours(instant, quiet_start, quiet_end, zone):
        return instant.astimezone(UTC)
    local = instant.astimezone(zone)
    day = local.date()
    if quiet_start > quiet_end and local.time().replace(tzinfo=None) >= quiet_start:
        day += timedelta(days=1)  # evening part of a night window: ends tomorrow morning
    return _at(day, quiet_end, zone)


def parse_business_days(text: str) -> tuple[int, ...]:
    """``"10,5,2,1"`` → ``(10, 5, 2, 1)``; empty → no business-day rounds."""
    days = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    if any(d < 1 for d in days):
        raise ValueError("business days must be positive whole numbers, e.g. 10,5,2,1")
    return tuple(sorted(set(days), reverse=True))


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """``"20:00-08:00"`` → ``(20:00, 08:00)``; empty → None (no quiet hours)."""
    text = text.strip()
    if not text:
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError("quiet hours look like 20:00-08:00 (HH:MM-HH:MM)")
    window = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
    if window[0] == window[1]:
        raise ValueError("quiet hours must not start and end at the same time")
    return window


# --- what -------------------------------------------------------------------------------------


def deadline_phrase(instant: datetime, zone: ZoneInfo) -> str:
    """``5:00 p.m. Pacific Time on Thursday, July 24, 2003``."""
    local = instant.astimezone(zone)
    hour = local.hour % 12 or 12
    meridiem = "a.m." if local.hour < 12 else "p.m."
    name = _ZONE_NAMES.get(zone.key) or local.tzname() or zone.key
    return f"{hour}:{local.minute:02d} {meridiem} {name} on {format_date(local.date())}"


def _delivery(terms: OfferTerms) -> str:
    hr = terms.hr_delivery
    return (
        f"by fax to {hr.fax} or by hand to {hr.name}, {hr.department}, {hr.organization}, "
        f"{hr.street}, {hr.city}, {hr.region} {hr.postal_code}"
    )


def time_left_phrase(left: timedelta) -> str:
    """``14 days, 8 hours`` — minutes only in the last hours, when they matter."""
    seconds = max(int(left.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    if hours or not days:
        parts.append(f"{hours} hour{'s' * (hours != 1)}")
    if not days and hours < 6:
        parts.append(f"{minutes} minute{'s' * (minutes != 1)}")
    return ", ".join(parts)


def grants_list(grants: Sequence[Grant]) -> str:
    """The person's eligible grants as list lines (number, grant date, exercise price,
    unexercised shares): what :data:`GRANTS_PLACEHOLDER` becomes in each copy."""
    if not grants:
        return "- (your grants are listed when you reply 'grants' or ask HR)"
    if len(grants) > 1:
        grants = sorted(grants, key=lambda g: (g.grant_date, g.grant_number))
    return "\n".join(
        f"- Grant {g.grant_number}: granted {_month_day_year(g.grant_date)}, exercise price "
        f"{_money(g.exercise_price)}, {format_shares(g.unexercised_shares)} unexercised shares"
        for g in grants
    )


# A round lists ~150,000 grants, made on a few hundred (a roster over years: a few thousand)
# dates at about as many prices; formatting the date and the Decimal was most of the list's cost.
@lru_cache(maxsize=8192)
def _month_day_year(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


_money = lru_cache(maxsize=8192)(format_money)


def reminder_text(
    state: ReminderState,
    terms: OfferTerms,
    *,
    now: datetime,
    name: str = NAME_PLACEHOLDER,
    grants: str = GRANTS_PLACEHOLDER,
    inbox: bool = False,
) -> tuple[str, str]:
    """(subject, body) of the reminder for ``state``: the deadline in the offer's zone and the
    time left, where the person stands, their eligible grants, what is left to do (one next
    step), where signed forms go, and the offer's no-recommendation position.

    Called with the default ``name`` and ``grants`` it gives the template kept for the filing;
    each copy replaces :data:`NAME_PLACEHOLDER` and :data:`GRANTS_PLACEHOLDER` (the list from
    :func:`grants_list`). ``inbox``: the bot reads replies by e-mail, so "reply 'grants'"
    works — otherwise the reminder does not offer it. The subject is neutral: it states the
    topic, never a judgement about what the person did or did not do.
    """
    if state is ReminderState.FORM_RECEIVED:
        raise ValueError("nobody whose signed form was received gets a reminder")
    zone = terms.deadline_zone
    deadline = deadline_phrase(terms.expiration, zone)
    local_expiration = terms.expiration.astimezone(zone)
    last_day = now.astimezone(zone).date() == local_expiration.date()
    short = terms.company_short_name
    hr = terms.hr_delivery
    left = time_left_phrase(terms.expiration - now)
    when = (
        f"> Deadline: today is the last day. The offer expires at {deadline} ({left} left)."
        if last_day
        else f"> Deadline: the offer expires at {deadline} ({left} left)."
    )
    deliver = (
        f"Signed forms count only when HR receives them before {deadline}, {_delivery(terms)}. "
        "E-mail is not accepted, and late forms are not accepted (Q21, p. 5; §4, p. 15)."
    )
    ask = (
        "Reply 'grants' to this message to see your grants in detail, or 'deadline' for the "
        "dates that matter."
        if inbox
        else ""
    )
    day = f"{local_expiration:%B} {local_expiration.day}"
    if state is ReminderState.NO_INTENT:
        subject = f"{short} option exchange: your eligible options and the {day} deadline"
        where = (
            "You have not recorded an intent to tender your eligible options "
            f"in the {short} offer to exchange options, and HR has no signed Election Form from "
            "you on record. Taking part is voluntary; if you do not want to tender, nothing is "
            "needed."
        )
        form = (
            "I can prepare a pre-filled Election Form for you: reply 'tender' with the grant "
            "numbers."
            if inbox
            else f"HR ({hr.name}, {hr.phone}) has the Election Form."
        )
        action = (
            "> Next step (only if you want to tender): sign and date an Election Form listing "
            f"each grant you tender (whole grants only) and deliver it to HR. {form}"
        )
        more: list[str] = []
    elif state is ReminderState.AWAITING_SIGNED_FORM:
        subject = f"{short} option exchange: your signed Election Form has not reached HR yet"
        where = (
            "We have your intent to tender, but HR has not received your "
            "signed Election Form for it. An intent is not an election: nothing is tendered "
            "until HR receives the signed Election Form of your latest intent."
        )
        action = (
            "> Next step: sign and date the pre-filled Election Form I sent you for your latest "
            "intent and deliver it to HR."
        )
        more = [
            "If you already delivered it, HR confirms receipt by e-mail within "
            f"{terms.receipt_confirmation_business_days} business days; without a "
            f"confirmation, contact {hr.name} at {hr.phone}. You may still change your election "
            "or withdraw before the deadline.",
        ]
    else:
        subject = f"{short} option exchange: your signed Notice to Withdraw has not reached HR yet"
        where = (
            "You recorded an intent to withdraw from the offer, but HR has not "
            "received your signed Notice to Withdraw from the Offer. Your withdrawal counts "
            "only when HR receives it; until then, an Election Form HR already holds stays in "
            "effect."
        )
        action = (
            "> Next step: sign and date the Notice to Withdraw I sent you and deliver it to HR."
        )
        more = [
            "If you want to re-tender instead, record a new intent to tender and deliver a new "
            "signed Election Form before the deadline; a withdrawal cannot be rescinded, but "
            "you may tender again (Q22, p. 5; §5, p. 18).",
        ]
    if last_day:
        subject = f"Last day: {subject}"
    parts = [
        f"Dear {name},",
        when,
        where,
        f"Your eligible grants:\n{grants}",
        action,
        *more,
        deliver,
        ask,
        f"Neither {short} nor its Board of Directors makes any recommendation as to "
        "whether you tender your options; the decision is yours alone (Q29, p. 7).",
    ]
    return subject, "\n\n".join(p for p in parts if p)
