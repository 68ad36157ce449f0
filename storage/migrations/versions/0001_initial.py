"""Initial schema: offer state, roster (employees, grants), capitalization adjustments, audit log.

Written by hand from ``storage/models.py``. Constraint names are spelled out (``op.f``) so they
are identical on SQLite and PostgreSQL; CHECK lists are frozen here on purpose — a new status
or class needs its own migration.

Revision ID: 0001
Revises:
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "offer_state",
        sa.Column("offer_id", sa.String(64), nullable=False),
        sa.Column("expiration", sa.DateTime(timezone=True), nullable=False),
        sa.Column("original_expiration", sa.DateTime(timezone=True), nullable=False),
        sa.Column("terms_digest", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("offer_id", name=op.f("pk_offer_state")),
    )

    op.create_table(
        "employees",
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_normalized", sa.String(254), nullable=False),
        sa.Column("slack_user_id", sa.String(64), nullable=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("employee_class", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("employee_id", name=op.f("pk_employees")),
        sa.UniqueConstraint("slack_user_id", name=op.f("uq_employees_slack_user_id")),
        sa.CheckConstraint(
            "status IN ('active', 'leave', 'terminated')", name=op.f("ck_employees_status")
        ),
        sa.CheckConstraint(
            "employee_class IN ('employee', 'executive_officer', 'executive_management', "
            "'director', 'consultant')",
            name=op.f("ck_employees_employee_class"),
        ),
    )
    op.create_index(
        op.f("ix_employees_email_normalized"), "employees", ["email_normalized"], unique=True
    )

    op.create_table(
        "grants",
        sa.Column("grant_number", sa.String(64), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(200), nullable=False),
        sa.Column("grant_date", sa.Date(), nullable=False),
        sa.Column("option_type", sa.String(8), nullable=False),
        sa.Column("exercise_price", sa.Numeric(12, 4), nullable=False),
        sa.Column("shares_granted", sa.Integer(), nullable=False),
        sa.Column("shares_exercised", sa.Integer(), nullable=False),
        sa.Column("expiration_date", sa.Date(), nullable=True),
        sa.Column("split_group", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("grant_number", name=op.f("pk_grants")),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.employee_id"],
            name=op.f("fk_grants_employee_id_employees"),
        ),
        sa.CheckConstraint(
            "shares_granted >= 0", name=op.f("ck_grants_shares_granted_nonnegative")
        ),
        sa.CheckConstraint(
            "shares_exercised >= 0 AND shares_exercised <= shares_granted",
            name=op.f("ck_grants_shares_exercised_in_range"),
        ),
        sa.CheckConstraint(
            "exercise_price >= 0", name=op.f("ck_grants_exercise_price_nonnegative")
        ),
        sa.CheckConstraint("option_type IN ('ISO', 'NSO')", name=op.f("ck_grants_option_type")),
    )
    op.create_index(op.f("ix_grants_employee_id"), "grants", ["employee_id"])

    op.create_table(
        "capitalization_adjustments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("numerator", sa.Integer(), nullable=False),
        sa.Column("denominator", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capitalization_adjustments")),
        sa.CheckConstraint(
            "numerator > 0", name=op.f("ck_capitalization_adjustments_numerator_positive")
        ),
        sa.CheckConstraint(
            "denominator > 0", name=op.f("ck_capitalization_adjustments_denominator_positive")
        ),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_subject_at"), "audit_log", ["subject", "at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("capitalization_adjustments")
    op.drop_index(op.f("ix_grants_employee_id"), table_name="grants")
    op.drop_table("grants")
    op.drop_index(op.f("ix_employees_email_normalized"), table_name="employees")
    op.drop_table("employees")
    op.drop_table("offer_state")
