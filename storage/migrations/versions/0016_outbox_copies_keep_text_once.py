"""The copies of a stored communication keep its text once: three columns on ``outbox``.

A reminder round queued ~120,000 copies of a ~1.2 KB text that differed only in the name and
the grant list — 150 MB through the log, most of the round's insert work (issue 15). A copy now
names its communication (``communication_id``: the ``communications`` row, the template kept
verbatim for the filing) and holds the personal fields (``personal_name``,
``personal_grants``), with ``body_text`` empty; ``storage.outbox_models.OUTBOX_BODY`` reads the
text back filled in. Existing rows keep their full ``body_text`` and are read as before.

Plain ``ADD COLUMN``s on both backends (no constraint, so SQLite needs no table rebuild; no
foreign key for the same reason — communications are never deleted). The downgrade first
writes each copy's text into ``body_text``, with the same replacements, then drops the columns
in place (SQLite 3.35+; a batch rebuild would drop what references ``outbox``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = ("communication_id", "personal_name", "personal_grants")
# as bot.domain.communications.personal_text: the grants first, then the name; a NULL field
# leaves its placeholder
FILLED = """
    replace(
        replace(
            (SELECT c.body FROM communications c WHERE c.id = outbox.communication_id),
            '{grants}', coalesce(personal_grants, '{grants}')
        ),
        '{name}', coalesce(personal_name, '{name}')
    )
"""


def upgrade() -> None:
    op.add_column("outbox", sa.Column("communication_id", sa.Integer(), nullable=True))
    op.add_column("outbox", sa.Column("personal_name", sa.Text(), nullable=True))
    op.add_column("outbox", sa.Column("personal_grants", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute(f"UPDATE outbox SET body_text = {FILLED} WHERE communication_id IS NOT NULL")
    for column in reversed(COLUMNS):
        op.drop_column("outbox", column)
