"""Amend the offer after it was printed: extend the expiration, or change the consideration.

The use cases (HR only: the CLI, or a Slack user found in ``OFFERBOT_HR_ADMINS``):

* :func:`extend_offer` — a later expiration (§15, p. 28; Q20, p. 5);
* :func:`amend_offer` — a change in the consideration or in the options sought, which must
  leave the offer open ten business days from the notice (§2, p. 13-14), moving the expiration
  there with ``extend=True``;
* :func:`approve_amendment` / :func:`reject_amendment` — the optional two-person rule;
* :func:`list_amendments`.

One transaction writes the amendment, the live expiration, the re-planned reminders and
digests, the audit row, and — once the amendment is *applied* — the ``broadcast`` job (which
queues the announcement, see :mod:`bot.services.messaging.broadcast`) and the follow-ups to people
who asked about the deadline (:mod:`bot.services.offer.deadline_follow_ups`).

Two-person rule (``OFFERBOT_TWO_PERSON_RULE``): the new expiration applies at once — the legal
date must change at once and every answer must follow it — but the announcement waits; the
amendment is ``awaiting_approval`` until a *different* HR administrator approves it (then it
is ``applied`` and announced) or someone rejects it (the announcement is dropped; the new
expiration stays and still has to be announced).

Errors: :class:`~bot.domain.errors.ExtensionError` (not a valid extension or amendment),
:class:`~bot.services.errors.NotFoundError`, :class:`~bot.services.errors.NotAuthorizedError`
(the requester approving their own amendment), :class:`~bot.services.errors.InvalidRequestError`
(an amendment no longer awaiting approval).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.domain.amendments import AmendmentKind, AmendmentStatus, OfferAmendment
from bot.domain.deadlines import (
    business_calendar,
    check_extension,
    consideration_change_last_date,
    extension_announcement_due,
)
from bot.domain.errors import ExtensionError
from bot.domain.jobs import Job
from bot.domain.records import AuditEntry, OfferState
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_instant
from bot.ports import UnitOfWork
from bot.services.access import require_operator
from bot.services.errors import (
    InvalidRequestError,
    NotAuthorizedError,
    NotFoundError,
    OfferNotLoadedError,
)
from bot.services.identity import Identity
from bot.services.offer.deadline_follow_ups import EmailRenderer, enqueue_deadline_follow_ups
from bot.services.retry import retry_on_conflict

__all__ = [
    "AmendmentResult",
    "amend_offer",
    "announcement_counts",
    "approve_amendment",
    "extend_offer",
    "list_amendments",
    "reject_amendment",
]


@dataclass(frozen=True, slots=True)
class AmendmentResult:
    amendment: OfferAmendment
    terms: OfferTerms  # the live terms after the change
    warnings: tuple[str, ...]
    announcement: str  # "queued", "awaiting_approval", "not_requested", "rejected"
    broadcast_job: str | None  # the key of the broadcast job scheduled now, if any
    follow_ups: int  # deadline follow-ups queued now


# --- the use cases --------------------------------------------------------------------------


async def extend_offer(
    *,
    uow: UnitOfWork,
    base_terms: OfferTerms,
    settings: Settings,
    identity: Identity,
    new_expiration: datetime,
    announce: bool,
    message: str = "",
    now: datetime,
    render_email: EmailRenderer | None = None,
) -> AmendmentResult:
    """Move the expiration to ``new_expiration`` (later than the current one, not past).

    An announcement later than 6:00 a.m. Pacific on the next business day after the previously
    scheduled expiration (Q20, p. 5) is allowed but comes back with a warning.
    """
    require_operator(identity)
    calendar = business_calendar(base_terms)

    def decide(terms: OfferTerms) -> tuple[datetime, str, tuple[str, ...]]:
        check = check_extension(terms, new_expiration, now=now, calendar=calendar)
        zone = terms.deadline_zone
        description = (
            f"The offer is extended: it now expires at "
            f"{format_instant(new_expiration, zone)} (it was to expire at "
            f"{format_instant(terms.expiration, zone)})."
        )
        return new_expiration, description, tuple(check.warnings(zone))

    return await _amend(
        uow=uow,
        base_terms=base_terms,
        settings=settings,
        identity=identity,
        kind=AmendmentKind.EXTENSION,
        action="offer.extend",
        decide=decide,
        message=message,
        announce=announce,
        now=now,
        render_email=render_email,
    )


async def amend_offer(
    *,
    uow: UnitOfWork,
    base_terms: OfferTerms,
    settings: Settings,
    identity: Identity,
    description: str,
    extend: bool,
    announce: bool,
    message: str = "",
    now: datetime,
    render_email: EmailRenderer | None = None,
) -> AmendmentResult:
    """Record a change in the consideration or in the options sought.

    §2, p. 13-14: the offer must stay open until the tenth business day from, and including,
    the day the notice is first published (today). If it would expire earlier, ``extend`` moves
    the expiration to 5:00 p.m. Pacific on that business day; without it the change is refused
    with the date it needs.
    """
    require_operator(identity)
    if not description.strip():
        raise InvalidRequestError("Describe the change (--description): it is kept for the filing.")
    calendar = business_calendar(base_terms)

    def decide(terms: OfferTerms) -> tuple[datetime, str, tuple[str, ...]]:
        zone = terms.deadline_zone
        earliest = _earliest_after_change(terms, now)
        if earliest is not None:
            if not extend:
                raise ExtensionError(_needs_extension(terms, earliest))
            check = check_extension(terms, earliest, now=now, calendar=calendar)
            return earliest, description.strip(), tuple(check.warnings(zone))
        warnings: tuple[str, ...] = ()
        if extend:
            warnings = (
                "No extension was needed: the offer already stays open ten business days "
                f"from today (it expires at {format_instant(terms.expiration, zone)}).",
            )
        return terms.expiration, description.strip(), warnings

    return await _amend(
        uow=uow,
        base_terms=base_terms,
        settings=settings,
        identity=identity,
        kind=AmendmentKind.CONSIDERATION,
        action="offer.amend",
        decide=decide,
        message=message,
        announce=announce,
        now=now,
        render_email=render_email,
    )


async def _amend(
    *,
    uow: UnitOfWork,
    base_terms: OfferTerms,
    settings: Settings,
    identity: Identity,
    kind: AmendmentKind,
    action: str,
    decide: Callable[[OfferTerms], tuple[datetime, str, tuple[str, ...]]],
    message: str,
    announce: bool,
    now: datetime,
    render_email: EmailRenderer | None,
) -> AmendmentResult:
    """One amendment in one transaction under the offer's lock: ``decide`` checks the rule
    against the live terms and gives (new expiration, description, warnings)."""

    async def attempt() -> AmendmentResult:
        async with uow:
            state, terms = await _live(uow, base_terms)
            await _ensure_not_closed(uow)
            new_expiration, description, warnings = decide(terms)
            amendment = OfferAmendment(
                offer_id=terms.offer_id,
                kind=kind,
                previous_expiration=terms.expiration,
                new_expiration=new_expiration,
                description=description,
                message=message.strip(),
                announce=announce,
                requested_by=identity.actor,
                requested_at=now,
                status=_initial_status(announce, settings),
                applied_at=now,
            )
            result = await _record(
                uow,
                amendment,
                state=state,
                terms=terms,
                settings=settings,
                identity=identity,
                action=action,
                warnings=warnings,
                now=now,
                render_email=render_email,
            )
            await uow.commit()
        return result

    return await retry_on_conflict(attempt)


async def approve_amendment(
    *,
    uow: UnitOfWork,
    base_terms: OfferTerms,
    identity: Identity,
    amendment_id: int,
    now: datetime,
    render_email: EmailRenderer | None = None,
) -> AmendmentResult:
    """The second HR administrator's approval: the amendment is applied and announced."""
    require_operator(identity)

    async def attempt() -> AmendmentResult:
        async with uow:
            _, terms = await _live(uow, base_terms)
            pending = await _awaiting(uow, amendment_id, "approved")
            if _same_person(pending.requested_by, identity.actor):
                raise NotAuthorizedError(
                    f"Amendment {amendment_id} was requested by {pending.requested_by}; under the "
                    "two-person rule a different HR administrator must approve it."
                )
            if pending.new_expiration != terms.expiration:  # a later amendment moved it again
                raise InvalidRequestError(
                    f"Amendment {amendment_id} set the expiration to "
                    f"{format_instant(pending.new_expiration, terms.deadline_zone)}, but the offer "
                    f"now expires at {format_instant(terms.expiration, terms.deadline_zone)}: its "
                    "announcement would state a date that no longer holds. Reject it and "
                    "announce the later amendment."
                )
            warnings: list[str] = []
            if pending.kind is AmendmentKind.CONSIDERATION:
                earliest = _earliest_after_change(terms, now)
                if earliest is not None:  # the notice goes out today, not on the request's day
                    raise ExtensionError(
                        _needs_extension(terms, earliest)
                        + " Extend the offer first (offerbot hr extend), then approve."
                    )
            else:
                due = extension_announcement_due(
                    pending.previous_expiration, terms, business_calendar(terms)
                )
                if now > due:
                    warnings.append(
                        "The offer says an extension is announced no later than "
                        f"{format_instant(due, terms.deadline_zone)} (Q20, p. 5); this "
                        "announcement is later than that."
                    )
            amendment = await uow.amendments.set_status(
                amendment_id, status=AmendmentStatus.APPLIED, approved_by=identity.actor
            )
            job, follow_ups = await _announce(uow, amendment, terms, now, render_email)
            await uow.audit.record(
                _audit(identity, "offer.amendment.approve", amendment, now, terms)
            )
            await uow.commit()
        return AmendmentResult(
            amendment=amendment,
            terms=terms,
            warnings=tuple(warnings),
            announcement="queued" if job else "not_requested",
            broadcast_job=job,
            follow_ups=follow_ups,
        )

    return await retry_on_conflict(attempt)


