"""Answer a question from the offer: route it, compose a cited answer, or abstain; never advise.

:func:`answer` is pure: the knowledge base, the *current* offer terms and the question in, an
:class:`Answer` out. The service layer (``bot.services.questions.answers``) adds what needs storage:
the person's own data, the live deadline, and recording abstentions for HR.

* Explicit commands ("help", "grants", "tender G00002" …) are recognised exactly
  (``knowledge.intents``); everything else goes through the router trained on the offer's
  question bank (``knowledge.router``), which names one label with a calibrated probability.
* ``out_of_scope``, or a probability below the router's cross-validated threshold → abstain.
* ``advice`` → the offer's own no-recommendation position (Q29, §3), cited.
* ``personal:<intent>`` → the service answers from the person's own data, citing the offer's
  rule for what was asked (:func:`_rule_for`); ``smalltalk:<kind>`` → a short friendly reply,
  never filed for HR.
* An entry → the sentences of it that answer the question (``knowledge.compose``), cited as
  "id · title · p. N"; dates the offer state has changed (an extension) get a note.
* A message with several questions gets up to three answers, each with its citation.
"""

from __future__ import annotations

import hashlib
import re
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from bot.cache_files import default_cache_dir
from bot.domain.deadlines import business_calendar, cancellation_date, new_grant_date
from bot.domain.questions import PERSONAL_INTENTS, AnswerKind, Intent
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_instant
from knowledge.bank import ADVICE, OUT_OF_SCOPE, load_bank
from knowledge.compose import MAX_CHARS, RECOMMENDATION, compose, sentences
from knowledge.embedding import file_stamps, trust_checked_files
from knowledge.intents import command_of, split_questions
from knowledge.parser import Entry, load_entries
from knowledge.router import Router, Routing
from knowledge.snapshot import file_listing, read_snapshot, snapshot_stamp, write_snapshot

__all__ = [
    "MAX_CHARS",
    "RECOMMENDATION",
    "AbstentionReason",
    "Answer",
    "AnswerKind",
    "Intent",
    "KnowledgeBase",
    "Source",
    "answer",
    "build_knowledge_base",
    "default_cache_dir",
    "documents_of",
    "knowledge_base",
    "live_date_notes",
    "offer_entries",
]

# the term-sheet answer that states the expiration: answered with the live date in front
EXPIRATION_ENTRY = "Q20"
# the offer's rule for each request about one's own records, cited beside the person's answer
# (:func:`_rule_for`): which options are eligible (Q1, p. 1), how receipt is confirmed (§4,
# p. 16), how to tender (Q21, p. 5), how to withdraw (Q22, pp. 5-6)
PERSONAL_RULES = {"grants": "Q1", "status": "S4", "elect": "Q21", "withdraw": "Q22"}
# an entry the router ranks at least this high beside a personal label answers the question too
# ("I have 2,400 options at $9: how many new ones would I get?" → personal:grants and Q7):
# out of fold on the bank (3 fold seeds), of the entry-labelled lines the router decides as
# personal, the entry cited is right 61.7 % of the time with this floor (61.4 % at 0.05,
# 62.0 % at 0.01) against 36.4 % citing only the intent's rule; and of the personal lines,
# 4.5 % cite another entry than their intent's rule (8.3 % at 0.05, 19.4 % at 0.01)
RULE_CONTENDER = 0.1
PERSONAL_QUOTE_CHARS = 450
SENTENCE_EMBEDDING_WEIGHT = 0.5  # see KnowledgeBase.similarity
# questions whose features a process keeps (KnowledgeBase.similarity): one answer compares its
# question with each sentence of an entry, so a few suffice; at ~3 KB each, 20,000 would let a
# long-running bot grow by ~60 MB
_QUESTIONS_KEPT = 512
_TAX_WORDS = frozenset({"tax", "taxes", "taxed", "taxable", "irs", "amt", "cpa", "accountant"})


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    title: str
    pages: str
    document: str = "offer"  # "offer" or "proxy"

    def label(self) -> str:
        where = f"p. {self.pages}" if self.pages else "2003 proxy statement"
        return f"{self.id} · {self.title} · {where}"

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "pages": self.pages}


