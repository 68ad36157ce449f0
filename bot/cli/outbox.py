"""`offerbot hr outbox` (registered by `bot.cli`): the messages the sender gave up on, and
sending them again. Thin: builds the app, awaits :mod:`bot.services.messaging.outbox_recovery`,
prints.

    offerbot hr outbox [--state failed|ambiguous] [--kind KIND] [--json]
    offerbot hr outbox resend (--all-failed | --id N …) [--kind KIND] [--json]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import UserError, load_settings, operator, run
from bot.cli.terminal import JsonOpt, err, one_line, out, print_json
from bot.domain.hr_records import DeliveryState, MessageKind

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["register"]

_KINDS = ", ".join(k.value for k in MessageKind)
KindOpt = typer.Option(None, "--kind", help=f"Only messages of this kind: {_KINDS}.")
IdsOpt = typer.Option(None, "--id", help="An outbox row id, as `hr outbox` lists it (repeatable).")
# what reached the database from outside (addresses, subjects, server replies) is printed
# without terminal control sequences

outbox_app = typer.Typer(
    help="Messages that could not be delivered (failed or ambiguous), and resending them.",
    no_args_is_help=False,
)


def _kind(value: str | None) -> MessageKind | None:
    if value is None:
        return None
    try:
        return MessageKind(value.strip().lower())
    except ValueError:
        raise UserError(f"Unknown message kind {value!r}; one of: {_KINDS}.") from None


def _state(value: str | None) -> DeliveryState | None:
    if value is None:
        return None
    if value.strip().lower() not in ("failed", "ambiguous"):
        raise UserError(f"--state must be failed or ambiguous, not {value!r}.")
    return DeliveryState(value.strip().lower())


def _print_rows(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        error = one_line(r["last_error"] or "")
        out.print(
            f"  #{r['id']}  {r['state']:<9}  {r['kind']:<22}  {r['channel']:<5}  "
            f"{one_line(r['recipient'])}  attempts {r['attempts']}"
            + (f", resent {r['requeues']}x" if r["requeues"] else "")
            + (f"  — {error[:120]}" if error else ""),
            markup=False,
            soft_wrap=True,
        )


@outbox_app.callback(invoke_without_command=True)
def outbox(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", help="failed or ambiguous (default both)."),
    kind: str | None = KindOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List the undelivered messages: failed (refused or out of attempts) and ambiguous
    (the connection died after the final "." — maybe delivered)."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.services.messaging.outbox_recovery import list_undelivered, undelivered_json

    async def go(a: App) -> list[dict[str, Any]]:
        found = await list_undelivered(uow=a.uow(), state=_state(state), kind=_kind(kind))
        return undelivered_json(found, zone=a.base_terms.deadline_zone)

    rows = run(as_json, go, load_settings())
    if as_json:
        print_json({"count": len(rows), "messages": rows})
        return
    if not rows:
        out.print("No undelivered messages.")
        return
    out.print(f"{len(rows)} undelivered message(s):")
    _print_rows(rows)
    out.print(
        "Send again with the same Message-ID: offerbot hr outbox resend --all-failed "
        "(or --id N …; ambiguous ones only by id, they may have arrived)."
    )


@outbox_app.command("resend")
def resend_command(
    ids: list[int] | None = IdsOpt,
    all_failed: bool = typer.Option(False, "--all-failed", help="Every failed message."),
    kind: str | None = KindOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Requeue undelivered messages, due now, with their original Message-ID; the worker
    sends them on its next pass."""
    from bot.services.messaging.outbox_recovery import resend, undelivered_json

    async def go(a: App) -> dict[str, Any]:
        result = await resend(
            uow=a.uow(),
            identity=operator(),
            now=a.clock.now(),
            ids=ids or (),
            all_failed=all_failed,
            kind=_kind(kind),
        )
        if ids and not result.requeued:
            raise UserError(
                "None of these is a failed or ambiguous message"
                + (f" of kind {kind}" if kind else "")
                + f": {', '.join(map(str, result.not_found))}."
            )
        return {
            "count": len(result.requeued),
            "requeued": undelivered_json(result.requeued, zone=a.base_terms.deadline_zone),
            "not_found": result.not_found,
        }

    data = run(as_json, go, load_settings())
    if as_json:
        print_json(data)
        return
    out.print(
        f"Requeued {data['count']} message(s) with their original Message-ID; "
        "the worker sends them on its next pass."
    )
    _print_rows(data["requeued"])
    if data["not_found"]:
        missing = ", ".join(map(str, data["not_found"]))
        err.print(f"not failed or ambiguous (left alone): {missing}", style="yellow")


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add `hr outbox` and `hr outbox resend`."""
    hr.add_typer(outbox_app, name="outbox")
