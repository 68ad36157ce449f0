"""Answer a question from the offer: pick the passage, cite it, or abstain; never advise.

:func:`answer` is pure: the knowledge base, the *current* offer terms and the question in, an
:class:`Answer` out. The service layer (``bot.services.answers``) adds what needs storage:
the person's own data, the live deadline, and recording abstentions for HR.

* Confidence combines how much of the question's (idf-weighted) wording the best entry holds,
  how close the question is to one of the term sheet's own questions, and the BM25 margin; it
  is calibrated on the developer set (see ``bench/qa.py`` and ``offerbot eval``).
* The answer is the most relevant sentences of the best entry (a term-sheet answer is short
  enough to quote whole), at most :data:`MAX_CHARS` characters, cited as
  "id · title · p. N".
* Recommendation-seeking questions get the offer's own no-recommendation position (cited);
  any sentence that reads like a recommendation is dropped from every answer.
* Dates the offer state can change (the expiration after an extension, and the cancellation
  and new-grant dates that follow from it) get a note when the document's date no longer holds.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_instant
from knowledge.index import Index, Query, Vocabulary, tokens, words
from knowledge.intents import PERSONAL_INTENTS, detect_intent
from knowledge.parser import Entry, load_entries

__all__ = [
    "ABSTAIN_BELOW",
    "MAX_CHARS",
    "Answer",
    "KnowledgeBase",
    "Source",
    "answer",
    "build_knowledge_base",
    "knowledge_base",
    "live_date_notes",
]

MAX_CHARS = 900
# Calibrated on the tuning split of the developer set (see bench/qa.py).
ABSTAIN_BELOW = 0.36
UNKNOWN_WORD_FACTOR = 0.6
QUESTION_MATCH_OFFSET = 0.25
SECONDARY_PENALTY = 0.15
# a secondary document (the proxy statement) answers only when the question shares at least this
# many distinct concepts with the entry: one generic word ("can I get a *raise*") that happens to
# occur in the proxy's executive-pay or stock passages is not a topic the bot can answer
SECONDARY_MIN_CONCEPTS = 2
# … and one more when the asker speaks of themselves ("can I get a bonus this year"): the proxy
# is about executives and stockholders, not an employee's own pay or benefits
SECONDARY_FIRST_PERSON_EXTRA = 1
SECONDARY_THIN_FACTOR = 0.3
_FIRST_PERSON = frozenset({"i", "my", "me", "mine", "im", "ive", "id", "ill", "myself"})
RANK_PRIOR = {
    "question": 1.0,
    "section": 1.0,
    "risk": 1.0,
    "risks": 0.8,
    "cover": 0.85,
    "schedule": 1.0,
    "proxy": 0.75,
}
QUESTION_MATCH_WEIGHT = 0.3
# the action of a question ("can I *withdraw* …") must be in the entry, not only words that
# the question's other phrases brought in: an entry without it keeps this share of its score
ACTION_MISSING = 0.8
SAME_QUESTION = 0.85

# An answer must never read as a recommendation; the offer's "whether you should tender or not
# tender" is a statement of its position, not one.
RECOMMENDATION = re.compile(
    r"\b(you should|you ought to|i recommend|we recommend|i suggest|i advise|i'd|i would|"
    r"my advice is to|good idea to|it is wise to|it is wise)(\s+that)?(\s+you)?(\s+should)?"
    r"\s+(not\s+)?(tender|exchange|keep|participate|swap|hold|accept|decline)\b(?!\s+or not)",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    title: str
    pages: str

    def label(self) -> str:
        return f"{self.id} · {self.title} · p. {self.pages or 'n/a'}"

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "pages": self.pages}


@dataclass(frozen=True, slots=True)
class Answer:
    intent: str  # faq, grants, status, elect, withdraw, deadline, help, unknown
    kind: str  # answer, no_advice, abstain, personal, deadline, help, contacts
    text: str
    sources: tuple[Source, ...] = ()
    abstained: bool = False
    confidence: float = 0.0
    reason: str = ""  # abstentions: low_confidence, out_of_scope, tax_or_financial
    best_entry_id: str | None = None
    notes: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        """The ``offerbot ask --json`` shape."""
        return {
            "intent": self.intent,
            "answer": self.text,
            "sources": [s.as_json() for s in self.sources],
            "abstained": self.abstained,
            "confidence": round(self.confidence, 3),
        }


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    index: Index
    digest: str
    questions: tuple[Entry, ...] = field(default=())  # the term sheet's questions
    # per question: (entry id, lower-cased question, its terms, their idf mass)
    question_terms: tuple[tuple[str, str, frozenset[str], float], ...] = field(default=())

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.index.entries


def build_knowledge_base(entries: list[Entry], digest: str = "") -> KnowledgeBase:
    index = Index(entries, Vocabulary.load())
    questions = tuple(e for e in entries if e.kind == "question")
    question_terms = []
    for q in questions:
        terms = frozenset(tokens(q.question))
        mass = sum(index.idf.get(t, 0.0) for t in terms) or 1.0
        question_terms.append((q.id, " ".join(words(q.question)), terms, mass))
    return KnowledgeBase(index, digest, questions, tuple(question_terms))


def knowledge_base(offer_dir: Path) -> KnowledgeBase:
    """The offer folder's knowledge base, built once per process per document version."""
    offer_dir = Path(offer_dir).resolve()
    document, secondary = _documents(offer_dir)
    digest = hashlib.sha256()
    for name in (document, *secondary):
        path = offer_dir / name
        if path.is_file():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return _cached_knowledge_base(offer_dir, document, secondary, digest.hexdigest())


