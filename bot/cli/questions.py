"""`offerbot` commands for questions (registered by `bot.cli`).

* ``offerbot ask "TEXT" [--as EMPLOYEE_ID] [--json]`` and ``offerbot ask --batch FILE.jsonl``;
* ``offerbot eval FILE.jsonl [--json]`` — accuracy, abstention, intents, latency;
  ``offerbot eval --cv`` — grouped cross-validation of the router on the question bank;
* ``offerbot kb build PATH`` — parse an offer text, list its entries, train its router;
* ``offerbot kb check`` — the question bank's labels and examples per label;
* ``offerbot hr unanswered [--json]`` — questions the bot abstained on.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import load_settings, operator, run
from bot.cli.terminal import JsonOpt, err, one_line, out, print_json

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App
    from bot.services.identity import Identity
    from knowledge.coverage import Cover

# The knowledge base, the evaluation and the console renderer are imported by the commands that
# use them (`offerbot --help` loads none of them); `ask` loads the router with numpy only.

__all__ = ["register"]

_BatchOpt = typer.Option(
    None, "--batch", help="JSONL file with one {'question': ...} per line.", dir_okay=False
)
_FileArg = typer.Argument(..., exists=True, dir_okay=False, readable=True)
_AsOpt = typer.Option(None, "--as", help="Ask as this verified employee (channel cli).")


def _identity(employee_id: str | None) -> Identity:
    from bot.services.identity import Identity

    if employee_id:
        return Identity(channel="cli", actor=f"cli:{getpass.getuser()}", employee_id=employee_id)
    return operator()


async def _ready(application: App) -> None:
    """The offer loaded, as `offerbot init` leaves it (idempotent). The schema is not migrated
    here (Alembic costs a third of a second per question): a database `offerbot init` never
    created is the one-line error of :func:`bot.cli.running.run`."""
    from bot.services.offer.live_offer import load_offer

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
    from bot.services.questions.answers import ask_payload
    from bot.services.questions.conversation import respond
    from handlers.console.render import render_reply

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
                        question = _batch_question(line)
                    except ValueError as exc:
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


def _batch_question(line: str) -> str:
    """The question of one ``--batch`` line: ``{"question": "…"}`` with a string, else ValueError
    (``null`` or a number is not a question, and must not be asked as the text "None")."""
    data = json.loads(line)
    if not isinstance(data, dict) or "question" not in data:
        raise ValueError('expected an object like {"question": "…"}')
    question = data["question"]
    if not isinstance(question, str):
        raise ValueError(f'"question" must be a string, not {json.dumps(question)[:40]}')
    return question


def _offer_dir() -> Path:
    from knowledge.offer_terms import bundled_offer_dir

    return load_settings().offer_dir or bundled_offer_dir()


def eval_command(
    path: Path | None = typer.Argument(
        None, exists=True, dir_okay=False, readable=True, help="A labelled JSONL set."
    ),
    cv: bool = typer.Option(
        False, "--cv", help="Grouped k-fold cross-validation on the offer's question bank."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Score the answerer on a labelled JSONL set (format of shared/eval/dev_questions.jsonl),
    or (--cv) cross-validate the router on the question bank."""
    from knowledge.answerer import answer, knowledge_base
    from knowledge.evaluation import evaluate, load_items
    from knowledge.offer_terms import load_offer_terms

    if (path is None) == (not cv):
        err.print("error: give either a FILE.jsonl or --cv", style="red")
        raise typer.Exit(1)
    offer_dir = _offer_dir()
    if cv:
        _print_cv(offer_dir, as_json)
        return
    assert path is not None
    settings = load_settings()
    terms = load_offer_terms(settings.offer_dir) if settings.offer_dir else load_offer_terms()
    kb = knowledge_base(offer_dir)
    kb.warm()  # as a running bot's worker does at start: the latency is a running bot's
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
    out.print(f"router threshold (from CV):  {kb.router.threshold:.2f}")
    for failure in report.failures:
        out.print(f"  miss {failure['id']}: {failure['question']!r} → {failure['got']}")


def _print_cv(offer_dir: Path, as_json: bool) -> None:
    from knowledge.answerer import knowledge_base, offer_entries
    from knowledge.bank import load_bank
    from knowledge.calibration import cross_validate
    from knowledge.training import Hyper

    bank = load_bank(offer_dir)
    entries = offer_entries(offer_dir)
    report = cross_validate(bank, entries, Hyper())
    router = knowledge_base(offer_dir).router
    calibration = router.meta.get("cv")
    folds = calibration.get("folds", "?") if isinstance(calibration, dict) else "?"
    data = {
        **report.summary(),
        "router": {
            "threshold": router.threshold,
            "temperature": round(router.temperature, 4),
            "folds": folds,
        },
        "seconds": round(report.seconds, 1),
        "per_label": {k: {"right": r, "n": n} for k, (r, n) in report.per_label.items()},
        "confusions": [{"label": a, "decided": b, "n": n} for a, b, n in report.confusions()],
    }
    if as_json:
        print_json(data)
        return
    out.print(
        f"{report.folds}-fold grouped cross-validation on {len(report.truth)} bank examples "
        f"({report.seconds:.1f} s); temperature {report.temperature:.3f}; "
        f"abstain below p = {report.threshold:.2f}" + _cover_text(report.cover)
    )
    out.print(
        f"the router in use abstains below p = {router.threshold:.2f} (temperature "
        f"{router.temperature:.3f}), from the {folds}-fold cross-validation of its training"
    )
    out.print("accuracy after abstention   (related entries count / exact family only)")
    strict = report.figures(strict=True)
    for kind, value in report.figures().items():
        out.print(f"  {kind:<22} {value:6.1%}   {strict[kind]:6.1%}")
    out.print("per label (right/n), weakest first:")
    weakest = sorted(report.per_label.items(), key=lambda kv: kv[1][0] / kv[1][1])
    out.print("  " + ", ".join(f"{label} {r}/{n}" for label, (r, n) in weakest[:30]))
    out.print("most frequent confusions (label → decided):")
    for label, decided, n in report.confusions():
        out.print(f"  {label:>20} → {decided:<20} {n}")


