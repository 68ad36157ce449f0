"""Elections: intent versions, signed-form receipts, HR tasks, the outbox, accepted tenders.

Written by hand from ``storage/models.py``; CHECK lists are frozen here on purpose.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _employee_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["employee_id"],
        ["employees.employee_id"],
        name=op.f(f"fk_{table}_employee_id_employees"),
    )


def upgrade() -> None:
    op.create_table(
        "election_intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("transition", sa.String(16), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_election_intents")),
        _employee_fk("election_intents"),
        sa.UniqueConstraint(
            "employee_id", "version", name=op.f("uq_election_intents_employee_id_version")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_election_intents_version_positive")),
        sa.CheckConstraint("kind IN ('tender', 'withdraw')", name=op.f("ck_election_intents_kind")),
        sa.CheckConstraint(
            "transition IN ('tender', 'change', 'withdraw', 're-tender')",
            name=op.f("ck_election_intents_transition"),
        ),
    )

    op.create_table(
        "form_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(8), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_receipts")),
        _employee_fk("form_receipts"),
        sa.UniqueConstraint(
            "employee_id", "version", name=op.f("uq_form_receipts_employee_id_version")
        ),
        sa.CheckConstraint(
            "form IN ('election', 'withdrawal')", name=op.f("ck_form_receipts_form")
        ),
        sa.CheckConstraint("via IN ('fax', 'hand')", name=op.f("ck_form_receipts_via")),
    )

    op.create_table(
        "hr_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hr_tasks")),
        _employee_fk("hr_tasks"),
        sa.UniqueConstraint(
            "employee_id", "version", "kind", name=op.f("uq_hr_tasks_employee_id_version_kind")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'superseded')", name=op.f("ck_hr_tasks_status")
        ),
    )
    op.create_index(op.f("ix_hr_tasks_status"), "hr_tasks", ["status"])

    op.create_table(
        "outbox",
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
        sa.CheckConstraint("channel IN ('email', 'slack')", name=op.f("ck_outbox_channel")),
        sa.CheckConstraint(
            "kind IN ('intent_confirmation', 'hr_notice', 'receipt_confirmation', "
            "'promise_to_grant')",
            name=op.f("ck_outbox_kind"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_nonnegative")),
    )
    op.create_index(op.f("ix_outbox_sent_at_due_at"), "outbox", ["sent_at", "due_at"])
    op.create_index(op.f("ix_outbox_employee_id"), "outbox", ["employee_id"])

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

    op.create_table(
        "accepted_tenders",
        sa.Column("grant_number", sa.String(64), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("line", sa.JSON(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("grant_number", name=op.f("pk_accepted_tenders")),
        _employee_fk("accepted_tenders"),
    )
    op.create_index(op.f("ix_accepted_tenders_employee_id"), "accepted_tenders", ["employee_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_accepted_tenders_employee_id"), table_name="accepted_tenders")
    op.drop_table("accepted_tenders")
    op.drop_index(op.f("ix_outbox_attachments_message_id"), table_name="outbox_attachments")
    op.drop_table("outbox_attachments")
    op.drop_index(op.f("ix_outbox_employee_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_sent_at_due_at"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_hr_tasks_status"), table_name="hr_tasks")
    op.drop_table("hr_tasks")
    op.drop_table("form_receipts")
    op.drop_table("election_intents")
