"""HR console: employees' questions proposed as question-bank examples, for review.

Written by hand from ``storage/hr_console_models.py`` (``HrBankSuggestionRow``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "hr_bank_suggestions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposed_by", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected')",
            name=op.f("ck_hr_bank_suggestions_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hr_bank_suggestions")),
    )
    op.create_index(
        op.f("ix_hr_bank_suggestions_status_proposed_at"),
        "hr_bank_suggestions",
        ["status", "proposed_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_hr_bank_suggestions_status_proposed_at"), table_name="hr_bank_suggestions"
    )
    op.drop_table("hr_bank_suggestions")