async def reject_amendment(
    *, uow: UnitOfWork, base_terms: OfferTerms, identity: Identity, amendment_id: int, now: datetime
) -> AmendmentResult:
    """Drop an amendment's announcement. The expiration it set stays (it applied at once)."""
    require_operator(identity)

    async def attempt() -> AmendmentResult:
        async with uow:
            _, terms = await _live(uow, base_terms)
            await _awaiting(uow, amendment_id, "rejected")
            amendment = await uow.amendments.set_status(
                amendment_id, status=AmendmentStatus.REJECTED, approved_by=identity.actor
            )
            await uow.audit.record(
                _audit(identity, "offer.amendment.reject", amendment, now, terms)
            )
            await uow.commit()
        warnings: tuple[str, ...] = ()
        if amendment.new_expiration != amendment.previous_expiration:
            warnings = (
                "The announcement is dropped, but the new expiration stays in effect: the offer "
                f"expires at {format_instant(terms.expiration, terms.deadline_zone)}, and that "
                "still has to be announced.",
            )
        return AmendmentResult(
            amendment=amendment,
            terms=terms,
            warnings=warnings,
            announcement="rejected",
            broadcast_job=None,
            follow_ups=0,
        )

    return await retry_on_conflict(attempt)


async def list_amendments(*, uow: UnitOfWork, base_terms: OfferTerms) -> list[OfferAmendment]:
    """Every amendment of the offer, oldest first."""
    async with uow:
        return list(await uow.amendments.list_all(base_terms.offer_id))


