"""Databases already at the newest migration, for tests, without running every migration again.

Running the Alembic migrations for each test was the suite's most repeated cost. The schema at
head is built once per test run (:func:`sqlite_template`) and copied: a file copy is the same
schema the migrations build, in a few milliseconds. ``tests/conftest.py``'s ``db_engine`` uses
it (and ``CREATE DATABASE … TEMPLATE`` on PostgreSQL); fixtures that build an ``App`` call
:func:`upgrade_fast` where they called ``upgrade``. Migrations themselves are still tested from
an empty database (``tests/storage/test_migrations.py``).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrate import upgrade

__all__ = ["copy_sqlite_template", "migrate", "sqlite_template", "upgrade_fast"]

_TEMPLATE: list[Path] = []  # the migrated file, once built in this process


async def migrate(url: str) -> None:
    """Run every migration on ``url`` and close all connections (a template must be idle)."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def sqlite_template() -> Path:
    """A SQLite file at the newest migration, built on first use in this process."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="offerbot-migrated-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "offerbot.db"
        await migrate(f"sqlite+aiosqlite:///{path}")
        _TEMPLATE.append(path)
    return _TEMPLATE[0]


async def copy_sqlite_template(path: Path) -> None:
    """``path`` (which must not exist yet) becomes a copy of the migrated template."""
    template = await sqlite_template()
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    shutil.copy2(template, path)  # the mode too: 0600, as storage.db.create_engine makes it
    wal = Path(f"{template}-wal")  # normally checkpointed away when the template was closed
    if wal.exists():
        shutil.copy2(wal, f"{path}-wal")


async def upgrade_fast(engine: AsyncEngine) -> None:
    """``upgrade(engine)``; for a SQLite file not created yet, a copy of the migrated template."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.exists():
            await copy_sqlite_template(path)
            return
    await upgrade(engine)
