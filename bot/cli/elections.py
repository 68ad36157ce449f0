"""`offerbot` commands for elections (registered by `bot.cli`).

Employees' intents (`elect`, `withdraw`, `status`, `form`, `model`) and HR's side
(`hr receive`, `hr report`, `hr export`, `hr close`, `hr split`, `hr audit`). Each command
builds the app, awaits one service from ``bot.services.elections`` and prints the result.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import UserError, load_settings, operator, run
from bot.cli.terminal import JsonOpt, one_line, out, print_json
from bot.domain.elections import Delivery, FormKind
from bot.domain.local_time import parse_received_at
from bot.ports import UnitOfWork
from bot.private_files import write_private

if TYPE_CHECKING:
    from bot.domain.terms import OfferTerms
    from bot.runtime.bootstrap import App


def _lazy_module(name: str) -> ModuleType:
    """``name`` imported on first attribute access (stdlib LazyLoader): the election services
    pull in fpdf and the storage layer, which `offerbot --help` must not pay for."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from bot.services import elections
else:
    elections = _lazy_module("bot.services.elections")


async def current_terms(*, uow: UnitOfWork, terms: OfferTerms) -> OfferTerms:
    """The offer's terms as amended (:func:`bot.services.offer.live_offer.current_terms`, imported
    late)."""
    from bot.services.offer.live_offer import current_terms as read_current_terms

    return await read_current_terms(uow=uow, terms=terms)


__all__ = ["register"]

# Options as module-level values (typer declares options as argument defaults).
GrantOpt = typer.Option(
    ..., "--grant", help="A grant number to tender (repeat, or separate with commas)."
)
FormOutOpt = typer.Option(None, "--form-out", help="Also write the pre-filled PDF form here.")
OutPdfOpt = typer.Option(..., "--out", help="Where to write the PDF.")
VersionOpt = typer.Option(None, "--version", min=1, help="Intent version (default: latest).")
PriceOpt = typer.Option([], "--price", help="A share price to illustrate (repeatable).")
StrikeOpt = typer.Option([], "--new-strike", help="A new-option exercise price (repeatable).")
OldVestingOpt = typer.Option(
    None, "--old-vesting-months", min=1, help="Show old grants vesting monthly over N months."
)
FormKindOpt = typer.Option(..., "--form", help="election or withdrawal")
ReceiptVersionOpt = typer.Option(..., "--version", min=1, help="The intent version on the form.")
ReceivedAtOpt = typer.Option(
    ...,
    "--received-at",
    help="When HR received it: now, a local YYYY-MM-DD HH:MM in the offer's zone (Pacific), "
    "or ISO with offset (2003-07-10T14:05-07:00).",
)
ViaOpt = typer.Option(..., "--via", help="fax or hand")
OutCsvOpt = typer.Option(..., "--out", help="CSV file to write.")
OutDirOpt = typer.Option(
    Path(".offerbot/promises"), "--out-dir", help="Folder for the Promise to Grant PDFs."
)
BatchSizeOpt = typer.Option(
    250, "--batch-size", min=1, max=5000, help="Employees per committed batch (resumable)."
)
RatioOpt = typer.Option(..., "--ratio", help="NEW:OLD, e.g. 1:10 (one-for-ten reverse split).")
EffectiveOpt = typer.Option(..., "--effective", help="YYYY-MM-DD")


def _grant_numbers(values: list[str]) -> list[str]:
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def _decimals(values: list[str], option: str) -> list[Decimal]:
    try:
        return [Decimal(v.replace("$", "").replace(",", "")) for v in values]
    except InvalidOperation:
        raise UserError(f"{option} takes a price such as 3.50.") from None


def _write(path: Path, content: bytes | str) -> None:
    write_private(path, content)  # 0640 whatever the umask: personal data


