"""A notification on every change of ``offer_state`` (PostgreSQL), so a process may keep the
state in memory for the questions it answers.

A trigger, not a ``NOTIFY`` in the repository: it also fires for a write made by an older
process, a script or a person at ``psql``, and for ``TRUNCATE``. PostgreSQL delivers a
notification only when the transaction that made it commits, and in commit order, so a listener
never hears of a change it cannot read yet. The payload is the offer id (no personal data).
``storage/offer_state_listener.py`` listens on the channel and trusts its copy only while it is
listening and this trigger exists. SQLite has no notifications: nothing to do there (its
one-statement read costs 20–110 µs and stays uncached).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

# Keep in step with storage/offer_state_listener.py (CHANNEL, _TRIGGER_EXISTS).
CHANNEL = "offerbot_offer_state"
FUNCTION = "offerbot_offer_state_notify"
ROW_TRIGGER = "offer_state_notify"
TRUNCATE_TRIGGER = "offer_state_notify_truncate"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', COALESCE(NEW.offer_id, OLD.offer_id, ''));
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        f"CREATE TRIGGER {ROW_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON offer_state "
        f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
    )
    op.execute(
        f"CREATE TRIGGER {TRUNCATE_TRIGGER} AFTER TRUNCATE ON offer_state "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON offer_state")
    op.execute(f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON offer_state")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
