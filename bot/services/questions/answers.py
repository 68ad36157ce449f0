"""Answer a question from the offer document, with the live offer terms.

:func:`ask` runs the knowledge answerer (``knowledge.answerer``) against the *current* terms
(after any extension), records every abstention for HR, and returns a channel-neutral
:class:`~bot.replies.Reply` whose ``data`` is the ``offerbot ask --json`` payload. Personal
intents (grants, status, elect, withdraw), the deadline, help and contacts come back with
``data["intent"]`` set; :func:`bot.services.questions.conversation.respond` answers those from the
person's own data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.domain.records import UnansweredQuestion
from bot.domain.terms import OfferTerms
from bot.ports import Clock, UnitOfWork
from bot.replies import Action, Citation, Reply
from bot.services.identity import Identity
from bot.services.metrics import count_question
from bot.services.offer.live_offer import current_terms
from knowledge.answerer import Answer, answer, knowledge_base
from knowledge.offer_terms import bundled_offer_dir

__all__ = ["ask", "ask_payload", "reply_of"]

_ACTIONS = {
    "abstain": (Action("talk_to_hr", "Talk to HR"), Action("help", "What can you do?")),
    "no_advice": (Action("grants", "My grants"), Action("deadline", "Deadline")),
}


async def ask(
    *,
    text: str,
    identity: Identity,
    uow: UnitOfWork,
    clock: Clock,
    base_terms: OfferTerms,
    offer_dir: Path | None = None,
    record_abstention: bool = True,
    terms: OfferTerms | None = None,
) -> Reply:
    """Answer ``text`` from the offer; an abstention is stored for ``offerbot hr unanswered``
    (unless ``record_abstention`` is off: the text is a command such as "tender G2", which the
    conversation handles, not a question HR should see).

    ``terms``: the live terms when the caller has read them for this request already (one read
    of the offer state per message); otherwise they are read here.
    """
    if terms is None:
        terms = await current_terms(uow=uow, terms=base_terms)
    kb = knowledge_base(offer_dir or bundled_offer_dir())
    result = answer(text, kb=kb, terms=terms)
    count_question(channel=identity.channel)
    reply = reply_of(result)
    if result.abstained and record_abstention:
        async with uow:
            await uow.questions.record_unanswered(
                UnansweredQuestion(
                    asked_at=clock.now(),
                    channel=identity.channel,
                    actor=identity.actor,
                    question=text.strip()[:2000],
                    confidence=round(result.confidence, 4),
                    employee_id=identity.employee_id,
                    best_entry_id=result.best_entry_id,
                    reason=result.reason or "low_confidence",
                )
            )
            await uow.commit()
        reply = Reply(
            text=reply.text,
            notes=(*reply.notes, "I have passed your question on to HR."),
            actions=reply.actions,
            kind=reply.kind,
            data=reply.data,
        )
    return reply


def reply_of(result: Answer) -> Reply:
    """The answerer's result as a Reply (``data`` = the ``ask --json`` payload)."""
    return Reply(
        text=result.text,
        notes=result.notes,
        citations=tuple(Citation(s.id, s.title, s.pages) for s in result.sources),
        actions=_ACTIONS.get(result.kind, ()),
        kind=result.kind,
        data=result.payload(),
    )


_INTENT_OF_KIND = {"personal": "grants", "help": "help", "no_advice": "faq", "abstain": "unknown"}


def ask_payload(reply: Reply) -> dict[str, Any]:
    """The ``offerbot ask --json`` object for any reply of the conversation service."""
    data = reply.data
    intent = data.get("intent") or _INTENT_OF_KIND.get(reply.kind, "faq")
    text = "\n".join([reply.text, *reply.notes]).strip()
    confidence = data.get("confidence", 0.0 if reply.kind in {"abstain", "error"} else 1.0)
    return {
        "intent": intent,
        "answer": text,
        "sources": [
            {"id": c.entry_id, "title": c.title, "pages": c.pages} for c in reply.citations
        ],
        "abstained": reply.kind == "abstain",
        "confidence": float(confidence) if isinstance(confidence, int | float) else 0.0,
    }
