"""Tables, as typed SQLAlchemy 2 models.

The initial migration (``migrations/versions/0001_initial.py``) is written by hand from these
classes; ``tests/storage/test_migrations.py`` checks that the two never drift apart.
Column widths follow the roster importer's bounds (``bot/services/roster/import_roster.py``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.elections import Delivery, FormKind, IntentKind, Transition
from bot.domain.hr_records import TaskStatus
from bot.domain.roster import EmployeeClass, EmployeeStatus, OptionType
from storage.model_base import (
    EMAIL,
    ID,
    PRICE_PRECISION,
    PRICE_SCALE,
    TEXT,
    Base,
    UTCDateTime,
    utcnow,
    values_in,
)

__all__ = [
    "PRICE_PRECISION",
    "PRICE_SCALE",
    "AcceptedTenderRow",
    "AdjustmentRow",
    "AuditRow",
    "Base",
    "ElectionIntentRow",
    "EmployeeRow",
    "FormReceiptRow",
    "GrantRow",
    "HrTaskRow",
    "ImapStateRow",
    "InboundMessageRow",
    "OfferStateRow",
    "OutboxAttachmentRow",
    "UTCDateTime",
]


class OfferStateRow(Base):
    __tablename__ = "offer_state"

    offer_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    expiration: Mapped[datetime]
    original_expiration: Mapped[datetime]
    terms_digest: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime]


class EmployeeRow(Base):
    __tablename__ = "employees"
    __table_args__ = (
        CheckConstraint(values_in("status", EmployeeStatus), name="status"),
        CheckConstraint(values_in("employee_class", EmployeeClass), name="employee_class"),
        Index(None, "email_normalized", unique=True),
    )

    employee_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(TEXT))
    email: Mapped[str] = mapped_column(String(EMAIL))  # as HR wrote it
    email_normalized: Mapped[str] = mapped_column(String(EMAIL))  # trimmed, lower-cased
    slack_user_id: Mapped[str | None] = mapped_column(String(ID), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(32))
    employee_class: Mapped[str] = mapped_column(String(32))
    # migration 0013: HR's optional groupings (figures by department and location)
    department: Mapped[str | None] = mapped_column(String(TEXT))
    location: Mapped[str | None] = mapped_column(String(TEXT))
    manager_email: Mapped[str | None] = mapped_column(String(EMAIL))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class GrantRow(Base):
    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint("shares_granted >= 0", name="shares_granted_nonnegative"),
        CheckConstraint(
            "shares_exercised >= 0 AND shares_exercised <= shares_granted",
            name="shares_exercised_in_range",
        ),
        CheckConstraint("exercise_price >= 0", name="exercise_price_nonnegative"),
        CheckConstraint(values_in("option_type", OptionType), name="option_type"),
        Index(None, "employee_id"),
    )

    grant_number: Mapped[str] = mapped_column(String(ID), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    plan: Mapped[str] = mapped_column(String(TEXT))
    grant_date: Mapped[date]
    option_type: Mapped[str] = mapped_column(String(8))
    exercise_price: Mapped[Decimal] = mapped_column(
        Numeric(PRICE_PRECISION, PRICE_SCALE, asdecimal=True)
    )
    shares_granted: Mapped[int] = mapped_column(Integer)
    shares_exercised: Mapped[int] = mapped_column(Integer)
    expiration_date: Mapped[date | None]
    split_group: Mapped[str | None] = mapped_column(String(ID))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdjustmentRow(Base):
    __tablename__ = "capitalization_adjustments"
    __table_args__ = (
        CheckConstraint("numerator > 0", name="numerator_positive"),
        CheckConstraint("denominator > 0", name="denominator_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    effective_date: Mapped[date]
    numerator: Mapped[int] = mapped_column(Integer)
    denominator: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")


class AuditRow(Base):
    """Insert-only: nothing in storage updates or deletes an audit row."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index(None, "at"),
        Index(None, "subject", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(TEXT))
    action: Mapped[str] = mapped_column(String(ID))
    channel: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str | None] = mapped_column(String(ID))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class UnansweredQuestionRow(Base):
    """Questions the bot abstained on, for HR to answer or to improve the knowledge base."""

    __tablename__ = "unanswered_questions"
    __table_args__ = (Index(None, "asked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asked_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(TEXT))
    employee_id: Mapped[str | None] = mapped_column(String(ID))
    question: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    best_entry_id: Mapped[str | None] = mapped_column(String(ID))
    reason: Mapped[str] = mapped_column(String(32))


# --- elections (migration 0003) ---------------------------------------------------------------


class ElectionIntentRow(Base):
    """One version of an employee's intent; never updated. (employee_id, version) is unique so
    two concurrent requests cannot both become the same version."""

    __tablename__ = "election_intents"
    __table_args__ = (
        UniqueConstraint("employee_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(values_in("kind", IntentKind), name="kind"),
        CheckConstraint(values_in("transition", Transition), name="transition"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    transition: Mapped[str] = mapped_column(String(16))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # the grants as on the form
    recorded_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(TEXT))
    channel: Mapped[str] = mapped_column(String(32))


class FormReceiptRow(Base):
    """HR received the signed form of one intent version (at most once per version)."""

    __tablename__ = "form_receipts"
    __table_args__ = (
        UniqueConstraint("employee_id", "version"),
        CheckConstraint(values_in("form", FormKind), name="form"),
        CheckConstraint(values_in("via", Delivery), name="via"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    version: Mapped[int] = mapped_column(Integer)
    form: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    via: Mapped[str] = mapped_column(String(8))
    recorded_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(TEXT))
    channel: Mapped[str] = mapped_column(String(32))


class HrTaskRow(Base):
    """HR's work list: "awaiting signed form" per intent version."""

    __tablename__ = "hr_tasks"
    __table_args__ = (
        UniqueConstraint("employee_id", "version", "kind"),
        CheckConstraint(values_in("status", TaskStatus), name="status"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class OutboxAttachmentRow(Base):
    __tablename__ = "outbox_attachments"
    __table_args__ = (Index(None, "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(TEXT))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class AcceptedTenderRow(Base):
    """An old grant accepted for exchange when the offer closed; once per grant."""

    __tablename__ = "accepted_tenders"
    __table_args__ = (Index(None, "employee_id"),)

    grant_number: Mapped[str] = mapped_column(String(ID), primary_key=True)
    employee_id: Mapped[str] = mapped_column(ForeignKey("employees.employee_id"))
    version: Mapped[int] = mapped_column(Integer)
    line: Mapped[dict[str, Any]] = mapped_column(JSON)
    accepted_at: Mapped[datetime]


# --- e-mail inbox (migration 0004) ------------------------------------------------------------


class ImapStateRow(Base):
    """How far the inbox was read: the last processed UID under one UIDVALIDITY."""

    __tablename__ = "imap_state"

    mailbox: Mapped[str] = mapped_column(String(TEXT), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class InboundMessageRow(Base):
    """One processed inbound message. (mailbox, UIDVALIDITY, UID) and the content hash both
    dedupe: a resync after UIDVALIDITY changes finds the same bytes under a new UID."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "uidvalidity", "uid"),
        Index(None, "content_hash"),
        Index(None, "sender", "received_at"),
        Index(None, "sender", "processed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mailbox: Mapped[str] = mapped_column(String(TEXT))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(EMAIL))  # normalized address, "" if none
    employee_id: Mapped[str | None] = mapped_column(String(ID))
    received_at: Mapped[datetime]  # the server's INTERNALDATE, else our clock
    outcome: Mapped[str] = mapped_column(String(32))  # answered, ignored:<why>, unparseable
    processed_at: Mapped[datetime | None]  # our clock when handled (rate limits count in it)


# --- Slack (migration 0005): kept in their own module, registered on this metadata ------------
from storage.slack_models import SlackEventRow, SlackUserRow  # noqa: E402

__all__ += ["SlackEventRow", "SlackUserRow"]

# --- deadlines in motion (migration 0007): jobs, amendments, communications ---------------------
from storage.scheduler_models import AmendmentRow, CommunicationRow, JobRow  # noqa: E402

__all__ += ["AmendmentRow", "CommunicationRow", "JobRow"]

# --- HR web console (migration 0011): accounts, sessions, sign-in attempts ----------------------
from storage.hr_console_models import (  # noqa: E402
    HrAccountRow,
    HrBankSuggestionRow,
    HrFormScanRow,
    HrLoginAttemptRow,
    HrQuestionStateRow,
    HrSessionRow,
)

__all__ += [
    "HrAccountRow",
    "HrBankSuggestionRow",
    "HrFormScanRow",
    "HrLoginAttemptRow",
    "HrQuestionStateRow",
    "HrSessionRow",
]

# --- the outbox's messages and their delivery state (migration 0014) ---------------------------
from storage.outbox_models import OutboxDeliveryRow, OutboxMessageRow, OutboxRow  # noqa: E402

__all__ += ["OutboxDeliveryRow", "OutboxMessageRow", "OutboxRow"]

# --- hr close runs (migration 0010): durable progress of a batched close ------------------------
from storage.close_models import CloseRunRow  # noqa: E402

__all__ += ["CloseRunRow"]
