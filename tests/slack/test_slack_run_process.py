"""`offerbot run` (Socket Mode) in its own process, pointed at the local Web API and its socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.slack.conftest import DEMO_NOW, HR_ADMIN, TEAM, Call, FakeSlack, dm_envelope

STARTUP_TIMEOUT = 20.0  # a cold interpreter importing Bolt, SQLAlchemy and the offer text
STOP_TIMEOUT = 5.0


@dataclass
class RunProcess:
    """A running `offerbot run` and every line it has written to stderr so far."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    reader: asyncio.Task[None] | None = None

    async def read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:  # keeps the pipe drained while the test runs
            async with self.changed:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self.changed.notify_all()
        async with self.changed:  # end of stream: wake waiters so they can fail
            self.changed.notify_all()

    async def wait_for_line(self, needle: str, timeout: float = 20.0) -> str:
        def found() -> str | None:
            return next((line for line in self.lines if needle in line), None)

        async def wait() -> None:
            async with self.changed:
                await self.changed.wait_for(
                    lambda: found() is not None or self.process.returncode is not None
                )

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            pytest.fail(f"no {needle!r} within {timeout} s; offerbot run said:\n{self.output()}")
        line = found()
        assert line is not None, f"offerbot run exited without {needle!r}:\n{self.output()}"
        return line

    def output(self) -> str:
        return "\n".join(self.lines)

    async def stop(self) -> int:
        """SIGTERM, as systemd and `docker stop` send it; the exit status, once all the process
        wrote is in :attr:`lines`."""
        self.process.send_signal(signal.SIGTERM)
        try:
            status = await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"still running {STOP_TIMEOUT} s after SIGTERM:\n{self.output()}")
        if self.reader is not None:
            await asyncio.wait_for(self.reader, STOP_TIMEOUT)
        return status


def _env(fake_slack: FakeSlack, db: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OFFERBOT_", "SLACK_"))  # only what this test sets
    }
    return {
        **env,
        "OFFERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "OFFERBOT_NOW": DEMO_NOW,
        "OFFERBOT_SLACK_API_URL": fake_slack.base_url + "api/",
        "OFFERBOT_HR_ADMINS": HR_ADMIN,
        "SLACK_BOT_TOKEN": "xoxb-test",
        **extra,
    }


@contextlib.asynccontextmanager
async def offerbot_run(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path
) -> AsyncIterator[RunProcess]:
    """`python -m bot run` over a copy of the demo database, connected to the fake's socket."""
    db = tmp_path / "run.db"
    db.write_bytes(demo_db.read_bytes())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path, env=_env(fake_slack, db, SLACK_APP_TOKEN="xapp-test"),
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    run = RunProcess(process)
    run.reader = reader = asyncio.create_task(run.read_stderr())
    try:
        await run.wait_for_line("connected to Slack (Socket Mode)", STARTUP_TIMEOUT)
        yield run
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await asyncio.wait_for(reader, STOP_TIMEOUT)


def _slash_command(envelope_id: str, command: str, text: str, *, user: str) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "x",
            "team_id": TEAM,
            "channel_id": "C0001",
            "user_id": user,
            "command": command,
            "text": text,
            "api_app_id": "A1",
            "response_url": "http://127.0.0.1:9/response",  # never called: replies are ephemeral
            "trigger_id": "trig-1",
        },
    }


def _posts(fake_slack: FakeSlack, method: str, channel: str) -> list[Call]:
    return [c for c in fake_slack.of(method) if c.params.get("channel") == channel]


def _text(call: Call) -> str:
    return str(call.params["text"]) + json.dumps(call.params.get("blocks", []))


async def _until(
    fake_slack: FakeSlack,
    run: RunProcess,
    what: str,
    ready: Callable[[], bool],
    timeout: float = 30.0,
) -> None:
    """Wait for a call (or an ack) to reach the fake; on timeout, fail with the app's log."""

    async def wait() -> None:
        async with fake_slack.changed:
            await fake_slack.changed.wait_for(ready)

    try:
        await asyncio.wait_for(wait(), timeout)
    except TimeoutError:
        pytest.fail(f"no {what} within {timeout} s; offerbot run said:\n{run.output()}")


