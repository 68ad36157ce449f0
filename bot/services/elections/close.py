"""After the offer: accept the properly received tenders and promise the new options (Offer §6,
p. 18). (Capitalisation adjustments, Q7, p. 2, live in :mod:`bot.services.elections.capital_splits`
and are re-exported here.)

``close_offer`` works in bounded batches, each its own transaction, under a durable close run
(:class:`bot.domain.close_run.CloseRun`):

1. *Start* (one transaction, under the offer's lock): refuse if an extension reopened the offer;
   resume the run a crash left unfinished, or start one — which writes the ``offer.close``
   audit row, so from that moment extensions, intents and receipts refuse (the offer is
   *closing*).
2. *Batches* of a few hundred employees with a received form, in employee-id order after the
   run's cursor: read in five queries, decide each standing
   (:mod:`bot.services.elections.tender_books`,
   the same rule ``hr report`` and ``hr export`` use), render each Promise to Grant from the
   prepared fixed text, write the PDFs to the letter sink (made durable before the commit),
   then in one commit: accepted tenders, the letters' outbox rows, audit rows and the run's new
   cursor. A batch either happened completely or not at all, so a rerun after ``kill -9``
   redoes at most the batch that was cut off — same letters, same bytes, same file names.
3. *Finish*: the run's end and an ``offer.close.finish`` audit row with the counts.

Nothing keeps more than one batch of PDFs in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache, partial
from typing import Any, Protocol

from bot.domain.close_run import CloseRun
from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.elections import ElectionIntent, IntentLine, ensure_closed
from bot.domain.eligibility import assess
from bot.domain.hr_records import AcceptedTender, Attachment, MessageKind, OutboxMessage
from bot.domain.new_option import VestingTranche, new_option_shares, vesting_schedule
from bot.domain.records import AuditEntry
from bot.domain.roster import CapitalizationAdjustment, Employee, file_name_part
from bot.domain.terms import OfferTerms, VestingTerms
from bot.domain.timefmt import format_date
from bot.forms import FormDocument
from bot.ports import UnitOfWork
from bot.services.access import require_operator
from bot.services.elections.capital_splits import SplitResult, parse_ratio, record_split, split_json
from bot.services.elections.close_signer import NO_SIGNER, MissingSignerError, resolve_signer
from bot.services.elections.offer_closing import CLOSE_ACTION
from bot.services.elections.printed_forms import promise_document, promise_paragraphs
from bot.services.elections.tender_books import Standing, Void, load_voids, standing_of
from bot.services.errors import InvalidRequestError
from bot.services.identity import Identity
from bot.services.retry import retry_on_conflict
from knowledge.offer_terms import OfferSigner

__all__ = [
    "CLOSE_ACTION",
    "DEFAULT_BATCH_SIZE",
    "NO_SIGNER",
    "CloseResult",
    "LetterSink",
    "MissingSignerError",
    "Promise",
    "RenderLetters",
    "SplitResult",
    "close_json",
    "close_offer",
    "close_summary",
    "parse_ratio",
    "record_split",
    "resolve_signer",
    "split_json",
]

DEFAULT_BATCH_SIZE = 250
FINISH_ACTION = "offer.close.finish"
NOT_ACCEPTED_ACTION = "election.not_accepted"


# A batch's letter documents -> their PDFs, in the same order.
RenderLetters = Callable[[Sequence[FormDocument]], list[bytes]]


def _render_in_process() -> RenderLetters:
    """:func:`bot.forms.pool.render_in_process`, imported only when no pool was given (the pool
    module brings ``multiprocessing``)."""
    from bot.forms.pool import render_in_process

    return render_in_process


class LetterSink(Protocol):
    """Where the Promise to Grant PDFs go besides the outbox (the CLI's ``--out-dir``)."""

    def write(self, filename: str, content: bytes) -> None:
        """Replace ``filename`` with ``content`` (the same name again after a resume)."""
        ...

    def flush(self) -> None:
        """Make everything written so far durable; called before each batch commits."""
        ...


@dataclass(frozen=True, slots=True)
class Promise:
    """One letter issued by this invocation (the PDF itself went to the sink and outbox)."""

    employee_id: str
    name: str
    version: int
    options: tuple[tuple[IntentLine, int], ...]  # cancelled grant, new-option shares
    grant_date: date
    filename: str
    newly_accepted: int


@dataclass(frozen=True, slots=True)
class CloseResult:
    run: CloseRun
    resumed: bool  # this invocation continued a run a crash or kill had left
    promises: tuple[Promise, ...]  # letters issued by this invocation
    rejected: tuple[tuple[str, str], ...]  # employee id, why (the whole run)
    withdrawn: tuple[str, ...]  # seen by this invocation
    new_grant_date: date


async def close_offer(
    *,
    uow: UnitOfWork,
    terms: OfferTerms,
    identity: Identity,
    now: datetime,
    signer: OfferSigner | None,
    letters: LetterSink,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[CloseRun], None] | None = None,
    render: RenderLetters | None = None,
) -> CloseResult:
    """At or after expiration: accept every effective (latest received) Election Form whose
    holder and grants are still eligible, and issue each holder's signed Promise to Grant
    (§6, p. 18) — in batches, resumable, never twice.

    ``progress`` is called with the run after the start and after each committed batch.
    ``render`` turns a batch's documents into PDFs in order (:class:`bot.forms.pool.PdfPool`
    for every core); by default one after another in this process.
    """
    require_operator(identity)
    if signer is None:
        raise MissingSignerError(NO_SIGNER)
    if batch_size < 1:
        raise InvalidRequestError("The batch size must be at least 1.")
    ensure_closed(terms, now)
    calendar = business_calendar(terms)
    grant_day = new_grant_date(terms, calendar)
    run, resumed = await retry_on_conflict(
        partial(_start, uow, terms, identity, now, signer, batch_size)
    )
    if progress is not None:
        progress(run)
    async with uow:
        adjustments = tuple(await uow.adjustments.list_all())
        voids = await load_voids(uow)
    context = _Context(
        terms=terms,
        identity=identity,
        now=now,
        grant_day=grant_day,
        cancellation=cancellation_date(terms),
        adjustments=adjustments,
        adjusted=_adjusted(adjustments, terms, grant_day),
        voids=voids,
        signer=OfferSigner(run.signer_name, run.signer_title, run.signer_demo),
        paragraphs=promise_paragraphs(terms, grant_day),
        letters=letters,
        render=render or _render_in_process(),
    )
    promises: list[Promise] = []
    withdrawn: list[str] = []
    while not run.finished:
        outcome = await retry_on_conflict(partial(_batch, uow, context, run))
        run = outcome.run
        promises.extend(outcome.promises)
        withdrawn.extend(outcome.withdrawn)
        if progress is not None:
            progress(run)
    async with uow:
        rejected = [
            (e.subject, str(e.detail.get("reason", "")))
            for e in await uow.audit.with_action(NOT_ACCEPTED_ACTION)
            if e.subject is not None and e.detail.get("run") == run.id
        ]
    return CloseResult(
        run=run,
        resumed=resumed,
        promises=tuple(promises),
        rejected=tuple(rejected),
        withdrawn=tuple(withdrawn),
        new_grant_date=grant_day,
    )


