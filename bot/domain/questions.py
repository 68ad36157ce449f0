"""What a message asked for, decided once: the router's label becomes an :class:`Intent` and an
:class:`AnswerKind` in ``knowledge.answerer``, and every later step (the conversation service,
the ``ask --json`` payload, the renderers, the deadline follow-up) reads these typed values
instead of re-deciding from a dictionary.

Both are ``StrEnum`` so their values are the words of the ``offerbot ask --json`` payload.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PERSONAL_INTENTS", "AnswerKind", "Intent"]


class Intent(StrEnum):
    """What the person wants: the ``"intent"`` of ``offerbot ask --json``."""

    FAQ = "faq"  # a question the offer document answers (or the no-advice position)
    GRANTS = "grants"
    STATUS = "status"
    ELECT = "elect"
    WITHDRAW = "withdraw"
    DEADLINE = "deadline"
    HELP = "help"
    SMALLTALK = "smalltalk"
    UNKNOWN = "unknown"  # an abstention


class AnswerKind(StrEnum):
    """How knowledge answered: a cited passage, the no-advice position, an abstention, or a
    pointer to what the service answers from the person's own data."""

    ANSWER = "answer"
    NO_ADVICE = "no_advice"
    ABSTAIN = "abstain"
    PERSONAL = "personal"
    DEADLINE = "deadline"
    HELP = "help"
    CONTACTS = "contacts"
    SMALLTALK = "smalltalk"


# Intents whose reply holds the person's own data (grants, intents, a pre-filled form).
PERSONAL_INTENTS = frozenset({Intent.GRANTS, Intent.STATUS, Intent.ELECT, Intent.WITHDRAW})
