"""`offerbot hr suggestions list|export`: the question-bank suggestions HR made in the web
console (registered by `bot.cli`). Thin: builds the app, awaits
:mod:`bot.services.hr.question_replies`, prints or writes the result.

`export` writes the *accepted* suggestions in the question bank's own format, for a person to
review and commit into the offer's ``questions/`` folder (nothing is trained before that)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import UserError, load_settings, operator, run
from bot.cli.terminal import JsonOpt, one_line, out, print_json

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App

__all__ = ["register"]

suggestions_app = typer.Typer(help="Question-bank suggestions from the HR console.")

OutOpt = typer.Option(
    None,
    "--out",
    help="Write the bank file here (e.g. knowledge/offers/<offer>/questions/hr-suggestions.txt"
    " in a checkout, then review the diff); default: standard output.",
)
StatusOpt = typer.Option(None, "--status", help="pending, accepted or rejected (default: all).")


@suggestions_app.command("export")
def export(out_file: Path | None = OutOpt) -> None:
    """Print or write the accepted suggestions as a question-bank file."""
    from bot.private_files import write_private
    from bot.services.hr.question_replies import citable_entries, suggestions_bank_text

    async def go(a: App) -> str:
        entries = citable_entries(a.offer_dir)
        return await suggestions_bank_text(uow=a.uow(), identity=operator(), entries=entries)

    text = run(False, go, load_settings())
    if out_file is None:
        sys.stdout.write(text)
        return
    write_private(out_file, text)
    out.print(f"Wrote the accepted suggestions to {out_file}. Review, `offerbot kb check`, commit.")


@suggestions_app.command("list")
def list_(status: str | None = StatusOpt, as_json: bool = JsonOpt) -> None:
    """The suggestions, newest first."""
    from bot.services.hr.question_replies import SUGGESTION_STATUSES, list_suggestions

    async def go(a: App) -> Any:
        if status is not None and status not in SUGGESTION_STATUSES:
            # raised inside `run`, which prints it as one line (outside it was a traceback)
            raise UserError("--status is pending, accepted or rejected.")
        return await list_suggestions(uow=a.uow(), identity=operator(), status=status)

    found = run(as_json, go, load_settings())
    rows = [
        {
            "id": s.id,
            "label": s.label,
            "text": s.text,
            "status": s.status,
            "proposed_at": s.proposed_at.isoformat(),
            "proposed_by": s.proposed_by,
            "decided_by": s.decided_by,
        }
        for s in found
    ]
    if as_json:
        print_json({"count": len(rows), "suggestions": rows})
        return
    for r in rows:
        out.print(f"#{r['id']} {r['status']:<8} {r['label']:<12} {one_line(r['text'])}")
    if not rows:
        out.print("No suggestions.")


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add `hr suggestions`."""
    hr.add_typer(suggestions_app, name="suggestions")
