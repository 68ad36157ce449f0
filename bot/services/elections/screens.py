"""The use cases behind a personal election screen (the Slack App Home, its modal and buttons).

Each function is one call a channel listener makes: it reads the offer's current terms and the
clock, decides what the person may do now (closed offer, unverified person, nothing to choose),
records what they chose, and returns typed results the channel renders. Slack's listeners
(:mod:`handlers.slack.flows`) only parse, call one of these and render.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

from bot.domain.errors import DomainError
from bot.domain.records import AuditEntry
from bot.domain.slack_records import DeliveryKey
from bot.domain.terms import OfferTerms
from bot.replies import Reply
from bot.services.delivery_claims import DeliveryClaim
from bot.services.elections.employee_overview import EmployeeOverview, employee_overview
from bot.services.elections.intents import (
    IntentResult,
    intent_reply,
    latest_form,
    record_intent,
    record_withdrawal,
)
from bot.services.elections.model import model_options, model_reply
from bot.services.elections.preview import preview_tender
from bot.services.elections.status import employee_status
from bot.services.errors import ServiceError
from bot.services.identity import Identity
from bot.services.offer.deadlines import deadlines_reply, get_deadlines
from bot.services.offer.live_offer import current_terms
from bot.services.questions.conversation import ConversationDeps, respond
from bot.services.roster.grants import grants_reply, my_grants
from storage.slack_repo import DuplicateDeliveryError

__all__ = [
    "ElectionStart",
    "FormDownload",
    "Recorded",
    "TenderReview",
    "WithdrawStart",
    "compare_options",
    "election_start",
    "form_download",
    "home_overview",
    "record_tender",
    "record_withdraw",
    "review_tender",
    "withdraw_start",
]


@dataclass(frozen=True, slots=True)
class ElectionStart:
    """What the "record intent" screen shows. Exactly one of: ``closed`` (the offer's dates
    after expiration), ``notice`` (why there is nothing to choose: unverified person), or
    ``grants`` (the grants reply whose data lists the choices, ``current`` pre-ticked; the
    renderer falls back to a notice when none of them can be tendered)."""

    closed: str = ""
    notice: Reply | None = None
    grants: Reply | None = None
    current: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WithdrawStart:
    """``closed`` after expiration; otherwise ``reply`` explains, and ``can_confirm`` says
    whether a confirmation step follows (only for a verified employee)."""

    closed: str = ""
    reply: Reply | None = None
    can_confirm: bool = False


@dataclass(frozen=True, slots=True)
class TenderReview:
    """Step 1 checked: ``error`` (a broken rule, shown on the field) or what step 2 records."""

    error: str = ""
    summary: str = ""
    grant_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recorded:
    """A submission's outcome: ``ok`` and the confirmation, or the broken rule as ``reply``."""

    ok: bool
    reply: Reply


@dataclass(frozen=True, slots=True)
class FormDownload:
    """The pre-filled form of the latest intent, or ``reply`` saying why there is none."""

    reply: Reply | None = None
    pdf: bytes = b""
    version: int = 0


async def _terms(deps: ConversationDeps) -> OfferTerms:
    return await current_terms(uow=deps.uow, terms=deps.base_terms)


async def home_overview(*, deps: ConversationDeps, identity: Identity) -> EmployeeOverview:
    """The person's home screen: their own grants only when verified."""
    terms = await _terms(deps)
    return await employee_overview(
        uow=deps.uow, terms=terms, identity=identity, now=deps.clock.now()
    )


async def election_start(*, deps: ConversationDeps, identity: Identity) -> ElectionStart:
    """Step 1 of recording an intent, or why there is nothing to choose."""
    terms, now = await _terms(deps), deps.clock.now()
    deadlines = get_deadlines(terms, now=now)
    if not deadlines.is_open:
        return ElectionStart(closed=deadlines_reply(deadlines, terms, now=now).text)
    if not identity.verified or identity.employee_id is None:
        return ElectionStart(notice=await respond(text="tender", identity=identity, deps=deps))
    assessment = await my_grants(
        uow=deps.uow, terms=terms, employee_id=identity.employee_id, identity=identity, now=now
    )
    status = await employee_status(
        uow=deps.uow, terms=terms, employee_id=identity.employee_id, identity=identity, now=now
    )
    current = status.latest.grant_numbers if status.latest is not None else ()
    return ElectionStart(grants=grants_reply(assessment, terms), current=tuple(current))