kb_app = typer.Typer(help="Knowledge base of an offer: entries, question bank, router.")


@kb_app.command("build")
def kb_build(
    path: Path = _FileArg,
    as_json: bool = JsonOpt,
) -> None:
    """Parse an offer text (SEC plain text) and print its entries; when the text is an offer
    folder's document with a question bank beside it, train (or load) that folder's router."""
    from knowledge.answerer import knowledge_base
    from knowledge.bank import BankError
    from knowledge.parser import OfferParseError, parse_offer

    try:
        entries = parse_offer(path.read_text(encoding="utf-8"))
    except (OfferParseError, UnicodeDecodeError) as exc:
        if as_json:
            print_json({"error": str(exc), "details": []})
        else:
            err.print(f"error: {exc}", style="red")
        raise typer.Exit(1) from None
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.kind] = counts.get(entry.kind, 0) + 1
    data: dict[str, Any] = {
        "path": str(path),
        "entries": len(entries),
        "counts": counts,
        "ids": [e.id for e in entries],
        "entries_detail": [{"id": e.id, "title": e.title, "pages": e.pages} for e in entries],
    }
    folder = path.resolve().parent
    if (folder / "questions").is_dir():
        try:
            router = knowledge_base(folder).router
        except BankError as exc:
            err.print(f"error: {exc}", style="red")
            raise typer.Exit(1) from None
        data["router"] = {
            "labels": len(router.labels),
            "threshold": router.threshold,
            "temperature": round(router.temperature, 4),
            **router.meta,
        }
    print_json(data)


@kb_app.command("check")
def kb_check(as_json: bool = JsonOpt) -> None:
    """Validate the question bank's labels against the parsed offer; examples per label."""
    from rich.markup import escape

    from knowledge.answerer import offer_entries
    from knowledge.bank import BankError, check_bank, load_bank

    offer_dir = _offer_dir()
    try:
        bank = load_bank(offer_dir)
    except BankError as exc:
        err.print(f"error: {exc}", style="red")
        raise typer.Exit(1) from None
    entries = offer_entries(offer_dir)
    check = check_bank(bank, [e.id for e in entries])
    unknown = [f"{e.file}:{e.line} [{e.label}]" for e in check.unknown]
    conflicts = [
        f"{a.file}:{a.line} [{a.label}] / {b.file}:{b.line} [{b.label}]: {a.text}"
        for a, b in check.conflicts
    ]
    data = {
        "ok": check.ok,
        "examples": len(bank.examples),
        "counts": check.counts,
        "below_minimum": list(check.short),
        "unknown_labels": unknown,
        "conflicts": conflicts,
        "duplicates": len(check.duplicates),
    }
    if as_json:
        print_json(data)
    else:
        out.print(f"{len(bank.examples)} examples in {offer_dir / 'questions'}")
        for label, n in check.counts.items():
            flag = "" if label not in check.short else "  ← below minimum"
            out.print(f"  {label:<24} {n:4d}{flag}")
        for line in unknown + conflicts:
            out.print(f"  problem: {escape(line)}")
        out.print(f"  exact duplicates (same label): {len(check.duplicates)}")
        out.print("OK" if check.ok else "NOT OK")
    if not check.ok:
        raise typer.Exit(1)


def hr_unanswered(
    limit: int = typer.Option(100, "--limit", min=1, help="How many, newest first."),
    as_json: bool = JsonOpt,
) -> None:
    """Questions the bot could not answer (newest first), for HR to follow up."""

    from bot.domain.local_time import format_local

    async def go(application: App) -> Any:
        async with application.uow() as uow:
            return await uow.questions.unanswered(limit), application.base_terms.deadline_zone

    rows, zone = run(as_json, go, load_settings())
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
    for q, row in zip(rows, data, strict=True):
        # HR reads the offer's local time, to the second, with the zone (PDT/PST)
        out.print(
            f"{format_local(q.asked_at, zone)}  {row['reason']:<16} {one_line(row['actor'])}: "
            f"{one_line(row['question'])}",
            markup=False,  # an employee's "[/b]" is text, not markup
            soft_wrap=True,  # one line per question, however long
        )


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the main app and to the `hr` group."""
    app.command("ask")(ask_command)
    app.command("eval")(eval_command)
    app.add_typer(kb_app, name="kb")
    hr.command("unanswered")(hr_unanswered)


def _cover_text(cover: Cover | None) -> str:
    if cover is None:
        return ""
    return (
        f", and below p = {cover.below:.2f} when the question's words its entry never uses "
        f"weigh {cover.mass:g} or more and {cover.share:.0%} of its words"
    )
