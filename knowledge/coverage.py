"""What a question asks that its label's texts never mention: the router's second reason to
abstain.

The router names the entry whose *topic* a question is on. A question can be on an entry's topic
and still ask what the entry never says: a rate the tax section does not give, a vote count the
board's position does not state; "can a bankruptcy trustee tender a debtor's options?" reaches
Q22 (withdrawing tendered options) at p = 0.28. Out-of-scope lines in the bank teach the router
some of these, but they are written in the bank's own words. Here, each label keeps the set of
content words its training texts use — its bank questions and, for an entry, its own title and
sentences — and a question is *thinly covered* by a label when the words it uses that the label
never does weigh at least ``Hyper.cover_mass`` and ``Hyper.cover_share`` of all its words
(each weighs its smoothed inverse document frequency, ``ln((1 + n) / (1 + df))``, a word seen
nowhere ``ln(1 + n)``: "rate" and "25%" weigh more than "read"). Below the probability
``Hyper.cover_below``, such an answer is withheld (``knowledge.answerer``), as
cross-validation withholds it (``knowledge.calibration``).

The settings are cross-validation's (bank of 9,217, 5 folds, seeds 0 and 1, mean of answerable
and abstained): none 86.21 %; mass 15 alone 86.13 % (answerable −0.9 point: the mass of a
long question with personal context grows with its length — the lines it lost had a median of
16 words against 9); mass 10 and share 0.65, the best of mass {6, 8, 10} × share {0.35, 0.5,
0.65}, 86.39 % (answerable −0.35, out of scope +0.7). On questions written by people who never
saw the bank (``bench/blind``), the effect is larger: ``bench/RESULTS.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from knowledge.bank import ADVICE, OUT_OF_SCOPE
from knowledge.features import words_of
from knowledge.index import STOPWORDS, stem

__all__ = ["Cover", "LabelWords", "content_stems"]


def content_stems(text: str) -> frozenset[str]:
    """The stems of a text's content words: not stop words, not numbers, three letters or
    more — the router's own stems (``knowledge.features``), so they index its vocabulary."""
    return frozenset(
        stem(word)
        for word in words_of(text)
        if len(word) > 2 and word not in STOPWORDS and not word.isdigit()
    )


# training takes each bank text's stems once for all its folds (as ``knowledge.features`` does
# its n-grams); a running bot calls :func:`content_stems` itself
_training_stems = lru_cache(maxsize=16384)(content_stems)


@dataclass(frozen=True, slots=True, eq=False)
class LabelWords:
    """Each label's content words, as columns of the router's word vocabulary: label ``j``'s
    are ``ids[ptr[j]:ptr[j + 1]]``, sorted."""

    ptr: npt.NDArray[np.int32]  # (labels + 1,)
    ids: npt.NDArray[np.int32]
    unseen: float  # the weight of a word the vocabulary does not have: ln(1 + n)

    @classmethod
    def of(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        label_order: Sequence[str],
        vocabulary: Mapping[str, int],
    ) -> LabelWords:
        column = {label: j for j, label in enumerate(label_order)}
        words: list[set[int]] = [set() for _ in label_order]
        for text, label in zip(texts, labels, strict=True):
            if label in column:
                words[column[label]].update(
                    vocabulary[s] for s in _training_stems(text) if s in vocabulary
                )
        sizes = [len(w) for w in words]
        ptr = np.zeros(len(words) + 1, dtype=np.int32)
        ptr[1:] = np.cumsum(sizes)
        ids = np.fromiter((i for w in words for i in sorted(w)), dtype=np.int32, count=int(ptr[-1]))
        return cls(ptr, ids, math.log(1 + len(texts)))

    def uncovered(
        self,
        text: str,
        label: int,
        vocabulary: Mapping[str, int],
        idf: npt.NDArray[np.float32],
    ) -> tuple[float, float]:
        """(the weight of the text's content words that label ``label`` never uses, the weight
        of all its content words). ``idf`` is scikit-learn's smoothed idf of the same
        vocabulary (``ln((1 + n) / (1 + df)) + 1``)."""
        own = self.ids[self.ptr[label] : self.ptr[label + 1]]
        mass = total = 0.0
        for word in content_stems(text):
            i = vocabulary.get(word)
            weight = self.unseen if i is None else float(idf[i]) - 1.0
            total += weight
            if i is None or not _contains(own, i):
                mass += weight
        return mass, total


def _contains(ordered: npt.NDArray[np.int32], value: int) -> bool:
    k = int(np.searchsorted(ordered, value))
    return k < len(ordered) and int(ordered[k]) == value


@dataclass(frozen=True, slots=True)
class Cover:
    """When a thinly covered answer is withheld (``Hyper.cover_*``): the one rule the router
    applies to a question and cross-validation to an out-of-fold prediction."""

    mass: float  # the words the label never uses weigh at least this …
    share: float  # … and this share of all the question's words …
    below: float  # … and the router's probability is below this

    def applies(self, label: str, probability: float) -> bool:
        """Whether the rule is asked at all: for an entry (not out of scope, which abstains
        already; not advice, which by its nature asks what no document states — a
        recommendation for the asker's own case; not a personal request or small talk, which
        bring their own words, "my 2002 refresh grant"), below :attr:`below`."""
        return probability < self.below and ":" not in label and label not in (OUT_OF_SCOPE, ADVICE)

    def withholds(self, uncovered: float, total: float) -> bool:
        """Whether words the label never uses weigh :attr:`mass` or more *and* :attr:`share`
        of all the question's words: a long question with personal context ("my accountant
        asked whether…") brings many words no entry uses around the ones its entry does, and
        the share keeps those questions answered."""
        return uncovered >= self.mass and uncovered >= self.share * total
