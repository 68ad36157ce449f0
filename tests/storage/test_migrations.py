"""The hand-written migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column, insert, inspect, table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import TableClause

from storage.db import create_engine, session_factory
from storage.migrate import alembic_config, current_revision, upgrade
from storage.models import Base, UTCDateTime
from storage.slack_repo import SlackDeliveryState, slack_events
from storage.uow import UnitOfWork

TABLES = set(Base.metadata.tables)
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_reaches_head_and_matches_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == HEAD
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == TABLES
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_harmless(db_engine: AsyncEngine) -> None:
    await upgrade(db_engine)
    assert await current_revision(db_engine) == HEAD


async def test_downgrade_to_base_and_back(db_engine: AsyncEngine) -> None:
    def downgrade(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), "base")

    async with db_engine.begin() as connection:
        await connection.run_sync(downgrade)
        assert await connection.run_sync(_tables) == set()
    await upgrade(db_engine)
    async with db_engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


def _slack_events_table(*more: str) -> TableClause:
    """``slack_events`` as a lightweight table clause (the model is at head, the data is not)."""
    base = [column("delivery_key"), column("kind"), column("received_at", UTCDateTime())]
    return table("slack_events", *base, *(column(name) for name in more))


async def test_0008_keeps_handled_slack_events_as_done_and_indexes_the_outbox(
    db_url: str,
) -> None:
    """From the previous revision, with data: rows claimed before 0008 read as handled (a retry
    finds nothing to post), the state is checked, and 0008 goes down and up again."""
    at = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
    events = _slack_events_table()
    engine = create_engine(db_url)
    try:
        await upgrade(engine, "0007")
        async with engine.begin() as connection:
            await connection.execute(
                insert(events).values(delivery_key="event:EvOld", kind="message", received_at=at)
            )
        await upgrade(engine)
        uow = UnitOfWork(session_factory(engine))
        async with uow:
            old = await slack_events(uow).get("event:EvOld")
            taken = await slack_events(uow).take("event:EvOld", at=at, stale_before=at)
        assert old is not None and old.state is SlackDeliveryState.DONE
        assert old.reply is None and old.state_changed_at is None
        assert taken is None

        def outbox_indexes(connection: Connection) -> list[list[str | None]]:
            # the claim's index moved with the delivery state in 0014, took the id in 0017
            found = inspect(connection).get_indexes("outbox_delivery")
            return [ix["column_names"] for ix in found]

        async with engine.connect() as connection:
            indexes = await connection.run_sync(outbox_indexes)
        assert ["state", "channel", "priority", "next_attempt_at", "id"] in indexes

        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(
                    insert(_slack_events_table("state")).values(
                        delivery_key="event:EvBad", kind="message", received_at=at, state="lost"
                    )
                )

        def down_to_0007(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0007")

        async with engine.begin() as connection:
            await connection.run_sync(down_to_0007)
        assert await current_revision(engine) == "0007"
        await upgrade(engine)
        async with uow:
            again = await slack_events(uow).get("event:EvOld")
        assert again is not None and again.state is SlackDeliveryState.DONE
    finally:
        await engine.dispose()
