"""Outbox recovery: how many times a message was put back in the queue.

``outbox.requeues`` counts the automatic second attempt of an ambiguous legal notice and each
``offerbot hr outbox resend`` (``bot/services/messaging/outbox_recovery.py``): an ambiguous notice
is retried only while it is 0, and each later give-up raises an HR alert of its own. Existing rows
were never requeued, so the server default reads them as 0. A plain ``ADD COLUMN`` on both
backends (no constraint, so SQLite needs no table rebuild).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column("requeues", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+): a batch rebuild of ``outbox`` would drop the table
    # its attachments reference
    op.drop_column("outbox", "requeues")
