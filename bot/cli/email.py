"""`offerbot` commands for e-mail (registered by `bot.cli`): the background worker."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import load_settings, run
from bot.cli.terminal import JsonOpt, err, out, print_json

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["register"]


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the main app and to the `hr` group."""
    app.command("worker")(worker)


def worker(
    once: bool = typer.Option(False, "--once", help="One pass (read mail, send due), then exit."),
    as_json: bool = JsonOpt,
) -> None:
    """Read new mail, answer it, and deliver the due outbox (continuously unless --once)."""
    from bot.runtime.bootstrap import ConfigurationError
    from bot.runtime.worker import run_worker, worker_pass

    async def one_pass(application: App) -> dict[str, Any]:
        transports = application.outbox_transports()
        try:
            report = await worker_pass(application, transports)
        finally:
            for transport in transports.values():
                close = getattr(transport, "aclose", None)
                if close is not None:
                    await close()
        o = report.outbox
        return {
            "mail_read": report.mail_read,
            "sent": o.sent,
            "retried": o.retried,
            "failed": o.failed,
            "ambiguous": o.ambiguous,
            "channels": sorted(transports),
            "dm_channels_opened": report.dm_channels_opened,
            "jobs": {
                "ran": report.jobs.ran,
                "retried": report.jobs.retried,
                "failed": report.jobs.failed,
            },
        }

    async def forever(application: App) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_worker(application, stop=stop)

    try:
        if not once:
            run(as_json, forever, load_settings())
            return
        result = run(as_json, one_pass, load_settings())
    except ConfigurationError as exc:
        err.print(f"error: invalid configuration: {exc}", style="red")
        raise typer.Exit(2) from None
    if as_json:
        print_json(result)
    else:
        out.print(
            f"mail read: {result['mail_read']}; sent {result['sent']}, retrying "
            f"{result['retried']}, failed {result['failed']}, ambiguous {result['ambiguous']}."
        )