async def announcement_counts(*, uow: UnitOfWork, amendment_id: int) -> dict[str, int]:
    """The announcement copies queued so far, per channel (empty before the broadcast ran)."""
    async with uow:
        communication = await uow.communications.get(f"amendment:{amendment_id}")
        if communication is None:
            return {}
        stats = await uow.communications.stats([communication.reference])
    found = stats.get(communication.reference)
    return dict(sorted(found.queued_by_channel.items())) if found else {}


# --- the shared steps ------------------------------------------------------------------------


def _initial_status(announce: bool, settings: Settings) -> AmendmentStatus:
    if announce and settings.two_person_rule:
        return AmendmentStatus.AWAITING_APPROVAL
    return AmendmentStatus.APPLIED


async def _live(uow: UnitOfWork, base_terms: OfferTerms) -> tuple[OfferState, OfferTerms]:
    """The stored offer state, locked for this unit of work, and the live terms."""
    state = await uow.offers.lock(base_terms.offer_id)
    if state is None:
        raise OfferNotLoadedError(
            "No offer is loaded in the database yet. Run `offerbot init` (or `offerbot init "
            "--demo`)."
        )
    return state, base_terms.with_expiration(state.expiration.astimezone(base_terms.deadline_zone))


async def _ensure_not_closed(uow: UnitOfWork) -> None:
    """After ``offerbot hr close`` the tenders are accepted and the options cancelled: the offer
    can no longer be extended or amended.

    Closing with no tender accepted closes it just the same: HR closed the offer on the record
    (its ``offer.close`` audit row) and may already have reported the result. An extension
    "delays the acceptance for exchange" (§15, p. 28); once HR has decided the acceptance there
    is nothing left to delay, and reopening a finished offer would be a new offer.
    """
    if await uow.accepted.list_all() or await uow.audit.with_action("offer.close"):
        raise ExtensionError(
            "The offer was closed (offerbot hr close); it can no longer be extended or amended."
        )


