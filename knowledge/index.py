"""Lexical retrieval over offer entries: BM25 with field boosts, domain vocabulary, typo repair.

Pieces, in the order a question meets them:

* :func:`tokens` — lower-case words with a light suffix stemmer, money and hyphen forms
  normalised ("$2.00" → "2", "non-statutory" → "non-statutory", "non", "statutory");
* :class:`Vocabulary` — ``vocabulary.toml`` groups: "ISO" also asks for "incentive stock option";
* typo repair — a word the index has never seen is replaced by its closest index word
  (rapidfuzz), so "withdrawl" still finds "withdraw";
* :class:`Index` — passages (paragraph groups of one entry) scored by BM25F over title and text,
  plus a question field for the term sheet's questions; an entry scores as its best passage.

:class:`Index` also exposes the plain BM25 baseline (entries as whole documents, no vocabulary,
no typo repair) that ``bench/qa.py`` runs side by side.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from knowledge.parser import Entry

__all__ = ["Index", "Passage", "Query", "Vocabulary", "stem", "tokens", "words"]

STOPWORDS = frozenset(
    """
    a about above after again all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours yourself s t d ll m re ve y im ive id dont doesnt didnt
    cant wont isnt arent wasnt hey hi hello thanks thank please pls quick question questions q
    know tell get got go goes going gonna want wanna like just ok okay so say also again
    anything something thing things maybe really actually still even ever whats whos wheres
    hows theres thats us let lets mine whatll wouldnt couldnt shouldnt youre theyre weve ill
    hasnt havent werent simply people folks guys basically exactly whenever ahead scenario
    scenarios stuff anyone someone somebody kind sort bit lot lots etc able sure guess
    wondering wonder curious many much different difference differ explain mean means meaning
    behind regarding concerning re via rest gets getting gotten put puts putting whole
    honestly literally just basically anyway anyways though tho
    """.split()  # noqa: SIM905 - a word list reads best as words
)
# Words that carry meaning in this domain although short or common.
_KEEP = frozenset({"no", "not", "all", "none", "new", "old", "why", "when", "who", "how"})

_WORD = re.compile(r"\$?[a-z0-9]+(?:[.,'’/-][a-z0-9]+)*")

# How much an asker's word weighs (1.0 = fully) when a vocabulary phrase has translated it into
# the document's words, when the vocabulary lists it as generic ("program", "offer"), and when
# it is the action of the question ("can I *withdraw* …").
CONSUMED_WEIGHT = 0.35
GENERIC_WEIGHT = 0.3
ACTION_WEIGHT = 1.5
# coverage is measured over the question's strongest concepts, so that a long, chatty question
# is not diluted by its filler
COVERAGE_TOP_K = 6
_SUBJECTS = frozenset({"i", "we", "im", "ive", "id", "ill"})


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light, consistent suffix stemmer (the same on questions and document)."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, repl in (("ibility", "ible"), ("ability", "able"), ("ational", "ate")):
        if word.endswith(suffix):
            word = word[: -len(suffix)] + repl
            break
    for suffix in (
        "ations",
        "ation",
        "ments",
        "ment",
        "ings",
        "ing",
        "ies",
        "als",
        "al",
        "ed",
        "es",
        "s",
    ):
        if suffix in ("als", "al") and len(word) - len(suffix) < 6:
            continue
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                continue
            if suffix == "es" and not word.endswith(("ses", "xes", "ches", "shes", "zes")):
                word = word[:-1]  # "shares" → "share"; the "e" goes below
                break
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    if word.endswith("ate") and len(word) > 6:
        word = word[:-3]
    elif word.endswith("e") and len(word) > 4:
        word = word[:-1]
    elif word.endswith("ly") and len(word) > 5:
        word = word[:-2]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "saeiou":
        word = word[:-1]  # "cancell" → "cancel", "submitt" → "submit"
    return word


def words(text: str) -> list[str]:
    """Lower-cased surface words (money as "$2", "$1.40"; hyphenated kept whole)."""
    out = []
    text = re.sub(r"(\d+)\((\w)\)", r"\1\2", text.lower().replace("’", "'"))  # 401(k) → 401k
    for raw in _WORD.findall(text):
        word = raw.rstrip(".,'/-")
        if word.endswith("'s"):
            word = word[:-2]
        word = word.replace("'", "")
        if word.startswith("$") or re.fullmatch(r"\d+\.\d\d", word):
            word = "$" + word.lstrip("$")
            word = re.sub(r"\.00$", "", word)
        out.append(word)
    return out


def tokens(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Index terms: stems of content words; hyphenated words also give their parts."""
    out: list[str] = []
    for word in words(text):
        if not keep_stopwords and word in STOPWORDS and word not in _KEEP:
            continue
        if "-" in word and not word[0].isdigit():
            parts = [p for p in word.split("-") if p]
            out.append(stem(word.replace("-", "")))
            out += [stem(p) for p in parts if len(p) > 2 and p not in STOPWORDS]
        else:
            out.append(stem(word))
    return out