@lru_cache(maxsize=8)
def _cached_knowledge_base(
    offer_dir: Path, document: str, secondary: tuple[str, ...], digest: str
) -> KnowledgeBase:
    return build_knowledge_base(load_entries(offer_dir, document, secondary), digest)


def _documents(offer_dir: Path) -> tuple[str, tuple[str, ...]]:
    toml_path = offer_dir / "offer.toml"
    if not toml_path.is_file():
        return "offer.txt", ()
    data = tomllib.loads(toml_path.read_text(encoding="utf-8")).get("offer", {})
    return str(data.get("document", "offer.txt")), tuple(data.get("secondary_documents", ()))


# --- the use of it -------------------------------------------------------------------------


def answer(question: str, *, kb: KnowledgeBase, terms: OfferTerms) -> Answer:
    """Answer one question with the current offer terms (see the module docstring)."""
    intent = detect_intent(question)
    name = intent.name
    if name == "help":
        return Answer("help", "help", "", confidence=1.0)
    if name == "contacts":
        return Answer(
            "faq", "contacts", _contacts_text(terms), _contact_sources(kb), confidence=1.0
        )
    if name in PERSONAL_INTENTS:
        return Answer(name, "personal", _personal_text(name, terms), confidence=1.0)
    if name == "advice":
        return _no_advice(kb, terms)
    if name == "deadline":  # the passage that states the expiration, whatever the wording
        question = _DEADLINE_PROBE
    query = kb.index.query(question)
    sims = _question_similarity(question, query, kb)
    ranked = _rank(query, sims, kb)
    if name in {"out_of_scope", "tax_or_financial"}:
        return _abstain(terms, name, ranked[0].id if ranked else None, 0.0)
    if not ranked:
        return _abstain(terms, "low_confidence", None, 0.0)
    entry, confidence = ranked[0], _confidence(query, ranked[0], sims, kb)
    if name != "deadline" and confidence < ABSTAIN_BELOW:
        reason = "tax_or_financial" if _about_tax(query) else "low_confidence"
        return _abstain(terms, reason, entry.id, confidence)
    text = _compose(entry, query, kb)
    notes = live_date_notes(text, terms)
    sources = [_source(entry)]
    sources += [_source(e) for e in ranked[1:3] if e.family != entry.family][:1]
    return Answer(
        "deadline" if name == "deadline" else "faq",
        "deadline" if name == "deadline" else "answer",
        text,
        tuple(sources),
        confidence=max(confidence, 0.5) if name == "deadline" else confidence,
        best_entry_id=entry.id,
        notes=notes,
    )


_DEADLINE_PROBE = "When does the offer expire?"


def _source(entry: Entry) -> Source:
    title = entry.title if len(entry.title) <= 90 else entry.title[:88].rsplit(" ", 1)[0] + " …"
    return Source(entry.id, title, entry.pages)


# --- retrieval and confidence ---------------------------------------------------------------


def _retrieve(question: str, kb: KnowledgeBase) -> list[Entry]:
    query = kb.index.query(question)
    return _rank(query, _question_similarity(question, query, kb), kb)


