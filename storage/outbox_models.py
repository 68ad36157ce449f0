"""The outbox in two tables (migration 0014): what a message says, and how its delivery goes.

``outbox`` holds a message as written when it was queued — recipient, subject, bodies,
threading headers — and is written once. ``outbox_delivery`` holds one narrow row per message
(about 100 bytes) with everything the senders rewrite: the state, the lease, the attempt count,
the Message-ID fixed at the first claim, the outcome. A claim and a mark rewrite only that row
and its one index — before this split each of them rewrote the whole 1.2–3.7 KB row with its
bodies (on PostgreSQL a new row version and an entry in each of six indexes), which is what kept
the broadcast pipeline under 90 % of a bare SMTP client (issue 15, item 4).

:class:`OutboxRow` maps the join of the two, so the ORM and the reports read and update one
message as before (``row.state = …`` writes ``outbox_delivery`` only); bulk writes go to the
tables themselves (:data:`OUTBOX_MESSAGES`, :data:`OUTBOX_DELIVERY`).

A copy of a stored communication (a reminder round's, migration 0016) keeps its text once: the
``outbox`` row names the communication and holds only the personal fields (``personal_name``,
``personal_grants``), with ``body_text`` empty. :data:`OUTBOX_BODY` is the text every reader
gets — the stored body, or the communication's filled in the way
:func:`bot.domain.communications.personal_text` does — so a round writes ~200 bytes a copy
instead of its 1.2 KB text (150 MB for 120,000 copies, most of the round's insert work).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    case,
    func,
    join,
    literal,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from bot.domain.communications import GRANTS_PLACEHOLDER, NAME_PLACEHOLDER
from bot.domain.hr_records import DeliveryState, MessageKind
from storage.model_base import EMAIL, ID, TEXT, Base, values_in
from storage.scheduler_models import CommunicationRow

__all__ = [
    "OUTBOX_BODY",
    "OUTBOX_DELIVERY",
    "OUTBOX_MESSAGES",
    "OutboxDeliveryRow",
    "OutboxMessageRow",
    "OutboxRow",
]


class OutboxMessageRow(Base):
    """A message written in the same transaction as the change it reports; never rewritten."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(values_in("kind", MessageKind), name="kind"),
        Index(None, "employee_id"),
        Index(None, "reference"),  # migration 0007: copies of one communication
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(TEXT), unique=True)
    recipient: Mapped[str] = mapped_column(String(EMAIL))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    employee_id: Mapped[str | None] = mapped_column(String(ID))
    reference: Mapped[str | None] = mapped_column(String(ID))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    body_html: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    thread_references: Mapped[str | None] = mapped_column(Text)
    # a copy of a stored communication (0016): its text is that one's, with these filled in;
    # no foreign key (an ADD COLUMN on SQLite; communications are never deleted)
    communication_id: Mapped[int | None] = mapped_column(Integer)
    personal_name: Mapped[str | None] = mapped_column(Text)
    personal_grants: Mapped[str | None] = mapped_column(Text)


class OutboxDeliveryRow(Base):
    """The senders' bookkeeping for one message: all they write, and the one index they use."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'slack')", name="channel"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        CheckConstraint(values_in("state", DeliveryState), name="state"),
        # each channel's sender claims its own due rows in this order (claim_due, count_due);
        # the id last, so a claim reads its rows in order and stops (migration 0017)
        Index(None, "state", "channel", "priority", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    priority: Mapped[int] = mapped_column(Integer, default=0)  # 0 transactional, 10 bulk
    next_attempt_at: Mapped[datetime]  # due_at, then pushed back by each retry's backoff
    lease_until: Mapped[datetime | None]  # a sender claimed it until then
    lease_owner: Mapped[str | None] = mapped_column(String(ID))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(TEXT))  # fixed before attempt 1
    delivery_id: Mapped[str | None] = mapped_column(String(TEXT))  # Message-ID, Slack ts
    # times put back in the queue after failed/ambiguous (migration 0009)
    requeues: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


OUTBOX_MESSAGES: Table = OutboxMessageRow.__table__  # type: ignore[assignment]
OUTBOX_DELIVERY: Table = OutboxDeliveryRow.__table__  # type: ignore[assignment]


def _outbox_body() -> Any:
    m = OUTBOX_MESSAGES.c
    communications: Table = CommunicationRow.__table__  # type: ignore[assignment]
    template = (
        select(communications.c.body)
        .where(communications.c.id == m.communication_id)
        .scalar_subquery()
    )
    # a NULL field leaves its placeholder (replaced by itself), as personal_text does
    grants = func.coalesce(m.personal_grants, literal(GRANTS_PLACEHOLDER))
    name = func.coalesce(m.personal_name, literal(NAME_PLACEHOLDER))
    filled = func.replace(
        func.replace(template, literal(GRANTS_PLACEHOLDER), grants), literal(NAME_PLACEHOLDER), name
    )
    return case((m.communication_id.is_(None), m.body_text), else_=filled).label("body_text")


OUTBOX_BODY: Any = _outbox_body()
"""A message's text as sent, for every reader: see the module docstring."""


class OutboxRow(Base):
    """One queued message as the application sees it: the join of its two rows. A flush of a
    new one inserts both (the delivery row takes the message's id); changing a delivery
    attribute updates ``outbox_delivery`` alone."""

    __table__ = join(OUTBOX_MESSAGES, OUTBOX_DELIVERY)

    id: Mapped[int] = column_property(OUTBOX_MESSAGES.c.id, OUTBOX_DELIVERY.c.id)
    idempotency_key: Mapped[str]
    channel: Mapped[str]
    recipient: Mapped[str]
    kind: Mapped[str]
    subject: Mapped[str]
    body_text: Mapped[str]
    employee_id: Mapped[str | None]
    reference: Mapped[str | None]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int]
    last_error: Mapped[str | None]
    state: Mapped[str]
    priority: Mapped[int]
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None]
    message_id: Mapped[str | None]
    delivery_id: Mapped[str | None]
    body_html: Mapped[str | None]
    in_reply_to: Mapped[str | None]
    thread_references: Mapped[str | None]
    requeues: Mapped[int]
    communication_id: Mapped[int | None]
    personal_name: Mapped[str | None]
    personal_grants: Mapped[str | None]
    # the text as sent (``body_text`` is empty in a copy of a communication): read this one
    body: Mapped[str] = column_property(OUTBOX_BODY)
