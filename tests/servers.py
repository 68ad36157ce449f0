"""Real servers for tests, started on loopback on a free port and stopped afterwards.

PostgreSQL: ``tests/scripts/start_postgres.sh`` runs a throwaway cluster in the foreground
(initdb as the ``postgres`` user when run as root). Tests get a fresh database each from
:meth:`PostgresServer.create_database`.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "free_port", "postgres_bin_dir", "running_postgres"]

SCRIPTS = Path(__file__).parent / "scripts"
POSTGRES_INSTALL_HINT = (
    "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install them with "
    "`apt-get install postgresql` (or run `bash scripts/test`, which does)"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI (``CI`` set) a missing server is a broken build, not a skip."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is an error rather than a skip)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: [int(x) if x.isdigit() else x for x in Path(p).parts[-3].split(".")],
    )
    return Path(found[-1]).parent if found else None


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    async def create_database(self, prefix: str = "test") -> str:
        """A new empty database (~180 ms); returns its name."""
        import asyncpg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        connection = await asyncpg.connect(host=self.host, port=self.port, user=self.user)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return name

    async def drop_database(self, name: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(host=self.host, port=self.port, user=self.user)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@contextmanager
def running_postgres(timeout: float = 30.0) -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL server; stop it (SIGINT, then kill) and delete its files."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        skip_or_fail(POSTGRES_INSTALL_HINT)
        raise AssertionError("unreachable")
    # Not pytest's 0700 basetemp: as root the server runs as `postgres`, which must reach DIR.
    base = Path(tempfile.mkdtemp(prefix="offerbot-pg-"))
    base.chmod(0o755)
    data_dir = base / "pg"
    port = free_port()
    log_path = base / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["sh", str(SCRIPTS / "start_postgres.sh"), str(data_dir), str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_ready(process, bin_dir, port, timeout, log_path)
        yield PostgresServer(host="127.0.0.1", port=port)
    finally:
        _stop(process)
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_ready(
    process: subprocess.Popen[bytes], bin_dir: Path, port: int, timeout: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited early:\n{_tail(log)}")
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"PostgreSQL not ready after {timeout} s:\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the server and its children
            process.wait()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