# Why knowledge abstained ("" when it did not): what HR sees in ``offerbot hr unanswered``.
AbstentionReason = Literal[
    "", "low_confidence", "out_of_scope", "tax_or_financial", "others_records"
]


@dataclass(frozen=True, slots=True)
class Answer:
    """Knowledge's one typed result for a message: what was asked (``intent``), how it is
    answered (``kind``), the text and its citations. The services decide from these fields
    and never from a dictionary; :meth:`payload` is the ``offerbot eval`` shape."""

    intent: Intent
    kind: AnswerKind
    text: str
    sources: tuple[Source, ...] = ()
    abstained: bool = False
    confidence: float = 0.0
    reason: AbstentionReason = ""
    best_entry_id: str | None = None
    notes: tuple[str, ...] = ()
    label: str = ""  # the router's label (or "command:<name>")
    # personal requests: the offer's sentences on what was asked, when the question is about an
    # entry's rule as much as about the person's records (:func:`_rule_for`); the services add
    # it to the person's own answer
    quote: str = ""

    def payload(self) -> dict[str, Any]:
        """The ``offerbot ask --json`` shape of the bare answer (the evaluation scores it)."""
        return {
            "intent": self.intent.value,
            "answer": self.text,
            "sources": [s.as_json() for s in self.sources],
            "abstained": self.abstained,
            "confidence": round(self.confidence, 3),
        }


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    entries: tuple[Entry, ...]
    router: Router
    digest: str = ""
    by_id: dict[str, Entry] = field(default_factory=dict)
    # the entries' sentences as :class:`_Features`: filled by :meth:`warm` or as entries are
    # first quoted, never emptied (1,020 sentences for the bundled offer, about 5 MB)
    _sentences: dict[str, _Features] = field(default_factory=dict)
    # the same for questions: emptied when it reaches :data:`_QUESTIONS_KEPT`
    _questions: dict[str, _Features] = field(default_factory=dict)

    def entry(self, entry_id: str) -> Entry | None:
        return self.by_id.get(entry_id)

    def similarity(self, question: str, sentence: str) -> float:
        """How well ``sentence`` answers ``question``, for choosing what an answer quotes: the
        cosine in the router's TF-IDF space plus half the sentence embedding's cosine. TF-IDF
        alone favours sentences that share many words with any part of the question; with the
        embedding, the sentence a bank question was written from was kept 161 times in 216
        instead of 147 for the sections' fact questions (160 at weights 0.3 and 0.7 alike, so
        the exact weight does not matter), 80 against 81 in 105 for the risks' — 241 against
        228 in all (``knowledge.compose``)."""
        if len(self._questions) >= _QUESTIONS_KEPT:  # a long-running bot forgets old questions
            self._questions.clear()
        q = self._features(question, self._questions)
        s = self._features(sentence, self._sentences)
        _common, left, right = np.intersect1d(
            q.columns, s.columns, assume_unique=True, return_indices=True
        )
        score = float(q.values[left] @ s.values[right])
        if q.embedded is None or s.embedded is None:  # the embedding is not installed
            return score
        return score + SENTENCE_EMBEDDING_WEIGHT * float(q.embedded @ s.embedded)

    def _features(self, text: str, cache: dict[str, _Features]) -> _Features:
        found = cache.get(text)
        if found is None:
            [found] = self._prepare([text])
            cache[text] = found
        return found

    def _prepare(self, texts: Sequence[str]) -> list[_Features]:
        """The texts' features, their embeddings computed in one batch."""
        neighbours = self.router.neighbours
        embedded = None if neighbours is None or not texts else neighbours.embedder.embed(texts)
        return [
            _Features.of(self.router.vector(text), None if embedded is None else embedded[row])
            for row, text in enumerate(texts)
        ]

    def warm(self, entries: Sequence[Entry] | None = None) -> int:
        """Prepare every sentence an answer can quote (of ``entries``, by default all), so that
        no employee's question pays for an entry's first quote: 10–40 ms for a long section,
        about 0.45 s for all 1,020 sentences of the bundled offer on this 2-core machine. The
        worker of ``offerbot serve``, ``run`` and ``worker`` calls it at start, entry by entry
        in a thread; ``ask`` does not (one question quotes one entry). Returns how many
        sentences were prepared."""
        chosen = self.entries if entries is None else entries
        todo = sorted({s for e in chosen for s in sentences(e.text)} - self._sentences.keys())
        self._sentences.update(zip(todo, self._prepare(todo), strict=True))
        return len(todo)


