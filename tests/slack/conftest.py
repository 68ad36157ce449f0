"""Slack fixtures: a local aiohttp server playing the Slack Web API, the demo roster in SQLite,
and the real Bolt app behind its own aiohttp server, reached with signed HTTP requests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from bot.clock import SimulatedClock, parse_instant
from bot.config import Settings
from bot.runtime.bootstrap import App, build
from storage.slack_repo import SlackDelivery, slack_events

DEMO_NOW = "2003-07-10T09:00:00-07:00"
SECRET = "test-signing-secret"
HR_ADMIN = "U0HR01"
TEAM = "T0001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]


Override = Callable[[dict[str, Any]], web.Response | None]


@dataclass
class FakeSlack:
    """The Slack Web API on loopback: records every call; ``overrides[method]`` may answer first
    (return None to fall through to the default answer)."""

    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    overrides: dict[str, Override] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    envelopes: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)  # to send
    acks: list[dict[str, Any]] = field(default_factory=list)  # what came back on the socket
    sockets: list[web.WebSocketResponse] = field(default_factory=list)  # every one accepted

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[Call]:
        async def enough() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.of(method)) >= count)

        await asyncio.wait_for(enough(), timeout)
        return self.of(method)

    def user(self, user_id: str, **extra: Any) -> dict[str, Any]:
        digits = user_id[1:]
        return {
            "id": user_id,
            "team_id": TEAM,
            "name": user_id.lower(),
            "is_bot": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "profile": {"email": f"e{digits}@example.com"},
            **self.users.get(user_id, {}),
            **extra,
        }

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM, "user_id": "UBOT", "bot_id": "BBOT", "team": "t"}
        if method == "users.info":
            return {"ok": True, "user": self.user(str(params.get("user")))}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", "X"))[1:]}}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            return {"ok": True, "channel": params.get("channel"), "ts": f"{len(self.calls)}.0001"}
        if method in ("views.open", "views.update", "views.publish"):
            return {"ok": True, "view": {"id": f"V{len(self.calls):04d}", "hash": "h1"}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.base_url.replace("http", "ws", 1) + "socket"}
        if method == "files.getUploadURLExternal":
            return {"ok": True, "upload_url": f"{self.base_url}upload/F1", "file_id": "F1"}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": "F1", "title": "form"}]}
        return {"ok": True}

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(await request.post())
        for key in ("blocks", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        async with self.changed:
            self.calls.append(Call(method, params))
            self.changed.notify_all()
        override = self.overrides.get(method)
        if override is not None:
            response = override(params)
            if response is not None:
                return response
        return web.json_response(self.answer(method, params))

    async def upload(self, request: web.Request) -> web.Response:
        """The URL files.getUploadURLExternal hands out: the file's bytes, recorded."""
        content = await request.read()
        async with self.changed:
            self.calls.append(
                Call("upload", {"file": request.match_info["file"], "bytes": content})
            )
            self.changed.notify_all()
        return web.Response(text="OK - " + str(len(content)))

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        """Says ``hello``, then sends each queued envelope; records what the app sends back."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {}})

        async def pump() -> None:
            while True:
                await ws.send_json(await self.envelopes.get())

        sender = asyncio.create_task(pump())
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    async with self.changed:
                        self.acks.append(json.loads(message.data))
                        self.changed.notify_all()
        finally:
            sender.cancel()
        return ws

    async def wait_for_ack(self, envelope_id: str, timeout: float = 20.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        async def wait() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: found() is not None)

        await asyncio.wait_for(wait(), timeout)
        ack = found()
        assert ack is not None
        return ack

    async def drop_socket(self, timeout: float = 5.0) -> None:
        """Closes the newest socket from the server's side, as Slack does when it refreshes or
        moves a connection: the app should call apps.connections.open and connect again."""
        assert self.sockets, "no socket has connected yet"
        ws = self.sockets[-1]
        await asyncio.wait_for(ws.close(code=aiohttp.WSCloseCode.GOING_AWAY), timeout)


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(port)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_route("*", "/api/{method}", fake.handle)
    app.router.add_post("/upload/{file}", fake.upload)
    app.router.add_get("/socket", fake.socket)
    runner, port = await _serve(app)
    fake.base_url = f"http://127.0.0.1:{port}/"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo roster (`offerbot init --demo`) once per run; tests copy the file."""
    from typer.testing import CliRunner

    from bot.cli import app as cli

    folder = tmp_path_factory.mktemp("slack-demo")
    db = folder / "template.db"
    env = {
        "OFFERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "OFFERBOT_NOW": DEMO_NOW,
        "OFFERBOT_DEMO_EMPLOYEES": "20",
    }
    import os

    cwd = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, ["init", "--demo", "--json"], env=env)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return db


@dataclass
class SlackBot:
    app: App
    url: str  # the app's /slack/events endpoint
    fake: FakeSlack
    db_url: str
    session: aiohttp.ClientSession

    async def post(
        self, body: str, *, content_type: str, secret: str = SECRET, age: int = 0, retry: int = 0
    ) -> aiohttp.ClientResponse:
        ts = str(int(time.time()) - age)
        signature = hmac.new(
            secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256
        ).hexdigest()
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": f"v0={signature}",
        }
        if retry:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        response = await self.session.post(self.url, data=body.encode(), headers=headers)
        await response.read()
        return response

    async def event(self, event: dict[str, Any], *, event_id: str = "Ev1", **kw: Any) -> Any:
        envelope = {
            "token": "x",
            "team_id": TEAM,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
        }
        return await self.post(json.dumps(envelope), content_type="application/json", **kw)

    async def command(self, command: str, text: str, *, user: str) -> Any:
        form = {
            "command": command,
            "text": text,
            "user_id": user,
            "team_id": TEAM,
            "channel_id": "C0001",
            "trigger_id": "trig-1",
            "response_url": self.fake.base_url + "response",
            "api_app_id": "A1",
        }
        return await self.post(urlencode(form), content_type="application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any]) -> Any:
        payload = {"team": {"id": TEAM}, "api_app_id": "A1", "token": "x", **payload}
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, content_type="application/x-www-form-urlencoded")


