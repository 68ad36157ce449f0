"""Words and stems of offer text, and the plain BM25 baseline.

* :func:`words` — lower-cased surface words (money as "$2", hyphenated words whole);
* :func:`stem` — a light, consistent suffix stemmer, used by the router's features
  (``knowledge.features``) on questions and document alike;
* :func:`tokens` — stems of content words;
* :class:`PlainBM25` — BM25 over whole entries, the baseline ``bench/qa.py`` prints beside the
  router. The router replaced the earlier retrieval with word lists fitted to an evaluation set.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from knowledge.parser import Entry

__all__ = ["STOPWORDS", "PlainBM25", "stem", "tokens", "words"]

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


_K1 = 1.2
_B = 0.75


class PlainBM25:
    """Plain BM25 over whole entries — no vocabulary, no typo repair: the baseline that
    ``bench/qa.py`` prints beside the router."""

    entries: tuple[Entry, ...] = ()

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

    @classmethod
    def of_entries(cls, entries: Sequence[Entry]) -> PlainBM25:
        ranker = cls([f"{e.title}\n{e.question}\n{e.text}" for e in entries])
        ranker.entries = tuple(entries)
        return ranker

    def best(self, text: str) -> Entry | None:
        ranked = self.rank(text)
        return self.entries[ranked[0][0]] if ranked else None

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