@dataclass(frozen=True, slots=True)
class _Features:
    """A text as :meth:`KnowledgeBase.similarity` compares it: its TF-IDF vector in the
    router's space as two numpy arrays, scaled to unit length (40 bytes per column where the
    router's lists of Python numbers take about 140: 48 MB for the bundled offer's sentences
    that way), and its sentence embedding (None without the embedding)."""

    columns: npt.NDArray[np.int32]
    values: npt.NDArray[np.float64]
    embedded: npt.NDArray[np.float32] | None

    @classmethod
    def of(cls, vector: tuple[list[int], list[float]], embedded: Any) -> _Features:
        values = np.asarray(vector[1], dtype=np.float64)
        norm = float(np.sqrt(values @ values)) or 1.0
        return cls(np.asarray(vector[0], dtype=np.int32), values / norm, embedded)


def build_knowledge_base(
    entries: list[Entry],
    digest: str = "",
    *,
    offer_dir: Path | None = None,
    documents: tuple[Path, ...] = (),
    cache_dir: Path | None = None,
) -> KnowledgeBase:
    """The entries and the router trained on the offer folder's bank (cached on disk)."""
    from knowledge.offer_terms import bundled_offer_dir
    from knowledge.training import load_router  # the training code: only off the snapshot path

    folder = offer_dir or bundled_offer_dir()
    bank = load_bank(folder)
    router = load_router(bank, entries, documents, cache_dir=cache_dir)
    return KnowledgeBase(tuple(entries), router, digest, {e.id: e for e in entries})


# How long a loaded knowledge base is used before its files are looked at again (seconds).
KB_RECHECK_SECONDS = 1.0
# (offer folder as given, cache dir) → (knowledge base, files' signature, when last checked)
_LOADED: dict[tuple[Path, Path | None], tuple[KnowledgeBase, tuple[Any, ...], float]] = {}


def knowledge_base(offer_dir: Path, cache_dir: Path | None = None) -> KnowledgeBase:
    """The offer folder's knowledge base, loaded once per process and rebuilt when its files
    change.

    Why the files and not a version on the stored offer state: the knowledge base is made of
    the offer documents and the question bank only; what the database changes (the expiration
    after an extension) reaches :func:`answer` as ``terms`` on every call. The files' names,
    sizes and modification times are looked at (a directory listing, no parsing, no hashing)
    at most once every :data:`KB_RECHECK_SECONDS`, so a question costs a dictionary lookup and
    an edited bank or document is picked up within a second by a running process.
    """
    key = (offer_dir, cache_dir)
    loaded = _LOADED.get(key)
    now = time.monotonic()
    if loaded is not None and now - loaded[2] < KB_RECHECK_SECONDS:
        return loaded[0]
    folder = Path(offer_dir).resolve()
    signature = _files_signature(folder)
    if loaded is not None and loaded[1] == signature:
        _LOADED[key] = (loaded[0], signature, now)
        return loaded[0]
    document, secondary = documents_of(folder)
    digest = hashlib.sha256()
    files = [folder / name for name in (document, *secondary)]
    files += sorted((folder / "questions").glob("*.txt"))
    for path in files:
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    kb = _cached_knowledge_base(
        folder, document, secondary, digest.hexdigest(), cache_dir or default_cache_dir()
    )
    _LOADED[key] = (kb, signature, now)
    return kb


def _files_signature(folder: Path) -> tuple[Any, ...]:
    """(name, size, mtime) of every file in the offer folder and its ``questions`` folder."""
    return tuple(sorted([*file_listing(folder), *file_listing(folder / "questions")]))


