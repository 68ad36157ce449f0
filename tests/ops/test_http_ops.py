"""GET /healthz and GET /metrics through a real aiohttp server on loopback, and in
`offerbot serve` as a real process; the Prometheus text is read back with prometheus_client's
own parsers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.runtime.bootstrap import App, build
from handlers.http_ops import add_ops_routes
from storage.migrate import current_revision
from tests.cli.runner import offerbot as in_process
from tests.email.servers import SmtpRecorder
from tests.ops.metrics_flows import BACKLOG, FAILURES, FORMS, INTENTS, metrics_app, operate
from tests.servers import free_port
from tests.slack.conftest import SECRET, FakeSlack

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(families: object) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families  # type: ignore[attr-defined]
        for s in family.samples
    }


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[tuple[TestServer, aiohttp.ClientSession]]:
    web_app = web.Application()
    add_ops_routes(web_app, app)
    server = TestServer(web_app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield server, session
    finally:
        await server.close()


async def test_healthz_and_metrics_after_real_operations(
    tmp_path: Path, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, port = smtp
    async with metrics_app(tmp_path, port) as app, serving(app) as (server, http):
        await operate(app, recorder)
        async with http.get(server.make_url("/healthz")) as response:
            assert response.status == 200
            health = await response.json()
        revision = await current_revision(app.engine)
        assert health == {"status": "ok", "database": "ok", "migration": revision}
        assert revision

        async with http.get(server.make_url("/metrics")) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
        families = list(text_string_to_metric_families(text))
        values = samples(families)
        for kind, n in INTENTS.items():
            assert values[("offerbot_intents_recorded_total", (("kind", kind),))] == n
        for form, n in FORMS.items():
            assert values[("offerbot_signed_forms_received_total", (("form", form),))] == n
        for channel, n in BACKLOG.items():
            assert values[("offerbot_outbox_backlog", (("channel", channel),))] == n
        for state, n in FAILURES.items():
            assert values[("offerbot_outbox_send_failures", (("state", state),))] == n
        sent = values[("offerbot_outbox_sent_total", (("channel", "email"),))]
        assert sent == len(recorder.accepted) > 0
        assert values[("offerbot_abstentions_total", ())] >= 2
        assert values[("offerbot_questions_asked_total", (("channel", "slack"),))] >= 5
        kinds = {f.name: f.type for f in families}
        assert kinds["offerbot_intents_recorded"] == "counter"
        assert kinds["offerbot_outbox_backlog"] == "gauge"
        helps = {f.name: f.documentation for f in families}
        assert "per replica" in helps["offerbot_questions_asked"]

        accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with http.get(server.make_url("/metrics"), headers=accept) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            open_text = await response.text()
        open_values = samples(openmetrics_families(open_text))
        key = ("offerbot_intents_recorded_total", (("kind", "tender"),))
        assert open_values[key] == INTENTS["tender"]


async def test_unreachable_database_is_503_without_details(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://offerbot:s3cret-pw@127.0.0.1:{free_port()}/offerbot"
    app = build(Settings(database_url=url))
    try:
        async with serving(app) as (server, http):
            async with http.get(server.make_url("/healthz")) as response:
                assert response.status == 503
                body = await response.json()
            async with http.get(server.make_url("/metrics")) as response:
                assert response.status == 503
    finally:
        await app.aclose()
    assert body["status"] == "unavailable" and body["database"] == "unreachable"
    assert body["migration"] is None
    assert body["reason"].startswith("database unreachable")
    assert "s3cret" not in str(body) and "127.0.0.1" not in str(body)


async def test_a_database_never_migrated_is_503(tmp_path: Path) -> None:
    app = build(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    try:
        async with serving(app) as (server, http), http.get(server.make_url("/healthz")) as got:
            assert got.status == 503
            body = await got.json()
    finally:
        await app.aclose()
    assert body == {
        "status": "unavailable",
        "database": "ok",
        "migration": None,
        "reason": "database not migrated: run `offerbot db upgrade`",
    }


async def test_offerbot_serve_answers_healthz_and_metrics(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFERBOT_", "SLACK_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        OFFERBOT_SLACK_API_URL=fake_slack.base_url + "api/",
        OFFERBOT_LOG_FORMAT="json",
    )
    # `init` in the test process (tests.cli.runner); `serve` is the real process under test
    ours = {k: v for k, v in env.items() if k.startswith(("OFFERBOT_", "SLACK_"))}
    await asyncio.to_thread(in_process, tmp_path, "init", "--json", env=ours)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--port", str(port), "--host", "127.0.0.1",
        cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = b""
        while b"listening" not in line:
            line = await asyncio.wait_for(process.stderr.readline(), 30)
            assert line, "offerbot serve exited before listening"
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
                health = await response.json()
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                text = await response.text()
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert health["status"] == "ok" and health["migration"]
    values = samples(text_string_to_metric_families(text))
    assert values[("offerbot_intents_recorded_total", (("kind", "tender"),))] == 0
    assert values[("offerbot_outbox_backlog", (("channel", "email"),))] == 0
    assert process.returncode == 0
