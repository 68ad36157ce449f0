"""Records around an election that are not the election itself: queued messages (the outbox),
HR's work list, and the tenders HR accepted when the offer closed.

Plain values; storage keeps them, services create them, the outbox sender (e-mail issue)
delivers the messages after the transaction that wrote them has committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.elections import IntentLine

__all__ = [
    "AcceptedTender",
    "Attachment",
    "DeliveryState",
    "HrTask",
    "MessageKind",
    "OutboxMessage",
    "TaskStatus",
]


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware")


class MessageKind(StrEnum):
    INTENT_CONFIRMATION = "intent_confirmation"  # to the employee, with the pre-filled form
    HR_NOTICE = "hr_notice"  # to HR: a new intent, a form to expect
    RECEIPT_CONFIRMATION = "receipt_confirmation"  # to the employee, within 2 business days
    PROMISE_TO_GRANT = "promise_to_grant"  # to the employee after the offer closed (§6, p. 18)
    ANSWER = "answer"  # a reply to a question received by e-mail
    HR_ALERT = "hr_alert"  # to HR: a message could not be delivered, an e-mailed election
    REMINDER = "reminder"  # bulk: a deadline reminder
    EXTENSION_ANNOUNCEMENT = "extension_announcement"  # bulk: the offer was extended

    @property
    def is_bulk(self) -> bool:
        """Bulk mail waits behind transactional mail (receipts, confirmations, answers)."""
        return self in (MessageKind.REMINDER, MessageKind.EXTENSION_ANNOUNCEMENT)

    @property
    def retried_when_ambiguous(self) -> bool:
        """Transactional and legal notices (confirmations, receipts, the promise to grant,
        announcements of an extension or an amendment) are sent once more after an ambiguous
        attempt, under the same Message-ID: a possible duplicate is better than a lost notice.
        Answers, reminders and HR's own mail are not (HR is alerted instead)."""
        return self in (
            MessageKind.INTENT_CONFIRMATION,
            MessageKind.RECEIPT_CONFIRMATION,
            MessageKind.PROMISE_TO_GRANT,
            MessageKind.EXTENSION_ANNOUNCEMENT,
        )


class DeliveryState(StrEnum):
    """Where an outbox message is. ``pending`` rows are claimed with a lease while in flight."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanent refusal (5xx) or too many attempts; HR was alerted
    AMBIGUOUS = "ambiguous"  # the connection died after the final "." — maybe delivered


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message to send once. ``idempotency_key`` makes a second enqueue a no-op.

    ``recipient`` is an address for e-mail, a user id for Slack, or ``role:hr`` for the HR
    mailbox the sender is configured with.
    """

    idempotency_key: str
    channel: str  # "email" | "slack"
    recipient: str
    kind: MessageKind
    subject: str
    body_text: str
    created_at: datetime
    due_at: datetime
    employee_id: str | None = None
    reference: str | None = None  # e.g. "v2": the intent version the message is about
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    id: int | None = None
    # e-mail: the reply's HTML part, threading, the Message-ID fixed before the first attempt
    body_html: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    message_id: str | None = None
    state: DeliveryState = DeliveryState.PENDING
    # the first attempt, when not at ``due_at``: a receipt confirmation goes out at once while
    # ``due_at`` stays its two-business-day deadline (status and reports read "overdue" from it)
    send_at: datetime | None = None
    # times it was put back in the queue after it failed or was ambiguous (the automatic retry
    # of an ambiguous notice, or HR's `offerbot hr outbox resend`)
    requeues: int = 0

    def __post_init__(self) -> None:
        for name in ("created_at", "due_at", "sent_at", "send_at"):
            _aware(getattr(self, name), name)

    def overdue(self, now: datetime) -> bool:
        return self.sent_at is None and now >= self.due_at


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"  # the signed form arrived
    SUPERSEDED = "superseded"  # a later intent replaced this one before its form arrived


@dataclass(frozen=True, slots=True)
class HrTask:
    """ "Awaiting signed form" for one intent version."""

    employee_id: str
    version: int
    created_at: datetime
    status: TaskStatus = TaskStatus.OPEN
    closed_at: datetime | None = None
    kind: str = "awaiting_signed_form"

    def __post_init__(self) -> None:
        _aware(self.created_at, "created_at")
        _aware(self.closed_at, "closed_at")


@dataclass(frozen=True, slots=True)
class AcceptedTender:
    """One old grant accepted for exchange when the offer closed (§6, p. 18)."""

    employee_id: str
    version: int
    line: IntentLine
    accepted_at: datetime

    def __post_init__(self) -> None:
        _aware(self.accepted_at, "accepted_at")