@lru_cache(maxsize=8)
def _cached_knowledge_base(
    offer_dir: Path, document: str, secondary: tuple[str, ...], digest: str, cache_dir: Path
) -> KnowledgeBase:
    """From the snapshot a previous process left (``knowledge.snapshot``: entries and router
    file, checked by file sizes and times), else parsed and trained — and snapshotted."""
    stamp = snapshot_stamp(offer_dir, cache_dir)
    snapshot = read_snapshot(offer_dir, cache_dir, stamp=stamp)
    if snapshot is not None and snapshot.digest == digest:
        trust_checked_files(file_stamps())  # they are in the stamp that matched
        router = Router.load(snapshot.router_path, key=snapshot.router_key)
        if router is not None:
            entries = snapshot.entries
            return KnowledgeBase(tuple(entries), router, digest, {e.id: e for e in entries})
    from knowledge.training import router_path

    documents = tuple(offer_dir / name for name in (document, *secondary))
    kb = build_knowledge_base(
        load_entries(offer_dir, document, secondary),
        digest,
        offer_dir=offer_dir,
        documents=documents,
        cache_dir=cache_dir,
    )
    write_snapshot(
        offer_dir,
        cache_dir,
        stamp=stamp,
        entries=kb.entries,
        digest=digest,
        router_path=router_path(cache_dir, kb.router.key),
        router_key=kb.router.key,
    )
    return kb


def offer_entries(offer_dir: Path) -> list[Entry]:
    """The entries of the offer folder's document and its secondary documents (no router)."""
    document, secondary = documents_of(offer_dir)
    return load_entries(offer_dir, document, secondary)


def documents_of(offer_dir: Path) -> tuple[str, tuple[str, ...]]:
    toml_path = offer_dir / "offer.toml"
    if not toml_path.is_file():
        return "offer.txt", ()
    data = tomllib.loads(toml_path.read_text(encoding="utf-8")).get("offer", {})
    return str(data.get("document", "offer.txt")), tuple(data.get("secondary_documents", ()))


# --- the use of it -------------------------------------------------------------------------


def answer(question: str, *, kb: KnowledgeBase, terms: OfferTerms) -> Answer:
    """Answer one message with the current offer terms (see the module docstring)."""
    command = command_of(question)
    if command is not None:
        return _command(command, kb, terms)
    parts = split_questions(question)
    whole = kb.router.route(question)
    if len(parts) > 1:
        several = _several(parts, whole, kb, terms)
        if several is not None:
            return several
    return _routed(question, whole, kb, terms)


def _command(command: str, kb: KnowledgeBase, terms: OfferTerms) -> Answer:
    label = f"command:{command}"
    if command == "help":
        return Answer(Intent.HELP, AnswerKind.HELP, "", confidence=1.0, label=label)
    if command == "contacts":
        return Answer(
            Intent.FAQ,
            AnswerKind.CONTACTS,
            _contacts_text(terms),
            _contact_sources(kb),
            confidence=1.0,
            label=label,
        )
    if command == "deadline":
        return _deadline(kb, terms, "", 1.0, label)
    return Answer(
        Intent(command),
        AnswerKind.PERSONAL,
        _personal_text(command, terms),
        confidence=1.0,
        label=label,
    )


