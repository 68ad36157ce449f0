"""`offerbot hr metrics [--json]` (registered by `bot.cli`): the operational counts.

The same counts ``/metrics`` exposes in ``offerbot serve``, read from the database, so they are
the same whichever host runs the command. Questions asked are counted in memory by each running
process and appear only on that process's ``/metrics``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import load_settings, run
from bot.cli.terminal import JsonOpt, one_line, out, print_json

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["register"]

_LABELS = {
    "abstentions": "questions abstained on (for HR)",
    "intents_recorded": "election intents recorded",
    "signed_forms_received": "signed forms received",
    "outbox_backlog": "outbox backlog (pending, due now)",
    "send_failures": "send failures",
    "outbox_sent": "messages sent",
    "inbound_emails": "e-mails processed",
}


def hr_metrics(as_json: bool = JsonOpt) -> None:
    """Abstentions, intents, signed forms, outbox backlog, send failures, messages sent."""
    from bot.services.metrics import collect_metrics, metrics_json

    async def go(application: App) -> dict[str, Any]:
        snapshot = await collect_metrics(uow=application.uow(), clock=application.clock)
        return metrics_json(snapshot)

    data = run(as_json, go, load_settings())
    if as_json:
        print_json(data)
        return
    for key, label in _LABELS.items():
        value = data[key]
        if isinstance(value, dict):
            parts = ", ".join(f"{k} {n}" for k, n in value.items() if k != "total" and n)
            line = f"{label}: {value['total']}" + (f" ({parts})" if parts else "")
            out.print(one_line(line), markup=False)
        else:
            out.print(one_line(f"{label}: {value}"), markup=False)


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the main app and to the `hr` group."""
    hr.command("metrics")(hr_metrics)
