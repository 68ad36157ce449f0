"""One entry point for a message from any channel: decide what was asked and build the reply.

Every message goes through intent detection and the knowledge answerer
(:func:`bot.services.answers.ask`): questions about the offer get the cited passage or an
honest abstention (recorded for HR); requests for a recommendation get the offer's own
no-recommendation position; the person's own grants and the live deadline are answered from
data; election actions (status, elect, withdraw) go to :func:`election_reply`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.domain.terms import OfferTerms
from bot.ports import Clock
from bot.replies import Action, Reply
from bot.services.answers import ask
from bot.services.deadlines import deadlines_reply, get_deadlines
from bot.services.errors import ServiceError
from bot.services.grants import grants_reply, my_grants
from bot.services.identity import Identity
from bot.services.offer import current_terms

__all__ = [
    "ConversationDeps",
    "contacts_reply",
    "election_reply",
    "help_reply",
    "no_advice_reply",
    "respond",
]


@dataclass(frozen=True, slots=True)
class ConversationDeps:
    uow: Any
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
            "I never recommend whether to tender: that decision is yours."
        ),
        actions=(
            Action("grants", "My grants"),
            Action("deadline", "Deadline"),
            Action("talk_to_hr", "Talk to HR"),
        ),
        kind="help",
    )


def no_advice_reply(terms: OfferTerms) -> Reply:
    """The offer's position on recommendations (cover, p. i; Q29, p. 7; §3, p. 15)."""
    return Reply(
        text=(
            f"I can't tell you whether to tender. Neither {terms.company_short_name} nor its Board "
            "of Directors makes any recommendation as to whether you should tender or not tender "
            "your options, and no one is authorized to make one on their behalf. The decision is "
            "yours alone.\n"
            "What can help you decide: the offer's section on the risks of participating; your own "
            "grants and what each would become (ask 'grants'); the deadline (ask 'deadline'); and "
            "your own legal, financial and tax advisors."
        ),
        actions=(Action("grants", "My grants"), Action("deadline", "Deadline")),
        kind="no_advice",
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


def election_reply(intent: str, text: str, identity: Identity, deps: ConversationDeps) -> Reply:
    """Status, elect and withdraw: how elections are made (until the elections service lands)."""
    hr = deps.base_terms.hr_delivery
    channels = " or ".join(
        "by hand" if c == "hand" else f"by {c} ({hr.fax})" if c == "fax" else f"by {c}"
        for c in deps.base_terms.election_channels
    )
    form = "a signed Notice to Withdraw" if intent == "withdraw" else "a signed Election Form"
    what = {
        "status": "I can't look up the status of your election here yet. ",
        "elect": "I can't record an election for you: ",
        "withdraw": "I can't withdraw options for you: ",
    }[intent]
    return Reply(
        text=(
            f"{what}elections are made only with {form}, delivered {channels} to {hr.name}, "
            f"{hr.department}, before the offer expires (ask 'deadline'). E-mail is not an "
            "election, and neither is a chat message: to tender, sign an Election Form; to "
            f"withdraw, a Notice to Withdraw. Questions about a form you sent: {hr.name}, "
            f"{hr.phone}."
        ),
        actions=(Action("deadline", "Deadline"), Action("talk_to_hr", "Talk to HR")),
        kind="personal",
        data={"intent": intent},
    )


async def respond(*, text: str, identity: Identity, deps: ConversationDeps) -> Reply:
    """Answer one message. Personal data only for a verified identity, only its own."""
    now = deps.clock.now()
    try:
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        answered = await ask(
            text=text,
            identity=identity,
            uow=deps.uow,
            clock=deps.clock,
            base_terms=deps.base_terms,
            offer_dir=deps.offer_dir,
        )
    except ServiceError as exc:
        return Reply(text=str(exc), kind="error")
    intent = answered.data.get("intent")
    if answered.kind == "help":
        return _with_intent(help_reply(terms), "help")
    if answered.kind == "contacts":
        return replace(contacts_reply(terms), citations=answered.citations, data=answered.data)
    if intent in {"status", "elect", "withdraw"}:
        return election_reply(str(intent), text, identity, deps)
    if intent == "grants":
        if not identity.verified:
            return Reply(
                text="I can only show grants to an employee I have verified against HR's "
                "roster. Please ask from your company Slack account or work e-mail.",
                kind="error",
                data={"intent": "grants"},
            )
        try:
            assessment = await my_grants(
                uow=deps.uow,
                terms=terms,
                employee_id=identity.employee_id or "",
                identity=identity,
                now=now,
            )
        except ServiceError as exc:
            return Reply(text=str(exc), kind="error", data={"intent": "grants"})
        return _with_intent(grants_reply(assessment, terms), "grants")
    if intent == "deadline":
        reply = deadlines_reply(get_deadlines(terms, now=now), terms, now=now)
        return replace(
            reply,
            citations=answered.citations,
            data={**reply.data, "intent": "deadline", "confidence": 1.0},
        )
    return answered


def _with_intent(reply: Reply, intent: str) -> Reply:
    return replace(reply, data={**reply.data, "intent": intent})
