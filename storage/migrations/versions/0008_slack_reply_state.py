"""Slack replies that failed to post wait for the retry; the outbox index per channel.

``slack_events`` gets the reply's state, the rendered reply while it waits to be posted, and
when the state last changed (``storage/slack_models.py``). Existing rows were all handled, so
the state's server default reads them as ``done``. SQLite cannot add a CHECK constraint to a
table, so batch mode rebuilds ``slack_events`` there (nothing references it); PostgreSQL alters
it in place. The outbox senders claim due rows per channel (``storage/mail_repo.py``
``claim_due``), so their index leads with state and channel. The CHECK list is frozen here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

SLACK_STATES = "'answering', 'unposted', 'posting', 'done'"


def upgrade() -> None:
    with op.batch_alter_table("slack_events") as batch:
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default=sa.text("'done'"))
        )
        batch.add_column(sa.Column("reply", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f("ck_slack_events_state"), f"state IN ({SLACK_STATES})")
    op.create_index(
        op.f("ix_outbox_state_channel_priority_next_attempt_at"),
        "outbox",
        ["state", "channel", "priority", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_state_channel_priority_next_attempt_at"), table_name="outbox")
    with op.batch_alter_table("slack_events") as batch:
        batch.drop_constraint(op.f("ck_slack_events_state"), type_="check")
        batch.drop_column("state_changed_at")
        batch.drop_column("reply")
        batch.drop_column("state")