@dataclass(frozen=True, slots=True)
class _Group:
    when: tuple[tuple[str, ...], ...]  # phrases as word tuples
    add: tuple[str, ...]  # stems
    weight: float
    # whether a phrase's own words weigh less once it fires (None: multi-word phrases only)
    consume: bool | None = None

    def consumes(self, phrase: tuple[str, ...]) -> bool:
        return len(phrase) > 1 if self.consume is None else self.consume


class Vocabulary:
    """Domain synonym groups from ``vocabulary.toml``."""

    def __init__(
        self,
        groups: Sequence[_Group],
        generic: Iterable[str] = (),
        generic_weight: float = GENERIC_WEIGHT,
        spelling: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.groups = tuple(groups)
        self.generic = frozenset(generic)  # stems of words that say little about the topic
        self.generic_weight = generic_weight
        # chat spellings and abbreviations ("opts", "ppl", "w/") → the words they stand for
        self.spelling = dict(spelling or {})

    def normalize(self, surface: Sequence[str]) -> tuple[str, ...]:
        """Surface words with chat spellings written out ("new opts" → "new options")."""
        if not self.spelling:
            return tuple(surface)
        out: list[str] = []
        for word in surface:
            out += self.spelling.get(word, (word,))
        return tuple(out)

    @classmethod
    def load(cls, path: Path | None = None) -> Vocabulary:
        if path is None:
            raw = (resources.files("knowledge") / "vocabulary.toml").read_text(encoding="utf-8")
        else:
            raw = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw)
        groups = [
            _Group(
                when=tuple(tuple(words(w)) for w in g["when"] if words(w)),
                add=tuple(tokens(g["add"])),
                weight=float(g.get("weight", 0.6)),
                consume=g.get("consume"),
            )
            for g in data.get("group", [])
        ]
        generic = data.get("generic", {})
        stems = {t for w in generic.get("words", ()) for t in tokens(w)}
        spelling = {
            w: tuple(words(v))
            for key, v in data.get("spelling", {}).items()
            for w in words(key)[:1]
            if words(v)
        }
        return cls(groups, stems, float(generic.get("weight", GENERIC_WEIGHT)), spelling)

    def expand(self, surface: Sequence[str]) -> dict[str, float]:
        """Extra query terms (stem → weight) for the phrases found among ``surface`` words."""
        return self.expand_by_word(surface)[0]

    def expand_by_word(
        self, surface: Sequence[str]
    ) -> tuple[dict[str, float], dict[str, set[str]]]:
        """Extra terms, and for each surface word the synonym stems its phrases brought in."""
        extra, by_word, _ = self.expand_full(surface)
        return extra, by_word

    def expand_full(
        self, surface: Sequence[str]
    ) -> tuple[dict[str, float], dict[str, set[str]], set[str]]:
        """As :meth:`expand_by_word`, plus the surface words that consuming phrases used up."""
        extra: dict[str, float] = {}
        by_word: dict[str, set[str]] = defaultdict(set)
        consumed: set[str] = set()
        padded = tuple(surface)
        for group in self.groups:
            found = [phrase for phrase in group.when if _contains(padded, phrase)]
            if not found:
                continue
            for term in group.add:
                extra[term] = max(extra.get(term, 0.0), group.weight)
            for phrase in found:
                for word in phrase:
                    by_word[word].update(group.add)
                if group.consumes(phrase):
                    consumed.update(phrase)
        return extra, by_word, consumed


