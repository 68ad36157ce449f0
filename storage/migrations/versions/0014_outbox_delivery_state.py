"""The outbox's delivery state in a narrow table of its own, apart from the message bodies.

``outbox`` keeps what a message says (written once); ``outbox_delivery`` gets one row per
message with what the senders rewrite on every claim and mark — channel, state, priority, next
attempt, lease, attempts, sent time, last error, Message-ID, delivery id, requeues — and the
claim's index (``storage/outbox_models.py`` says why). Every existing row keeps its id, state
and history. Two indexes go: ``(sent_at, due_at)`` (no query reads it since 0004) and
``(state, priority, next_attempt_at)`` (the claim's index, per channel since 0008, covers it).

SQLite cannot drop columns named in a CHECK constraint, so there the outbox is rebuilt (new
table, copy, drop, rename) as in 0004, with ``outbox_attachments`` and the delivery columns set
aside first: with ``foreign_keys=ON`` dropping ``outbox`` would cascade into whatever
references it. PostgreSQL drops the columns in place.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

KINDS = (
    "'intent_confirmation', 'hr_notice', 'receipt_confirmation', 'promise_to_grant', 'answer', "
    "'hr_alert', 'reminder', 'extension_announcement'"
)
STATES = "'pending', 'sent', 'failed', 'ambiguous'"
MESSAGE_COLUMNS = (
    "id, idempotency_key, recipient, kind, subject, body_text, employee_id, reference, "
    "created_at, due_at, body_html, in_reply_to, thread_references"
)
DELIVERY_COLUMNS = (
    "id, channel, state, priority, next_attempt_at, lease_until, lease_owner, attempts, "
    "sent_at, last_error, message_id, delivery_id, requeues"
)
REQUIRED = ("channel", "state", "priority", "next_attempt_at", "attempts", "requeues")
CLAIM_INDEX = ["state", "channel", "priority", "next_attempt_at"]


def _message_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=True),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("in_reply_to", sa.Text(), nullable=True),
        sa.Column("thread_references", sa.Text(), nullable=True),
    ]


def _delivery_columns(*, with_id: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("delivery_id", sa.String(200), nullable=True),
        sa.Column("requeues", sa.Integer(), nullable=False, server_default=sa.text("0")),
    ]
    if with_id:
        columns.insert(0, sa.Column("id", sa.Integer(), autoincrement=False, nullable=False))
    return columns


def _delivery_checks(table: str) -> list[sa.Constraint]:
    return [
        sa.CheckConstraint("channel IN ('email', 'slack')", name=op.f(f"ck_{table}_channel")),
        sa.CheckConstraint("attempts >= 0", name=op.f(f"ck_{table}_attempts_nonnegative")),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f(f"ck_{table}_state")),
    ]


def _create_delivery() -> None:
    op.create_table(
        "outbox_delivery",
        *_delivery_columns(with_id=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_delivery")),
        sa.ForeignKeyConstraint(
            ["id"], ["outbox.id"], name=op.f("fk_outbox_delivery_id_outbox"), ondelete="CASCADE"
        ),
        *_delivery_checks("outbox_delivery"),
    )
    op.create_index(
        op.f("ix_outbox_delivery_state_channel_priority_next_attempt_at"),
        "outbox_delivery",
        CLAIM_INDEX,
    )


def _drop_delivery() -> None:
    op.drop_index(
        op.f("ix_outbox_delivery_state_channel_priority_next_attempt_at"),
        table_name="outbox_delivery",
    )
    op.drop_table("outbox_delivery")


def _old_indexes() -> list[tuple[str, list[str]]]:
    return [
        ("ix_outbox_sent_at_due_at", ["sent_at", "due_at"]),
        ("ix_outbox_state_priority_next_attempt_at", ["state", "priority", "next_attempt_at"]),
        ("ix_outbox_state_channel_priority_next_attempt_at", CLAIM_INDEX),
    ]


def _set_attachments_aside() -> None:
    op.execute("CREATE TABLE _outbox_attachments_keep AS SELECT * FROM outbox_attachments")
    op.drop_index(op.f("ix_outbox_attachments_message_id"), table_name="outbox_attachments")
    op.drop_table("outbox_attachments")


def _restore_attachments() -> None:
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
    op.execute(
        "INSERT INTO outbox_attachments (id, message_id, filename, content_type, content) "
        "SELECT id, message_id, filename, content_type, content FROM _outbox_attachments_keep"
    )
    op.execute("DROP TABLE _outbox_attachments_keep")


def _replace_outbox_on_sqlite(columns: list[sa.Column[object]], *checks: sa.Constraint) -> None:
    """Swap ``outbox`` for a table of ``columns`` filled from ``_outbox_source`` (a view or
    table the caller made), under the same constraint names."""
    op.create_table(
        "_outbox_new",
        *columns,
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_outbox_kind")),
        *checks,
    )
    names = ", ".join(c.name for c in columns)
    op.execute(f"INSERT INTO _outbox_new ({names}) SELECT {names} FROM _outbox_source")
    op.execute("DROP TABLE _outbox_source")
    op.drop_index(op.f("ix_outbox_employee_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_reference"), table_name="outbox")
    op.drop_table("outbox")
    op.rename_table("_outbox_new", "outbox")
    op.create_index(op.f("ix_outbox_employee_id"), "outbox", ["employee_id"])
    op.create_index(op.f("ix_outbox_reference"), "outbox", ["reference"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _set_attachments_aside()
        op.execute(f"CREATE TABLE _outbox_delivery_keep AS SELECT {DELIVERY_COLUMNS} FROM outbox")
        op.execute("CREATE TABLE _outbox_source AS SELECT * FROM outbox")
        for name, _columns in _old_indexes():
            op.drop_index(op.f(name), table_name="outbox")
        _replace_outbox_on_sqlite(_message_columns())
        _create_delivery()
        op.execute(
            f"INSERT INTO outbox_delivery ({DELIVERY_COLUMNS}) "
            f"SELECT {DELIVERY_COLUMNS} FROM _outbox_delivery_keep"
        )
        op.execute("DROP TABLE _outbox_delivery_keep")
        _restore_attachments()
        return
    _create_delivery()
    op.execute(
        f"INSERT INTO outbox_delivery ({DELIVERY_COLUMNS}) SELECT {DELIVERY_COLUMNS} FROM outbox"
    )
    for name, _columns in _old_indexes():
        op.drop_index(op.f(name), table_name="outbox")
    for check in ("channel", "attempts_nonnegative", "state"):
        op.drop_constraint(op.f(f"ck_outbox_{check}"), "outbox", type_="check")
    for column in _delivery_columns(with_id=False):
        op.drop_column("outbox", column.name)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _set_attachments_aside()
        op.execute(
            "CREATE TABLE _outbox_source AS SELECT o.*, "
            + ", ".join(f"d.{c.strip()}" for c in DELIVERY_COLUMNS.split(",")[1:])
            + " FROM outbox o JOIN outbox_delivery d ON d.id = o.id"
        )
        _drop_delivery()
        _replace_outbox_on_sqlite(
            _message_columns() + _delivery_columns(with_id=False), *_delivery_checks("outbox")
        )
        _restore_attachments()
    else:
        for column in _delivery_columns(with_id=False):
            column.nullable = True
            op.add_column("outbox", column)
        assignments = ", ".join(
            f"{c.strip()} = d.{c.strip()}" for c in DELIVERY_COLUMNS.split(",")[1:]
        )
        op.execute(f"UPDATE outbox SET {assignments} FROM outbox_delivery d WHERE d.id = outbox.id")
        for column in _delivery_columns(with_id=False):
            if column.name in REQUIRED:
                op.alter_column("outbox", column.name, nullable=False)
        op.create_check_constraint(
            op.f("ck_outbox_channel"), "outbox", "channel IN ('email', 'slack')"
        )
        op.create_check_constraint(
            op.f("ck_outbox_attempts_nonnegative"), "outbox", "attempts >= 0"
        )
        op.create_check_constraint(op.f("ck_outbox_state"), "outbox", f"state IN ({STATES})")
        _drop_delivery()
    for name, columns in _old_indexes():
        op.create_index(op.f(name), "outbox", columns)
