"""Inbound mail: when we handled each message, on our own clock (per-sender rate limits).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        op.f("ix_inbound_messages_sender_processed_at"),
        "inbound_messages",
        ["sender", "processed_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_messages_sender_processed_at"), table_name="inbound_messages")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("processed_at")
