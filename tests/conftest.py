"""Fixtures shared across the test suite."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWork
from tests.migrated import copy_sqlite_template, migrate
from tests.servers import PostgresServer, running_postgres

# --- storage fixtures (owned by storage/) ---------------------------------------------------
# `db_url`   an empty database, once on SQLite (tmp file) and once on PostgreSQL (marked
#            `postgres`; skipped locally when the server is not installed, an error under CI)
# `db_engine` that database migrated to head; `uow` a UnitOfWork over it.
#
# Speed: running every migration for every test was the suite's most repeated cost. The schema
# at head is built once per run per backend (a SQLite file, tests/migrated.py; a PostgreSQL
# database) and each test that asks for `db_engine` gets a copy of it (a file copy; `CREATE
# DATABASE … TEMPLATE`), which is the same schema Alembic would have built. Tests that take
# `db_url` alone still get an empty database and run the migrations they test themselves.


@pytest.fixture(scope="session", autouse=True)
def _cheapest_password_hashing() -> Iterator[None]:
    """HR console passwords hashed with argon2-cffi's own test profile (``profiles.CHEAPEST``).

    At the library's defaults (64 MiB, 3 passes, 4 lanes) each hash and each check costs about
    0.2 s of CPU, and the suite adds accounts and signs in a few hundred times. The hashes stay
    argon2id and are really verified; only the cost parameters differ, and those travel inside
    each hash string, so the service's own rules (verify, rehash when parameters change, the
    dummy hash checked for an unknown account) run unchanged.
    """
    from argon2 import PasswordHasher, profiles

    from bot.services.hr import web_accounts

    cheapest = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(web_accounts, "_HASHER", cheapest)
        patch.setattr(web_accounts, "_DUMMY_HASH", None)  # made again with the cheap hasher
        yield


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

_MIGRATED_URLS: set[str] = set()  # databases copied from a migrated template (no upgrade needed)
_TEMPLATES: dict[str, str] = {}  # PostgreSQL server -> its migrated template database


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run, on a free loopback port."""
    with running_postgres() as server:
        yield server


async def _postgres_clone(server: PostgresServer) -> str:
    """A new database cloned from the migrated template (built on first use in this run)."""
    key = f"postgres:{server.port}"
    if key not in _TEMPLATES:
        template = await server.create_database("migrated")
        await migrate(server.url(template))
        _TEMPLATES[key] = template
    name = f"test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(host=server.host, port=server.port, user=server.user)
    try:
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATES[key]}"')
    finally:
        await connection.close()
    return name


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database (not migrated) on each backend — already at head when the test
    also uses `db_engine` (copied from the migrated template, see above)."""
    migrated = "db_engine" in request.fixturenames
    if request.param == "sqlite":
        # A folder that does not exist yet: create_engine must make it.
        path = tmp_path / "data" / "offerbot.db"
        url = f"sqlite+aiosqlite:///{path}"
        if migrated:
            await copy_sqlite_template(path)
            _MIGRATED_URLS.add(url)
        try:
            yield url
        finally:
            _MIGRATED_URLS.discard(url)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = await (_postgres_clone(server) if migrated else server.create_database())
    url = server.url(name)
    if migrated:
        _MIGRATED_URLS.add(url)
    try:
        yield url
    finally:
        _MIGRATED_URLS.discard(url)
        await server.drop_database(name)


@pytest.fixture
async def db_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """The fresh database, migrated to head."""
    engine = create_engine(db_url)
    try:
        if db_url not in _MIGRATED_URLS:
            await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def uow(db_engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(session_factory(db_engine))


_SEEDED: dict[tuple[str, str], str] = {}  # (backend, name) -> a seeded SQLite file or database


async def seeded_once(
    db_url: str, name: str, build: Callable[[UnitOfWork], Awaitable[None]]
) -> None:
    """Make the test's database (``db_url`` at head, not connected to yet) a copy of what
    ``build`` leaves in a database at head — ``build`` runs once per run and backend.

    For fixtures that write the same large deterministic scenario before every test (hundreds
    of people, dozens of elections): the scenario is written once through the real services,
    and each test gets its own copy (a file copy; ``CREATE DATABASE … TEMPLATE``), so tests stay
    isolated. ``build`` must be deterministic (fixed seeds and instants).
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        key = ("sqlite", name)
        if key not in _SEEDED:
            folder = Path(tempfile.mkdtemp(prefix=f"offerbot-seeded-{name}-"))
            template = folder / "offerbot.db"
            await copy_sqlite_template(template)
            engine = create_engine(f"sqlite+aiosqlite:///{template}")
            try:
                await build(UnitOfWork(session_factory(engine)))
            finally:
                await engine.dispose()  # the last connection checkpoints the WAL into the file
            _SEEDED[key] = str(template)
        target = Path(str(url.database))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copy2(_SEEDED[key], target)
        wal = Path(f"{_SEEDED[key]}-wal")
        if wal.exists():
            shutil.copy2(wal, f"{target}-wal")
        return
    server = PostgresServer(host=str(url.host), port=int(url.port or 5432))
    key = (f"postgres:{server.port}", name)
    if key not in _SEEDED:
        template_db = await _postgres_clone(server)
        engine = create_engine(server.url(template_db))
        try:
            await build(UnitOfWork(session_factory(engine)))
        finally:
            await engine.dispose()  # a template database must have no connections
        _SEEDED[key] = template_db
    connection = await asyncpg.connect(host=server.host, port=server.port, user=server.user)
    try:
        await connection.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{url.database}" TEMPLATE "{_SEEDED[key]}"')
    finally:
        await connection.close()


# --- end of storage fixtures -----------------------------------------------------------------
