"""Close runs: the durable progress of ``offerbot hr close`` (``storage/close_models.py``).

One row per run — started, who ran it and who signs its letters, the cursor and counts after
each committed batch, finished — so a crash or ``kill -9`` resumes after the last committed
batch and never issues a letter twice. A new table only: nothing existing changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "close_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("offer_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("signer_title", sa.String(200), nullable=False),
        sa.Column("signer_demo", sa.Boolean(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.String(64), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("batch_size > 0", name=op.f("ck_close_runs_batch_size_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_close_runs")),
    )
    op.create_index(
        op.f("ix_close_runs_offer_id_finished_at"), "close_runs", ["offer_id", "finished_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_close_runs_offer_id_finished_at"), table_name="close_runs")
    op.drop_table("close_runs")
