"""Fresh, empty databases for the benchmarks: a SQLite file, or a database on a PostgreSQL
server — the one named by ``OFFERBOT_BENCH_PG_URL`` (its role must be allowed to create
databases), else a throwaway server started on loopback with the test suite's
``tests/servers.py`` (needs the PostgreSQL server binaries, as the tests do)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["BACKENDS", "PG_URL_VARIABLE", "Databases"]

BACKENDS = ("sqlite", "postgresql")
PG_URL_VARIABLE = "OFFERBOT_BENCH_PG_URL"


class BenchDatabaseError(RuntimeError):
    """A database the benchmark asked for cannot be had (say, no PostgreSQL installed)."""


@dataclass
class Databases:
    """Hands out fresh databases; a PostgreSQL server is started at most once, on first use."""

    folder: Path
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    _pg_server_url: str | None = None

    async def __aenter__(self) -> Databases:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.__aexit__(*exc)  # type: ignore[arg-type]

    @asynccontextmanager
    async def fresh(self, backend: str, name: str) -> AsyncIterator[str]:
        """The URL of a new, empty (not migrated) database; dropped afterwards."""
        if backend == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.folder))
            yield f"sqlite+aiosqlite:///{folder / 'offerbot.db'}"
            return
        if backend != "postgresql":
            raise BenchDatabaseError(f"unknown database {backend!r} (expected one of {BACKENDS})")
        server = await self._postgres()
        database = f"bench_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        await _admin(server, f'CREATE DATABASE "{database}"')
        try:
            yield make_url(server).set(database=database).render_as_string(hide_password=False)
        finally:
            await _admin(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    async def _postgres(self) -> str:
        if self._pg_server_url is None:
            given = os.environ.get(PG_URL_VARIABLE)
            if given:
                url = make_url(given)
                if url.drivername in ("postgresql", "postgres"):
                    url = url.set(drivername="postgresql+asyncpg")
                self._pg_server_url = url.render_as_string(hide_password=False)
            else:
                self._pg_server_url = self._stack.enter_context(_throwaway_postgres())
        return self._pg_server_url


@contextmanager
def _throwaway_postgres() -> Iterator[str]:
    from tests.servers import postgres_bin_dir, running_postgres

    if postgres_bin_dir() is None:
        raise BenchDatabaseError(
            f"no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install them "
            f"(`apt-get install postgresql`) or set {PG_URL_VARIABLE}"
        )
    with running_postgres() as server:
        yield server.url()


async def _admin(server_url: str, statement: str) -> None:
    """CREATE/DROP DATABASE cannot run in a transaction: a plain asyncpg connection."""
    import asyncpg

    url = make_url(server_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