async def _start(
    uow: UnitOfWork,
    terms: OfferTerms,
    identity: Identity,
    now: datetime,
    signer: OfferSigner,
    batch_size: int,
) -> tuple[CloseRun, bool]:
    async with uow:
        # An extension committed since ``terms`` was read reopens the offer: check the live
        # date under the lock that extensions take too.
        state = await uow.offers.lock(terms.offer_id)
        if state is not None:
            live = state.expiration.astimezone(terms.deadline_zone)
            ensure_closed(terms.with_expiration(live), now)
        unfinished = await uow.close_runs.unfinished(terms.offer_id)
        if unfinished is not None:
            return unfinished, True
        previous = await uow.close_runs.latest(terms.offer_id)
        run = await uow.close_runs.start(
            CloseRun(
                offer_id=terms.offer_id,
                started_at=now,
                # a rerun after a finished close re-issues the same letters: same date on them
                issued_at=previous.issued_at if previous is not None else now,
                actor=identity.actor,
                signer_name=signer.name,
                signer_title=signer.title,
                signer_demo=signer.demo,
                batch_size=batch_size,
                total=await uow.close_runs.count_with_receipts(),
            )
        )
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action=CLOSE_ACTION,
                channel=identity.channel,
                subject=None,
                detail={
                    "run": run.id,
                    "employees_with_received_forms": run.total,
                    "signer": f"{signer.name}, {signer.title}",
                },
            )
        )
        await uow.commit()
        return run, False


