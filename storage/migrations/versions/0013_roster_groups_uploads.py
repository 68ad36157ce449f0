"""Roster groups (department, location, manager e-mail) and scanned signed forms.

Written by hand from ``storage/models.py`` (employees) and ``storage/hr_console_models.py``
(``hr_form_scans``). The new employee columns are nullable: rosters imported before keep
working and show no group figures until a file with the columns is imported.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("employees") as batch:
        batch.add_column(sa.Column("department", sa.String(200), nullable=True))
        batch.add_column(sa.Column("location", sa.String(200), nullable=True))
        batch.add_column(sa.Column("manager_email", sa.String(254), nullable=True))
    op.create_table(
        "hr_form_scans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_hr_form_scans_size_nonnegative")),
        sa.ForeignKeyConstraint(
            ["employee_id", "version"],
            ["form_receipts.employee_id", "form_receipts.version"],
            name=op.f("fk_hr_form_scans_employee_id_form_receipts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hr_form_scans")),
    )
    op.create_index(op.f("ix_hr_form_scans_employee_id"), "hr_form_scans", ["employee_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_hr_form_scans_employee_id"), table_name="hr_form_scans")
    op.drop_table("hr_form_scans")
    with op.batch_alter_table("employees") as batch:
        batch.drop_column("manager_email")
        batch.drop_column("location")
        batch.drop_column("department")