async def review_tender(
    *, deps: ConversationDeps, identity: Identity, grant_numbers: list[str]
) -> TenderReview:
    """Step 1 submitted: the domain's tender rules at the clock's now, nothing recorded."""
    terms = await _terms(deps)
    try:
        preview = await preview_tender(
            uow=deps.uow,
            terms=terms,
            employee_id=identity.employee_id or "",
            grant_numbers=grant_numbers,
            identity=identity,
            now=deps.clock.now(),
        )
    except (DomainError, ServiceError) as exc:
        return TenderReview(error=str(exc))
    return TenderReview(
        summary=preview.summary, grant_numbers=tuple(preview.selection.grant_numbers)
    )


async def record_tender(
    *,
    deps: ConversationDeps,
    identity: Identity,
    grant_numbers: list[str],
    delivery: DeliveryKey,
) -> Recorded | None:
    """Step 2 submitted: record the intent once per ``delivery`` (claimed in the intent's own
    transaction); ``None`` for a repeated submission, which records nothing."""
    terms = await _terms(deps)
    recording = record_intent(
        uow=deps.uow,
        terms=terms,
        employee_id=identity.employee_id or "",
        grant_numbers=grant_numbers,
        identity=identity,
        now=deps.clock.now(),
        claim=DeliveryClaim(delivery),
    )
    return await _recorded_once(recording, terms)


async def withdraw_start(*, deps: ConversationDeps, identity: Identity) -> WithdrawStart:
    """The confirmation step, or why there is nothing to withdraw (closed offer)."""
    terms, now = await _terms(deps), deps.clock.now()
    deadlines = get_deadlines(terms, now=now)
    if not deadlines.is_open:
        return WithdrawStart(closed=deadlines_reply(deadlines, terms, now=now).text)
    reply = await respond(text="withdraw", identity=identity, deps=deps)
    return WithdrawStart(reply=reply, can_confirm=identity.verified)


async def record_withdraw(
    *, deps: ConversationDeps, identity: Identity, delivery: DeliveryKey
) -> Recorded | None:
    """The withdrawal confirmed: recorded once per ``delivery``; ``None`` when repeated."""
    terms = await _terms(deps)
    recording = record_withdrawal(
        uow=deps.uow,
        terms=terms,
        employee_id=identity.employee_id or "",
        identity=identity,
        now=deps.clock.now(),
        claim=DeliveryClaim(delivery),
    )
    return await _recorded_once(recording, terms)


async def _recorded_once(recording: Awaitable[IntentResult], terms: OfferTerms) -> Recorded | None:
    """A modal's recording, awaited: ``None`` when another delivery of the same submission
    claimed it (nothing recorded), a refusal's sentence, or the recorded intent's reply."""
    try:
        result = await recording
    except DuplicateDeliveryError:
        return None
    except (DomainError, ServiceError) as exc:
        return Recorded(ok=False, reply=Reply(text=str(exc), kind="error"))
    return Recorded(ok=True, reply=intent_reply(result, terms))


async def compare_options(*, deps: ConversationDeps, identity: Identity) -> Reply:
    """Old grants vs the new option: a neutral illustration (never a recommendation)."""
    if identity.employee_id is None:
        return await respond(text="grants", identity=identity, deps=deps)
    terms = await _terms(deps)
    try:
        result = await model_options(
            uow=deps.uow,
            terms=terms,
            employee_id=identity.employee_id,
            prices=(),
            new_strikes=(),
            identity=identity,
            now=deps.clock.now(),
        )
    except (DomainError, ServiceError) as exc:
        return Reply(text=str(exc), kind="error")
    return model_reply(result)


async def form_download(*, deps: ConversationDeps, identity: Identity) -> FormDownload:
    """The latest intent's pre-filled form for its owner; the download is audited."""
    if identity.employee_id is None:
        return FormDownload(reply=await respond(text="status", identity=identity, deps=deps))
    terms = await _terms(deps)
    try:
        intent, pdf = await latest_form(
            uow=deps.uow,
            terms=terms,
            employee_id=identity.employee_id,
            identity=identity,
            version=None,
        )
    except (DomainError, ServiceError) as exc:
        return FormDownload(reply=Reply(text=str(exc), kind="error"))
    async with deps.uow as uow:
        await uow.audit.record(
            AuditEntry(
                at=deps.clock.now(),
                actor=identity.actor,
                action="election.form.download",
                channel=identity.channel,
                subject=identity.employee_id,
                detail={"version": intent.version},
            )
        )
        await uow.commit()
    return FormDownload(pdf=pdf, version=intent.version)
