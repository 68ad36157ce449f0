"""Hostile requests against a running ``offerbot serve`` (issue 13, item 1): how long each
1 MB unsigned/badly signed request takes to be refused, and how long ``/healthz`` takes to
answer meanwhile (polled back to back on a second connection for the whole run).

    python3 bench/hostile_post.py [--rounds 20] [--url http://127.0.0.1:PORT]

Without ``--url`` it starts ``offerbot serve`` itself on the demo roster (``offerbot init
--demo``, SQLite, a local Slack Web API stub). With ``--url`` it measures a server already
running there (e.g. a copy of the code before the fix — expect to wait).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.serve_memory import _free_port, _stop, _until_listening
from bench.slack_stub import slack_stub
from bot.runtime.logging_setup import redact
from knowledge.evaluation import percentile

__all__ = ["HOSTILE", "Timings", "hostile_timings"]

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret"
DEMO_NOW = "2003-07-10T09:00:00-07:00"
MB = 1_000_000
STALE = {"X-Slack-Request-Timestamp": "1", "Content-Type": "text/plain"}


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


# name → (body factory, headers): the repro and its variations, 1 MB each unless noted
HOSTILE: dict[str, tuple[Callable[[], object], dict[str, str]]] = {
    "1 MB 'A', Content-Length": (lambda: b"A" * MB, STALE),
    "1 MB 'A', chunked": (lambda: _chunked(b"A" * MB), STALE),
    "400 KB 'a…@a' ×2, bad signature": (
        lambda: (b"a" * 200_000 + b"@a") * 2,
        {**STALE, "X-Slack-Signature": "v0=0"},
    ),
    "non-numeric timestamp": (lambda: b"{}", {**STALE, "X-Slack-Request-Timestamp": "x"}),
}


@dataclass
class Timings:
    status: dict[str, set[int]] = field(default_factory=dict)
    hostile_ms: dict[str, list[float]] = field(default_factory=dict)
    healthz_ms: list[float] = field(default_factory=list)  # during the hostile requests
    healthz_status: set[int] = field(default_factory=set)
    quiet_healthz_ms: list[float] = field(default_factory=list)  # before them, for comparison


async def _healthz_ms(session: aiohttp.ClientSession, base: str) -> tuple[float, int]:
    start = time.perf_counter()
    async with session.get(base + "/healthz") as response:
        await response.read()
    return (time.perf_counter() - start) * 1000, response.status


def _poll_healthz(base: str, done: Any, results: Any) -> None:
    """In a process of its own, so the attacker's sending never delays a probe: poll until
    ``done`` is set, then send back [(ms, status), …]."""

    async def poll() -> list[tuple[float, int]]:
        polls = []
        async with aiohttp.ClientSession() as prober:
            while not done.is_set():
                polls.append(await _healthz_ms(prober, base))
                await asyncio.sleep(0.005)
        return polls

    results.put(asyncio.run(poll()))


async def hostile_timings(base: str, rounds: int) -> Timings:
    timings = Timings()
    spawn = multiprocessing.get_context("spawn")
    done, results = spawn.Event(), spawn.Queue()
    async with aiohttp.ClientSession() as attacker:
        for _ in range(100):
            timings.quiet_healthz_ms.append((await _healthz_ms(attacker, base))[0])
            await asyncio.sleep(0.01)
        poller = spawn.Process(target=_poll_healthz, args=(base, done, results))
        poller.start()
        await asyncio.sleep(2)  # the prober's interpreter starts
        try:
            for _ in range(rounds):
                for name, (body, headers) in HOSTILE.items():
                    start = time.perf_counter()
                    async with attacker.post(
                        base + "/slack/events", data=body(), headers=headers
                    ) as response:
                        await response.read()
                    timings.hostile_ms.setdefault(name, []).append(
                        (time.perf_counter() - start) * 1000
                    )
                    timings.status.setdefault(name, set()).add(response.status)
        finally:
            done.set()
            polls = await asyncio.to_thread(results.get, True, 60)
            poller.join(10)
    timings.healthz_ms = [ms for ms, _ in polls]
    timings.healthz_status = {status for _, status in polls}
    return timings


@contextlib.asynccontextmanager
async def running_serve(settle: float) -> AsyncIterator[str]:
    """``offerbot serve`` on a fresh demo roster; yields its base URL ``settle`` seconds after
    it listens (its worker's first pass, planning the whole roster's jobs, runs meanwhile)."""
    async with slack_stub() as stub:
        with tempfile.TemporaryDirectory() as cwd:
            env = {
                **{
                    k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))
                },
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
                ),
                "OFFERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{cwd}/serve.db",
                "OFFERBOT_NOW": DEMO_NOW,
                "OFFERBOT_DEMO_EMPLOYEES": "50",
            }
            subprocess.run(
                [sys.executable, "-m", "bot", "init", "--demo", "--json"],
                cwd=cwd, env=env, check=True, capture_output=True, timeout=300,
            )  # fmt: skip
            env.update(SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
                       OFFERBOT_SLACK_API_URL=stub.base_url)  # fmt: skip
            port = _free_port()
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1",
                cwd=cwd, env=env, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                await _until_listening(process, 60, [])
                await asyncio.sleep(settle)
                yield f"http://127.0.0.1:{port}"
            finally:
                await _stop(process)


def _ms(values: list[float]) -> str:
    return (
        f"median {percentile(values, 50):7.1f} ms   p99 {percentile(values, 99):7.1f} ms   "
        f"max {max(values):7.1f} ms"
    )


def redaction_ms() -> dict[str, float]:
    """Milliseconds :func:`bot.runtime.logging_setup.redact` takes on 1 MB inputs built to
    backtrack."""
    texts = {
        "'A' × 1 MB": "A" * MB,
        "'a' × 1 MB + '@a'": "a" * (MB - 2) + "@a",
        "'a@' × 500,000": "a@" * (MB // 2),
        "'x' × 500 KB + '@' + 'b.' × 250,000": "x" * (MB // 2) + "@" + "b." * (MB // 4),
    }
    result = {}
    for name, text in texts.items():
        start = time.perf_counter()
        redact(text)
        result[name] = (time.perf_counter() - start) * 1000
    return result


async def main(rounds: int, url: str | None, settle: float) -> None:
    if url:
        timings = await hostile_timings(url.rstrip("/"), rounds)
    else:
        async with running_serve(settle) as base:
            timings = await hostile_timings(base, rounds)
    print(f"offerbot serve, {rounds} rounds of each hostile request (one at a time):")
    for name, values in timings.hostile_ms.items():
        status = ",".join(str(s) for s in sorted(timings.status[name]))
        print(f"  {name:34} → {status}   {_ms(values)}")
    print(f"  /healthz alone before ({len(timings.quiet_healthz_ms)} polls){'':14}"
          f"{_ms(timings.quiet_healthz_ms)}")  # fmt: skip
    statuses = ",".join(str(s) for s in sorted(timings.healthz_status))
    print(f"  /healthz meanwhile ({len(timings.healthz_ms)} polls) → {statuses}   "
          f"{_ms(timings.healthz_ms)}")  # fmt: skip
    print("redact() on 1 MB of adversarial text:")
    for name, ms in redaction_ms().items():
        print(f"  {name:38} {ms:8.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--url", help="measure a server already running at this base URL")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after start-up")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.url, arguments.settle))
