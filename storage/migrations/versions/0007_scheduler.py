"""Deadlines in motion: durable jobs, offer amendments, the communications log.

Written by hand from ``storage/scheduler_models.py``; CHECK lists are frozen here on purpose.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

JOB_STATES = "'pending', 'done', 'failed', 'cancelled'"
AMENDMENT_KINDS = "'extension', 'consideration'"
AMENDMENT_STATUSES = "'awaiting_approval', 'applied', 'rejected'"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(f"state IN ({JOB_STATES})", name=op.f("ck_jobs_state")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_jobs_attempts_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_jobs_key")),
    )
    op.create_index(op.f("ix_jobs_state_due_at"), "jobs", ["state", "due_at"])
    op.create_index(op.f("ix_jobs_kind_state"), "jobs", ["kind", "state"])
    op.create_table(
        "offer_amendments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("offer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("previous_expiration", sa.DateTime(timezone=True), nullable=False),
        sa.Column("new_expiration", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("announce", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"kind IN ({AMENDMENT_KINDS})", name=op.f("ck_offer_amendments_kind")),
        sa.CheckConstraint(
            f"status IN ({AMENDMENT_STATUSES})", name=op.f("ck_offer_amendments_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_amendments")),
    )
    op.create_index(
        op.f("ix_offer_amendments_offer_id_status"), "offer_amendments", ["offer_id", "status"]
    )
    op.create_table(
        "communications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("channel_post", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communications")),
        sa.UniqueConstraint("key", name=op.f("uq_communications_key")),
    )
    # An outbox copy points at its communication ("comm:<id>"); exports count copies by it.
    op.create_index(op.f("ix_outbox_reference"), "outbox", ["reference"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_reference"), table_name="outbox")
    op.drop_table("communications")
    op.drop_index(op.f("ix_offer_amendments_offer_id_status"), table_name="offer_amendments")
    op.drop_table("offer_amendments")
    op.drop_index(op.f("ix_jobs_kind_state"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_state_due_at"), table_name="jobs")
    op.drop_table("jobs")