@dataclass(frozen=True, slots=True)
class _Context:
    """What every batch of one run shares (read once)."""

    terms: OfferTerms
    identity: Identity
    now: datetime
    grant_day: date
    cancellation: date
    adjustments: tuple[CapitalizationAdjustment, ...]
    adjusted: bool
    voids: dict[str, Void]
    signer: OfferSigner
    paragraphs: tuple[str, ...]
    letters: LetterSink
    render: RenderLetters


@dataclass(frozen=True, slots=True)
class _Letter:
    """One accepted tender of a batch, its letter laid out and not yet rendered."""

    employee: Employee
    intent: ElectionIntent
    options: tuple[tuple[IntentLine, int], ...]
    document: FormDocument


@dataclass(frozen=True, slots=True)
class _Outcome:
    run: CloseRun
    promises: tuple[Promise, ...] = ()
    withdrawn: tuple[str, ...] = ()


async def _batch(uow: UnitOfWork, c: _Context, run: CloseRun) -> _Outcome:
    """One batch in one transaction; the run finishes when no employee is left."""
    if run.id is None:
        raise ValueError("the run was not started")
    terms, now, actor, channel = c.terms, c.now, c.identity.actor, c.identity.channel
    async with uow:
        live = await uow.close_runs.lock(run.id)
        if live is None or live.cursor != run.cursor or live.finished:
            raise InvalidRequestError(
                "Another `offerbot hr close` is working on this close run; let it finish, "
                "then run `offerbot hr close` again to see the result."
            )
        ids = await uow.close_runs.next_with_receipts(after=run.cursor, limit=run.batch_size)
        if not ids:
            finished = replace(run, finished_at=now)
            await uow.close_runs.save(finished, at=now)
            await uow.audit.record(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action=FINISH_ACTION,
                    channel=channel,
                    subject=None,
                    detail={
                        "run": run.id,
                        "accepted_employees": run.accepted,
                        "letters": run.letters,
                        "rejected": run.rejected,
                        "withdrawn": run.withdrawn,
                    },
                )
            )
            await uow.commit()
            return _Outcome(run=finished)
        inputs = await uow.close_runs.batch_inputs(ids)
        tenders: list[AcceptedTender] = []
        messages: list[OutboxMessage] = []
        audits: list[AuditEntry] = []
        promises: list[Promise] = []
        withdrawn: list[str] = []
        accepted: list[_Letter] = []
        rejected = 0
        for employee_id in ids:
            employee = inputs.employees.get(employee_id)
            if employee is None:
                why = "the employee is no longer in the roster"
                audits.append(_not_accepted(c, run, employee_id, why))
                rejected += 1
                continue
            assessment = assess(
                employee,
                inputs.grants.get(employee_id, ()),
                terms,
                cancellation=c.cancellation,
                new_grant=c.grant_day,
                adjustments=c.adjustments,
            )
            # The same standing `hr report` counts and `hr export` lists (tender_books).
            standing = standing_of(
                inputs.intents.get(employee_id, ()),
                inputs.receipts.get(employee_id, ()),
                assessment=assessment,
                void=c.voids.get(employee_id),
                accepted=inputs.accepted.get(employee_id, set()),
            )
            if standing.standing is Standing.WITHDRAWN:
                withdrawn.append(employee_id)
                continue
            if standing.standing in (Standing.VOID, Standing.NOT_ACCEPTABLE):
                audits.append(_not_accepted(c, run, employee_id, standing.reason))
                rejected += 1
                continue
            effective = standing.effective
            if standing.standing is not Standing.TENDERED or effective is None:
                continue
            intent = effective.intent
            options = tuple((line, _new_shares(line, c)) for line in intent.lines)
            schedules = {
                line.grant_number: _schedule(n, c.grant_day, terms.vesting) for line, n in options
            }
            document = promise_document(
                employee=employee,
                terms=terms,
                options=options,
                grant_date=c.grant_day,
                schedules=schedules,
                adjusted=c.adjusted,
                issued_at=run.issued_at,
                signer=c.signer,
                paragraphs=c.paragraphs,
            )
            accepted.append(_Letter(employee, intent, options, document))
        # All of the batch's letters at once: on every core when the caller gave a pool.
        pdfs = c.render([letter.document for letter in accepted])
        for letter, pdf in zip(accepted, pdfs, strict=True):
            employee, intent, options = letter.employee, letter.intent, letter.options
            employee_id = employee.employee_id
            filename = f"promise-to-grant-{file_name_part(employee_id)}.pdf"
            c.letters.write(filename, pdf)
            total = sum(n for _, n in options)
            tenders.extend(
                AcceptedTender(
                    employee_id=employee_id, version=intent.version, line=line, accepted_at=now
                )
                for line in intent.lines
            )
            messages.append(
                OutboxMessage(
                    idempotency_key=f"promise_to_grant:{employee_id}:v{intent.version}:{total}",
                    channel="email",
                    recipient=employee.email,
                    kind=MessageKind.PROMISE_TO_GRANT,
                    subject=f"{terms.company_short_name}: Promise to Grant Stock Option(s)",
                    body_text=(
                        f"Dear {employee.name},\n\nYour tendered options were accepted "
                        "for exchange and cancelled. Your Promise to Grant Stock Option(s) is "
                        f"attached: new options for {total:,} shares on "
                        f"{format_date(c.grant_day)}, provided you are still an employee then "
                        "(§6, p. 18)."
                    ),
                    created_at=now,
                    due_at=now,
                    employee_id=employee_id,
                    reference=f"v{intent.version}",
                    attachments=(Attachment(filename, "application/pdf", pdf),),
                )
            )
            promises.append(
                Promise(
                    employee_id=employee_id,
                    name=employee.name,
                    version=intent.version,
                    options=options,
                    grant_date=c.grant_day,
                    filename=filename,
                    newly_accepted=0,
                )
            )
        added = await uow.close_runs.add_accepted(tenders)
        letters = await uow.close_runs.enqueue_letters(messages)
        promises = [replace(p, newly_accepted=added.get(p.employee_id, 0)) for p in promises]
        audits.extend(_accepted_entry(c, run, p) for p in promises if p.newly_accepted)
        await uow.close_runs.record_audit(audits)
        c.letters.flush()  # the PDFs are on disk before the batch counts as done
        advanced = replace(
            run,
            cursor=ids[-1],
            done=run.done + len(ids),
            batches=run.batches + 1,
            accepted=run.accepted + len(promises),
            rejected=run.rejected + rejected,
            withdrawn=run.withdrawn + len(withdrawn),
            letters=run.letters + letters,
        )
        await uow.close_runs.save(advanced, at=now)
        await uow.commit()
        return _Outcome(run=advanced, promises=tuple(promises), withdrawn=tuple(withdrawn))


