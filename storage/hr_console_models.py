"""Tables of the HR web console (migration 0011): HR accounts, sign-in sessions, sign-in
attempts, and which unanswered questions HR marked answered; employees' questions HR proposed
as new examples for the question bank (migration 0012); scanned signed forms (migration 0013).

Imported at the end of :mod:`storage.models` so they belong to the one ``Base.metadata``.
Sessions and attempts live in the database, not in process memory, so every replica behind a
load balancer knows the same sessions and counts the same failed sign-ins.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.model_base import EMAIL, ID, TEXT, Base

__all__ = [
    "HrAccountRow",
    "HrBankSuggestionRow",
    "HrFormScanRow",
    "HrLoginAttemptRow",
    "HrQuestionStateRow",
    "HrSessionRow",
]

ROLES = ("admin", "viewer")
SUGGESTION_STATUSES = ("pending", "accepted", "rejected")


class HrAccountRow(Base):
    """One HR person who may sign in to the console; the password only as an argon2 hash."""

    __tablename__ = "hr_accounts"
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="role"),)

    email: Mapped[str] = mapped_column(String(EMAIL), primary_key=True)  # lower-cased
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(TEXT))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(TEXT))


class HrSessionRow(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored, so a copy of the
    database does not hand out live sessions."""

    __tablename__ = "hr_sessions"
    __table_args__ = (Index(None, "email"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    address: Mapped[str] = mapped_column(String(64))


class HrLoginAttemptRow(Base):
    """One sign-in attempt; failures in a window are counted per account and per address."""

    __tablename__ = "hr_login_attempts"
    __table_args__ = (Index(None, "email", "at"), Index(None, "address", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    email: Mapped[str] = mapped_column(String(EMAIL))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)


class HrQuestionStateRow(Base):
    """HR marked an unanswered question answered (the question row itself is never changed)."""

    __tablename__ = "hr_question_states"

    question_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answered_at: Mapped[datetime]
    answered_by: Mapped[str] = mapped_column(String(TEXT))


class HrBankSuggestionRow(Base):
    """A question HR proposed as a new example of a label in the question bank. Not training
    data: an admin accepts or rejects it, and only accepted rows are exported in the bank's own
    format (``offerbot hr suggestions export``) for a person to review and commit."""

    __tablename__ = "hr_bank_suggestions"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status"),
        Index(None, "status", "proposed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question_id: Mapped[int | None] = mapped_column(Integer)  # the unanswered question, if any
    text: Mapped[str] = mapped_column(Text)  # one line, as HR left it
    label: Mapped[str] = mapped_column(String(64))  # "Q21", "RISK-3", "out_of_scope", "advice"
    status: Mapped[str] = mapped_column(String(16))
    proposed_at: Mapped[datetime]
    proposed_by: Mapped[str] = mapped_column(String(TEXT))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(TEXT))


class HrFormScanRow(Base):
    """The scanned signed form HR uploaded with a receipt (migration 0013), kept in the database
    rather than in a files directory: every replica reads the same rows without a shared disk,
    and a database backup holds the scans together with the receipts they prove. One receipt
    (employee, version) may have several (a re-scan adds one; none is ever replaced)."""

    __tablename__ = "hr_form_scans"
    __table_args__ = (
        ForeignKeyConstraint(
            ["employee_id", "version"], ["form_receipts.employee_id", "form_receipts.version"]
        ),
        CheckConstraint("size >= 0", name="size_nonnegative"),
        Index(None, "employee_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    employee_id: Mapped[str] = mapped_column(String(ID))
    version: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(TEXT))  # as uploaded, cleaned
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[str] = mapped_column(String(TEXT))