def _earliest_after_change(terms: OfferTerms, notice: datetime) -> datetime | None:
    """5:00 p.m. Pacific on the tenth business day from ``notice``, if the offer would expire
    earlier than that day; else None."""
    calendar = business_calendar(terms)
    last_day = consideration_change_last_date(notice, terms, calendar)
    if calendar.date_of(terms.expiration) >= last_day:
        return None
    closing = terms.original_expiration.astimezone(terms.deadline_zone).time()
    return datetime.combine(last_day, closing, tzinfo=terms.deadline_zone)


def _needs_extension(terms: OfferTerms, earliest: datetime) -> str:
    days = terms.min_business_days_after_consideration_change
    return (
        "A change in the consideration or in the options sought must leave the offer open for "
        f"at least {days} business days from the notice (§2, p. 13-14), so the offer may not "
        f"expire before {format_date(earliest.date())}; it now expires at "
        f"{format_instant(terms.expiration, terms.deadline_zone)}. With --extend the expiration "
        f"moves to {format_instant(earliest, terms.deadline_zone)}."
    )


async def _awaiting(uow: UnitOfWork, amendment_id: int, verb: str) -> OfferAmendment:
    amendment = await uow.amendments.get(amendment_id)
    if amendment is None:
        raise NotFoundError(f"There is no amendment {amendment_id}.")
    if amendment.status is not AmendmentStatus.AWAITING_APPROVAL:
        raise InvalidRequestError(
            f"Amendment {amendment_id} is {amendment.status.value.replace('_', ' ')}; only one "
            f"awaiting approval can be {verb}."
        )
    return amendment


def _same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


async def _record(
    uow: UnitOfWork,
    amendment: OfferAmendment,
    *,
    state: OfferState,
    terms: OfferTerms,
    settings: Settings,
    identity: Identity,
    action: str,
    warnings: tuple[str, ...],
    now: datetime,
    render_email: EmailRenderer | None,
) -> AmendmentResult:
    """Store the amendment, move the live expiration, re-plan, audit, and announce if applied."""
    stored = await uow.amendments.add(amendment)
    live = terms
    if stored.new_expiration != stored.previous_expiration:
        live = terms.with_expiration(stored.new_expiration.astimezone(terms.deadline_zone))
        await uow.offers.save(
            OfferState(
                offer_id=state.offer_id,
                expiration=stored.new_expiration,
                original_expiration=state.original_expiration,
                terms_digest=state.terms_digest,
                updated_at=now,
            )
        )
        await _replan(uow, live, settings, now)
    await uow.audit.record(_audit(identity, action, stored, now, live))
    job, follow_ups = None, 0
    if stored.status is AmendmentStatus.APPLIED:
        job, follow_ups = await _announce(uow, stored, live, now, render_email)
    status = {
        AmendmentStatus.AWAITING_APPROVAL: "awaiting_approval",
        AmendmentStatus.APPLIED: "queued" if job else "not_requested",
    }[stored.status]
    return AmendmentResult(
        amendment=stored,
        terms=live,
        warnings=warnings,
        announcement=status,
        broadcast_job=job,
        follow_ups=follow_ups,
    )


async def _replan(uow: UnitOfWork, terms: OfferTerms, settings: Settings, now: datetime) -> None:
    """Reminder rounds and HR digests follow the new expiration (same transaction)."""
    from bot.services.offer.planning import plan_in

    await plan_in(uow, terms=terms, settings=settings, now=now)


async def _announce(
    uow: UnitOfWork,
    amendment: OfferAmendment,
    terms: OfferTerms,
    now: datetime,
    render_email: EmailRenderer | None,
) -> tuple[str | None, int]:
    """An applied amendment: the broadcast job (if announced) and the deadline follow-ups."""
    assert amendment.id is not None
    key = None
    if amendment.announce:
        key = f"broadcast:amendment:{amendment.id}"
        await uow.jobs.schedule(
            Job(key=key, kind="broadcast", due_at=now, payload={"amendment_id": amendment.id}),
            now=now,
        )
    follow_ups = await enqueue_deadline_follow_ups(
        uow, amendment=amendment, terms=terms, now=now, render_email=render_email
    )
    return key, follow_ups


def _audit(
    identity: Identity, action: str, amendment: OfferAmendment, now: datetime, terms: OfferTerms
) -> AuditEntry:
    zone = terms.deadline_zone
    return AuditEntry(
        at=now,
        actor=identity.actor,
        action=action,
        channel=identity.channel,
        subject=terms.offer_id,
        detail={
            "amendment_id": amendment.id,
            "kind": amendment.kind.value,
            "status": amendment.status.value,
            "previous_expiration": amendment.previous_expiration.astimezone(zone).isoformat(),
            "new_expiration": amendment.new_expiration.astimezone(zone).isoformat(),
            "announce": amendment.announce,
        },
    )