def _rank(query: Query, sims: dict[str, float], kb: KnowledgeBase) -> list[Entry]:
    """Entries by BM25 (relative to the best), kind prior and closeness to a term-sheet question."""
    ranked = kb.index.rank(query)
    if not ranked:
        return []
    top = ranked[0][1]
    by_sim = sorted(sims.items(), key=lambda kv: -kv[1])
    same = (
        by_sim[0][0]
        if by_sim
        and by_sim[0][1] >= SAME_QUESTION
        and (len(by_sim) == 1 or by_sim[0][1] - by_sim[1][1] >= 0.05)
        else None
    )
    scored = []
    for entry, score, _ in ranked:
        s = score / top * RANK_PRIOR.get(entry.kind, 1.0)
        if query.action and not query.action & kb.index.entry_terms(entry.id):
            s *= ACTION_MISSING
        sim = sims.get(entry.id, 0.0)
        s += QUESTION_MATCH_WEIGHT * max(0.0, sim - 0.35)
        if entry.id == same:  # the asker's question is one of the term sheet's own
            s += 0.5
        scored.append((entry, s))
    scored.sort(key=lambda es: -es[1])
    return [e for e, _ in scored]


def _question_similarity(question: str, query: Query, kb: KnowledgeBase) -> dict[str, float]:
    """How close the question is to each term-sheet question (wording and weighted terms)."""
    sims = {}
    own = {t: kb.index.idf.get(t, 0.0) * w for t, w in query.terms.items()}
    own_mass = sum(own.get(t, 0.0) for t in query.own) + kb.index.max_idf * len(query.unknown)
    lowered = " ".join(query.surface)  # spellings written out, typos repaired
    for entry_id, q_text, q_terms, q_mass in kb.question_terms:
        shared = sum(w for t, w in own.items() if t in q_terms)
        dice = 2 * shared / (own_mass + q_mass) if own_mass else 0.0
        covered = min(1.0, shared / own_mass) if own_mass else 0.0
        ratio = fuzz.token_sort_ratio(lowered, q_text) / 100
        sims[entry_id] = max(0.5 * (dice + covered), ratio * 0.9)
    return sims


def _confidence(query: Query, best: Entry, sims: dict[str, float], kb: KnowledgeBase) -> float:
    if not query.own and not query.unknown:
        return 0.0
    coverage = kb.index.coverage(query, best)
    if query.unknown:  # words the offer never uses: likely a topic it does not cover
        coverage *= UNKNOWN_WORD_FACTOR
    qsim = max(sims.values()) if sims else 0.0
    confidence = max(coverage, qsim - QUESTION_MATCH_OFFSET)
    if best.source != "offer":  # a secondary document must match more clearly
        confidence -= SECONDARY_PENALTY
        if not _secondary_supported(query, best, kb):
            confidence *= SECONDARY_THIN_FACTOR
    return max(0.0, min(1.0, confidence))


def _secondary_supported(query: Query, entry: Entry, kb: KnowledgeBase) -> bool:
    """Whether a secondary-document entry shares enough distinct concepts with the question."""
    present = kb.index.entry_terms(entry.id)
    shared = sum(1 for _, alts in query.concepts if alts & present)
    needed = SECONDARY_MIN_CONCEPTS
    if _FIRST_PERSON & set(query.surface):
        needed += SECONDARY_FIRST_PERSON_EXTRA
    return shared >= needed


def _about_tax(query: Query) -> bool:
    return bool(set(query.surface) & {"tax", "taxes", "taxed", "taxable", "irs", "amt"})


# --- composing the answer -----------------------------------------------------------------

_ABBREVIATIONS = re.compile(
    r"(\b(U\.S|U\.K|a\.m|p\.m|Inc|No|Nos|Mr|Ms|Mrs|Dr|i\.e|e\.g|N\.W|D\.C|St|Co|Ltd|vs|etc|Ph)"
    r"|\b[A-Z])\.$"
)


def _sentences(text: str) -> list[tuple[int, str]]:
    """(paragraph number, sentence) pairs; list items stay whole."""
    result = []
    for p, paragraph in enumerate(text.split("\n\n")):
        pieces = re.split(r"(?<=[.?!;])\s+(?=[A-Z(\"$])", paragraph)
        merged: list[str] = []
        for piece in pieces:
            if merged and (_ABBREVIATIONS.search(merged[-1]) or merged[-1].endswith(";")):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        result += [(p, s.strip()) for s in merged if s.strip()]
    return result


