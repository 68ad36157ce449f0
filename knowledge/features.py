"""What the router sees of a message: normalised words, word pairs and character n-grams.

The same two functions are used when the router is trained (scikit-learn's
``TfidfVectorizer(analyzer=…)``, through the cached :data:`analyze_words` and
:data:`analyze_chars`) and when it runs (``knowledge.router``, numpy only), so the two can never
disagree. Two feature families, each weighted and normalised on its own:

* words — light stems (``knowledge.index.stem``) and adjacent pairs: what is asked;
* characters — 4-grams inside each word, padded with spaces: typos, run-together and chat
  spellings ("recieve", "elegible", "whats") still share most of their n-grams. 5-grams were
  dropped first: grouped cross-validation over three fold seeds scored the same without them
  (mean of answerable and abstained 84.1 % against 84.0 %), and they were a fifth of the
  features' non-zeros — 37 % of the SVM's training time. Then 3-grams, at 11,539 bank lines:
  the same score over three paired fold seeds (88.03 % against 88.07 % with 3- and 4-grams;
  3-grams alone 87.98 %), the blind sets within two questions of 920, and questions with one,
  two or three typos added at random the same within a point either way; half the
  cross-validation time (28 s against 53 s), so training stays well inside its 10 s with the
  bank growing (``bench/RESULTS.md``).

Grant numbers ("G00002", "#4412") and long numbers become placeholders: the grant a person
names says nothing about what they ask.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from knowledge.index import stem

__all__ = [
    "analyze_chars",
    "analyze_words",
    "char_features",
    "normalize",
    "word_features",
    "words_of",
]

_GRANT = re.compile(r"\b(g\d{3,}|#\s?\d+|grant\s+(?:no\.?|number|#)?\s*\d{3,})\b")
_NUMBER = re.compile(r"\b\d{5,}\b")
CHAR_N = 4  # the character n-grams' length (see the module docstring)
_APOSTROPHE = re.compile(r"(\w)['’](\w)")
_WORD = re.compile(r"[a-z0-9$%]+")


# The documents' spelling of a word employees spell otherwise: "e-mail" would be the two words
# "e" and "mail", sharing nothing with "email"; the offer says "facsimile" where people say "fax".
_SPELLINGS = ((re.compile(r"\be-mail"), "email"), (re.compile(r"\bfacsimile"), "fax"))


def normalize(text: str) -> str:
    """Lower case, apostrophes joined ("what's" → "whats"), grant numbers as ``grantno``, one
    spelling for "e-mail" and for "fax"."""
    lowered = text.lower()
    for pattern, spelling in _SPELLINGS:
        lowered = pattern.sub(spelling, lowered)
    lowered = _APOSTROPHE.sub(r"\1\2", lowered)
    lowered = _GRANT.sub(" grantno ", lowered)
    lowered = _NUMBER.sub(" bignumber ", lowered)
    return lowered


def words_of(text: str) -> list[str]:
    """The normalised words of a text, before stemming."""
    return _WORD.findall(normalize(text))


def word_features(text: str) -> tuple[str, ...]:
    """Stemmed words and adjacent stem pairs."""
    stems = [stem(w) for w in words_of(text)]
    return (*stems, *(f"{a} {b}" for a, b in itertools.pairwise(stems)))


def char_features(text: str) -> tuple[str, ...]:
    """Character 4-grams inside each word (padded with a space on both sides; a one-letter
    word, three characters padded, has none)."""
    grams: list[str] = []
    for word in words_of(text):
        padded = f" {word} "
        grams += [padded[i : i + CHAR_N] for i in range(len(padded) - CHAR_N + 1)]
    return tuple(grams)


# Training analyses each bank text once for all its cross-validation folds. A running bot uses
# the plain functions (``knowledge.router``): cached, the n-grams of the documents' 1,020
# sentences that an answer may quote kept 45 MB alive in ``offerbot serve`` for nothing.
analyze_words = lru_cache(maxsize=16384)(word_features)
analyze_chars = lru_cache(maxsize=16384)(char_features)
