"""Issue 13, items 1, 4 and 8 (timestamp): `offerbot serve` under hostile requests.

A real `offerbot serve` process (the demo roster in SQLite, a local Slack Web API) is sent
unsigned and badly signed requests — 1 MB bodies with and without a Content-Length, a body
built to make a naive e-mail regex quadratic, a non-numeric timestamp — while ``/healthz`` is
polled; then its whole log, at INFO and at DEBUG, is searched for a marker sentence the refused
requests carried. Timings are printed by ``bench/hostile_post.py``; here the deadlines only stop
a frozen server from hanging the suite (before the fix the first 1 MB request took hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.runtime.logging_setup import (
    OWN_PACKAGES,
    QUIET_LOGGERS,
    configure_logging,
    fingerprint,
    redact,
)
from tests.servers import free_port
from tests.slack.conftest import DEMO_NOW, SECRET, FakeSlack, demo_db, fake_slack

__all__ = ["demo_db", "fake_slack"]  # fixtures, imported to be found here

MARKER = "Ottoline keeps her marmalade options under the quince tree"
MB = 1_000_000
DEADLINE = 20.0  # seconds: only a hang guard, far above what any answer here takes


@dataclass
class Serve:
    """A running `offerbot serve` and everything it has written to stderr so far."""

    process: asyncio.subprocess.Process
    base: str  # http://127.0.0.1:PORT
    log: list[bytes] = field(default_factory=list)

    @property
    def events(self) -> str:
        return self.base + "/slack/events"

    def log_text(self) -> str:
        return b"".join(self.log).decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def running_serve(
    fake_slack: FakeSlack, demo_db: Path, folder: Path, **env: str
) -> AsyncIterator[Serve]:
    db = folder / "serve.db"
    db.write_bytes(demo_db.read_bytes())
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))},
        "OFFERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "OFFERBOT_NOW": DEMO_NOW,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "OFFERBOT_SLACK_API_URL": fake_slack.base_url + "api/",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1",
        cwd=folder, env=environment, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    serve = Serve(process=process, base=f"http://127.0.0.1:{port}")
    assert process.stderr is not None
    stderr = process.stderr

    async def listening() -> None:
        while b"listening" not in (serve.log[-1] if serve.log else b""):
            line = await stderr.readline()
            assert line, "offerbot serve exited before listening:\n" + serve.log_text()
            serve.log.append(line)

    async def drain() -> None:  # a chatty log must never fill the pipe and block the server
        while line := await stderr.readline():
            serve.log.append(line)

    drainer: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(listening(), DEADLINE)
        drainer = asyncio.create_task(drain())
        yield serve
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), DEADLINE)
            except TimeoutError:
                process.kill()
                await process.wait()
        if drainer is not None:
            await asyncio.wait_for(drainer, DEADLINE)


def signed_headers(body: bytes, *, secret: str = SECRET, timestamp: str | None = None) -> dict:
    ts = timestamp if timestamp is not None else str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


def dm_event(text: str, event_id: str) -> bytes:
    event = {"type": "message", "channel_type": "im", "channel": "D1001", "user": "U1001",
             "text": text, "ts": f"{time.time():.6f}"}  # fmt: skip
    envelope = {"token": "x", "team_id": "T0001", "api_app_id": "A1", "type": "event_callback",
                "event_id": event_id, "event_time": int(time.time()), "event": event}  # fmt: skip
    return json.dumps(envelope).encode()


async def post(
    session: aiohttp.ClientSession, url: str, data: object, headers: dict[str, str]
) -> tuple[int, str]:
    async def send() -> tuple[int, str]:
        async with session.post(url, data=data, headers=headers) as response:
            return response.status, await response.text()

    return await asyncio.wait_for(send(), DEADLINE)


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """The body with no Content-Length (chunked transfer encoding)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_hostile_bodies_are_refused_while_healthz_keeps_answering(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path
) -> None:
    async with running_serve(fake_slack, demo_db, tmp_path) as serve, aiohttp.ClientSession() as s:
        healthz: list[int] = []
        hostile_done = asyncio.Event()

        async def poll_healthz() -> None:
            while not hostile_done.is_set():
                async with s.get(serve.base + "/healthz") as response:
                    healthz.append(response.status)
                await asyncio.sleep(0)  # yield to the hostile requests; no time has to pass

        poller = asyncio.create_task(poll_healthz())
        stale = {"X-Slack-Request-Timestamp": "1", "Content-Type": "text/plain"}
        try:
            # the repro, at 1 MB: unsigned, a long run of one letter
            flat = b"A" * MB
            assert (await post(s, serve.events, flat, stale))[0] == 413
            assert (await post(s, serve.events, chunks(flat), stale))[0] == 413
            # under the limit, badly signed, built for a backtracking regex: verified and refused
            backtrack = (b"a" * 200_000 + b"@a") * 2
            status, text = await post(
                s, serve.events, backtrack, {**stale, "X-Slack-Signature": "v0=0"}
            )
            assert (status, json.loads(text)) == (401, {"error": "invalid request"})
            # item 8: a timestamp that is not a number is unverifiable (401), not a crash (500)
            event = dm_event("when is the deadline?", "EvTs")
            for ts in ("now", "1e9", "", "١٢٣"):
                assert (await post(s, serve.events, event, signed_headers(event, timestamp=ts)))[
                    0
                ] == 401
        finally:
            hostile_done.set()
            await asyncio.wait_for(poller, DEADLINE)
        assert healthz and set(healthz) == {200}, healthz

        # a request Slack really sends still goes through
        event = dm_event("when is the deadline?", "EvOk")
        assert (await post(s, serve.events, event, signed_headers(event)))[0] == 200
        (answer,) = await fake_slack.wait_for("chat.postMessage", timeout=DEADLINE)
        assert answer.params["channel"] == "D1001"
    log = serve.log_text()
    assert "413" in log and "numeric timestamp" in log, log  # the refusals are logged, by size
    assert "aaaa" not in log and "AAAA" not in log


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_a_refused_request_body_is_nowhere_in_the_logs(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path, level: str
) -> None:
    env = {"OFFERBOT_LOG_LEVEL": level, "OFFERBOT_LOG_FORMAT": "text"}
    serving = running_serve(fake_slack, demo_db, tmp_path, **env)
    async with serving as serve, aiohttp.ClientSession() as s:
        bad = dm_event(MARKER, "EvBadSig")
        stale = dm_event(MARKER, "EvStale")
        odd = dm_event(MARKER, "EvOddTs")
        big = dm_event(MARKER + " " + "z" * MB, "EvBig")
        statuses = [
            (await post(s, serve.events, body, headers))[0]
            for body, headers in [
                (bad, signed_headers(bad, secret="not-the-secret")),
                (stale, signed_headers(stale, timestamp=str(int(time.time()) - 3600))),
                (odd, signed_headers(odd, timestamp="x")),
                (big, signed_headers(big)),
            ]
        ]
    log = serve.log_text()
    assert "Ottoline" not in log and "quince" not in log, log
    assert "U1001" not in log and "D1001" not in log, log
    assert statuses == [401, 401, 401, 413]
    assert "numeric timestamp" in log, log  # the log was captured


