"""`offerbot run` (Slack Socket Mode) and `offerbot serve` (Slack over HTTP), each next to the
background worker (:func:`bot.runtime.worker.run_worker`) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import typer

from bot.cli.running import load_settings, run
from bot.cli.terminal import err

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp

    from bot.runtime.bootstrap import App
    from handlers.slack.flows import SlackDeps

__all__ = ["register", "socket_mode_handler"]


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _until_stopped(application: App, stop: asyncio.Event) -> None:
    from bot.runtime.worker import run_worker

    worker = asyncio.create_task(run_worker(application, stop=stop))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({worker, waiter}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    await worker  # a worker that crashed raises here, with its traceback


def _configured(application: App, *, need: str) -> tuple[AsyncApp, SlackDeps]:
    settings = application.settings
    needed = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_APP_TOKEN": settings.slack_app_token,
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
    }
    from bot.runtime.bootstrap import ConfigurationError

    missing = [name for name in ("SLACK_BOT_TOKEN", need) if needed[name] is None]
    if missing:
        raise ConfigurationError(f"set {' and '.join(missing)} to connect to Slack")
    return application.slack_app()


def socket_mode_handler(application: App) -> AsyncSocketModeHandler:
    """The Socket Mode handler `offerbot run` connects: the Bolt app over the app token's socket
    (``apps.connections.open`` through the app's own Web API client, so its base URL applies)."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    bolt, _deps = _configured(application, need="SLACK_APP_TOKEN")
    token = application.settings.slack_app_token
    assert token is not None
    return AsyncSocketModeHandler(bolt, app_token=token.get_secret_value())


def run_command() -> None:
    """Connect to Slack with Socket Mode (SLACK_BOT_TOKEN, SLACK_APP_TOKEN) and run the worker."""

    async def go(application: App) -> None:
        handler = socket_mode_handler(application)
        stop = _stop_on_signals()
        await handler.connect_async()
        err.print("offerbot: connected to Slack (Socket Mode); Ctrl-C stops")
        try:
            await _until_stopped(application, stop)
        finally:
            await handler.close_async()

    _guarded(go)


def serve_command(
    port: int = typer.Option(3000, "--port", min=1, max=65535, help="Port for /slack/events."),
    host: str = typer.Option("0.0.0.0", "--host", help="Interface to listen on."),
) -> None:
    """Receive Slack over HTTP at /slack/events (SLACK_SIGNING_SECRET) and run the worker."""
    from aiohttp import web

    from handlers.http_ops import add_ops_routes
    from handlers.slack.http_endpoint import slack_web_app
    from handlers.web import add_console_routes

    async def go(application: App) -> None:
        s = application.settings
        if s.slack_bot_token is None and s.slack_signing_secret is None:
            # No Slack at all: the HR console, /healthz and /metrics only (docs/hr-console.md)
            web_app = web.Application(client_max_size=s.slack_max_body_bytes)
        else:
            bolt, _deps = _configured(application, need="SLACK_SIGNING_SECRET")
            # bodies over OFFERBOT_SLACK_MAX_BODY_BYTES: 413 before Bolt sees them
            web_app = slack_web_app(
                bolt, path="/slack/events", max_body_bytes=s.slack_max_body_bytes
            )
        add_ops_routes(web_app, application)  # GET /healthz, GET /metrics
        add_console_routes(web_app, application, host=host)  # the HR web console, /hr/
        runner = web.AppRunner(web_app)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        stop = _stop_on_signals()
        err.print(f"offerbot: listening on http://{host}:{port} (/slack/events, /hr/); Ctrl-C ends")
        try:
            await _until_stopped(application, stop)
        finally:
            await runner.cleanup()

    _guarded(go)


def _guarded(go: Callable[[App], Awaitable[None]]) -> None:
    from bot.runtime.bootstrap import ConfigurationError

    try:
        run(False, go, load_settings())
    except ConfigurationError as exc:
        err.print(f"error: {exc}", style="red")
        raise typer.Exit(2) from None


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the main app and to the `hr` group."""
    app.command("run")(run_command)
    app.command("serve")(serve_command)
