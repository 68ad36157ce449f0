"""Election intents and signed forms: the state machine (Offer Q21-Q23, p. 5; §4-§6, p. 15-19).

An *intent* is what an employee tells offerbot they mean to do. It is never itself an election:
only a signed Election Form (or Notice to Withdraw from the Offer) that HR receives by fax or by
hand before the expiration instant counts (Q21, p. 5; §4, p. 15). Every intent is a new
*version*; versions are never rewritten::

    (none) ──tender──> tendered v1 ──tender──> tendered v2 ("change")
    tendered ──withdraw──> withdrawn v3 ──tender──> tendered v4 ("re-tender")

Nothing is recorded at or after the expiration instant (``ensure_open`` quotes the deadline).
A withdrawal withdraws everything (Q22, p. 5) and cannot be rescinded, only followed by a new
tender while the offer is open (§5, p. 18).

Signed forms: HR records the receipt of the form of one version. The *effective* election is the
received form of the highest version: "a new Election Form ... will replace any previously
submitted Election Form" (§5, p. 17), and a Notice to Withdraw must be dated after the most
recent Election Form (Q23, p. 6). So a form of an older version received after a later one does
not replace the later one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from bot.domain.deadlines import ensure_open
from bot.domain.errors import ElectionError, ReceiptError
from bot.domain.roster import Grant
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_instant

__all__ = [
    "Delivery",
    "EffectiveElection",
    "ElectionIntent",
    "FormKind",
    "FormReceipt",
    "IntentKind",
    "IntentLine",
    "ReceiptCheck",
    "Step",
    "Transition",
    "check_receipt",
    "effective_election",
    "ensure_closed",
    "latest_intent",
    "next_steps",
    "next_tender",
    "next_withdrawal",
    "receipt_for",
]

# A receipt time may be a little ahead of the server's clock (a fax machine's clock); more than
# this is a typo.
_CLOCK_SKEW = timedelta(minutes=5)


class IntentKind(StrEnum):
    TENDER = "tender"
    WITHDRAW = "withdraw"


class FormKind(StrEnum):
    """The paper that makes an intent count (§4, p. 15; §5, p. 17)."""

    ELECTION = "election"  # Election Form
    WITHDRAWAL = "withdrawal"  # Notice to Withdraw from the Offer


class Transition(StrEnum):
    TENDER = "tender"  # the first tender
    CHANGE = "change"  # a tender replacing an earlier tender (Q23, p. 6)
    WITHDRAW = "withdraw"
    RETENDER = "re-tender"  # a tender after a withdrawal (§5, p. 18)


class Delivery(StrEnum):
    """How a signed form reached HR; e-mail is not acceptable (Q21, p. 5; §4, p. 15)."""

    FAX = "fax"
    HAND = "hand"


FORM_OF_INTENT = {IntentKind.TENDER: FormKind.ELECTION, IntentKind.WITHDRAW: FormKind.WITHDRAWAL}


@dataclass(frozen=True, slots=True)
class IntentLine:
    """One tendered grant, as the Election Form must list it (§4, p. 16): number, grant date,
    exercise price and unexercised shares, frozen when the intent was recorded."""

    grant_number: str
    grant_date: date
    option_type: str
    exercise_price: Decimal
    unexercised_shares: int
    split_group: str | None = None

    @classmethod
    def of(cls, grant: Grant) -> IntentLine:
        return cls(
            grant_number=grant.grant_number,
            grant_date=grant.grant_date,
            option_type=grant.option_type.value,
            exercise_price=grant.exercise_price,
            unexercised_shares=grant.unexercised_shares,
            split_group=grant.split_group,
        )


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class ElectionIntent:
    employee_id: str
    version: int
    kind: IntentKind
    transition: Transition
    lines: tuple[IntentLine, ...]  # empty for a withdrawal: it withdraws everything (Q22)
    recorded_at: datetime
    actor: str
    channel: str

    def __post_init__(self) -> None:
        _aware(self.recorded_at, "recorded_at")
        if self.version < 1:
            raise ValueError("versions start at 1")
        if (self.kind is IntentKind.TENDER) != bool(self.lines):
            raise ValueError("a tender lists grants; a withdrawal lists none")

    @property
    def form(self) -> FormKind:
        return FORM_OF_INTENT[self.kind]

    @property
    def grant_numbers(self) -> tuple[str, ...]:
        return tuple(line.grant_number for line in self.lines)

    @property
    def unexercised_shares(self) -> int:
        return sum(line.unexercised_shares for line in self.lines)


@dataclass(frozen=True, slots=True)
class FormReceipt:
    """HR's record that the signed form of one intent version arrived."""

    employee_id: str
    version: int
    form: FormKind
    received_at: datetime
    via: Delivery
    recorded_at: datetime
    actor: str
    channel: str

    def __post_init__(self) -> None:
        _aware(self.received_at, "received_at")
        _aware(self.recorded_at, "recorded_at")