# --- the logging configuration behind it ---------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    names = ("", *OWN_PACKAGES, *QUIET_LOGGERS, "slack_bolt.AsyncRequestVerification")
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_libraries_are_held_at_warning_even_with_a_level_of_their_own(
    restore_logging: None,
) -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", stream=stream)
    verification = logging.getLogger("slack_bolt.AsyncRequestVerification")
    verification.setLevel(logging.INFO)  # what Bolt does: it copies the root's level
    verification.info("Invalid request signature detected (body: %s)", MARKER)
    for name in ("slack_sdk.web", "aiohttp.server", "aiosmtplib", "aioimaplib.aioimaplib",
                 "sqlalchemy.engine", "alembic.runtime", "app.py"):  # fmt: skip
        logging.getLogger(name).info("payload %s", MARKER)
    logging.getLogger("aiohttp.server").warning("Error handling request")
    logging.getLogger("handlers.slack.http_endpoint").debug("ours at DEBUG")
    output = stream.getvalue()
    assert MARKER not in output, output
    assert "Error handling request" in output and "ours at DEBUG" in output


def test_explicitly_opened_libraries_still_never_log_a_body(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", stream=stream, library_level="DEBUG")
    logging.getLogger("slack_bolt.AsyncRequestVerification").info(
        "Invalid request signature detected (signature: v0=1, timestamp: 1, body: %s)", MARKER
    )
    logging.getLogger("slack_sdk.web.async_base_client").debug(
        "Sending a request - url: x, json_body: {'text': '%s'}", MARKER
    )
    logging.getLogger("slack_bolt.App").warning("Unhandled request ({'text': '%s'})", MARKER)
    logging.getLogger("aiosmtplib").debug("to a@b.example")
    output = stream.getvalue()
    assert output.count("<withheld>") == 3 and "Invalid request signature" in output, output
    assert MARKER not in output and "a@b.example" not in output
    assert f"<email:{fingerprint('a@b.example')}>" in output


def test_the_settings_cap_slack_bodies_and_hold_libraries_at_warning() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.slack_max_body_bytes == 512 * 1024
    assert settings.log_library_level == "WARNING"
    with pytest.raises(ValueError, match="OFFERBOT_LOG_LIBRARY_LEVEL"):
        Settings(_env_file=None, log_library_level="chatty")  # type: ignore[call-arg]


# Inputs on which the old pattern ``[local]+@[domain]+(?:\.[domain]+)+`` backtracks
# quadratically; each is 1 MB. Run in a child process so a regression fails instead of hanging.
ADVERSARIAL = (
    "'A' * 1_000_000",
    "'a' * 999_998 + '@a'",
    "'a@' * 500_000",
    "'a.' * 500_000 + '@'",
    "'x' * 500_000 + '@' + 'b.' * 249_999",
)


def test_redaction_is_linear_on_adversarial_text() -> None:
    script = (
        "from bot.runtime.logging_setup import redact\n"
        f"for text in ({', '.join(ADVERSARIAL)},):\n"
        "    redact(text)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=DEADLINE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("to a@b.example.", "to {a@b.example}."),
        ("x@a.b_y@d.e", "{x@a.b}{_y@d.e}"),  # the second starts where the first ended
        ("a@b@c.d", "a@{b@c.d}"),
        ("<p1@client.example>", "<{p1@client.example}>"),
        ("a@b..c and @x.y and a@b", "a@b..c and @x.y and a@b"),
        ("Ünï.cødé+tag@mail-1.example.org;", "{Ünï.cødé+tag@mail-1.example.org};"),
    ],
)
def test_redaction_finds_the_same_addresses(text: str, expected: str) -> None:
    """``{…}`` in ``expected`` marks what is replaced by its hash."""
    want = re.sub(r"\{([^}]*)\}", lambda m: f"<email:{fingerprint(m.group(1).lower())}>", expected)
    assert redact(text) == want
