"""The ``offerbot`` command line (typer). Every data command takes ``--json``.

Commands are thin: build the app from settings, await one service, print. Errors that a
person can fix (bad CSV, unknown employee, closed offer) are printed as one sentence — or as
``{"error": ...}`` with ``--json`` — and exit with status 1; nothing else is caught here.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import UserError, load_settings, operator, run, settings_if_valid
from bot.cli.terminal import JsonOpt, err, out, print_json

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App
    from bot.services.roster.import_roster import ImportResult

# Imports are lazy on purpose: `offerbot --help` and `offerbot ask` must start fast, so this
# module and the command modules import at their top only typer, rich's console and cheap
# domain enums; a command imports the services, storage, PDF and migration code it needs when
# it runs (tests/cli/test_console_script.py holds this).

__all__ = ["app", "main"]

DEMO_NOW = "2003-07-10T09:00:00-07:00"
DEMO_DIR = Path(".offerbot/demo")

app = typer.Typer(
    name="offerbot",
    help="Employee assistant for stock-option exchange offers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
hr_app = typer.Typer(help="HR administration.", no_args_is_help=True)
app.add_typer(hr_app, name="hr")


@app.callback()
def _configure_logging() -> None:
    """Logging (OFFERBOT_LOG_FORMAT, OFFERBOT_LOG_LEVEL) is set up once, before any command."""
    from bot.runtime.logging_setup import configure_from_settings, configure_logging

    settings = settings_if_valid()  # invalid ones: the defaults; the command reports them
    if settings is None:
        configure_logging()
    else:
        configure_from_settings(settings)


def _import_with_progress(
    application: App,
    employees_csv: Path,
    grants_csv: Path,
    *,
    skip_invalid: bool,
    quiet: bool,
    allow_reassign: bool = False,
) -> Awaitable[ImportResult]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bot.services.roster.import_roster import import_roster

    async def go() -> ImportResult:
        progress = Progress(
            TextColumn("importing roster"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=quiet,
            transient=True,
        )
        with progress:
            task = progress.add_task("rows", total=None)

            def tick(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await import_roster(
                uow=application.uow(),
                offer_id=application.base_terms.offer_id,
                employees_csv=employees_csv,
                grants_csv=grants_csv,
                skip_invalid=skip_invalid,
                allow_reassign=allow_reassign,
                actor=operator().actor,
                now=application.clock.now(),
                progress=tick,
            )

    return go()


def _counts(result: ImportResult) -> dict[str, Any]:
    return {
        "employees": vars_of(result.employees),
        "grants": vars_of(result.grants),
        "skipped": [str(e) for e in result.skipped],
        "voided_tenders": result.voided,
    }


def vars_of(counts: Any) -> dict[str, int]:
    return {"inserted": counts.inserted, "updated": counts.updated, "unchanged": counts.unchanged}


async def _init(application: App, *, demo: bool, quiet: bool) -> dict[str, Any]:
    from bot.services.offer.live_offer import load_offer
    from bot.services.offer.planning import refresh_plan
    from knowledge.demo_roster import generate_demo_roster, write_csv
    from storage.migrate import current_revision, upgrade

    await upgrade(application.engine)
    now = application.clock.now()
    state = await load_offer(
        uow=application.uow(),
        terms=application.base_terms,
        digest=application.terms_digest,
        now=now,
    )
    plan = await refresh_plan(
        uow=application.uow(),
        base_terms=application.base_terms,
        settings=application.settings,
        now=now,
    )
    result: dict[str, Any] = {
        "database": application.engine.url.render_as_string(hide_password=True),
        "revision": await current_revision(application.engine),
        "offer_id": state.offer_id,
        "expiration": state.expiration.astimezone(application.base_terms.deadline_zone).isoformat(),
        "planned": {"reminders": plan.reminders, "digests": plan.digests},
        "router": _router_summary(application.offer_dir, quiet=quiet),
    }
    if demo:
        roster = generate_demo_roster(
            application.base_terms,
            seed=application.settings.demo_seed,
            employees=application.settings.demo_employees,
        )
        DEMO_DIR.mkdir(parents=True, exist_ok=True)
        employees_csv, grants_csv = DEMO_DIR / "employees.csv", DEMO_DIR / "grants.csv"
        write_csv(roster, employees_csv, grants_csv)
        imported = await _import_with_progress(
            application, employees_csv, grants_csv, skip_invalid=False, quiet=quiet
        )
        result["demo"] = {
            "employees_csv": str(employees_csv),
            "grants_csv": str(grants_csv),
            "now": application.settings.now.isoformat() if application.settings.now else None,
            **_counts(imported),
        }
    return result


def _router_summary(offer_dir: Path, *, quiet: bool = False) -> dict[str, Any]:
    """Train (or load from the cache) the offer's question router, so the first question is fast.
    On a terminal a spinner says what the wait is: on a fresh machine the training takes about
    10 s (the README's first command) and nothing else would show that it is working."""
    from knowledge.answerer import knowledge_base

    if quiet:
        router = knowledge_base(offer_dir).router
    else:
        with err.status("Preparing the question router (a first run trains it: about 10 s)…"):
            router = knowledge_base(offer_dir).router
    return {
        "labels": len(router.labels),
        "examples": router.meta.get("examples"),
        "threshold": router.threshold,
    }


def _prepare_demo_clock() -> None:
    """The sample offer is historical: pin the demo's simulated clock inside its window."""
    from bot.config import LOCAL_ENV_FILE

    if os.environ.get("OFFERBOT_NOW"):
        return
    LOCAL_ENV_FILE.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if LOCAL_ENV_FILE.exists():
        lines = [
            line
            for line in LOCAL_ENV_FILE.read_text().splitlines()
            if not line.startswith("OFFERBOT_NOW=")
        ]
    # Anchored: every later command shares one simulated time that started now.
    anchor = datetime.now(UTC).isoformat(timespec="seconds")
    lines.append(f"OFFERBOT_NOW={DEMO_NOW}@{anchor}")
    LOCAL_ENV_FILE.write_text("\n".join(lines) + "\n")


@app.command()
def init(
    demo: bool = typer.Option(False, "--demo", help="Also load the demo roster and demo clock."),
    as_json: bool = JsonOpt,
) -> None:
    """Create or migrate the database and load the offer (idempotent)."""
    if demo:
        _prepare_demo_clock()
    result = run(as_json, lambda a: _init(a, demo=demo, quiet=as_json), load_settings())
    if as_json:
        print_json(result)
        return
    out.print(f"Database ready at revision {result['revision']} ({result['database']}).")
    out.print(f"Offer {result['offer_id']} loaded; expiration {result['expiration']}.")
    if demo:
        d = result["demo"]
        out.print(
            f"Demo roster: {sum(d['employees'].values())} employees, "
            f"{sum(d['grants'].values())} grants (from {d['employees_csv']}, {d['grants_csv']}). "
            f"Demo clock starts at {d['now']}."
        )


@app.command()
def demo(
    employee_id: str = typer.Option("E1001", "--as", help="Demo employee to chat as."),
) -> None:
    """Set up the demo (init --demo), then chat on the console as a demo employee."""
    from handlers.console.chat import chat

    _prepare_demo_clock()

    async def go(application: App) -> int:
        await _init(application, demo=True, quiet=False)
        async with application.uow() as uow:
            employee = await uow.employees.get(employee_id)
        if employee is None:
            raise UserError(f"No demo employee {employee_id!r}; try E1001 … E1007.")
        return await chat(
            deps=application.conversation(),
            employee_id=employee.employee_id,
            name=employee.name,
            console=out,
        )

    run(False, go, load_settings())


@app.command()
def grants(employee_id: str, as_json: bool = JsonOpt) -> None:
    """An employee's option grants: eligibility, reasons, new-option shares."""
    from bot.services.offer.live_offer import current_terms
    from bot.services.roster.grants import grants_json, grants_reply, my_grants
    from handlers.console.render import render_reply

    async def go(application: App) -> Any:
        terms = await current_terms(uow=application.uow(), terms=application.base_terms)
        assessment = await my_grants(
            uow=application.uow(),
            terms=terms,
            employee_id=employee_id,
            identity=operator(),
            now=application.clock.now(),
        )
        return assessment, terms

    assessment, terms = run(as_json, go, load_settings())
    if as_json:
        print_json(grants_json(assessment))
    else:
        render_reply(grants_reply(assessment, terms), out)


@app.command()
def deadlines(as_json: bool = JsonOpt) -> None:
    """Expiration, cancellation, new grant date, extension announcement due, open or not."""
    from bot.services.offer.deadlines import deadlines_json, deadlines_reply, get_deadlines
    from bot.services.offer.live_offer import current_terms
    from handlers.console.render import render_reply

    async def go(application: App) -> Any:
        terms = await current_terms(uow=application.uow(), terms=application.base_terms)
        now = application.clock.now()
        return get_deadlines(terms, now=now), terms, now

    d, terms, now = run(as_json, go, load_settings())
    if as_json:
        print_json(deadlines_json(d, terms, now=now))
    else:
        render_reply(deadlines_reply(d, terms, now=now), out)


@app.command()
def vesting(
    shares: int = typer.Option(..., "--shares", min=0, help="Shares of the new option."),
    grant_date: str = typer.Option(..., "--grant-date", help="YYYY-MM-DD"),
    as_json: bool = JsonOpt,
) -> None:
    """The new option's vesting schedule (Q13, p. 3)."""
    from bot.domain.new_option import vesting_schedule
    from knowledge.offer_terms import load_offer_terms

    try:
        when = date.fromisoformat(grant_date)
        terms = load_offer_terms(load_settings().offer_dir)
    except ValueError as exc:
        err.print(f"error: {exc}", style="red")
        raise typer.Exit(1) from None
    schedule = vesting_schedule(shares, when, terms.vesting)
    rows = [
        {"date": t.date.isoformat(), "shares": t.shares, "cumulative": t.cumulative}
        for t in schedule
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        out.print(f"{row['date']}  {row['shares']:>10,}  {row['cumulative']:>12,}")


@app.command("import-roster")
def import_roster_command(
    employees_csv: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    grants_csv: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Import the valid rows."),
    allow_reassign: bool = typer.Option(
        False,
        "--allow-reassign",
        help="Move tendered grants (or lower their shares) anyway, voiding the old tender.",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Import HR's roster (columns: docs/hr-guide.md). All or nothing unless --skip-invalid."""

    async def go(application: App) -> ImportResult:
        return await _import_with_progress(
            application,
            employees_csv,
            grants_csv,
            skip_invalid=skip_invalid,
            quiet=as_json,
            allow_reassign=allow_reassign,
        )

    result = run(as_json, go, load_settings())
    data = _counts(result)
    if as_json:
        print_json(data)
        return
    for kind in ("employees", "grants"):
        c = data[kind]
        out.print(
            f"{kind}: {c['inserted']} new, {c['updated']} updated, {c['unchanged']} unchanged"
        )
    for line in data["skipped"]:
        err.print(f"skipped: {line}", style="yellow", markup=False)
    for employee_id, numbers in data["voided_tenders"].items():
        err.print(
            f"voided the tender of {employee_id} (grants {', '.join(numbers)}): they must "
            "record a new intent and deliver a new signed form",
            style="yellow",
            markup=False,
        )


@db_app.command("upgrade")
def db_upgrade(as_json: bool = JsonOpt) -> None:
    """Apply database migrations (Alembic) up to the newest."""
    from storage.migrate import current_revision, upgrade

    async def go(application: App) -> str | None:
        await upgrade(application.engine)
        return await current_revision(application.engine)

    revision = run(as_json, go, load_settings())
    if as_json:
        print_json({"revision": revision})
    else:
        out.print(f"Database at revision {revision}.")


@app.command("config-docs")
def config_docs(
    out_path: Path | None = typer.Option(
        None, "--out", help="Write the Markdown to this file instead of printing it."
    ),
) -> None:
    """Every setting as a Markdown table (docs/configuration.md), from bot/config.py."""
    from bot.config_docs import configuration_markdown

    text = configuration_markdown()
    if out_path is None:
        typer.echo(text, nl=False)
        return
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    out.print(f"Wrote {out_path}.", markup=False, highlight=False)


def _register_command_modules() -> None:
    """Commands of the larger capabilities live in their own modules, registered here."""
    from bot.cli import (
        communications,
        elections,
        email,
        hr_admin,
        metrics,
        offer_admin,
        ops,
        outbox,
        questions,
        slack,
        suggestions,
    )

    for module in (
        questions,
        elections,
        email,
        slack,
        metrics,
        ops,
        communications,
        offer_admin,
        outbox,
        hr_admin,
        suggestions,
    ):
        module.register(app, hr_app)


_register_command_modules()


def main() -> None:
    app()
