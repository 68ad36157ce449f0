"""HR web console: accounts, sessions, sign-in attempts, answered questions.

Written by hand from ``storage/hr_console_models.py``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "hr_accounts",
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'viewer')", name=op.f("ck_hr_accounts_role")),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_hr_accounts")),
    )
    op.create_table(
        "hr_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_hr_sessions")),
    )
    op.create_index(op.f("ix_hr_sessions_email"), "hr_sessions", ["email"])
    op.create_table(
        "hr_login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hr_login_attempts")),
    )
    op.create_index(op.f("ix_hr_login_attempts_email_at"), "hr_login_attempts", ["email", "at"])
    op.create_index(op.f("ix_hr_login_attempts_address_at"), "hr_login_attempts", ["address", "at"])
    op.create_table(
        "hr_question_states",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("question_id", name=op.f("pk_hr_question_states")),
    )


def downgrade() -> None:
    op.drop_table("hr_question_states")
    op.drop_index(op.f("ix_hr_login_attempts_address_at"), table_name="hr_login_attempts")
    op.drop_index(op.f("ix_hr_login_attempts_email_at"), table_name="hr_login_attempts")
    op.drop_table("hr_login_attempts")
    op.drop_index(op.f("ix_hr_sessions_email"), table_name="hr_sessions")
    op.drop_table("hr_sessions")
    op.drop_table("hr_accounts")