async def _answer_in_dm(fake_slack: FakeSlack, run: RunProcess, count: int = 1) -> list[Call]:
    await _until(
        fake_slack,
        run,
        "answer in D1001",
        lambda: len(_posts(fake_slack, "chat.postMessage", "D1001")) >= count,
    )
    return _posts(fake_slack, "chat.postMessage", "D1001")


async def _acked(fake_slack: FakeSlack, run: RunProcess, envelope_id: str) -> dict[str, Any]:
    def ack() -> dict[str, Any] | None:
        return next((a for a in fake_slack.acks if a.get("envelope_id") == envelope_id), None)

    await _until(fake_slack, run, f"ack of {envelope_id}", lambda: ack() is not None)
    found = ack()
    assert found is not None
    return found


async def test_offerbot_run_answers_a_dm_once_and_refuses_admin_then_stops_on_sigterm(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path
) -> None:
    async with offerbot_run(fake_slack, demo_db, tmp_path) as run:
        assert len(fake_slack.of("apps.connections.open")) == 1

        await fake_slack.envelopes.put(dm_envelope("env-1", "EvRun", "when is the deadline?"))
        assert (await _acked(fake_slack, run, "env-1"))["envelope_id"] == "env-1"
        (answer,) = await _answer_in_dm(fake_slack, run)
        assert "July 24, 2003" in _text(answer) and "5:00 p.m." in _text(answer)

        # Slack redelivers the same event_id in a new envelope: acked, and the app says so
        await fake_slack.envelopes.put(
            dm_envelope("env-2", "EvRun", "when is the deadline?", retry=1)
        )
        await _acked(fake_slack, run, "env-2")
        await run.wait_for_line("event EvRun already answered")  # the retry is done with
        assert len(_posts(fake_slack, "chat.postMessage", "D1001")) == 1

        await fake_slack.envelopes.put(
            _slash_command("env-3", "/offer-admin", "report", user="U1001")
        )
        ack = await _acked(fake_slack, run, "env-3")
        assert not ack.get("payload")  # a bare ack; the refusal follows as an ephemeral
        await _until(
            fake_slack, run, "ephemeral refusal", lambda: bool(fake_slack.of("chat.postEphemeral"))
        )
        (refusal,) = fake_slack.of("chat.postEphemeral")
        assert refusal.params["user"] == "U1001" and refusal.params["channel"] == "C0001"
        assert "only for the HR administrators" in str(refusal.params["text"])

        assert await run.stop() == 0, run.output()
        assert "Traceback" not in run.output()
    assert len(_posts(fake_slack, "chat.postMessage", "D1001")) == 1


async def test_offerbot_run_reconnects_when_slack_drops_the_socket(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path
) -> None:
    async with offerbot_run(fake_slack, demo_db, tmp_path) as run:
        assert len(fake_slack.sockets) == 1
        await fake_slack.drop_socket()

        await _until(
            fake_slack,
            run,
            "second apps.connections.open",
            lambda: len(fake_slack.of("apps.connections.open")) >= 2,
        )
        await fake_slack.envelopes.put(
            dm_envelope("env-after", "EvAfterDrop", "when is the deadline?")
        )
        await _acked(fake_slack, run, "env-after")
        (answer,) = await _answer_in_dm(fake_slack, run)
        assert "July 24, 2003" in _text(answer)
        assert len(fake_slack.sockets) == 2 and fake_slack.sockets[0].closed
        assert run.process.returncode is None

        assert await run.stop() == 0, run.output()


async def test_offerbot_run_without_app_token_names_it_and_fails(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "run.db"
    db.write_bytes(demo_db.read_bytes())
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path, env=_env(fake_slack, db), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), STARTUP_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    message = (stdout + stderr).decode()
    assert process.returncode == 2, message
    assert "SLACK_APP_TOKEN" in message
    assert "Traceback" not in message
    assert fake_slack.calls == []  # refused before touching Slack