@lru_cache(maxsize=512)
def _schedule(shares: int, grant_day: date, vesting: VestingTerms) -> tuple[VestingTranche, ...]:
    """Vesting of a new option: holders share few distinct share counts, so each is worked out
    once per process (42 monthly dates each)."""
    return tuple(vesting_schedule(shares, grant_day, vesting))


def _new_shares(line: IntentLine, c: _Context) -> int:
    """New-option shares of one tendered grant with the recorded adjustments (Q7, p. 2)."""
    return new_option_shares(
        line.unexercised_shares,
        ratio=c.terms.exchange_ratio,
        adjustments=c.adjustments,
        cancellation=c.cancellation,
        new_grant=c.grant_day,
    )


def _not_accepted(c: _Context, run: CloseRun, employee_id: str, why: str) -> AuditEntry:
    return AuditEntry(
        at=c.now,
        actor=c.identity.actor,
        action=NOT_ACCEPTED_ACTION,
        channel=c.identity.channel,
        subject=employee_id,
        detail={"run": run.id, "reason": why},
    )


def _accepted_entry(c: _Context, run: CloseRun, p: Promise) -> AuditEntry:
    return AuditEntry(
        at=c.now,
        actor=c.identity.actor,
        action="election.accept",
        channel=c.identity.channel,
        subject=p.employee_id,
        detail={
            "run": run.id,
            "version": p.version,
            "before": {"state": "tendered", "accepted": False},
            "after": {
                "state": "accepted",
                "grants": [line.grant_number for line, _ in p.options],
                "new_option_shares": sum(n for _, n in p.options),
                "new_grant_date": c.grant_day.isoformat(),
            },
        },
    )