def elect(
    employee_id: str,
    grants: list[str] = GrantOpt,
    form_out: Path | None = FormOutOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Record an intent to tender these grants (a new version replaces the last)."""

    async def go(a: App) -> Any:
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        result = await elections.record_intent(
            uow=a.uow(),
            terms=terms,
            employee_id=employee_id,
            grant_numbers=_grant_numbers(grants),
            identity=operator(),
            now=a.clock.now(),
        )
        return result, terms

    result, terms = run(as_json, go, load_settings())
    _print_intent(result, terms, form_out, as_json)


def withdraw(employee_id: str, form_out: Path | None = FormOutOpt, as_json: bool = JsonOpt) -> None:
    """Record an intent to withdraw every tendered option (Notice to Withdraw)."""

    async def go(a: App) -> Any:
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        result = await elections.record_withdrawal(
            uow=a.uow(),
            terms=terms,
            employee_id=employee_id,
            identity=operator(),
            now=a.clock.now(),
        )
        return result, terms

    result, terms = run(as_json, go, load_settings())
    _print_intent(result, terms, form_out, as_json)


def _print_intent(result: Any, terms: Any, form_out: Path | None, as_json: bool) -> None:
    from handlers.console.render import render_reply

    data = elections.intent_json(result, terms)
    if form_out is not None:
        _write(form_out, result.form_pdf)
        data["form_file"] = str(form_out)
    if as_json:
        print_json(data)
    else:
        render_reply(elections.intent_reply(result, terms), out)


def status(employee_id: str, as_json: bool = JsonOpt) -> None:
    """Where an employee's election stands and what is left to do."""
    from handlers.console.render import render_reply

    async def go(a: App) -> Any:
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        s = await elections.employee_status(
            uow=a.uow(),
            terms=terms,
            employee_id=employee_id,
            identity=operator(),
            now=a.clock.now(),
        )
        return s, terms

    s, terms = run(as_json, go, load_settings())
    if as_json:
        print_json(elections.status_json(s, terms))
    else:
        render_reply(elections.status_reply(s, terms), out)


def form(
    employee_id: str,
    out_file: Path = OutPdfOpt,
    version: int | None = VersionOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Write the pre-filled Election Form (or Notice to Withdraw) of the latest intent."""

    async def go(a: App) -> Any:
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        return await elections.latest_form(
            uow=a.uow(), terms=terms, employee_id=employee_id, identity=operator(), version=version
        )

    intent, pdf = run(as_json, go, load_settings())
    _write(out_file, pdf)
    data = {"file": str(out_file), "version": intent.version, "form": intent.form.value}
    if as_json:
        print_json(data)
    else:
        out.print(f"Wrote the {intent.form.value} form of version {intent.version} to {out_file}.")


def model(
    employee_id: str,
    prices: list[str] = PriceOpt,
    new_strikes: list[str] = StrikeOpt,
    old_vesting_months: int | None = OldVestingOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Illustrate intrinsic values and vesting of old grants and the new option (no advice)."""
    from handlers.console.render import render_reply

    async def go(a: App) -> Any:
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        return await elections.model_options(
            uow=a.uow(),
            terms=terms,
            employee_id=employee_id,
            prices=_decimals(prices, "--price"),
            new_strikes=_decimals(new_strikes, "--new-strike"),
            identity=operator(),
            now=a.clock.now(),
            old_vesting_months=old_vesting_months,
        )

    result = run(as_json, go, load_settings())
    if as_json:
        print_json(elections.model_json(result))
    else:
        render_reply(elections.model_reply(result), out)


def receive(
    employee_id: str,
    form_kind: FormKind = FormKindOpt,
    version: int = ReceiptVersionOpt,
    received_at: str = ReceivedAtOpt,
    via: Delivery = ViaOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Record that HR received a signed form (late forms are refused)."""
    from handlers.console.render import render_reply

    async def go(a: App) -> Any:
        try:
            zone = a.base_terms.deadline_zone
            when = parse_received_at(received_at, now=a.clock.now(), zone=zone)
        except ValueError as exc:
            raise UserError(f"--received-at: {exc}") from None
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        result = await elections.record_receipt(
            uow=a.uow(),
            terms=terms,
            employee_id=employee_id,
            form=form_kind,
            version=version,
            received_at=when,
            via=via,
            identity=operator(),
            now=a.clock.now(),
            sla_alert_before=timedelta(hours=a.settings.receipt_sla_alert_hours),
        )
        return result, terms

    result, terms = run(as_json, go, load_settings())
    if as_json:
        print_json(elections.receipt_json(result, terms))
    else:
        render_reply(elections.receipt_reply(result, terms), out)


def report(as_json: bool = JsonOpt) -> None:
    """Eligible employees and shares, intents, signed forms, pending signatures, overdue
    receipt confirmations."""

    async def go(a: App) -> Any:
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        return await elections.hr_report(
            uow=a.uow(), terms=terms, identity=operator(), now=a.clock.now()
        )

    data = run(as_json, go, load_settings())
    if as_json:
        print_json(data)
        return
    e, i, f, s = data["eligible"], data["intents"], data["signed_forms_received"], data["shares"]
    out.print(
        f"Eligible: {e['employees']} employees, {e['unexercised_shares']:,} shares "
        f"in {e['grants']} grants."
    )
    out.print(
        f"Intents: {i['employees']} employees ({i['latest_tender']} tender, "
        f"{i['latest_withdraw']} withdraw), {i['versions']} versions."
    )
    out.print(
        f"Signed forms received: {f['total']} ({f['election_forms']} Election Forms, "
        f"{f['notices_to_withdraw']} Notices to Withdraw)."
    )
    out.print(
        f"Shares tendered: {s['tendered']:,} of {s['eligible']:,} ({s['tendered_percent']}%)."
    )
    out.print(f"Pending signatures: {data['pending_signatures']['count']}.")
    out.print(f"Receipt confirmations overdue: {data['receipt_confirmations']['overdue']}.")
    from bot.services.elections.participation import FUNNEL_STEPS  # the services: not at import

    for dimension, groups in data.get("by_group", {}).items():
        out.print(f"By {dimension} (people: eligible / saw grants / intent / form / confirmed):")
        for g in groups:
            steps = " / ".join(f"{g[key]['people']:,}" for key, _ in FUNNEL_STEPS)
            out.print(f"  {one_line(g['group'])}: {steps}", markup=False)


def export(out_file: Path = OutCsvOpt, as_json: bool = JsonOpt) -> None:
    """CSV for the stock administrator: every grant in a received Election Form."""

    async def go(a: App) -> Any:
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        return await elections.export_csv(uow=a.uow(), terms=terms, identity=operator())

    text, rows = run(as_json, go, load_settings())
    _write(out_file, text)
    if as_json:
        print_json({"file": str(out_file), "rows": rows})
    else:
        out.print(f"Wrote {rows} grant rows to {out_file}.")


def close(
    out_dir: Path = OutDirOpt,
    batch_size: int = BatchSizeOpt,
    as_json: bool = JsonOpt,
) -> None:
    """At/after expiration: accept received tenders and write signed Promise to Grant letters
    (in batches; run it again after an interruption and it resumes)."""
    from bot.cli.terminal import err
    from bot.forms.pool import PdfPool
    from bot.letter_files import LetterFolder
    from bot.services.elections.close import close_summary, resolve_signer

    settings = load_settings()
    # Forked before `run` starts the event loop and the database's threads (see PdfPool).
    pool = PdfPool()

    async def go(a: App) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        signer = resolve_signer(a.settings)  # first: no letter may go out unsigned
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        folder = LetterFolder(out_dir)
        with (
            contextlib.closing(folder),
            Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                disable=as_json or not err.is_terminal,
                transient=True,
            ) as bar,
        ):
            task = bar.add_task("Closing the offer", total=None)

            def progress(run: Any) -> None:
                bar.update(task, total=max(run.total, run.done), completed=run.done)

            result = await elections.close_offer(
                uow=a.uow(),
                terms=terms,
                identity=operator(),
                now=a.clock.now(),
                signer=signer,
                letters=folder,
                batch_size=batch_size,
                progress=progress,
                render=pool,
            )
        return result, terms

    with pool:
        result, terms = run(as_json, go, settings)
    files = {p.employee_id: str(out_dir / p.filename) for p in result.promises}
    data = elections.close_json(result, terms, files)
    if as_json:
        print_json(data)
        return
    out.print(close_summary(result, str(out_dir)), markup=False)
    for employee_id, why in result.rejected:
        out.print(f"  not accepted: {one_line(employee_id)}: {one_line(why)}", markup=False)


def split(ratio: str = RatioOpt, effective: str = EffectiveOpt, as_json: bool = JsonOpt) -> None:
    """Record a stock split or reverse split; new-option shares change where it applies."""

    async def go(a: App) -> Any:
        try:
            day = date.fromisoformat(effective)
        except ValueError:
            raise UserError(f"--effective {effective!r} is not a date (YYYY-MM-DD).") from None
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        return await elections.record_split(
            uow=a.uow(),
            terms=terms,
            ratio=ratio,
            effective=day,
            identity=operator(),
            now=a.clock.now(),
        )

    result = run(as_json, go, load_settings())
    data = elections.split_json(result)
    if as_json:
        print_json(data)
    else:
        out.print(data["message"])


def audit(employee_id: str, as_json: bool = JsonOpt) -> None:
    """Every recorded change (and view) about one employee, oldest first."""

    async def go(a: App) -> Any:
        terms = await current_terms(uow=a.uow(), terms=a.base_terms)
        entries = await elections.audit_trail(
            uow=a.uow(), employee_id=employee_id, identity=operator()
        )
        return entries, terms

    entries, terms = run(as_json, go, load_settings())
    data = elections.audit_json(entries, terms)
    if as_json:
        print_json(data)
        return
    for e in data:
        out.print(
            f"{e['at']}  {e['action']:<24} {one_line(e['actor'])} via {e['channel']}",
            markup=False,
        )


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the main app and to the `hr` group."""
    app.command("elect")(elect)
    app.command("withdraw")(withdraw)
    app.command("status")(status)
    app.command("form")(form)
    app.command("model")(model)
    hr.command("receive")(receive)
    hr.command("report")(report)
    hr.command("export")(export)
    hr.command("close")(close)
    hr.command("split")(split)
    hr.command("audit")(audit)