def latest_intent(history: Iterable[ElectionIntent]) -> ElectionIntent | None:
    return max(history, key=lambda i: i.version, default=None)


def _next_version(history: Sequence[ElectionIntent]) -> int:
    latest = latest_intent(history)
    return 1 if latest is None else latest.version + 1


def next_tender(
    history: Sequence[ElectionIntent],
    lines: Iterable[IntentLine],
    *,
    employee_id: str,
    terms: OfferTerms,
    now: datetime,
    actor: str,
    channel: str,
) -> ElectionIntent:
    """The next version: a tender of ``lines`` (already checked by ``validate_tender``).

    A tender after a tender is a change (Q23, p. 6); after a withdrawal, a re-tender (§5, p. 18).
    """
    ensure_open(terms, now)
    latest = latest_intent(history)
    if latest is None:
        transition = Transition.TENDER
    elif latest.kind is IntentKind.TENDER:
        transition = Transition.CHANGE
    else:
        transition = Transition.RETENDER
    return ElectionIntent(
        employee_id=employee_id,
        version=_next_version(history),
        kind=IntentKind.TENDER,
        transition=transition,
        lines=tuple(lines),
        recorded_at=now,
        actor=actor,
        channel=channel,
    )


def next_withdrawal(
    history: Sequence[ElectionIntent],
    *,
    employee_id: str,
    terms: OfferTerms,
    now: datetime,
    actor: str,
    channel: str,
) -> ElectionIntent:
    """The next version: withdraw every tendered option (Q22, p. 5).

    Refused when nothing was tendered, or when the latest intent already withdraws.
    """
    ensure_open(terms, now)
    latest = latest_intent(history)
    if latest is None:
        raise ElectionError(
            "You have not recorded an intent to tender, so there is nothing to withdraw. "
            "If you delivered an Election Form without me, ask HR for a Notice to Withdraw."
        )
    if latest.kind is IntentKind.WITHDRAW:
        raise ElectionError(
            f"Your latest intent (version {latest.version}) already withdraws from the offer."
        )
    return ElectionIntent(
        employee_id=employee_id,
        version=latest.version + 1,
        kind=IntentKind.WITHDRAW,
        transition=Transition.WITHDRAW,
        lines=(),
        recorded_at=now,
        actor=actor,
        channel=channel,
    )


def receipt_for(receipts: Iterable[FormReceipt], version: int) -> FormReceipt | None:
    return next((r for r in receipts if r.version == version), None)


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    intent: ElectionIntent
    # False when the signed form of a later version was already received: this one is kept on
    # record but does not replace it (§5, p. 17; Q23, p. 6).
    becomes_effective: bool
    superseded_by: int | None = None