def _routed(
    question: str,
    routing: Routing,
    kb: KnowledgeBase,
    terms: OfferTerms,
    *,
    limit: int = MAX_CHARS,
) -> Answer:
    label, p = routing.label, routing.probability
    best_entry = next((lab for lab, _ in routing.ranked if lab in kb.by_id), None)
    strange = not label.startswith("smalltalk:") and len(kb.router.unknown_words(question)) >= 2
    if _about_others(question, routing, kb):
        return _abstain(terms, "others_records", best_entry, p, label)
    if (
        label == OUT_OF_SCOPE
        or p < kb.router.threshold
        or strange
        or kb.router.thinly_covered(question, label, p)  # asks what its entry never states
    ):
        reason: AbstentionReason = "out_of_scope" if label == OUT_OF_SCOPE else "low_confidence"
        if _TAX_WORDS & set(re.findall(r"[a-z]+", question.lower())):
            reason = "tax_or_financial"
        return _abstain(terms, reason, best_entry, p, label)
    if label == ADVICE:
        return _no_advice(kb, terms, p)
    if label.startswith("personal:"):
        intent = label.split(":", 1)[1]
        if intent == "help":
            return Answer(Intent.HELP, AnswerKind.HELP, "", confidence=p, label=label)
        if intent == "deadline":
            return _deadline(kb, terms, question, p, label, limit=limit)
        return _personal(intent, question, routing, kb, terms, label)
    if label.startswith("smalltalk:"):
        kind = label.split(":", 1)[1]
        if kind == "capabilities":
            return Answer(Intent.HELP, AnswerKind.HELP, "", confidence=p, label=label)
        return Answer(
            Intent.SMALLTALK,
            AnswerKind.SMALLTALK,
            _smalltalk(kind, terms),
            confidence=p,
            label=label,
        )
    entry = kb.entry(label)
    if entry is None:  # a bank label the documents no longer have: never guess
        return _abstain(terms, "low_confidence", None, p, label)
    if entry.id == EXPIRATION_ENTRY:  # "when does it close?": lead with the live expiration
        deadline = _deadline(kb, terms, question, p, label, limit=limit)
        return replace(deadline, intent=Intent.FAQ, kind=AnswerKind.ANSWER)
    text = compose(entry, question, kb.similarity, limit)
    if len(text) < 40 and entry.question:  # "No." says nothing without what it answers
        text = f"{text} (The offer's answer to “{entry.question}”)"
    sources = [_source(entry)]
    for other, q in routing.ranked[1:3]:
        related = kb.entry(other)
        if related is not None and related.family != entry.family and q >= p / 3:
            sources.append(_source(related))
            break
    return Answer(
        Intent.FAQ,
        AnswerKind.ANSWER,
        text,
        tuple(sources),
        confidence=p,
        best_entry_id=entry.id,
        notes=live_date_notes(text, terms),
        label=label,
    )


def _several(
    parts: list[str], whole: Routing, kb: KnowledgeBase, terms: OfferTerms
) -> Answer | None:
    """Up to three questions in one message, each answered and cited — when at least two of
    them are clearly different questions for the document (or the deadline), and the split
    looks real: the router is surer of each of them than of the whole message, or the whole
    message's label is one of theirs — and the whole is not a request for advice or for the
    person's own records, which one reply covers. A part the document does not answer says
    so. The citation the whole message would get comes first.

    Why the condition: the split happens at a question mark or at "and how/what/when…", and
    many single questions have one ("who's richard donnelly? wasnt he at GM", "how to tender??
    fax or email"): a fragment loses the context that placed the whole. Out of fold on the
    bank of 8,665, on its 200 lines that split (each labelled with the one entry its writer
    meant), with fold seeds 0 and 1: the message's entry came first 154 and 158 times when
    every split with two different parts was answered part by part, 164 and 164 never
    splitting, 164 and 164 with these conditions and that order — still answering 50 and 60
    of them part by part (``bench/split_questions.py``). Two real questions make the whole a
    mixture the router is less sure of than of either part, or it picks one of them."""
    routings = [kb.router.route(part) for part in parts]
    answerable = [
        r.probability >= kb.router.threshold
        and (r.label in kb.by_id or r.label in (ADVICE, "personal:deadline"))
        and not kb.router.thinly_covered(part, r.label, r.probability)
        for part, r in zip(parts, routings, strict=True)
    ]
    labels = {r.label for r, ok in zip(routings, answerable, strict=True) if ok}
    if sum(answerable) < 2 or len(labels) < 2:
        return None
    surer = all(
        r.probability > whole.probability for r, ok in zip(routings, answerable, strict=True) if ok
    )
    if not surer and whole.label not in labels:
        return None
    if whole.label == ADVICE or whole.label.startswith("personal:"):
        # one request ("was that dumb? should I re-tender", "am I on time if I fax Thursday?
        # Best, Anna"): the refusal to advise, or the person's own answer, covers it
        return None
    budget = MAX_CHARS // len(parts) + 150  # the whole reply stays readable
    answers = [
        _routed(part, r, kb, terms, limit=budget) if ok else None
        for part, r, ok in zip(parts, routings, answerable, strict=True)
    ]
    blocks = []
    for n, (part, one) in enumerate(zip(parts, answers, strict=True), 1):
        asked = f"{n}. “{part.rstrip('?')}?”"
        if one is None:
            blocks.append(f"{asked} The offer document doesn't answer that; ask HR.")
            continue
        cite = f" ({one.sources[0].label()})" if one.sources else ""
        blocks.append(f"{asked} {one.text}{cite}")
    given = [a for a in answers if a is not None]
    # the whole message's entry is cited first, the others in the message's order
    cited = sorted(given, key=lambda a: a.label != whole.label)
    sources: list[Source] = []
    for one in cited:
        sources += [s for s in one.sources[:1] if s not in sources]
    return Answer(
        Intent.FAQ,
        AnswerKind.ANSWER,
        "\n\n".join(blocks),
        tuple(sources),
        confidence=min(a.confidence for a in given),
        best_entry_id=cited[0].best_entry_id,
        notes=tuple(n for a in given for n in a.notes),
        label="several:" + ",".join(a.label for a in given),
    )


