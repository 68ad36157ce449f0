"""`offerbot hr communications`: the communications log for the filing (registered by
`bot.cli`). Thin: builds the app, awaits
:func:`bot.services.messaging.communications.export_communications`, prints what was written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import load_settings, run
from bot.cli.terminal import JsonOpt, out, print_json

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["register"]

OutDirOpt = typer.Option(..., "--out", help="Folder for the log (created; files overwritten).")


def communications(out_dir: Path = OutDirOpt, as_json: bool = JsonOpt) -> None:
    """Export every written communication verbatim, with delivery counts (queued, sent, failed,
    ambiguous, pending), for the filing; `hr outbox` lists the undelivered copies."""
    from bot.services.messaging.communications import export_communications, exported_json

    async def go(a: App) -> Any:
        zone = a.base_terms.deadline_zone
        return await export_communications(a.uow(), out_dir, zone=zone), zone

    items, zone = run(as_json, go, load_settings())
    if as_json:
        print_json(
            {
                "out": str(out_dir),
                "count": len(items),
                "index": ["index.csv", "index.json"],
                "communications": exported_json(items, zone=zone),
            }
        )
        return
    out.print(f"Wrote {len(items)} communication(s) and index.csv, index.json to {out_dir}.")
    for item in items:
        channels = ", ".join(item.channels) or "not sent yet"
        s = item.stats
        out.print(
            f"  {item.file}  sent {s.sent} of {s.queued} ({channels}); failed {s.failed}, "
            f"ambiguous {s.ambiguous}, pending {item.pending}"
        )


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add `hr communications`."""
    hr.command("communications")(communications)
