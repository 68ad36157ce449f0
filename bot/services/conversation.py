"""One entry point for a message from any channel: decide what was asked and build the reply.

Until the knowledge base lands this understands the personal and calendar requests every
channel needs (grants, deadline, help, contacts); anything else gets an honest "I can't answer
that yet" with the offer's contacts, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.domain.terms import OfferTerms
from bot.ports import Clock
from bot.replies import Action, Reply
from bot.services.deadlines import deadlines_reply, get_deadlines
from bot.services.errors import ServiceError
from bot.services.grants import grants_reply, my_grants
from bot.services.identity import Identity
from bot.services.offer import current_terms

__all__ = ["ConversationDeps", "contacts_reply", "help_reply", "no_advice_reply", "respond"]

_WORDS = {
    "grants": re.compile(r"\b(my )?(grants?|options?|eligible|eligibility)\b", re.I),
    "deadline": re.compile(r"\b(deadline|expir\w*|due|when|close[sd]?|time left)\b", re.I),
    "help": re.compile(r"^\s*(help|\?|menu|start|hi|hello)\s*[.!?]*\s*$", re.I),
    "contacts": re.compile(r"\b(hr|human resources|contacts?|talk to|fax|address|who)\b", re.I),
    # Asking for a recommendation: answered with the offer's own position, never an opinion.
    "advice": re.compile(
        r"\b(should|shall|would|must)\s+(i|we)\b.*\b(tender|exchange|participate|accept|"
        r"take|do it|keep|elect|join)\b|\brecommend|\badvi[cs]e me\b|\bworth it\b|"
        r"\bgood idea\b|\bwhat would you do\b|\bbetter off\b|\b(smart|wise) (move|choice|to)\b|"
        r"\bwould you\b.*\b(tender|exchange)\b",
        re.I,
    ),
}


@dataclass(frozen=True, slots=True)
class ConversationDeps:
    uow: Any
    clock: Clock
    base_terms: OfferTerms


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


async def respond(*, text: str, identity: Identity, deps: ConversationDeps) -> Reply:
    """Answer one message. Personal data only for a verified identity, only its own."""
    now = deps.clock.now()
    try:
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
    except ServiceError as exc:
        return Reply(text=str(exc), kind="error")
    if _WORDS["help"].search(text) or not text.strip():
        return help_reply(terms)
    if _WORDS["advice"].search(text):
        return no_advice_reply(terms)
    if _WORDS["grants"].search(text):
        if not identity.verified:
            return Reply(
                text="I can only show grants to an employee I have verified against HR's "
                "roster. Please ask from your company Slack account or work e-mail.",
                kind="error",
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
            return Reply(text=str(exc), kind="error")
        return grants_reply(assessment, terms)
    if _WORDS["deadline"].search(text):
        return deadlines_reply(get_deadlines(terms, now=now), terms, now=now)
    if _WORDS["contacts"].search(text):
        return contacts_reply(terms)
    reply = contacts_reply(terms)
    return Reply(
        text="I can't answer that yet. " + reply.text,
        actions=(Action("help", "What can you do?"),),
        kind="abstain",
    )