def _deadline(
    kb: KnowledgeBase,
    terms: OfferTerms,
    question: str,
    p: float,
    label: str,
    *,
    limit: int = MAX_CHARS,
) -> Answer:
    """When the offer expires: the term sheet's answer (Q20) with the live expiration."""
    entry = kb.entry(EXPIRATION_ENTRY) or next((e for e in kb.entries if e.kind == "cover"), None)
    zone = terms.deadline_zone
    live = f"The offer expires at {format_instant(terms.expiration, zone)}" + (
        " (extended)." if terms.is_extended else "."
    )
    if entry is None:
        return Answer(Intent.DEADLINE, AnswerKind.DEADLINE, live, confidence=p, label=label)
    quoted = compose(entry, question or "when does the offer expire", kb.similarity, limit)
    return Answer(
        Intent.DEADLINE,
        AnswerKind.DEADLINE,
        f"{live} {quoted}",
        (_source(entry),),
        confidence=p,
        best_entry_id=entry.id,
        notes=live_date_notes(quoted, terms),
        label=label,
    )


def _source(entry: Entry) -> Source:
    title = entry.title if len(entry.title) <= 90 else entry.title[:88].rsplit(" ", 1)[0] + " …"
    return Source(entry.id, title, entry.pages, entry.source)


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
    """Who answers questions (the term sheet's Q30) and where forms go (§4)."""
    return tuple(_source(e) for e in (kb.entry("Q30"), kb.entry("S4")) if e is not None)


_PERSONAL = {
    "grants": "That is about your own option grants: ask 'grants' and I will list them, with "
    "which are eligible and why.",
    "status": "That is about your own election: I can look it up for a verified employee.",
    "elect": "Elections are made with a signed Election Form; I can prepare one for you.",
    "withdraw": "Withdrawals are made with a signed Notice to Withdraw; I can prepare one for you.",
}


def _personal_text(intent: str, terms: OfferTerms) -> str:
    return _PERSONAL[intent]


def _rule_for(intent: str, routing: Routing, kb: KnowledgeBase) -> tuple[Entry | None, bool]:
    """The entry a personal answer cites, and whether the question asked about it: an entry
    the router ranks at :data:`RULE_CONTENDER` or more (the message asks the offer's rule for
    the person's situation as much as for their records), else the intent's rule
    (:data:`PERSONAL_RULES`). Everything a person reads about their own grants or election
    then says where the offer states the rule; a question the router took for a request
    about one's records still gets the offer's answer."""
    contender = next(
        (lab for lab, q in routing.ranked if q >= RULE_CONTENDER and lab in kb.by_id), None
    )
    if contender is not None:
        return kb.by_id[contender], True
    return kb.entry(PERSONAL_RULES.get(intent, "")), False


def _personal(
    intent: str, question: str, routing: Routing, kb: KnowledgeBase, terms: OfferTerms, label: str
) -> Answer:
    """A request about one's own records: where to find them, the offer's rule cited — and
    quoted when the question asked about it (the intent's own rule is only cited: a few
    sentences of a long section chosen for "show me my grants" would say little)."""
    text = _personal_text(intent, terms)
    rule, asked = _rule_for(intent, routing, kb)
    sources = (_source(rule),) if rule is not None else ()
    quote = compose(rule, question, kb.similarity, PERSONAL_QUOTE_CHARS) if rule and asked else ""
    return Answer(
        Intent(intent),
        AnswerKind.PERSONAL,
        f"{text}\n\nWhat the offer says: {quote}" if quote else text,
        sources,
        confidence=routing.probability,
        notes=live_date_notes(quote, terms) if quote else (),
        label=label,
        quote=quote,
    )


