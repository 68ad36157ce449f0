"""Operations commands: `offerbot doctor` (is this installation ready to run?)."""

from __future__ import annotations

import asyncio

import typer

from bot.cli.terminal import JsonOpt, out, print_json
from bot.runtime.doctor_results import CheckResult, Status

__all__ = ["register"]

_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.SKIP: "dim", Status.FAIL: "red"}

TimeoutOpt = typer.Option(
    5.0, "--timeout", min=0.1, max=120.0, help="Seconds each network check may take."
)


def doctor_command(as_json: bool = JsonOpt, timeout: float = TimeoutOpt) -> None:
    """Check configuration, database, offer, roster, SMTP, IMAP and Slack; exit 1 on a FAIL."""
    from bot.config import Settings
    from bot.runtime.doctor import run_checks

    results = asyncio.run(run_checks(Settings, timeout=timeout))
    failed = any(r.status is Status.FAIL for r in results)
    if as_json:
        print_json({"ok": not failed, "checks": [r.as_json() for r in results]})
    else:
        for result in results:
            _print(result)
        counts = {s: sum(r.status is s for r in results) for s in Status}
        summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        out.print(f"{len(results)} checks: {summary}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _print(result: CheckResult) -> None:
    label = result.status.value.upper()
    out.print(
        f"[{_STYLE[result.status]}]{label}[/]  ",
        end="",
    )
    out.print(f"{result.name}: {result.detail}", markup=False, soft_wrap=True)
    if result.hint and result.status in (Status.FAIL, Status.WARN):
        out.print(f"      hint: {result.hint}", markup=False, soft_wrap=True)


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the main app (nothing under `hr`)."""
    app.command("doctor")(doctor_command)
