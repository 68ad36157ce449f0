"""``offerbot`` as real processes for the replica tests (set-up commands in the test process),
and polling with a deadline.

Commands run from a folder of their own (no ``.offerbot/offerbot.env`` from another test) with
only the ``OFFERBOT_*`` variables a test passes. Workers start through
:mod:`tests.replicas.worker_process` (the real CLI plus the probe job kind), each in its own
session, output to a log file the test can read and show on failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["Worker", "logs", "offerbot_env", "run_offerbot", "start_worker", "until"]

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def offerbot_env(**settings: str) -> dict[str, str]:
    """This environment without any OFFERBOT_* variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFERBOT_")}
    # The replica tests count their own messages and jobs; the offer's own plan (reminder
    # rounds, HR digests) would add mail of its own and is tested in tests/services.
    env["OFFERBOT_REMINDERS_ENABLED"] = "false"
    env["OFFERBOT_DIGESTS_ENABLED"] = "false"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(settings)
    return env


async def run_offerbot(cwd: Path, env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run ``offerbot ARGS`` to completion (without blocking the test's servers); its stdout.

    A set-up command (``db upgrade``, ``init``): the real CLI in the test process
    (:mod:`tests.cli.runner`) on a thread, with ``env``'s ``OFFERBOT_*`` variables; the workers
    under test are the real processes (:func:`start_worker`)."""
    from tests.cli.runner import offerbot

    ours = {k: v for k, v in env.items() if k.startswith("OFFERBOT_")}
    ran = await asyncio.wait_for(asyncio.to_thread(offerbot, cwd, *args, env=ours), timeout)
    return ran.stdout


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as when a container or a machine dies."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait for a graceful exit (SIGKILL after ``timeout``); the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await until(self._exited, timeout=timeout, what=f"{self.name} to exit")
            except AssertionError:
                self.process.kill()
        return self.process.wait()

    async def _exited(self) -> bool:
        return self.process.poll() is not None


def start_worker(name: str, cwd: Path, env: dict[str, str]) -> Worker:
    """``offerbot worker`` (continuous) in the background."""
    log = cwd / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.replicas.worker_process", "worker"],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Worker(name=name, process=process, log=log)


def logs(*workers: Worker) -> str:
    """The end of each worker's output, for a failure message."""
    return "\n".join(f"--- {w.name} (pid {w.pid}) ---\n{w.output()[-3000:]}" for w in workers)


async def until(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float,
    what: str,
    workers: Sequence[Worker] = (),
    every: float = 0.05,
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds (with
    the output of ``workers``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            shown = logs(*workers)
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}\n{shown}")
        await asyncio.sleep(every)
