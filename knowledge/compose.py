"""Compose an answer from one entry: whole sentences, the ones the question is about, in order.

* A term-sheet answer short enough (:data:`MAX_CHARS`) is quoted whole: it was written as the
  answer to a question.
* Otherwise the sentences most similar to the question (the router's own TF-IDF space) are
  kept, best first, until the budget is used, and printed in document order — with "…" where
  sentences were skipped. A sentence is never cut; a sentence that introduces a list (ends
  with ":") brings its neighbour along. A term-sheet answer's bare "Yes." / "No." is left out
  when sentences stating the rule follow it (it answers the term sheet's own question).
  Sentences that state a rule (not, no, only, must, never …) weigh a little more, so
  "E-mail responses are not acceptable." is not the one that falls out. A list item
  brings the sentence that opens its list ("… if any of the following events has occurred:");
  a section's run-in sub-headings ("Exercise Price.") are never quoted for themselves.
* "Most similar" is the knowledge base's measure (``KnowledgeBase.similarity``: TF-IDF plus
  the sentence embedding).
* Any sentence that reads as a recommendation is never quoted (the output guard).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from knowledge.parser import Entry

__all__ = ["MAX_CHARS", "RECOMMENDATION", "compose", "sentences"]

MAX_CHARS = 900
RULE_BONUS = 0.15

# An answer must never read as a recommendation; the offer's "whether you should tender or not
# tender" is a statement of its position, not one.
RECOMMENDATION = re.compile(
    r"\b(you should|you ought to|i recommend|we recommend|i suggest|i advise|i'd|i would|"
    r"my advice is to|good idea to|it is wise to|it is wise)(\s+that)?(\s+you)?(\s+should)?"
    r"\s+(not\s+)?(tender|exchange|keep|participate|swap|hold|accept|decline)\b(?!\s+or not)",
    re.I,
)
_BARE_ANSWER = re.compile(r"^(?:Yes|No)\.(?:\s+|$)")
_RULE = re.compile(r"\b(not|no|only|must|never|cannot|may not|will not|unless|required)\b", re.I)
_ABBREVIATIONS = re.compile(
    r"(\b(U\.S|U\.K|a\.m|p\.m|Inc|No|Nos|Mr|Ms|Mrs|Dr|i\.e|e\.g|N\.W|D\.C|St|Co|Ltd|vs|etc|Ph)"
    r"|\b[A-Z])\.$"
)

# a run-in sub-heading: a few capitalised words and a full stop ("Number and Type of Shares.")
# ("Determination of Validity; Rejection of Options.": several, joined by semicolons)
_TITLE = r"[A-Z][\w'’-]*(?: (?:[A-Z][\w'’-]*|of|and|or|the|to|in|for|on|a)){0,6}"
_HEADING = re.compile(rf"{_TITLE}(?:; {_TITLE})*\.")

Similarity = Callable[[str, str], float]


def sentences(text: str) -> list[str]:
    """The entry's sentences; list items and abbreviations ("U.S.", "p.m.") stay whole."""
    result: list[str] = []
    for paragraph in text.split("\n\n"):
        pieces = re.split(r"(?<=[.?!;])\s+(?=[A-Z(\"$•])", paragraph)
        merged: list[str] = []
        for piece in pieces:
            if merged and (_ABBREVIATIONS.search(merged[-1]) or merged[-1].endswith(";")):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        result += [" ".join(s.split()) for s in merged if s.strip()]
    return result


def _rule(sentence: str) -> bool:
    return bool(_RULE.search(sentence))


def _is_heading(sentence: str, entry: Entry) -> bool:
    """A section's run-in sub-heading ("Exercise Price.", "Vesting."): nothing to quote alone.
    (A term-sheet answer's "No." is its direct answer, never a heading.)"""
    return entry.kind != "question" and bool(_HEADING.fullmatch(sentence))


def _lead_in(kept: list[str], i: int) -> int | None:
    """The sentence that opens the list item ``kept[i]`` belongs to ("… if any of the
    following events has occurred:"), or None when ``kept[i]`` is not a list item."""
    if not kept[i].startswith(("- ", "• ")):
        return None
    for j in range(i - 1, -1, -1):
        if kept[j].endswith(":"):
            return j
    return None


def _without_bare_answer(kept: list[str]) -> list[str]:
    """The term sheet's sentences without the bare "Yes." / "No." that opens an answer when
    sentences stating the rule follow it: it answers the term sheet's own question, and asked
    the other way round ("can I tender only half of a grant?" reaching Q12, "do I have to
    tender all …?") it reads as the opposite of the rule. An answer that is only "No." (Q3)
    keeps it; the answerer then names the question it answers."""
    # "No. Instead of repricing …" is one sentence ("No." is also an abbreviation)
    rest = _BARE_ANSWER.sub("", kept[0], count=1)
    if rest:
        return [rest, *kept[1:]]
    return kept[1:] if len(kept) > 1 else kept


def compose(entry: Entry, question: str, similarity: Similarity, limit: int = MAX_CHARS) -> str:
    """The part of ``entry`` that answers ``question`` (see the module docstring)."""
    kept = [s for s in sentences(entry.text) if not RECOMMENDATION.search(s)]
    if not kept:
        return ""
    if entry.kind == "question":
        kept = _without_bare_answer(kept)
    whole = " ".join(kept)
    if len(whole) <= limit and (entry.kind == "question" or len(kept) <= 3):
        return whole
    scores = [
        0.0 if _is_heading(s, entry) else similarity(question, s) * (1 + RULE_BONUS * _rule(s))
        for s in kept
    ]
    chosen: set[int] = set()
    size = 0
    for i in sorted(range(len(kept)), key=lambda i: (-scores[i], i)):
        if scores[i] <= 0 and chosen:
            break
        group = [i]
        if kept[i].endswith(":") and i + 1 < len(kept):
            group.append(i + 1)
        if (lead := _lead_in(kept, i)) is not None:
            group.append(lead)  # a list item says little without the sentence that opens it
        extra = sum(len(kept[j]) + 3 for j in group if j not in chosen)
        if chosen and size + extra > limit:
            continue
        chosen.update(group)
        size += extra
    parts: list[str] = []
    previous: int | None = None
    for i in sorted(chosen):
        if previous is not None and i != previous + 1:
            parts.append("…")
        parts.append(kept[i])
        previous = i
    return " ".join(parts)
