"""One entry point for a message from any channel: decide what was asked and build the reply.

Every message goes through the knowledge answerer (:func:`bot.services.questions.answers.ask`),
which decides once what was asked: a typed :class:`~knowledge.answerer.Answer` whose ``intent``
and ``kind`` this module reads (never a dictionary). Questions about the offer get the cited
passage or an honest abstention (recorded for HR); requests for a recommendation get the offer's
own no-recommendation position; the person's own grants and the live deadline are answered from
data; election actions (status, elect, withdraw) go to :func:`election_reply`. A chat command
("tender G2", "status") or a first-person election ("I want to tender") names the action itself.

``claim``: the Slack delivery the message came in, passed on to each service that writes for
it, so the first write's transaction claims it (:mod:`bot.services.delivery_claims`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from bot.domain.eligibility import PersonAssessment
from bot.domain.errors import DomainError
from bot.domain.questions import PERSONAL_INTENTS, AnswerKind, Intent
from bot.domain.tender import grants_named_in
from bot.domain.terms import OfferTerms
from bot.ports import Clock, UnitOfWork
from bot.replies import Action, Reply
from bot.services.delivery_claims import DeliveryClaim
from bot.services.errors import ServiceError
from bot.services.identity import Identity
from bot.services.offer.deadline_follow_ups import note_deadline_asked
from bot.services.offer.deadlines import deadlines_reply, get_deadlines
from bot.services.offer.live_offer import current_terms
from bot.services.questions.answers import Asked, ask
from bot.services.roster.grants import grants_reply, my_grants

__all__ = [
    "ConversationDeps",
    "carries_personal_data",
    "contacts_reply",
    "election_attempt_reply",
    "election_reply",
    "help_reply",
    "respond",
]


@dataclass(frozen=True, slots=True)
class ConversationDeps:
    uow: UnitOfWork
    clock: Clock
    base_terms: OfferTerms
    offer_dir: Path | None = None  # the folder with the offer text; None: the bundled offer


def help_reply(terms: OfferTerms) -> Reply:
    return Reply(
        text=(
            f"I help with {terms.company_short_name}'s offer to exchange options. Ask me:\n"
            "• grants — your option grants, which are eligible and why\n"
            "• deadline — when the offer expires and the dates that follow\n"
            "• contacts — where signed forms go and who answers questions\n"
            "• status — what you intend, whether HR received your signed form, what is left\n"
            "• tender GRANT … — record your intent and get your pre-filled Election Form\n"
            "• withdraw — record an intent to withdraw and get a Notice to Withdraw\n"
            "• or any question about the offer, in your own words\n"
            "A chat message is never itself an election: the signed form must reach HR by fax or "
            "by hand before the deadline. I never recommend whether to tender: that decision is "
            "yours."
        ),
        actions=(
            Action("grants", "My grants"),
            Action("deadline", "Deadline"),
            Action("talk_to_hr", "Talk to HR"),
        ),
        kind="help",
    )


def contacts_reply(terms: OfferTerms) -> Reply:
    hr = terms.hr_delivery
    questions = "; ".join(
        f"{c.name}, {c.title} ({c.phone}, {c.email})" for c in terms.question_contacts
    )
    return Reply(
        text=(
            f"Signed forms go by fax or by hand (e-mail is not accepted) to {hr.name}, "
            f"{hr.department}, {hr.organization}, {hr.street}, {hr.city}, {hr.region} "
            f"{hr.postal_code} — phone {hr.phone}, fax {hr.fax} (§4, p. 15).\n"
            f"Questions about the mechanics of the offer: {questions} (cover, p. ii).\n"
            "Questions about the financial or tax implications: your own financial and tax "
            "advisors."
        ),
        kind="answer",
    )


def _how_elections_are_made(intent: Intent, terms: OfferTerms) -> str:
    hr = terms.hr_delivery
    channels = " or ".join(
        "by hand" if c == "hand" else f"by {c} ({hr.fax})" if c == "fax" else f"by {c}"
        for c in terms.election_channels
    )
    form = "a signed Notice to Withdraw" if intent is Intent.WITHDRAW else "a signed Election Form"
    return (
        f"Elections are made only with {form}, delivered {channels} to {hr.name}, "
        f"{hr.department}, before the offer expires (ask 'deadline'). E-mail is not an "
        "election, and neither is a chat message."
    )


_CONFIRM = re.compile(r"\bconfirm(ed)?\b", re.I)
# Chat commands (the console and Slack show them): a message that starts with one is that action.
_COMMANDS = {
    "status": Intent.STATUS,
    "withdraw": Intent.WITHDRAW,
    "tender": Intent.ELECT,
    "elect": Intent.ELECT,
}
_COMMAND = re.compile(r"^\s*/?(status|withdraw|tender|elect)\b", re.I)
_FIRST_PERSON_ELECTION = re.compile(
    r"^\s*i\s+(hereby\s+)?(elect|tender)\b|^\s*i\s+(want|wish|would like|intend)\s+to\s+"
    r"(elect|tender|exchange)\b",
    re.I,
)


async def election_reply(
    intent: Intent,
    text: str,
    identity: Identity,
    deps: ConversationDeps,
    *,
    terms: OfferTerms | None = None,
    claim: DeliveryClaim | None = None,
) -> Reply:
    """Status, elect and withdraw for the verified employee, through the elections service.

    A chat message never *is* an election: recording an intent prepares the pre-filled form and
    tells HR; the person still signs it and delivers it by fax or hand before the deadline.
    ``terms``: the live terms already read for this message (else they are read here);
    ``claim``: the Slack delivery, claimed by the first write (see the module docstring).
    """
    # the elections services are imported by the messages that use them: a question (a fresh
    # `offerbot ask` process) does not pay for the intents, forms and status modules
    from bot.services.elections import (
        employee_status,
        intent_reply,
        record_intent,
        record_withdrawal,
        status_reply,
    )

    if terms is None:
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
    if not identity.verified or identity.employee_id is None:
        return Reply(
            text="I can only look up or record elections for an employee I have verified "
            "against HR's roster. " + _how_elections_are_made(intent, terms),
            actions=(Action("deadline", "Deadline"), Action("talk_to_hr", "Talk to HR")),
            kind="personal",
            intent=intent,
        )
    employee_id, now = identity.employee_id, deps.clock.now()
    try:
        if intent is Intent.STATUS:
            status = await employee_status(
                uow=deps.uow,
                terms=terms,
                employee_id=employee_id,
                identity=identity,
                now=now,
                claim=claim,
            )
            return _with_intent(status_reply(status, terms), intent)
        if intent is Intent.WITHDRAW:
            if not _CONFIRM.search(text):
                return Reply(
                    text="Withdrawing takes back every option you tendered (all of them, not "
                    "some); you may tender again later while the offer is open. Reply "
                    "'withdraw confirm' and I will prepare your pre-filled Notice to Withdraw "
                    "and tell HR. " + _how_elections_are_made(intent, terms),
                    kind="personal",
                    intent=intent,
                )
            terms = await _deciding_terms(deps)
            result = await record_withdrawal(
                uow=deps.uow,
                terms=terms,
                employee_id=employee_id,
                identity=identity,
                now=now,
                claim=claim,
            )
            return _with_intent(intent_reply(result, terms), intent)
        assessment = await my_grants(
            uow=deps.uow,
            terms=terms,
            employee_id=employee_id,
            identity=identity,
            now=now,
            claim=claim,
        )
        chosen = grants_named_in(text, assessment)
        strangers = _not_theirs(text, assessment)
        if strangers:
            return _not_theirs_reply(strangers, assessment, intent)
        if not chosen and _ALL_GRANTS.search(text) and assessment.eligible_grants:
            return await _tender_all(text, identity, deps, terms, assessment, claim)
        if not chosen:
            eligible = ", ".join(g.grant.grant_number for g in assessment.eligible_grants)
            how = (
                f"Name the grants you intend to tender, e.g. 'tender {eligible.split(', ')[0]}'. "
                f"Your eligible grants: {eligible}. Each grant is all or none."
                if eligible
                else "You have no grants that can be tendered in this offer."
            )
            return Reply(
                text=f"{how} " + _how_elections_are_made(intent, terms),
                actions=(Action("grants", "My grants"), Action("deadline", "Deadline")),
                kind="personal",
                intent=intent,
            )
        terms = await _deciding_terms(deps)
        result = await record_intent(
            uow=deps.uow,
            terms=terms,
            employee_id=employee_id,
            grant_numbers=chosen,
            identity=identity,
            now=now,
            claim=claim,
        )
        return _with_intent(intent_reply(result, terms), intent)
    except (DomainError, ServiceError) as exc:
        return Reply(text=str(exc), kind="error", intent=intent)


# "tender all", "elect all my grants", "I want to tender all of my options"
_ALL_GRANTS = re.compile(r"\b(tender|elect|exchange)\s+(all|every)\b", re.I)
# Words shaped like a grant number ("G00002", "h-0001"): letters, then digits.
_GRANT_LIKE = re.compile(r"\b[A-Za-z]{1,4}-?\d[A-Za-z0-9-]*\b")


def _not_theirs(text: str, assessment: PersonAssessment) -> list[str]:
    """Grant-like words in ``text`` that are none of this person's grants, upper-cased."""
    own = {g.grant.grant_number.upper() for g in assessment.grants}
    words = re.sub(r"<[^>]*>", " ", text)  # Slack markup: <@U0123>, <mailto:…>
    found = dict.fromkeys(t.upper() for t in _GRANT_LIKE.findall(words))
    return [t for t in found if t not in own]


