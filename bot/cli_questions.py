"""`offerbot` commands for questions (registered by `bot.cli`).

* ``offerbot ask "TEXT" [--as EMPLOYEE_ID] [--json]`` and ``offerbot ask --batch FILE.jsonl``;
* ``offerbot eval FILE.jsonl [--json]`` — accuracy, abstention, intents, latency;
* ``offerbot kb build PATH`` — parse an offer text and list its entries;
* ``offerbot hr unanswered [--json]`` — questions the bot abstained on.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

import typer

from bot.bootstrap import App
from bot.cli_support import JsonOpt, err, load_settings, operator, out, print_json, run
from bot.services.answers import ask_payload
from bot.services.conversation import respond
from bot.services.identity import Identity
from bot.services.offer import load_offer
from handlers.console.render import render_reply
from knowledge.answerer import answer, build_knowledge_base, knowledge_base
from knowledge.evaluation import evaluate, load_items
from knowledge.offer_terms import load_offer_terms
from knowledge.parser import OfferParseError, parse_offer
from storage.migrate import upgrade

__all__ = ["register"]

_BatchOpt = typer.Option(
    None, "--batch", help="JSONL file with one {'question': ...} per line.", dir_okay=False
)
_FileArg = typer.Argument(..., exists=True, dir_okay=False, readable=True)
_AsOpt = typer.Option(None, "--as", help="Ask as this verified employee (channel cli).")


def _identity(employee_id: str | None) -> Identity:
    if employee_id:
        return Identity(channel="cli", actor=f"cli:{getpass.getuser()}", employee_id=employee_id)
    return operator()


async def _ready(application: App) -> None:
    """The database and the offer, as `offerbot init` leaves them (both steps idempotent)."""
    await upgrade(application.engine)
    await load_offer(
        uow=application.uow(),
        terms=application.base_terms,
        digest=application.terms_digest,
        now=application.clock.now(),
    )


def ask_command(
    text: str | None = typer.Argument(None, help="The question."),
    employee_id: str | None = _AsOpt,
    batch: Path | None = _BatchOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Ask a question about the offer (as the bot would answer it on Slack or e-mail)."""
    if (text is None) == (batch is None):
        err.print("error: give either a question or --batch FILE.jsonl", style="red")
        raise typer.Exit(1)
    identity = _identity(employee_id)
    if batch is not None:
        if not batch.is_file():
            err.print(f"error: no file {batch}", style="red")
            raise typer.Exit(1)

        async def go_batch(application: App) -> None:
            await _ready(application)
            deps = application.conversation()
            with batch.open(encoding="utf-8") as lines:
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        question = str(json.loads(line)["question"])
                    except (ValueError, KeyError, TypeError) as exc:
                        sys.stdout.write(json.dumps({"error": f"bad line: {exc}"}) + "\n")
                        continue
                    reply = await respond(text=question, identity=identity, deps=deps)
                    sys.stdout.write(json.dumps(ask_payload(reply)) + "\n")
                    sys.stdout.flush()

        run(True, go_batch, load_settings())
        return

    async def go(application: App) -> Any:
        await _ready(application)
        return await respond(text=text or "", identity=identity, deps=application.conversation())

    reply = run(as_json, go, load_settings())
    if as_json:
        print_json(ask_payload(reply))
    else:
        render_reply(reply, out)


def eval_command(
    path: Path = _FileArg,
    as_json: bool = JsonOpt,
) -> None:
    """Score the answerer on a labelled JSONL set (format of shared/eval/dev_questions.jsonl)."""
    settings = load_settings()
    terms = load_offer_terms(settings.offer_dir) if settings.offer_dir else load_offer_terms()
    from knowledge.offer_terms import bundled_offer_dir

    kb = knowledge_base(settings.offer_dir or bundled_offer_dir())
    report = evaluate(load_items(path), lambda q: answer(q, kb=kb, terms=terms).payload())
    data = report.as_json()
    if as_json:
        print_json(data)
        return
    out.print(f"top-1 (faq+advice):          {report.top1:6.1%}  of {report.top1_n}")
    out.print(f"out-of-scope abstained:      {report.abstention:6.1%}  of {report.abstention_n}")
    out.print(f"personal intent accuracy:    {report.intent_accuracy:6.1%}  of {report.intent_n}")
    out.print(
        f"recommendations:             {report.recommendations} "
        f"(advice items: {report.advice_recommendations})"
    )
    out.print(f"latency p50 / p99:           {report.p50_ms:.2f} ms / {report.p99_ms:.2f} ms")
    for failure in report.failures:
        out.print(f"  miss {failure['id']}: {failure['question']!r} → {failure['got']}")


kb_app = typer.Typer(help="Knowledge base of an offer document.", no_args_is_help=True)


@kb_app.command("build")
def kb_build(
    path: Path = _FileArg,
    as_json: bool = JsonOpt,
) -> None:
    """Parse an offer text (SEC plain text) and print its entries as JSON."""
    try:
        entries = parse_offer(path.read_text(encoding="utf-8"))
    except (OfferParseError, UnicodeDecodeError) as exc:
        if as_json:
            print_json({"error": str(exc), "details": []})
        else:
            err.print(f"error: {exc}", style="red")
        raise typer.Exit(1) from None
    kb = build_knowledge_base(entries)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
    print_json(
        {
            "path": str(path),
            "entries": len(entries),
            "counts": counts,
            "passages": len(kb.index.passages),
            "ids": [e.id for e in entries],
            "entries_detail": [{"id": e.id, "title": e.title, "pages": e.pages} for e in entries],
        }
    )


def hr_unanswered(
    limit: int = typer.Option(100, "--limit", min=1, help="How many, newest first."),
    as_json: bool = JsonOpt,
) -> None:
    """Questions the bot could not answer (newest first), for HR to follow up."""

    async def go(application: App) -> Any:
        async with application.uow() as uow:
            return await uow.questions.unanswered(limit)

    rows = run(as_json, go, load_settings())
    data = [
        {
            "id": q.id,
            "asked_at": q.asked_at.isoformat(),
            "channel": q.channel,
            "actor": q.actor,
            "employee_id": q.employee_id,
            "question": q.question,
            "confidence": q.confidence,
            "best_entry_id": q.best_entry_id,
            "reason": q.reason,
        }
        for q in rows
    ]
    if as_json:
        print_json(data)
        return
    if not data:
        out.print("No unanswered questions.")
    for row in data:
        out.print(f"{row['asked_at']}  {row['reason']:<16} {row['actor']}: {row['question']}")


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the main app and to the `hr` group."""
    app.command("ask")(ask_command)
    app.command("eval")(eval_command)
    app.add_typer(kb_app, name="kb")
    hr.command("unanswered")(hr_unanswered)
