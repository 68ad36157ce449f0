"""The far side of a broadcast benchmark, in its own process (so the servers do not share the
sender's CPU): an aiosmtpd server that counts what it accepts by Message-ID and recipient, and a
Slack Web API on aiohttp that enforces a rate limit with ``429`` + ``Retry-After`` and records
every call — including any that came before a ``Retry-After`` it gave had expired.

``GET /stats`` on the Web API's port returns the counts as JSON; ``POST /reset`` clears them.

    python3 -m bench.broadcast_sink      # prints {"smtp": PORT, "http": PORT}, serves until killed
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["Sink", "serve"]

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass
class Sink:
    """Counts; the Slack limit is ``slack_limit`` calls per rolling second (then 429 for 1 s),
    plus a forced ``429 Retry-After: 1`` on every ``forced_429_every``-th message post."""

    slack_limit: int = 12
    forced_429_every: int = 25
    by_message_id: Counter[str] = field(default_factory=Counter)
    by_recipient: Counter[str] = field(default_factory=Counter)
    smtp_times: list[float] = field(default_factory=list)
    calls: list[tuple[float, str, str]] = field(default_factory=list)  # (t, method, channel)
    posts: Counter[str] = field(default_factory=Counter)  # channel → chat.postMessage accepted
    window: list[float] = field(default_factory=list)
    blocked_until: float = 0.0
    rate_limited: int = 0
    early_calls: int = 0  # calls that came before a Retry-After we gave had expired
    post_count: int = 0

    # --- SMTP ----------------------------------------------------------------------------
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        found = _MESSAGE_ID.search(data[:4096])
        self.by_message_id[found.group(1).decode() if found else "?"] += 1
        for rcpt in envelope.rcpt_tos:
            self.by_recipient[rcpt.lower()] += 1
        self.smtp_times.append(time.monotonic())
        return "250 OK"

    # --- Slack Web API ---------------------------------------------------------------------
    async def handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(await request.post())
        now = time.monotonic()
        self.calls.append((now, method, str(params.get("channel") or params.get("users") or "")))
        if now < self.blocked_until:
            self.early_calls += 1
            return self._limited(self.blocked_until - now)
        self.window = [t for t in self.window if now - t < 1.0]
        if len(self.window) >= self.slack_limit:
            self.blocked_until = now + 1.0
            return self._limited(1.0)
        self.window.append(now)
        if method == "chat.postMessage":
            self.post_count += 1
            if self.forced_429_every and self.post_count % self.forced_429_every == 0:
                self.blocked_until = now + 1.0
                return self._limited(1.0)
            channel = str(params.get("channel"))
            self.posts[channel] += 1
            return web.json_response({"ok": True, "channel": channel, "ts": f"{now:.6f}"})
        if method == "conversations.open":
            user = str(params.get("users", "U?"))
            return web.json_response({"ok": True, "channel": {"id": "D" + user[1:]}})
        if method == "auth.test":
            return web.json_response({"ok": True, "team_id": "T1", "user_id": "UBOT"})
        return web.json_response({"ok": True})

    def _limited(self, seconds: float) -> web.Response:
        self.rate_limited += 1
        whole = max(1, int(seconds + 0.999))
        return web.json_response(
            {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(whole)}
        )

    async def stats(self, _request: web.Request) -> web.Response:
        posts = [t for t, m, _ in self.calls if m == "chat.postMessage"]
        body = {
            "cpu_seconds": time.process_time(),  # this process's, for CPU per message
            "smtp": {
                "accepted": sum(self.by_message_id.values()),
                "message_ids": len(self.by_message_id),
                "duplicate_copies": sum(c - 1 for c in self.by_message_id.values() if c > 1),
                "recipients": len(self.by_recipient),
                "recipient_extra_copies": sum(c - 1 for c in self.by_recipient.values() if c > 1),
                "first": self.smtp_times[0] if self.smtp_times else None,
                "last": self.smtp_times[-1] if self.smtp_times else None,
                "recipient_list": sorted(self.by_recipient),
            },
            "slack": {
                "calls": len(self.calls),
                "posts_accepted": sum(self.posts.values()),
                "channels": len(self.posts),
                "duplicate_posts": sum(c - 1 for c in self.posts.values() if c > 1),
                "opens": sum(1 for _, m, _ in self.calls if m == "conversations.open"),
                "rate_limited": self.rate_limited,
                "early_calls": self.early_calls,
                "first": posts[0] if posts else None,
                "last": posts[-1] if posts else None,
                "calls_first": self.calls[0][0] if self.calls else None,
                "calls_last": self.calls[-1][0] if self.calls else None,
            },
        }
        return web.json_response(body)

    async def reset(self, _request: web.Request) -> web.Response:
        fresh = Sink(slack_limit=self.slack_limit, forced_429_every=self.forced_429_every)
        for name in (
            "by_message_id",
            "by_recipient",
            "smtp_times",
            "calls",
            "posts",
            "window",
            "blocked_until",
            "rate_limited",
            "early_calls",
            "post_count",
        ):
            setattr(self, name, getattr(fresh, name))
        return web.json_response({"ok": True})


async def serve(sink: Sink) -> tuple[int, int, Any]:
    """Start both servers in the running loop; returns (smtp port, http port, closer)."""
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", ident="bench-sink"), "127.0.0.1", 0
    )
    app = web.Application()
    app.router.add_route("*", "/api/{method}", sink.handle_api)
    app.router.add_get("/stats", sink.stats)
    app.router.add_post("/reset", sink.reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http_port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def close() -> None:
        smtp.close()
        await runner.cleanup()

    return int(smtp.sockets[0].getsockname()[1]), http_port, close


async def _main() -> None:
    sink = Sink()
    smtp_port, http_port, _close = await serve(sink)
    print(json.dumps({"smtp": smtp_port, "http": http_port}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        sys.exit(0)
