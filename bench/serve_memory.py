"""Resident memory of a running ``offerbot serve`` over a populated database: start it as a
subprocess against a local Slack Web API stub, open the App Home of a few employees with
correctly signed ``app_home_opened`` events, then read VmRSS from /proc/PID/status.

    python3 bench/serve_memory.py [--grants 100000] [--db sqlite,postgresql]
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import tempfile
import time
from dataclasses import dataclass

import aiohttp

from bench.databases import BACKENDS, Databases
from bench.roster_data import HEAVY_EMPLOYEE, write_bench_roster
from bench.roster_import import backends_argument, populate
from bench.slack_stub import SlackStub, post_signed_event, slack_stub

__all__ = ["ServeMemory", "serve_memory"]

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret"
DEMO_NOW = "2003-07-10T09:00:00-07:00"


@dataclass(frozen=True, slots=True)
class ServeMemory:
    rss_mb: float  # VmRSS after the App Homes were published
    peak_mb: float  # VmHWM: the most it was resident at any time
    homes: int  # App Homes published
    resent: int  # events sent again because the first try published nothing (see below)


async def serve_memory(
    db_url: str, *, users: list[str], settle: float = 3.0, timeout: float = 60.0
) -> ServeMemory:
    """Run ``offerbot serve`` on ``db_url`` (migrated and populated), open each user's Home.

    The background worker's first pass (planning jobs over the whole roster) runs right after
    start; the events are sent ``settle`` seconds later. On SQLite a Home whose transaction
    meets a concurrent write still fails at once ("database is locked": its read snapshot went
    stale before it wrote); such an event is sent again, as Slack would retry it, and counted
    in :attr:`ServeMemory.resent`.
    """
    async with slack_stub() as stub:
        port = _free_port()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
            ),
            "OFFERBOT_DATABASE_URL": db_url,
            "OFFERBOT_NOW": DEMO_NOW,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "OFFERBOT_SLACK_API_URL": stub.base_url,
        }
        with tempfile.TemporaryDirectory() as cwd:  # no .offerbot/offerbot.env from elsewhere
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1",
                cwd=cwd, env=env, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            log: list[bytes] = []
            try:
                await _until_listening(process, timeout, log)
                await asyncio.sleep(settle)
                url = f"http://127.0.0.1:{port}/slack/events"
                resent = 0
                async with aiohttp.ClientSession() as session:
                    for n, user in enumerate(users, start=1):
                        for attempt in range(1, 4):
                            if await _published_home(
                                session, url, stub, log, user, n, f"EvHome{n}-{attempt}", timeout
                            ):
                                break
                            resent += 1
                        else:
                            raise RuntimeError(
                                f"no App Home published for {user}; offerbot serve said:\n"
                                + b"".join(log[-40:]).decode(errors="replace")
                            )
                status_text = Path(f"/proc/{process.pid}/status").read_text()
                return ServeMemory(
                    rss_mb=_kib(status_text, "VmRSS") / 1024,
                    peak_mb=_kib(status_text, "VmHWM") / 1024,
                    homes=stub.calls["views.publish"],
                    resent=resent,
                )
            finally:
                await _stop(process)


async def _published_home(
    session: aiohttp.ClientSession,
    url: str,
    stub: SlackStub,
    log: list[bytes],
    user: str,
    published: int,
    event_id: str,
    timeout: float,
) -> bool:
    """Send one signed ``app_home_opened``: True once the ``published``-th view arrived,
    False as soon as the process logs an error instead."""
    event = {"type": "app_home_opened", "user": user, "tab": "home"}
    logged = len(log)
    status = await post_signed_event(session, url, secret=SECRET, event=event, event_id=event_id)
    if status != 200:
        raise RuntimeError(f"offerbot serve answered {status} to a signed event")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await stub.wait_for("views.publish", published, 0.1)
            return True
        except TimeoutError:
            if any(b" ERROR " in line for line in log[logged:]):
                return False
    return False


async def _until_listening(
    process: asyncio.subprocess.Process, timeout: float, seen: list[bytes]
) -> None:
    """Wait for its "listening" line; then keep collecting its log into ``seen``."""

    async def listening() -> None:
        assert process.stderr is not None
        while True:
            line = await process.stderr.readline()
            if not line:
                raise RuntimeError(
                    "offerbot serve exited before listening:\n" + b"".join(seen).decode()
                )
            seen.append(line)
            if b"listening" in line:
                return

    await asyncio.wait_for(listening(), timeout)

    async def drain() -> None:  # keep reading, so a chatty log never fills the pipe
        assert process.stderr is not None
        while line := await process.stderr.readline():
            seen.append(line)

    asyncio.get_running_loop().create_task(drain())


async def _stop(process: asyncio.subprocess.Process, *, grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            process.kill()
            await process.wait()


def _kib(status: str, field: str) -> int:
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/PID/status")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def home_users(count: int = 5) -> list[str]:
    """Slack ids whose Homes are opened: the 50-grant employee, then demo employees."""
    return ["U" + HEAVY_EMPLOYEE.employee_id[1:], *(f"U{1001 + n}" for n in range(count - 1))]


async def main(grants: int, backends: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        roster = write_bench_roster(Path(tmp), grants)
        async with Databases(Path(tmp)) as databases:
            for backend in backends:
                async with databases.fresh(backend, "serve") as db_url:
                    await populate(db_url, roster)
                    memory = await serve_memory(db_url, users=home_users())
                    print(
                        f"{backend:10} offerbot serve, {grants:,} grants, "
                        f"{memory.homes} App Homes published: "
                        f"RSS {memory.rss_mb:.0f} MB (peak {memory.peak_mb:.0f} MB), "
                        f"{memory.resent} events sent again"
                    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grants", type=int, default=100_000)
    parser.add_argument("--db", type=backends_argument, default=list(BACKENDS[:1]))
    args = parser.parse_args()
    asyncio.run(main(args.grants, args.db))