def _sentence_score(sentence: str, query: Query, kb: KnowledgeBase) -> float:
    present = set(tokens(sentence))
    return sum(w * kb.index.idf.get(t, 0.0) for t, w in query.terms.items() if t in present)


def _compose(entry: Entry, query: Query, kb: KnowledgeBase, limit: int = MAX_CHARS) -> str:
    sentences = [(p, s) for p, s in _sentences(entry.text) if not RECOMMENDATION.search(s)]
    lead = f"{entry.question} " if entry.kind == "question" else ""
    budget = limit - len(lead)
    body = " ".join(s for _, s in sentences)
    if entry.kind == "question" and len(body) <= min(budget, 700):
        return _clip(lead + body, limit)
    scores = [_sentence_score(s, query, kb) for _, s in sentences]
    if not sentences:
        return _clip(lead + entry.text, limit)
    anchor = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    chosen = {anchor}
    if entry.kind == "question":
        chosen.add(0)  # the term sheet's direct answer ("Yes.", "No.")
    size = sum(len(sentences[i][1]) + 1 for i in chosen)
    # grow around the anchor while the neighbours help, then add other strong sentences
    lo, hi = anchor, anchor
    for _ in range(len(sentences)):
        options = []
        if lo - 1 >= 0:
            options.append(lo - 1)
        if hi + 1 < len(sentences):
            options.append(hi + 1)
        options = [i for i in options if scores[i] > 0 or len(sentences[i][1]) < 60]
        if not options:
            break
        nxt = max(options, key=lambda i: scores[i])
        if size + len(sentences[nxt][1]) + 1 > budget or scores[nxt] < 0.35 * scores[anchor]:
            break
        chosen.add(nxt)
        size += len(sentences[nxt][1]) + 1
        lo, hi = min(lo, nxt), max(hi, nxt)
    for i in sorted(chosen):  # "… deliver the Election Form to:" needs what follows
        if sentences[i][1].endswith(":") and i + 1 < len(sentences) and i + 1 not in chosen:
            chosen.add(i + 1)
            size += len(sentences[i + 1][1]) + 1
    for i in sorted(range(len(sentences)), key=lambda i: -scores[i]):
        if i in chosen or scores[i] < 0.6 * scores[anchor]:
            continue
        if size + len(sentences[i][1]) + 3 <= budget:
            chosen.add(i)
            size += len(sentences[i][1]) + 3
    parts: list[str] = []
    previous = None
    for i in sorted(chosen):
        if previous is not None and i != previous + 1:
            parts.append("…")
        parts.append(sentences[i][1])
        previous = i
    return _clip(lead + " ".join(parts), limit)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return (cut[: end + 1] if end > limit // 2 else cut.rsplit(" ", 1)[0]) + " …"


# --- fixed replies built from the offer's own terms ------------------------------------------


def _question_contacts(terms: OfferTerms) -> str:
    return " or ".join(
        f"{c.name}, {c.title} ({c.phone}, {c.email})" for c in terms.question_contacts
    )


def _contacts_text(terms: OfferTerms) -> str:
    hr = terms.hr_delivery
    channels = " or ".join("by hand" if c == "hand" else f"by {c}" for c in terms.election_channels)
    return (
        f"Signed forms go {channels} (e-mail is not accepted) to {hr.name}, {hr.department}, "
        f"{hr.organization}, {hr.street}, {hr.city}, {hr.region} {hr.postal_code} — phone "
        f"{hr.phone}, fax {hr.fax}.\n"
        f"Questions about the mechanics of the offer: {_question_contacts(terms)}.\n"
        "Questions about the financial or tax implications: your own financial and tax advisors."
    )


def _contact_sources(kb: KnowledgeBase) -> tuple[Source, ...]:
    ranked = _retrieve("to whom can I talk about questions; where to deliver the election form", kb)
    firsts = [next((e for e in ranked if e.kind == k), None) for k in ("question", "section")]
    return tuple(_source(e) for e in firsts if e is not None)


_PERSONAL = {
    "grants": "That is about your own option grants: ask 'grants' and I will list them, with "
    "which are eligible and why.",
    "status": "That is about your own election: I can look it up for a verified employee.",
    "elect": "Elections are made with a signed Election Form; I can prepare one for you.",
    "withdraw": "Withdrawals are made with a signed Notice to Withdraw; I can prepare one for you.",
}


def _personal_text(intent: str, terms: OfferTerms) -> str:
    return _PERSONAL[intent]


def _no_advice(kb: KnowledgeBase, terms: OfferTerms) -> Answer:
    """The offer's position: no recommendation by the company or its board (Q29; §3)."""
    probe = "does the company or its board make any recommendation whether to tender options"
    query = kb.index.query(probe)
    ranked = _retrieve(probe, kb)
    position = next((e for e in ranked if e.kind == "question"), ranked[0] if ranked else None)
    section = next((e for e in ranked if e.kind == "section"), None)
    risks = next((e for e in kb.entries if e.kind == "risks"), None)
    quoted = ""
    if position is not None:
        sentences = [s for _, s in _sentences(position.text) if not RECOMMENDATION.search(s)]
        scored = sorted(sentences, key=lambda s: -_sentence_score(s, query, kb))[:2]
        quoted = " ".join(s for s in sentences if s in scored)
    pointers = []
    if risks is not None:
        pointers.append(f"the offer's risks of participating (p. {risks.pages.split('-')[0]})")
    pointers += [
        "your own grants and what each would become (ask 'grants')",
        "the deadline (ask 'deadline')",
        "your own legal, financial and tax advisors",
    ]
    text = (
        "I can't tell you whether to tender; that decision is yours alone. "
        + (f"The offer says: “{quoted}” " if quoted else "")
        + f"Neither {terms.company_short_name} nor its Board of Directors makes any "
        "recommendation, and no one is authorized to make one on their behalf.\n"
        "What can help you decide: " + "; ".join(pointers) + "."
    )
    sources = tuple(_source(e) for e in (position, section, risks) if e is not None)
    return Answer(
        "faq",
        "no_advice",
        text,
        sources,
        confidence=1.0,
        best_entry_id=position.id if position else None,
    )


def _abstain(terms: OfferTerms, reason: str, best: str | None, confidence: float) -> Answer:
    hr = terms.hr_delivery
    if reason == "tax_or_financial":
        text = (
            "I can't answer that: the offer document does not cover your personal tax or "
            "financial situation, and it asks you to talk to your own legal, financial and tax "
            f"advisors. Questions about the mechanics of the offer: {_question_contacts(terms)}."
        )
    else:
        text = (
            "I don't know — the offer document doesn't answer that, and I won't guess. "
            f"Questions about the mechanics of the offer: {_question_contacts(terms)}. "
            "Questions about the financial or tax implications: your own financial and tax "
            f"advisors. Anything else (pay, benefits, your job): Human Resources ({hr.name}, "
            f"{hr.phone})."
        )
    return Answer(
        "unknown",
        "abstain",
        text,
        (),
        abstained=True,
        confidence=confidence,
        reason=reason,
        best_entry_id=best,
    )


# --- live dates ------------------------------------------------------------------------------


def _long_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def live_date_notes(text: str, terms: OfferTerms) -> tuple[str, ...]:
    """Notes for dates in ``text`` that the offer state has since changed (an extension)."""
    if not terms.is_extended:
        return ()
    zone = terms.deadline_zone
    printed = terms.with_expiration(terms.original_expiration)
    calendar = business_calendar(terms)
    notes = []
    original_day = terms.original_expiration.astimezone(zone).date()
    lowered = text.lower()  # the cover page and headings are in capitals
    if _long_date(original_day).lower() in lowered:
        notes.append(
            f"Update: the offer was extended; it now expires at "
            f"{format_instant(terms.expiration, zone)}. The document's date, "
            f"{format_instant(terms.original_expiration, zone)}, no longer holds."
        )
    for label, old, new in (
        ("cancellation date", cancellation_date(printed), cancellation_date(terms)),
        (
            "new option grant date",
            new_grant_date(printed, calendar),
            new_grant_date(terms, calendar),
        ),
    ):
        if old != new and _long_date(old).lower() in lowered:
            notes.append(
                f"After the extension the expected {label} is {_long_date(new)}; the document's "
                f"{_long_date(old)} no longer holds."
            )
    return tuple(notes)
