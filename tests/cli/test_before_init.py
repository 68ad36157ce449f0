"""Before `offerbot init`: every command that reads the database says, in one line, what to run.

The one place that catches it is ``bot.cli.running.run`` (a database error naming a missing
table); here each command is run on an empty database — a SQLite file, and a PostgreSQL
database — and its whole output is compared with that one line.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from storage.db import create_engine
from storage.migrate import upgrade
from tests.cli.runner import offerbot
from tests.servers import PostgresServer

READERS = [
    ("grants", "E1001"),
    ("deadlines",),
    ("status", "E1001"),
    ("hr", "report"),
    ("hr", "unanswered"),
    ("hr", "metrics"),
    ("hr", "amendments"),
    ("hr", "outbox"),
    ("hr", "audit", "E1001"),
    ("ask", "when is the deadline?"),
    ("elect", "E1001", "--grant", "G00002"),
]
SENTENCE = "has no offerbot tables yet: run `offerbot init` first."


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a))
def test_sqlite_one_line_then_exit_1(tmp_path: Path, args: tuple[str, ...]) -> None:
    ran = offerbot(tmp_path, *args, check=False)
    assert ran.returncode == 1
    assert ran.stdout == ""
    assert ran.stderr == (
        "error: The database (sqlite+aiosqlite:///./.offerbot/offerbot.db) " + SENTENCE + "\n"
    )


def test_json_gives_the_same_sentence(tmp_path: Path) -> None:
    ran = offerbot(tmp_path, "grants", "E1001", "--json", check=False)
    assert ran.returncode == 1 and ran.stderr == ""
    assert json.loads(ran.stdout) == {
        "error": "The database (sqlite+aiosqlite:///./.offerbot/offerbot.db) " + SENTENCE,
        "details": [],
    }


def test_after_init_the_same_command_works(tmp_path: Path) -> None:
    assert offerbot(tmp_path, "deadlines", check=False).returncode == 1
    offerbot(tmp_path, "init", "--json")
    assert "2003-07-24T17:00:00-07:00" in offerbot(tmp_path, "deadlines", "--json").stdout


def test_a_database_an_older_offerbot_made_is_to_be_migrated(tmp_path: Path) -> None:
    """Tables missing from an older schema: the same one line, saying `init` migrates it."""

    async def first_release_schema() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / '.offerbot' / 'offerbot.db'}")
        try:
            await upgrade(engine, "0001")
        finally:
            await engine.dispose()

    asyncio.run(first_release_schema())
    ran = offerbot(tmp_path, "hr", "unanswered", check=False)  # its table came in 0002
    assert ran.returncode == 1 and ran.stdout == ""
    assert ran.stderr == (
        "error: The database (sqlite+aiosqlite:///./.offerbot/offerbot.db) was made by an older "
        "offerbot (schema 0001): run `offerbot init` to migrate it.\n"
    )
    offerbot(tmp_path, "init", "--json")
    assert offerbot(tmp_path, "hr", "unanswered", "--json").stdout == "[]\n"


@pytest.mark.postgres
@pytest.mark.parametrize("args", [("hr", "report"), ("grants", "E1001")], ids=" ".join)
async def test_postgresql_one_line_then_exit_1(
    postgres_server: PostgresServer, tmp_path: Path, args: tuple[str, ...]
) -> None:
    name = await postgres_server.create_database()
    try:
        url = postgres_server.url(name)
        ran = await asyncio.to_thread(
            offerbot, tmp_path, *args, env={"OFFERBOT_DATABASE_URL": url}, check=False
        )
    finally:
        await postgres_server.drop_database(name)
    assert ran.returncode == 1 and ran.stdout == ""
    lines = ran.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: The database (postgresql+asyncpg://")
    assert lines[0].endswith(SENTENCE)
