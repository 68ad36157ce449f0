"""`offerbot hr` commands that amend the offer (registered by `bot.cli`).

* ``hr extend --to ISO [--announce] [--message TEXT] [--by NAME] [--json]``
* ``hr amend --description TEXT [--extend] [--announce] [--message TEXT] [--by NAME] [--json]``
* ``hr approve AMENDMENT_ID [--by NAME]`` / ``hr reject AMENDMENT_ID [--by NAME]``
* ``hr amendments [--json]``

Each awaits one use case of :mod:`bot.services.offer.extension`. When the amendment is applied and
announced, the ``broadcast`` job runs here in the foreground (a progress bar on stderr) so HR
sees how many announcements were queued; ``offerbot worker`` delivers them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.running import load_settings, operator, run
from bot.cli.terminal import JsonOpt, err, out, print_json

if TYPE_CHECKING:
    from bot.runtime.bootstrap import App
    from bot.services.identity import Identity
    from bot.services.offer.deadline_follow_ups import EmailRenderer
    from bot.services.offer.extension import AmendmentResult

__all__ = ["register"]

ToOpt = typer.Option(..., "--to", help="The new expiration, ISO with offset.")
AnnounceOpt = typer.Option(
    False, "--announce", help="Announce it to every eligible employee (e-mail, Slack)."
)
MessageOpt = typer.Option("", "--message", help="HR's note, added to the announcement.")
ByOpt = typer.Option(None, "--by", help="Who acts (default: cli:<your user name>).")
DescriptionOpt = typer.Option(..., "--description", help="What changed, kept for the filing.")
ExtendOpt = typer.Option(
    False, "--extend", help="Move the expiration if ten business days would not remain."
)
IdArg = typer.Argument(..., min=1, help="The amendment's id (see `offerbot hr amendments`).")


def _identity(by: str | None) -> Identity:
    from bot.services.identity import Identity

    if by is not None and by.strip():
        return Identity(channel="cli", actor=by.strip())
    return operator()


def _email_renderer(application: App) -> EmailRenderer:
    """E-mail follow-ups look like every other e-mailed answer (the adapter's templates)."""
    from handlers.email.render import reply_renderer

    return reply_renderer(application.base_terms.company_short_name)


async def _announce_now(
    application: App, result: AmendmentResult, *, quiet: bool
) -> tuple[dict[str, int], list[str]]:
    """Run the amendment's broadcast job here, with a progress bar; the queued counts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bot.runtime.scheduler import run_due_jobs
    from bot.services.offer.extension import announcement_counts

    if result.broadcast_job is None or result.amendment.id is None:
        return {}, []
    progress = Progress(
        TextColumn("queueing announcements"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=True,
    )
    with progress:
        task = progress.add_task("copies", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = await run_due_jobs(
            uow=application.uow(),
            clock=application.clock,
            settings=application.settings,
            base_terms=application.base_terms,
            kinds=["broadcast"],
            progress=tick,
        )
    warnings = []
    if report.outcomes.get(result.broadcast_job, "done") != "done":
        warnings.append(
            "The announcements could not all be queued now; `offerbot worker` retries the "
            "broadcast job (see the log for the error)."
        )
    queued = await announcement_counts(uow=application.uow(), amendment_id=result.amendment.id)
    return queued, warnings


def _amendment_command(
    as_json: bool, use_case: Callable[[App], Awaitable[AmendmentResult]]
) -> None:
    from bot.services.offer.amendment_wording import amendment_reply, result_json
    from handlers.console.render import render_reply

    async def go(application: App) -> tuple[AmendmentResult, dict[str, int], list[str]]:
        result = await use_case(application)
        queued, warnings = await _announce_now(application, result, quiet=as_json)
        return result, queued, warnings

    result, queued, more = run(as_json, go, load_settings())
    if more:
        result = replace(result, warnings=(*result.warnings, *more))
    if as_json:
        print_json(result_json(result, queued))
    else:
        render_reply(amendment_reply(result, queued), out)


def extend(
    to: str = ToOpt,
    announce: bool = AnnounceOpt,
    message: str = MessageOpt,
    by: str | None = ByOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Extend the offer: a later expiration, applied at once (announce it with --announce)."""
    from bot.clock import parse_instant
    from bot.services.errors import InvalidRequestError
    from bot.services.offer.extension import extend_offer

    async def use_case(a: App) -> AmendmentResult:
        try:
            new_expiration = parse_instant(to)
        except ValueError as exc:
            raise InvalidRequestError(f"--to: {exc}") from None
        return await extend_offer(
            uow=a.uow(),
            base_terms=a.base_terms,
            settings=a.settings,
            identity=_identity(by),
            new_expiration=new_expiration,
            announce=announce,
            message=message,
            now=a.clock.now(),
            render_email=_email_renderer(a),
        )

    _amendment_command(as_json, use_case)


def amend(
    description: str = DescriptionOpt,
    extend: bool = ExtendOpt,
    announce: bool = AnnounceOpt,
    message: str = MessageOpt,
    by: str | None = ByOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Record a change in the consideration or in the options sought (ten business days rule)."""
    from bot.services.offer.extension import amend_offer

    async def use_case(a: App) -> AmendmentResult:
        return await amend_offer(
            uow=a.uow(),
            base_terms=a.base_terms,
            settings=a.settings,
            identity=_identity(by),
            description=description,
            extend=extend,
            announce=announce,
            message=message,
            now=a.clock.now(),
            render_email=_email_renderer(a),
        )

    _amendment_command(as_json, use_case)


def approve(amendment_id: int = IdArg, by: str | None = ByOpt, as_json: bool = JsonOpt) -> None:
    """Approve an amendment awaiting approval (two-person rule): it is announced."""
    from bot.services.offer.extension import approve_amendment

    async def use_case(a: App) -> AmendmentResult:
        return await approve_amendment(
            uow=a.uow(),
            base_terms=a.base_terms,
            identity=_identity(by),
            amendment_id=amendment_id,
            now=a.clock.now(),
            render_email=_email_renderer(a),
        )

    _amendment_command(as_json, use_case)


def reject(amendment_id: int = IdArg, by: str | None = ByOpt, as_json: bool = JsonOpt) -> None:
    """Reject an amendment awaiting approval: its announcement is dropped."""
    from bot.services.offer.extension import reject_amendment

    async def use_case(a: App) -> AmendmentResult:
        return await reject_amendment(
            uow=a.uow(),
            base_terms=a.base_terms,
            identity=_identity(by),
            amendment_id=amendment_id,
            now=a.clock.now(),
        )

    _amendment_command(as_json, use_case)


def amendments(as_json: bool = JsonOpt) -> None:
    """Every amendment of the offer, oldest first."""
    from bot.replies import Reply
    from bot.services.offer.amendment_wording import amendment_json
    from bot.services.offer.extension import list_amendments
    from handlers.console.render import render_reply

    async def go(a: App) -> list[dict[str, Any]]:
        found = await list_amendments(uow=a.uow(), base_terms=a.base_terms)
        return [amendment_json(x, a.base_terms) for x in found]

    rows = run(as_json, go, load_settings())
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("No amendments.")
    for row in rows:
        render_reply(
            Reply(
                text=(
                    f"#{row['id']} {row['kind']} · {row['status']} · expiration "
                    f"{row['previous_expiration']} → {row['new_expiration']} · by "
                    f"{row['requested_by']} at {row['requested_at']}"
                    + (f" · approved by {row['approved_by']}" if row["approved_by"] else "")
                ),
                notes=(row["description"],),
            ),
            out,
        )


def register(app: typer.Typer, hr: typer.Typer) -> None:
    """Add this module's commands to the `hr` group."""
    hr.command("extend")(extend)
    hr.command("amend")(amend)
    hr.command("approve")(approve)
    hr.command("reject")(reject)
    hr.command("amendments")(amendments)