def _not_theirs_reply(strangers: list[str], assessment: PersonAssessment, intent: Intent) -> Reply:
    """The same words whether or not the grant exists for someone else: nothing leaks."""
    names = " and ".join(strangers)
    verb = "is not one of your grants" if len(strangers) == 1 else "are not among your grants"
    eligible = ", ".join(g.grant.grant_number for g in assessment.eligible_grants)
    mine = (
        f"Your grants that can be tendered: {eligible}."
        if eligible
        else "You have no grants that can be tendered in this offer."
    )
    return Reply(
        text=f"{names} {verb}, so I recorded nothing. {mine} Ask 'grants' to see all of yours.",
        actions=(Action("grants", "My grants"),),
        kind="error",
        intent=intent,
    )


async def _tender_all(
    text: str,
    identity: Identity,
    deps: ConversationDeps,
    terms: OfferTerms,
    assessment: PersonAssessment,
    claim: DeliveryClaim | None,
) -> Reply:
    """Every eligible grant, after a confirmation step: "tender all" says exactly what would be
    recorded; "tender all confirm" records it (as "withdraw" / "withdraw confirm" do)."""
    from bot.services.elections import intent_reply, record_intent
    from bot.services.elections.preview import preview_tender

    employee_id, now = identity.employee_id or "", deps.clock.now()
    numbers = [g.grant.grant_number for g in assessment.eligible_grants]
    if not _CONFIRM.search(text):
        preview = await preview_tender(
            uow=deps.uow,
            terms=terms,
            employee_id=employee_id,
            grant_numbers=numbers,
            identity=identity,
            now=now,
        )
        count = len(preview.selection.grant_numbers)
        return Reply(  # the question first: it is what a notification shows
            text=f"Tender all {count} of your eligible grants? Reply 'tender all confirm' to "
            f"record it; nothing is recorded until then.\n{preview.summary}",
            kind="personal",
            data={"confirm": "tender all confirm"},
            intent=Intent.ELECT,
        )
    terms = await _deciding_terms(deps)
    result = await record_intent(
        uow=deps.uow,
        terms=terms,
        employee_id=employee_id,
        grant_numbers=numbers,
        identity=identity,
        now=now,
        claim=claim,
    )
    return _with_intent(intent_reply(result, terms), Intent.ELECT)