def _smalltalk(kind: str, terms: OfferTerms) -> str:
    company = terms.company_short_name
    expires = format_instant(terms.expiration, terms.deadline_zone)
    replies = {
        "greeting": f"Hello! I answer questions about {company}'s offer to exchange options, "
        "from the offer document and with the page to check. Ask in your own words, or type "
        "'help' to see what else I can do.",
        "thanks": "You're welcome. If anything else about the offer is unclear, just ask.",
        "goodbye": f"Goodbye! A reminder: the offer expires at {expires}; a signed form must "
        "reach HR by fax or by hand before then.",
        "identity": f"I'm offerbot, an automated assistant for {company}'s offer to exchange "
        "options — not a person. I answer from the offer document and cite the page, show "
        "your own grants and deadline, and prepare your forms for signature. I never "
        "recommend whether to tender; for anything I can't answer I point you to HR.",
        "unclear": "I'm not sure what you'd like to know. Ask me about the offer in your own "
        "words — when it expires, which of your options are eligible, how to tender or "
        "withdraw — or type 'help' to see everything I can do.",
    }
    return replies.get(kind, replies["greeting"])


def _no_advice(kb: KnowledgeBase, terms: OfferTerms, confidence: float = 1.0) -> Answer:
    """The offer's position: no recommendation by the company or its board (Q29; §3)."""
    position = kb.entry("Q29")
    section = kb.entry("S3")
    risks = next((e for e in kb.entries if e.kind == "risks"), None)
    quoted = ""
    if position is not None:
        kept = [s for s in sentences(position.text) if not RECOMMENDATION.search(s)]
        quoted = " ".join(s for s in kept if "recommend" in s.lower())
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
        Intent.FAQ,
        AnswerKind.NO_ADVICE,
        text,
        sources,
        confidence=confidence,
        best_entry_id=position.id if position else None,
        label=ADVICE,
    )


# "my manager's grants", "did my husband's election get recorded", "what are her options":
# the router reads these as the person's own request (word features do not see whose records
# are meant, and more bank lines did not teach it: bank round five). Answering would show the
# asker's own grants as if they were the other person's; the bot shows and records only the
# asker's, so it says so.
_SOMEONE_ELSES = re.compile(
    r"\b(?:(?:my|our)\s+(?:manager|boss|supervisor|wife|husband|spouse|partner|colleague|"
    r"co-?worker|friend|mom|mother|dad|father|son|daughter|brother|sister|teammates?|"
    r"reports?|assistant)(?:['’]s|s['’])?|his|her|someone\s+else['’]s|somebody\s+else['’]s|"
    r"other\s+people['’]s|another\s+employee['’]s)"
    r"(?:\s+\w+){0,2}\s+(?:grants?|options?|elections?|forms?|shares|status|paperwork)\b",
    re.I,
)


_RECORDS = frozenset(f"personal:{intent.value}" for intent in PERSONAL_INTENTS)


def _about_others(question: str, routing: Routing, kb: KnowledgeBase) -> bool:
    """A request for someone else's grants or election ("what are his options", "check my
    wife's election form"): the router takes it for a request about one's records — or finds it
    as near out of scope, since the bank has both — and the words name another person's."""
    if not _SOMEONE_ELSES.search(question):
        return False
    if routing.label in _RECORDS:
        return True
    return routing.label == OUT_OF_SCOPE and any(
        label in _RECORDS and q >= kb.router.threshold for label, q in routing.ranked[:3]
    )


def _abstain(
    terms: OfferTerms,
    reason: AbstentionReason,
    best: str | None,
    confidence: float,
    label: str = "",
) -> Answer:
    hr = terms.hr_delivery
    if reason == "others_records":
        text = (
            "I can only show and record your own grants and forms, and only to you. Someone "
            "else can ask me for theirs, or ask Human Resources "
            f"({hr.name}, {hr.phone})."
        )
    elif reason == "tax_or_financial":
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
        Intent.UNKNOWN,
        AnswerKind.ABSTAIN,
        text,
        (),
        abstained=True,
        confidence=confidence,
        reason=reason,
        best_entry_id=best,
        label=label,
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