@pytest.fixture
def slack_now() -> str:
    """The app's starting instant; parametrize ``slack_now`` to run after the deadline."""
    return DEMO_NOW


@contextlib.asynccontextmanager
async def running_slack_bot(
    fake_slack: FakeSlack,
    demo_db: Path,
    tmp_path: Path,
    now: str,
    *,
    clock: Any = None,
    process_before_response: bool | None = None,
    ack_within: float | None = None,
    **settings: Any,
) -> AsyncIterator[SlackBot]:
    """The Slack app over a copy of the demo database, served on loopback; ``settings``
    override the defaults (e.g. more HR admins, the two-person rule). ``clock`` replaces the
    simulated clock starting at ``now`` (a ``ManualClock`` the test moves); with
    ``process_before_response`` Bolt answers a request only after its listener finished, so a
    listener that failed answers 500 — the answer after which Slack sends its retries.
    ``ack_within``: how long a view submission's work may take before it is acknowledged."""
    from handlers.slack import build_slack_app

    db = tmp_path / "offerbot.db"
    shutil.copy(demo_db, db)
    db_url = f"sqlite+aiosqlite:///{db}"
    values: dict[str, Any] = {
        "database_url": db_url,
        "now": now,
        "slack_bot_token": "xoxb-test",
        "slack_signing_secret": SECRET,
        "slack_api_url": fake_slack.base_url + "api/",
        "hr_admins": (HR_ADMIN,),
        **settings,
    }
    config = Settings(**values)
    application = build(config, clock=clock or SimulatedClock(parse_instant(now)))
    if process_before_response is None and ack_within is None:
        bolt, _deps = application.slack_app()
    else:
        bolt, _deps = build_slack_app(
            conversation=application.conversation(),
            token="xoxb-test",
            signing_secret=SECRET,
            api_url=config.slack_api_url,
            hr_admins=config.hr_admins,
            process_before_response=bool(process_before_response),
            settings=config,
            **({} if ack_within is None else {"ack_within": ack_within}),
        )
    runner, port = await _serve(bolt.web_app(path="/slack/events"))
    session = aiohttp.ClientSession()
    try:
        yield SlackBot(
            app=application,
            url=f"http://127.0.0.1:{port}/slack/events",
            fake=fake_slack,
            db_url=db_url,
            session=session,
        )
    finally:
        await session.close()
        await runner.cleanup()
        await application.aclose()


@pytest.fixture
async def slack_bot(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path, slack_now: str
) -> AsyncIterator[SlackBot]:
    async with running_slack_bot(fake_slack, demo_db, tmp_path, slack_now) as bot:
        yield bot


# --- failed posts and a clock the test moves (tests/slack/test_slack_retry_after_failed_post.py)


def failing(times: int = 1, *, error: str = "fatal_error") -> Override:
    """An override for ``FakeSlack.overrides[method]``: the first ``times`` calls get Slack's
    ``{"ok": false, "error": …}`` (HTTP 200, so the client's 5xx retries do not hide it), later
    calls the default answer."""
    left = [times]

    def override(_params: dict[str, Any]) -> web.Response | None:
        if left[0] <= 0:
            return None
        left[0] -= 1
        return web.json_response({"ok": False, "error": error})

    return override


@contextlib.asynccontextmanager
async def running_slack_bot_at(
    fake_slack: FakeSlack,
    demo_db: Path,
    tmp_path: Path,
    *,
    clock: Any,
    process_before_response: bool = False,
) -> AsyncIterator[SlackBot]:
    """:func:`running_slack_bot` at the demo's "now" on ``clock``, Bolt mode chosen."""
    async with running_slack_bot(
        fake_slack,
        demo_db,
        tmp_path,
        DEMO_NOW,
        clock=clock,
        process_before_response=process_before_response,
    ) as bot:
        yield bot


class FakeMonotonic:
    """A monotonic clock that only moves when someone sleeps on it (tests never sleep): the
    Slack pace's clock in tests. ``slept`` lists every sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let the other tasks run, as a real sleep would


def post_content(call: Call) -> tuple[object, object, object, str]:
    """What a post said, and where: (channel, thread_ts, text, blocks as JSON)."""
    params = call.params
    return (
        params.get("channel"),
        params.get("thread_ts"),
        params.get("text"),
        json.dumps(params.get("blocks")),
    )


async def stored_delivery(bot: SlackBot, event_id: str) -> SlackDelivery:
    """The ``slack_events`` row of ``event_id`` (it must exist)."""
    async with bot.app.uow() as uow:
        delivery = await slack_events(uow).get(f"event:{event_id}")
    assert delivery is not None
    return delivery


def dm_envelope(envelope_id: str, event_id: str, text: str, *, retry: int = 0) -> dict[str, Any]:
    """A ``message.im`` event as Socket Mode delivers it (first delivery: retry_attempt 0)."""
    payload = {
        "token": "x",
        "team_id": TEAM,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel_type": "im",
            "channel": "D1001",
            "user": "U1001",
            "text": text,
            "ts": f"{time.time():.6f}",
        },
        "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
    }
    return {
        "envelope_id": envelope_id,
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
        "payload": payload,
    }