async def election_attempt_reply(
    intent: Intent,
    text: str,
    identity: Identity,
    deps: ConversationDeps,
    *,
    terms: OfferTerms | None = None,
) -> Reply:
    """An election tried through a channel that cannot make one (e-mail): nothing is recorded
    as an intent; the reply explains, carries the pre-filled form when the verified owner named
    grants, and the attempt is audited for HR. ``terms`` as for :func:`election_reply`."""
    from bot.services.elections.attempts import not_an_election

    if terms is None:
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
    return await not_an_election(
        intent=intent,
        text=text,
        identity=identity,
        uow=deps.uow,
        terms=terms,
        now=deps.clock.now(),
        how=_how_elections_are_made(intent, terms),
    )


async def respond(
    *,
    text: str,
    identity: Identity,
    deps: ConversationDeps,
    record_elections: bool = True,
    claim: DeliveryClaim | None = None,
) -> Reply:
    """Answer one message. Personal data only for a verified identity, only its own.

    ``record_elections=False`` (e-mail): "tender …" and "withdraw" are answered by
    :func:`election_attempt_reply` instead of recording an intent. A verified employee told
    the deadline on Slack or e-mail is noted, to hear from us if it changes. ``claim``: the
    Slack delivery, claimed by the first write made for this message (the module docstring).

    The offer state is read once here and the live terms passed down (the answer, the
    deadline note): one read per message — on PostgreSQL usually none, the copy kept while
    every change is notified — and every part of the reply states the same deadline even if
    HR extends the offer meanwhile. Recording an intent reads it again, uncached.
    """
    try:
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms, for_question=True)
    except ServiceError as exc:
        return Reply(text=str(exc), kind="error")
    reply = await _respond(
        text=text,
        identity=identity,
        deps=deps,
        record_elections=record_elections,
        terms=terms,
        claim=claim,
    )
    await note_deadline_asked(
        uow=deps.uow,
        identity=identity,
        reply=reply,
        base_terms=deps.base_terms,
        now=deps.clock.now(),
        terms=terms,
        claim=claim,
    )
    return reply


