"""The acceptance run: `offerbot serve` in its own process, pointed at the local Web API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from tests.servers import free_port
from tests.slack.conftest import DEMO_NOW, SECRET, FakeSlack, SlackBot

ROOT = Path(__file__).resolve().parents[2]


async def test_offerbot_serve_answers_a_signed_dm_once(
    fake_slack: FakeSlack, demo_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "serve.db"
    db.write_bytes(demo_db.read_bytes())
    port = free_port()
    env = {
        **os.environ,
        "OFFERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "OFFERBOT_NOW": DEMO_NOW,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "OFFERBOT_SLACK_API_URL": fake_slack.base_url + "api/",
        "OFFERBOT_HR_ADMINS": "U0HR01",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1",
        cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    session = aiohttp.ClientSession()
    try:
        assert process.stderr is not None
        line = b""
        while b"listening" not in line:  # Bolt may log a warning first
            line = await asyncio.wait_for(process.stderr.readline(), 20)
            assert line, "offerbot serve exited before listening"
        bot = SlackBot(
            app=None,  # type: ignore[arg-type]
            url=f"http://127.0.0.1:{port}/slack/events",
            fake=fake_slack,
            db_url="",
            session=session,
        )
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": "D1001",
            "user": "U1001",
            "text": "when is the deadline?",
            "ts": f"{time.time():.6f}",
        }
        assert (await bot.event(event, event_id="EvServe")).status == 200
        (post,) = await fake_slack.wait_for("chat.postMessage", timeout=30)
        assert (await bot.event(event, event_id="EvServe", retry=1)).status == 200
        assert (await bot.event(event, event_id="EvBad", secret="nope")).status == 401
        refused = await bot.command("/offer-admin", "report", user="U1001")
        assert refused.status == 200
        (ephemeral,) = await fake_slack.wait_for("chat.postEphemeral", timeout=30)
        assert "only for the HR administrators" in str(ephemeral.params["text"])
        text = str(post.params["text"]) + json.dumps(post.params["blocks"])
        assert post.params["channel"] == "D1001"
        assert "July 24, 2003" in text and "5:00 p.m." in text
        assert len(fake_slack.of("chat.postMessage")) == 1
    finally:
        await session.close()
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode == 0