def check_receipt(
    history: Sequence[ElectionIntent],
    receipts: Sequence[FormReceipt],
    *,
    form: FormKind,
    version: int,
    received_at: datetime,
    terms: OfferTerms,
    now: datetime,
) -> ReceiptCheck:
    """May HR record that the signed ``form`` of ``version`` arrived at ``received_at``?

    Late forms are refused: documents must be received "before 5:00 p.m., Pacific Time" on
    the expiration date (§4, p. 15; "we will not accept late tenders", Q21, p. 5). A receipt
    may be *recorded* after the deadline as long as the form *arrived* before it.
    """
    _aware(received_at, "received_at")
    _aware(now, "now")
    deadline = format_instant(terms.expiration, terms.deadline_zone)
    if received_at.astimezone(UTC) >= terms.expiration.astimezone(UTC):
        raise ReceiptError(
            f"This form arrived late: signed forms had to be received before {deadline}. "
            "Late forms are not accepted (Q21, p. 5)."
        )
    if received_at.astimezone(UTC) > now.astimezone(UTC) + _CLOCK_SKEW:
        raise ReceiptError("The receipt time is in the future; check the date and time.")
    intent = next((i for i in history if i.version == version), None)
    if intent is None:
        known = ", ".join(str(i.version) for i in sorted(history, key=lambda i: i.version))
        raise ReceiptError(
            f"There is no intent version {version} for this employee"
            + (f" (versions: {known})." if known else "; nothing was recorded yet.")
        )
    if intent.form is not form:
        raise ReceiptError(
            f"Version {version} is a{'n' * (intent.form is FormKind.ELECTION)} "
            f"{intent.form.value} form, not a{'n' * (form is FormKind.ELECTION)} {form.value} form."
        )
    if received_at.astimezone(UTC) < intent.recorded_at.astimezone(UTC) - _CLOCK_SKEW:
        raise ReceiptError(
            f"Version {version} was only prepared at "
            f"{format_instant(intent.recorded_at, terms.deadline_zone)}; its signed form cannot "
            "have arrived before that."
        )
    if receipt_for(receipts, version) is not None:
        raise ReceiptError(f"The signed form of version {version} is already recorded.")
    later = max((r.version for r in receipts if r.version > version), default=None)
    return ReceiptCheck(intent=intent, becomes_effective=later is None, superseded_by=later)


@dataclass(frozen=True, slots=True)
class EffectiveElection:
    """What HR holds: the received form of the highest version."""

    intent: ElectionIntent
    receipt: FormReceipt

    @property
    def tendered(self) -> bool:
        return self.intent.kind is IntentKind.TENDER


def effective_election(
    history: Sequence[ElectionIntent], receipts: Sequence[FormReceipt]
) -> EffectiveElection | None:
    by_version = {i.version: i for i in history}
    received = [r for r in receipts if r.version in by_version]
    if not received:
        return None
    receipt = max(received, key=lambda r: r.version)
    return EffectiveElection(intent=by_version[receipt.version], receipt=receipt)


def ensure_closed(terms: OfferTerms, now: datetime) -> None:
    """HR accepts tenders only at or after the expiration instant (§6, p. 18)."""
    _aware(now, "now")
    if now.astimezone(UTC) < terms.expiration.astimezone(UTC):
        deadline = format_instant(terms.expiration, terms.deadline_zone)
        raise ElectionError(
            f"The offer is open until {deadline}; tenders can only be accepted at or after then."
        )


class Step(StrEnum):
    """What is left to do for an employee, in order (the service words each one)."""

    NOTHING_RECORDED = "nothing_recorded"
    SIGN_ELECTION_FORM = "sign_and_deliver_election_form"
    SIGN_NOTICE_TO_WITHDRAW = "sign_and_deliver_notice_to_withdraw"
    AWAIT_RECEIPT_CONFIRMATION = "await_receipt_confirmation"
    CONFIRMATION_OVERDUE = "receipt_confirmation_overdue"
    FORM_NOT_RECEIVED_BEFORE_CLOSE = "form_not_received_before_close"
    NOTHING_LEFT = "nothing_left"


def next_steps(
    history: Sequence[ElectionIntent],
    receipts: Sequence[FormReceipt],
    *,
    is_open: bool,
    confirmation_sent: bool,
    confirmation_overdue: bool,
) -> tuple[Step, ...]:
    """What the employee (or HR) still has to do for the latest intent to count."""
    latest = latest_intent(history)
    if latest is None:
        return (Step.NOTHING_RECORDED,)
    if receipt_for(receipts, latest.version) is None:
        if not is_open:
            return (Step.FORM_NOT_RECEIVED_BEFORE_CLOSE,)
        if latest.form is FormKind.ELECTION:
            return (Step.SIGN_ELECTION_FORM, Step.AWAIT_RECEIPT_CONFIRMATION)
        return (Step.SIGN_NOTICE_TO_WITHDRAW, Step.AWAIT_RECEIPT_CONFIRMATION)
    if confirmation_sent:
        return (Step.NOTHING_LEFT,)
    if confirmation_overdue:
        return (Step.CONFIRMATION_OVERDUE,)
    return (Step.AWAIT_RECEIPT_CONFIRMATION,)
