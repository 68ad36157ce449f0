"""Answer a question from the offer document, with the live offer terms.

:func:`ask` runs the knowledge answerer (``knowledge.answerer``) against the *current* terms
(after any extension), records every abstention for HR, and returns :class:`Asked`: knowledge's
typed :class:`~knowledge.answerer.Answer` (its ``intent`` and ``kind`` decided once, by the
router) and whether the question was filed for HR.
:func:`bot.services.questions.conversation.respond` decides from those fields — personal
intents (grants, status, elect, withdraw), the deadline, help and contacts are answered from the
person's own data — and :meth:`Asked.reply` is the channel-neutral :class:`~bot.replies.Reply`
of everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain.questions import AnswerKind, Intent
from bot.domain.records import UnansweredQuestion
from bot.domain.terms import OfferTerms
from bot.ports import Clock, UnitOfWork
from bot.replies import Action, Citation, Reply
from bot.services.delivery_claims import DeliveryClaim, claim_within, mark_committed
from bot.services.identity import Identity
from bot.services.offer.live_offer import current_terms
from bot.services.questions_asked import count_question
from knowledge.answerer import Answer, answer, knowledge_base
from knowledge.offer_terms import bundled_offer_dir

__all__ = ["Asked", "ask", "ask_payload"]

_ACTIONS = {
    AnswerKind.ABSTAIN: (Action("talk_to_hr", "Talk to HR"), Action("help", "What can you do?")),
    AnswerKind.NO_ADVICE: (Action("grants", "My grants"), Action("deadline", "Deadline")),
}
PASSED_ON = "I have passed your question on to HR."


@dataclass(frozen=True, slots=True)
class Asked:
    """What :func:`ask` found: knowledge's typed answer, and whether it was filed for HR."""

    answer: Answer
    filed_for_hr: bool = False

    @property
    def citations(self) -> tuple[Citation, ...]:
        """The answer's sources as the reply's citations ("Q21 · … · p. 5")."""
        return tuple(Citation(s.id, s.title, s.pages) for s in self.answer.sources)

    def reply(self) -> Reply:
        """The answer as a channel-neutral reply: its text, citations, intent and confidence
        (with the note that HR has the question when it was filed)."""
        found = self.answer
        return Reply(
            text=found.text,
            notes=(*found.notes, PASSED_ON) if self.filed_for_hr else found.notes,
            citations=self.citations,
            actions=_ACTIONS.get(found.kind, ()),
            kind=found.kind.value,
            intent=found.intent,
            confidence=round(found.confidence, 3),
        )


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
    claim: DeliveryClaim | None = None,
) -> Asked:
    """Answer ``text`` from the offer; an abstention is stored for ``offerbot hr unanswered``
    (unless ``record_abstention`` is off: the text is a command such as "tender G2", which the
    conversation handles, not a question HR should see).

    ``terms``: the live terms when the caller has read them for this request already (one read
    of the offer state per message); otherwise they are read here. ``claim``: the Slack delivery
    this answers, claimed in the abstention's transaction (see
    :mod:`bot.services.delivery_claims`).
    """
    if terms is None:
        terms = await current_terms(uow=uow, terms=base_terms, for_question=True)
    kb = knowledge_base(offer_dir or bundled_offer_dir())
    result = answer(text, kb=kb, terms=terms)
    count_question(channel=identity.channel)
    if not (result.abstained and record_abstention):
        return Asked(result)
    now = clock.now()
    async with uow:
        await claim_within(uow, claim, at=now)
        await uow.questions.record_unanswered(
            UnansweredQuestion(
                asked_at=now,
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
    mark_committed(claim)
    return Asked(result, filed_for_hr=True)


def ask_payload(reply: Reply) -> dict[str, Any]:
    """The ``offerbot ask --json`` object for any reply of the conversation service (one that
    answers nothing, an error before the question was read, counts as "faq")."""
    intent = reply.intent or Intent.FAQ
    text = "\n".join([reply.text, *reply.notes]).strip()
    confidence = reply.confidence
    if confidence is None:
        confidence = 0.0 if reply.kind in {"abstain", "error"} else 1.0
    return {
        "intent": intent.value,
        "answer": text,
        "sources": [
            {"id": c.entry_id, "title": c.title, "pages": c.pages} for c in reply.citations
        ],
        "abstained": reply.kind == "abstain",
        "confidence": float(confidence),
    }