# a phrase still matches with up to this many filler words between two of its words
# ("call the whole thing off" has "call … off")
PHRASE_GAP = 2


def _contains(seq: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    if n == 1:
        return phrase[0] in seq
    for start in range(len(seq) - n + 1):
        if seq[start] != phrase[0]:
            continue
        i = start + 1
        for word in phrase[1:]:
            gap = 0
            while i < len(seq) and seq[i] != word and gap < PHRASE_GAP and _filler(seq[i]):
                i, gap = i + 1, gap + 1
            if i >= len(seq) or seq[i] != word:
                break
            i += 1
        else:
            return True
    return False


def _filler(word: str) -> bool:
    return word in STOPWORDS and word not in _KEEP


@dataclass(frozen=True, slots=True)
class Passage:
    entry: Entry
    text: str
    number: int  # position within the entry


@dataclass(frozen=True, slots=True)
class Query:
    """A question as the index sees it: weighted terms, and which were the asker's own."""

    text: str
    terms: dict[str, float]  # stem → weight
    own: frozenset[str]  # stems the asker typed (after typo repair)
    unknown: tuple[str, ...]  # content words the index does not know at all
    surface: tuple[str, ...]  # lower-cased words as typed
    # one per content word: (weight, stems that express it: its own and its synonyms)
    concepts: tuple[tuple[float, frozenset[str]], ...] = ()
    action: frozenset[str] = frozenset()  # stems of the question's action word and synonyms


_TITLE_BOOST = 2.0
_QUESTION_BOOST = 1.5
_K1, _B = 1.2, 0.75


class Index:
    """BM25F over passages; built once per document (``knowledge.answerer.knowledge_base``)."""

    def __init__(self, entries: Sequence[Entry], vocabulary: Vocabulary | None = None) -> None:
        self.entries = tuple(entries)
        self.by_id = {e.id: e for e in self.entries}
        self.vocabulary = vocabulary or Vocabulary(())
        self.passages: list[Passage] = []
        for entry in self.entries:
            for number, chunk in enumerate(_chunks(entry.text)):
                self.passages.append(Passage(entry, chunk, number))
        self._tf: list[dict[str, float]] = []
        lengths = []
        df: Counter[str] = Counter()
        for passage in self.passages:
            tf: dict[str, float] = defaultdict(float)
            for t in tokens(passage.text):
                tf[t] += 1.0
            title = tokens(passage.entry.title)
            boost = _TITLE_BOOST if len(title) <= 10 else 1.0  # a risk heading is a sentence
            for t in title:
                tf[t] += boost
            for t in tokens(passage.entry.question):
                tf[t] += _QUESTION_BOOST - 1.0 if passage.entry.kind == "question" else 0.0
            self._tf.append(dict(tf))
            lengths.append(sum(tf.values()))
            df.update(tf.keys())
        n = len(self.passages)
        self._avg = sum(lengths) / max(n, 1)
        self._norm = [_K1 * (1 - _B + _B * length / self._avg) for length in lengths]
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.max_idf = math.log(1 + (n - 0.5) / 1.5)
        self._postings: dict[str, list[int]] = defaultdict(list)
        for i, tf in enumerate(self._tf):
            for t in tf:
                self._postings[t].append(i)
        self._vocab_list = sorted(t for t in self.idf if t.isalpha() and len(t) >= 4)
        self._surface_vocab = sorted(
            {w for e in self.entries for w in words(f"{e.title} {e.text}") if w.isalpha()}
        )
        self._triggers = frozenset(w for g in self.vocabulary.groups for p in g.when for w in p)
        # whole-entry documents for the plain BM25 baseline
        self._baseline = _PlainBM25([f"{e.title}\n{e.text}" for e in self.entries])

    # --- queries ---------------------------------------------------------------------

    def query(self, text: str) -> Query:
        surface = self.vocabulary.normalize(words(text))
        repaired = [self._repair(w) for w in surface]
        extra, by_word, consumed = self.vocabulary.expand_full(tuple(repaired))
        action = _action_word(repaired)
        own: dict[str, float] = {}
        unknown = []
        concepts: dict[str, tuple[float, frozenset[str]]] = {}
        action_stems: set[str] = set()
        for position, (word, typed) in enumerate(zip(repaired, surface, strict=True)):
            if word in STOPWORDS and word not in _KEEP:
                continue
            synonyms = {t for t in by_word.get(word, ()) if t in self.idf}
            discount = 0.5 if word != typed else 1.0  # a repaired typo is less certain
            # a colloquial word that a phrase translated: the translation speaks for it (a word
            # the translation repeats, or a number, keeps its weight)
            translated = word in consumed and word.isalpha() and bool(synonyms)
            for t in tokens(word) or [word]:
                if translated and t not in synonyms:
                    weight = CONSUMED_WEIGHT
                elif t in self.vocabulary.generic:
                    weight = self.vocabulary.generic_weight
                elif position == action:
                    weight = ACTION_WEIGHT
                else:
                    weight = 1.0
                if position == action and weight == ACTION_WEIGHT:
                    action_stems |= {t} | synonyms
                if t in self.idf:
                    own[t] = max(own.get(t, 0.0), weight)
                    if translated and t not in synonyms:
                        mean = sum(self.idf[s] for s in synonyms) / len(synonyms)
                        concepts[t] = (discount * mean, frozenset({t} | synonyms))
                    else:
                        concepts[t] = (discount * weight * self.idf[t], frozenset({t} | synonyms))
                elif synonyms:
                    mean = sum(self.idf[s] for s in synonyms) / len(synonyms)
                    concepts[t] = (mean, frozenset(synonyms))
                elif (t not in STOPWORDS and len(t) > 2 and not t.isdigit()) or re.fullmatch(
                    r"\d+[a-z]+|[a-z]+\d+", t
                ):
                    unknown.append(t)
                    concepts[t] = (0.8 * self.max_idf, frozenset())
        terms = dict(own)
        for t, w in extra.items():
            if t in self.idf:
                terms[t] = max(terms.get(t, 0.0), w)
        return Query(
            text,
            terms,
            frozenset(own),
            tuple(unknown),
            tuple(repaired),
            tuple(concepts.values()),
            frozenset(t for t in action_stems if t in self.idf),
        )

    def coverage(self, query: Query, entry: Entry) -> float:
        """The best share of the question's strongest concepts (idf-weighted) one passage holds."""
        concepts = sorted(query.concepts, key=lambda c: -c[0])[:COVERAGE_TOP_K]
        total = sum(w for w, _ in concepts)
        if total <= 0:
            return 0.0
        best = 0.0
        for i in self._entry_passages()[entry.id]:
            tf = self._tf[i]
            got = sum(w for w, alts in concepts if any(a in tf for a in alts))
            best = max(best, got / total)
        return best

    @lru_cache(maxsize=1)  # noqa: B019 - one index per process, kept for its lifetime
    def _entry_passages(self) -> dict[str, list[int]]:
        result: dict[str, list[int]] = defaultdict(list)
        for i, passage in enumerate(self.passages):
            result[passage.entry.id].append(i)
        return result

    def _repair(self, word: str) -> str:
        """A word the document never uses, replaced by its closest document word (typos)."""
        if len(word) < 5 or not word.isalpha() or word in STOPWORDS:
            return word
        if stem(word) in self.idf or word in self._triggers:
            return word
        return _closest(word, tuple(self._surface_vocab)) or word

    def score_passages(self, query: Query) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for term, weight in query.terms.items():
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i in self._postings[term]:
                tf = self._tf[i][term]
                scores[i] += weight * idf * tf * (_K1 + 1) / (tf + self._norm[i])
        return scores

    def rank(self, query: Query) -> list[tuple[Entry, float, Passage]]:
        """Entries by their best passage's score, best first."""
        best: dict[str, tuple[float, int]] = {}
        for i, score in self.score_passages(query).items():
            entry_id = self.passages[i].entry.id
            if entry_id not in best or score > best[entry_id][0]:
                best[entry_id] = (score, i)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
        return [(self.by_id[eid], score, self.passages[i]) for eid, (score, i) in ranked]

    def matched_mass(self, query: Query, entry: Entry) -> float:
        """Share of the asker's own term weight (idf) that the entry contains."""
        present = self.entry_terms(entry.id)
        total = sum(self.idf[t] for t in query.own) + self.max_idf * len(query.unknown)
        if total <= 0:
            return 0.0
        return sum(self.idf[t] for t in query.own if t in present) / total

    def entry_terms(self, entry_id: str) -> frozenset[str]:
        return self._entry_terms()[entry_id]

    @lru_cache(maxsize=1)  # noqa: B019 - one index per process, kept for its lifetime
    def _entry_terms(self) -> dict[str, frozenset[str]]:
        terms: dict[str, set[str]] = defaultdict(set)
        for passage, tf in zip(self.passages, self._tf, strict=True):
            terms[passage.entry.id].update(tf)
        return {k: frozenset(v) for k, v in terms.items()}

    def baseline(self, text: str) -> list[tuple[Entry, float]]:
        """Plain BM25 over whole entries: no vocabulary, no typo repair, no passages."""
        return [(self.entries[i], s) for i, s in self._baseline.rank(text)]


def _action_word(surface: Sequence[str]) -> int | None:
    """Position of the question's action: the first content word after "I"/"we" ("can I
    *withdraw* …", "do I have to *tender* …"), or None."""
    for i, word in enumerate(surface):
        if word not in _SUBJECTS:
            continue
        for j in range(i + 1, min(i + 4, len(surface))):
            if surface[j] not in STOPWORDS or surface[j] in _KEEP:
                return j if surface[j] not in _KEEP else None
        return None
    return None


@lru_cache(maxsize=4096)
def _closest(word: str, vocab: tuple[str, ...]) -> str | None:
    """The document word one typo away (two for long words), same first letter; else None."""
    limit = 1 if len(word) < 8 else 2
    candidates = process.extract(word, vocab, scorer=OSA.distance, score_cutoff=limit, limit=5)
    same_start = [c for c in candidates if c[0][0] == word[0]]
    if not same_start:
        return None
    return min(same_start, key=lambda c: (c[1], -len(c[0])))[0]


def _chunks(text: str, target: int = 700) -> Iterable[str]:
    """Paragraph groups of about ``target`` characters (a long paragraph stays whole)."""
    current = ""
    for paragraph in text.split("\n\n"):
        if current and len(current) + len(paragraph) > target:
            yield current
            current = paragraph
        else:
            current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        yield current


class _PlainBM25:
    def __init__(self, documents: Sequence[str]) -> None:
        self.tf = [Counter(tokens(d)) for d in documents]
        lengths = [sum(tf.values()) for tf in self.tf]
        avg = sum(lengths) / max(len(lengths), 1)
        self.norm = [_K1 * (1 - _B + _B * n / avg) for n in lengths]
        df: Counter[str] = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(documents)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def rank(self, text: str) -> list[tuple[int, float]]:
        terms = set(tokens(text))
        scores = []
        for i, tf in enumerate(self.tf):
            s = sum(
                self.idf[t] * tf[t] * (_K1 + 1) / (tf[t] + self.norm[i]) for t in terms if t in tf
            )
            if s > 0:
                scores.append((i, s))
        return sorted(scores, key=lambda x: -x[1])
