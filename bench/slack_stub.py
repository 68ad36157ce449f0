"""A tiny Slack Web API on loopback for the benchmarks: enough for ``offerbot serve`` to start
and publish App Home views (auth.test, users.info, views.publish, …), counting each call."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["TEAM", "SlackStub", "post_signed_event", "slack_stub"]

TEAM = "T0BENCH"


@dataclass
class SlackStub:
    base_url: str = ""  # …/api/ once started
    calls: Counter[str] = field(default_factory=Counter)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(await request.post())
        async with self.changed:
            self.calls[method] += 1
            self.changed.notify_all()
        return web.json_response(self.answer(method, params))

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM, "user_id": "UBOT", "bot_id": "BBOT"}
        if method == "users.info":
            user = str(params.get("user"))
            return {
                "ok": True,
                "user": {
                    "id": user,
                    "team_id": TEAM,
                    "is_bot": False,
                    "profile": {"email": f"e{user[1:].lower()}@example.com"},
                },
            }
        if method in ("views.publish", "views.open", "views.update"):
            return {"ok": True, "view": {"id": "V0001", "hash": "h"}}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", "X"))[1:]}}
        return {"ok": True, "ts": "1.0001", "channel": params.get("channel")}

    async def wait_for(self, method: str, count: int, timeout: float) -> None:
        async def enough() -> None:
            async with self.changed:
                await self.changed.wait_for(lambda: self.calls[method] >= count)

        await asyncio.wait_for(enough(), timeout)


@asynccontextmanager
async def slack_stub() -> AsyncIterator[SlackStub]:
    stub = SlackStub()
    app = web.Application()
    app.router.add_route("*", "/api/{method}", stub.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stub.base_url = f"http://127.0.0.1:{port}/api/"
    try:
        yield stub
    finally:
        await runner.cleanup()


async def post_signed_event(
    session: aiohttp.ClientSession, url: str, *, secret: str, event: dict[str, Any], event_id: str
) -> int:
    """POST an Events API envelope signed the way Slack signs it (v0 HMAC-SHA256)."""
    body = json.dumps(
        {
            "token": "x",
            "team_id": TEAM,
            "api_app_id": "A0BENCH",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
        }
    )
    ts = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={signature}",
    }
    async with session.post(url, data=body.encode(), headers=headers) as response:
        await response.read()
        return response.status