async def _respond(
    *,
    text: str,
    identity: Identity,
    deps: ConversationDeps,
    record_elections: bool,
    terms: OfferTerms,
    claim: DeliveryClaim | None,
) -> Reply:
    now = deps.clock.now()
    command = _COMMAND.match(text)
    first_person = bool(_FIRST_PERSON_ELECTION.search(text)) and not text.rstrip().endswith("?")
    try:
        asked = await ask(
            text=text,
            identity=identity,
            uow=deps.uow,
            clock=deps.clock,
            base_terms=deps.base_terms,
            offer_dir=deps.offer_dir,
            record_abstention=not (command or first_person),
            terms=terms,
            claim=claim,
        )
    except ServiceError as exc:
        return Reply(text=str(exc), kind="error")
    found = asked.answer
    intent = found.intent
    if found.kind is AnswerKind.NO_ADVICE:
        pass  # "should I tender?" asks for advice, never records anything
    elif command:
        intent = _COMMANDS[command.group(1).lower()]
    elif first_person:
        intent = Intent.ELECT
    if found.kind is AnswerKind.HELP:
        return _with_intent(help_reply(terms), Intent.HELP)
    if found.kind is AnswerKind.CONTACTS:
        return replace(
            contacts_reply(terms),
            citations=asked.citations,
            intent=found.intent,
            confidence=round(found.confidence, 3),
        )
    if intent in {Intent.ELECT, Intent.WITHDRAW} and not record_elections:
        reply = await election_attempt_reply(intent, text, identity, deps, terms=terms)
        return _with_rule(reply, asked)
    if intent in {Intent.STATUS, Intent.ELECT, Intent.WITHDRAW}:
        reply = await election_reply(intent, text, identity, deps, terms=terms, claim=claim)
        return _with_rule(reply, asked)
    if intent is Intent.GRANTS:
        return _with_rule(await _grants(identity, deps, terms, now, claim), asked)
    if intent is Intent.DEADLINE:
        reply = deadlines_reply(get_deadlines(terms, now=now), terms, now=now)
        return replace(
            reply,
            citations=asked.citations,
            intent=Intent.DEADLINE,
            confidence=1.0,
        )
    return asked.reply()


async def _deciding_terms(deps: ConversationDeps) -> OfferTerms:
    """The terms an intent is recorded under: read from the row itself, never the questions'
    kept copy (which may trail a commit elsewhere by the moment its notice takes)."""
    return await current_terms(uow=deps.uow, terms=deps.base_terms)


def carries_personal_data(reply: Reply) -> bool:
    """Whether a reply holds the person's own data (grants, intents, a pre-filled form): a
    channel that cannot be sure who asked must not thread it under the asker's words."""
    return bool(reply.attachments) or reply.intent in PERSONAL_INTENTS


def _with_intent(reply: Reply, intent: Intent) -> Reply:
    return replace(reply, intent=intent)


async def _grants(
    identity: Identity,
    deps: ConversationDeps,
    terms: OfferTerms,
    now: datetime,
    claim: DeliveryClaim | None,
) -> Reply:
    if not identity.verified:
        return Reply(
            text="I can only show grants to an employee I have verified against HR's "
            "roster. Please ask from your company Slack account or work e-mail.",
            kind="error",
            intent=Intent.GRANTS,
        )
    try:
        assessment = await my_grants(
            uow=deps.uow,
            terms=terms,
            employee_id=identity.employee_id or "",
            identity=identity,
            now=now,
            claim=claim,
        )
    except ServiceError as exc:
        return Reply(text=str(exc), kind="error", intent=Intent.GRANTS)
    return _with_intent(grants_reply(assessment, terms), Intent.GRANTS)


def _with_rule(reply: Reply, asked: Asked) -> Reply:
    """A reply about the person's own grants or election, with the offer's rule for what they
    asked cited (knowledge's ``_rule_for``) — and quoted when the question asked about the
    rule itself ("I have 2,400 options at $9: how many new ones would I get?" gets the
    person's grants and the exchange ratio's sentences)."""
    if reply.citations or not asked.citations:
        return reply
    quote = asked.answer.quote
    notes = (*reply.notes, f"What the offer says: {quote}") if quote else reply.notes
    return replace(reply, citations=asked.citations, notes=notes)