def _adjusted(
    adjustments: tuple[CapitalizationAdjustment, ...], terms: OfferTerms, grant_day: date
) -> bool:
    cancellation = cancellation_date(terms)
    return any(cancellation < a.effective_date < grant_day for a in adjustments)


def close_json(result: CloseResult, terms: OfferTerms, files: dict[str, str]) -> dict[str, Any]:
    """Counts of the whole run; the letters this invocation issued, one line each."""
    run = result.run
    return {
        "new_grant_date": result.new_grant_date.isoformat(),
        "run": {
            "id": run.id,
            "resumed": result.resumed,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "issued_at": run.issued_at.isoformat(),
            "signer": {"name": run.signer_name, "title": run.signer_title},
            "employees": run.done,
            "batches": run.batches,
            "accepted": run.accepted,
            "letters_queued": run.letters,
            "rejected": run.rejected,
            "withdrawn": run.withdrawn,
        },
        "accepted": [
            {
                "employee_id": p.employee_id,
                "name": p.name,
                "version": p.version,
                "newly_accepted_grants": p.newly_accepted,
                "new_options": [
                    {
                        "cancelled_grant": line.grant_number,
                        "cancelled_shares": line.unexercised_shares,
                        "new_option_shares": shares,
                        "grant_date": p.grant_date.isoformat(),
                    }
                    for line, shares in p.options
                ],
                "new_option_shares": sum(n for _, n in p.options),
                "promise_to_grant": files.get(p.employee_id),
            }
            for p in result.promises
        ],
        "rejected": [{"employee_id": e, "reason": why} for e, why in result.rejected],
        "withdrawn": list(result.withdrawn),
    }


def close_summary(result: CloseResult, out_dir: str) -> str:
    """What ``hr close`` prints at the end: the whole run's counts."""
    run = result.run
    started = "Resumed the close that stopped; " if result.resumed else ""
    demo = " (a demo signer)" if run.signer_demo else ""
    return (
        f"{started}Closed the offer: {run.done:,} employees with a received form, in "
        f"{run.batches:,} batches. Accepted the tenders of {run.accepted:,} employees and queued "
        f"{run.letters:,} Promise to Grant letters signed by {run.signer_name}, "
        f"{run.signer_title}{demo}; PDFs in {out_dir}. Not accepted: {run.rejected:,}. "
        f"Withdrawn: {run.withdrawn:,}. New options are granted on "
        f"{format_date(result.new_grant_date)}."
    )
