"""E-mail: outbox delivery state (leases, retries, Message-ID, threading), the inbox's IMAP state
and the processed-message log.

Written by hand from ``storage/models.py``; CHECK lists are frozen here on purpose.

SQLite cannot alter a CHECK constraint, so there the outbox is rebuilt (new table, copy, drop,
rename). ``outbox_attachments`` is set aside first: with ``foreign_keys=ON`` (always on here,
and PRAGMA cannot change inside the migration's transaction) dropping ``outbox`` would cascade
into it and delete every attachment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

KINDS_0003 = "'intent_confirmation', 'hr_notice', 'receipt_confirmation', 'promise_to_grant'"
KINDS_0004 = KINDS_0003 + ", 'answer', 'hr_alert', 'reminder', 'extension_announcement'"
STATES = "'pending', 'sent', 'failed', 'ambiguous'"
OLD_COLUMNS = (
    "id, idempotency_key, channel, recipient, kind, subject, body_text, employee_id, reference, "
    "created_at, due_at, sent_at, attempts, last_error"
)


def _base_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=True),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
    ]


def _delivery_columns(*, adding: bool = False) -> list[sa.Column[object]]:
    """The new outbox columns; ``adding`` to a filled table (PostgreSQL): with temporary
    defaults, ``next_attempt_at`` nullable until it is filled in."""
    return [
        sa.Column(
            "state",
            sa.String(16),
            nullable=False,
            server_default=sa.text("'pending'") if adding else None,
        ),
        sa.Column(
            "priority",
            sa.Integer(),
            nullable=False,
            server_default=sa.text("0") if adding else None,
        ),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=adding),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("delivery_id", sa.String(200), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("in_reply_to", sa.Text(), nullable=True),
        sa.Column("thread_references", sa.Text(), nullable=True),
    ]


def _outbox_constraints(kinds: str, *, with_state: bool) -> list[sa.Constraint]:
    constraints: list[sa.Constraint] = [
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
        sa.CheckConstraint("channel IN ('email', 'slack')", name=op.f("ck_outbox_channel")),
        sa.CheckConstraint(f"kind IN ({kinds})", name=op.f("ck_outbox_kind")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_nonnegative")),
    ]
    if with_state:
        constraints.append(sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_outbox_state")))
    return constraints


def _outbox_indexes(*, with_state: bool) -> None:
    op.create_index(op.f("ix_outbox_sent_at_due_at"), "outbox", ["sent_at", "due_at"])
    op.create_index(op.f("ix_outbox_employee_id"), "outbox", ["employee_id"])
    if with_state:
        op.create_index(
            op.f("ix_outbox_state_priority_next_attempt_at"),
            "outbox",
            ["state", "priority", "next_attempt_at"],
        )


def _create_attachments() -> None:
    op.create_table(
        "outbox_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attachments")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_attachments_message_id_outbox"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_outbox_attachments_message_id"), "outbox_attachments", ["message_id"])


def _rebuild_outbox_on_sqlite(*, new: bool, select_new: str) -> None:
    """Create the outbox in its ``new`` (0004) or old (0003) shape and copy the rows over."""
    op.execute("CREATE TABLE _outbox_attachments_keep AS SELECT * FROM outbox_attachments")
    op.drop_index(op.f("ix_outbox_attachments_message_id"), table_name="outbox_attachments")
    op.drop_table("outbox_attachments")
    kinds = KINDS_0004 if new else KINDS_0003
    columns = _base_columns() + (_delivery_columns() if new else [])
    op.create_table("_outbox_new", *columns, *_outbox_constraints(kinds, with_state=new))
    target = OLD_COLUMNS + (
        ", state, priority, next_attempt_at, message_id, delivery_id" if new else ""
    )
    op.execute(f"INSERT INTO _outbox_new ({target}) SELECT {select_new} FROM outbox")
    if not new:
        op.drop_index(op.f("ix_outbox_state_priority_next_attempt_at"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_employee_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_sent_at_due_at"), table_name="outbox")
    op.drop_table("outbox")
    op.rename_table("_outbox_new", "outbox")
    _outbox_indexes(with_state=new)
    _create_attachments()
    op.execute(
        "INSERT INTO outbox_attachments (id, message_id, filename, content_type, content) "
        "SELECT id, message_id, filename, content_type, content FROM _outbox_attachments_keep"
    )
    op.execute("DROP TABLE _outbox_attachments_keep")


_STATE_OF_OLD_ROW = "CASE WHEN sent_at IS NULL THEN 'pending' ELSE 'sent' END"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_outbox_on_sqlite(
            new=True,
            select_new=f"{OLD_COLUMNS}, {_STATE_OF_OLD_ROW}, 0, due_at, NULL, NULL",
        )
    else:
        for column in _delivery_columns(adding=True):
            op.add_column("outbox", column)
        op.execute(f"UPDATE outbox SET state = {_STATE_OF_OLD_ROW}, next_attempt_at = due_at")
        op.alter_column("outbox", "state", server_default=None)
        op.alter_column("outbox", "priority", server_default=None)
        op.alter_column("outbox", "next_attempt_at", nullable=False)
        op.drop_constraint(op.f("ck_outbox_kind"), "outbox", type_="check")
        op.create_check_constraint(op.f("ck_outbox_kind"), "outbox", f"kind IN ({KINDS_0004})")
        op.create_check_constraint(op.f("ck_outbox_state"), "outbox", f"state IN ({STATES})")
        op.create_index(
            op.f("ix_outbox_state_priority_next_attempt_at"),
            "outbox",
            ["state", "priority", "next_attempt_at"],
        )

    op.create_table(
        "imap_state",
        sa.Column("mailbox", sa.String(200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_imap_state")),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mailbox", sa.String(200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(254), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "mailbox",
            "uidvalidity",
            "uid",
            name=op.f("uq_inbound_messages_mailbox_uidvalidity_uid"),
        ),
    )
    op.create_index(op.f("ix_inbound_messages_content_hash"), "inbound_messages", ["content_hash"])
    op.create_index(
        op.f("ix_inbound_messages_sender_received_at"),
        "inbound_messages",
        ["sender", "received_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_messages_sender_received_at"), table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_content_hash"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_table("imap_state")
    # Messages of the new kinds cannot exist in the old schema.
    op.execute(
        "DELETE FROM outbox WHERE kind IN "
        "('answer', 'hr_alert', 'reminder', 'extension_announcement')"
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_outbox_on_sqlite(new=False, select_new=OLD_COLUMNS)
        return
    op.drop_index(op.f("ix_outbox_state_priority_next_attempt_at"), table_name="outbox")
    op.drop_constraint(op.f("ck_outbox_state"), "outbox", type_="check")
    op.drop_constraint(op.f("ck_outbox_kind"), "outbox", type_="check")
    op.create_check_constraint(op.f("ck_outbox_kind"), "outbox", f"kind IN ({KINDS_0003})")
    for column in reversed(_delivery_columns()):
        op.drop_column("outbox", column.name)
