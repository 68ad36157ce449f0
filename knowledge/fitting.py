"""Fit the router's model on a training set, and score texts with a fitted model (scikit-learn).

Shared by the cross-validation (``knowledge.calibration``, which fits once per fold) and the
final training (``knowledge.training``). The model has two parts whose scores add up:

- a linear SVM (liblinear, one-vs-rest) over word and character TF-IDF (``knowledge.features``);
- the sentence embedding's nearest neighbours (``knowledge.embedding``): for each label, the
  cosine between the message and that label's closest training text, centred over the labels
  and scaled by :attr:`Hyper.neighbour_weight`. It lets "quit" find the bank's "leave" and
  "resign" when TF-IDF shares no feature with them. (Appending the embedding as
  256 more SVM columns scored the same in cross-validation but doubled the training time:
  liblinear converges slowly on dense columns.)

Training data: every bank example (weight 1) and, so that facts the bank never asks about still
find their entry, the document itself — each entry's title, its term-sheet question and its
sentences, with a lower weight (:data:`DOCUMENT_WEIGHT`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.bank import Example
from knowledge.coverage import Cover, LabelWords
from knowledge.embedding import DIMENSIONS, Embedder, LabelGroups, load_embedder, neighbour_scores
from knowledge.features import analyze_chars, analyze_words
from knowledge.parser import Entry
from knowledge.term_counts import Counted, Space

__all__ = [
    "DOCUMENT_WEIGHT",
    "Analysed",
    "Fitted",
    "Hyper",
    "TrainingSet",
    "decision",
    "document_examples",
    "fit",
    "training_set",
]

DOCUMENT_WEIGHT = 0.8


@dataclass(frozen=True, slots=True)
class Hyper:
    """The model's settings, chosen by grouped 5-fold cross-validation on the bank, scored by
    the mean of answerable accuracy and out-of-scope abstention (``bench/qa_grid.py``):

    - C ∈ {0.5, 1, 2} × char weight ∈ {0.5, 0.8, 1.2} × document weight ∈ {0.3, 0.5, 0.8}:
      0.797–0.803 across the grid, this one 0.803 (before the embedding);
    - then the neighbour weight ∈ {0, 0.5, 1, 2}: 0.808, 0.814, 0.816, 0.808 (answerable
      75.4% → 77.5%);
    - then the number of closest texts averaged per label × the neighbour weight. On the bank
      of 5,192, fold seed 0: 1 × 1 0.826, 3 × 1 0.831, 5 × 1 0.831, 5 × 1.5 0.834, 8 × 2 0.831.
      On the bank of 5,539, the mean of fold seeds 0–2: 1 × 1 0.8395, 3 × 1 0.8386,
      5 × 1 0.8395, 5 × 1.5 0.8397 — no difference beyond the seeds' spread (±0.4), and 1 × 1
      scores best on answerable questions (80.9% against 80.4% for 5 × 1.5), so the single
      nearest text stays. One seed's gain is not a gain.
    """

    c: float = 0.5
    char_weight: float = 0.8
    document_weight: float = DOCUMENT_WEIGHT
    min_df: int = 1
    tol: float = 1e-2
    neighbour_weight: float = 1.0  # 0 leaves the sentence embedding out
    nearest: int = 1  # a label's neighbour score is the mean cosine of its closest texts
    # an answer whose question uses words its entry never does (``knowledge.coverage``) is
    # withheld when those words weigh ``cover_mass`` and ``cover_share`` of the question's
    # words, and the probability is below ``cover_below``
    cover_mass: float = 10.0
    cover_share: float = 0.65
    cover_below: float = 0.5

    def cover(self) -> Cover:
        return Cover(self.cover_mass, self.cover_share, self.cover_below)


@dataclass(frozen=True, slots=True)
class TrainingSet:
    texts: list[str]
    labels: list[str]
    weights: list[float]


@dataclass(frozen=True, slots=True)
class Fitted:
    words: Space
    chars: Space
    svm: Any  # sklearn LinearSVC
    labels: list[str]  # the SVM's classes, in its column order
    neighbours: npt.NDArray[np.float16] | None  # (texts, dims): the training texts' embeddings
    owners: npt.NDArray[np.int32] | None  # (texts,): each neighbour's column in ``labels``
    label_words: LabelWords  # each label's content words (``knowledge.coverage``)


def document_examples(entries: Sequence[Entry]) -> list[tuple[str, str]]:
    """(text, entry id) for the title, the question and every sentence of every entry."""
    pairs: list[tuple[str, str]] = []
    for entry in entries:
        pairs.append((entry.title, entry.id))
        if entry.question and entry.question != entry.title:
            pairs.append((entry.question, entry.id))
        for sentence in re.split(r"(?<=[.?!;:])\s+", entry.text):
            if len(sentence) >= 25:
                pairs.append((sentence[:400], entry.id))
    return pairs


def training_set(
    examples: Sequence[Example], entries: Sequence[Entry], hyper: Hyper
) -> TrainingSet:
    texts = [e.text for e in examples]
    labels = [e.label for e in examples]
    weights = [1.0] * len(texts)
    if hyper.document_weight > 0:
        for text, label in document_examples(entries):
            texts.append(text)
            labels.append(label)
            weights.append(hyper.document_weight)
    return TrainingSet(texts, labels, weights)


@dataclass(frozen=True, slots=True, eq=False)
class Analysed:
    """A training run's texts counted once, words and characters (``knowledge.term_counts``):
    every cross-validation fold and the final fit take their rows from it."""

    words: Counted
    chars: Counted

    @classmethod
    def of(cls, texts: Sequence[str]) -> Analysed:
        return cls(Counted.of(texts, analyze_words), Counted.of(texts, analyze_chars))


def fit(data: TrainingSet, hyper: Hyper, analysed: Analysed | None = None) -> Fitted:
    """Fit the TF-IDF spaces and the SVM; embed the training texts for the neighbour scores.
    ``analysed`` holds the counts of every text of ``data`` (and maybe more); without it they
    are counted here."""
    import scipy.sparse as sp
    from sklearn.svm import LinearSVC

    analysed = analysed or Analysed.of(data.texts)
    words, word_matrix = analysed.words.fit_transform(data.texts, min_df=hyper.min_df)
    chars, char_matrix = analysed.chars.fit_transform(data.texts, min_df=hyper.min_df)
    matrix = sp.hstack([word_matrix, hyper.char_weight * char_matrix]).tocsr()
    # liblinear's dual solver visits the examples in a random order: a fixed seed makes one
    # bank give one model (with the global random state two cross-validation runs differed by
    # up to 0.5 points per class). Not quite when fits run at once in threads, as training
    # runs them: scikit-learn's liblinear draws from one generator per process, so concurrent
    # fits interleave their draws. Two trainings of one bank then differ in the fourth decimal
    # of a weight (8e-4 at most, measured), the per-class figures by 0.01 point at most; the
    # threshold stayed the same in every run measured. Converged fits keep it so small: capping
    # liblinear's passes (6 instead of up to 16, 30 % less CPU, the same figures) moved the
    # threshold between two runs, so the fits run to ``tol``.
    svm = LinearSVC(C=hyper.c, tol=hyper.tol, random_state=0)
    svm.fit(matrix, data.labels, sample_weight=np.asarray(data.weights))
    labels = [str(c) for c in svm.classes_]
    label_words = LabelWords.of(data.texts, data.labels, labels, words.vocabulary)
    embedder = load_embedder() if hyper.neighbour_weight > 0 else None
    if embedder is None:
        return Fitted(words, chars, svm, labels, None, None, label_words)
    column = {label: i for i, label in enumerate(labels)}
    owners = np.array([column[label] for label in data.labels], dtype=np.int32)
    # sorted by label: each label's nearest text is then a max over one run of columns
    # (``knowledge.embedding.neighbour_scores``), with no gather
    order = np.argsort(owners, kind="stable")
    neighbours = _embedded(embedder, data.texts)[order].astype(np.float16)
    return Fitted(words, chars, svm, labels, neighbours, owners[order], label_words)


# text → its embedding, for the texts of one training run: cross-validation embeds the same bank
# and document texts in every fold and again in the final fit (2.5 s of 29 s CPU at 7,000
# examples). Bounded; emptied when full.
_EMBEDDED: dict[str, npt.NDArray[np.float32]] = {}
_EMBEDDED_KEPT = 50_000
_EMBEDDED_LOCK = threading.Lock()  # the folds run in threads


def _embedded(embedder: Embedder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    with _EMBEDDED_LOCK:
        missing = list(dict.fromkeys(t for t in texts if t not in _EMBEDDED))
        if len(_EMBEDDED) + len(missing) > _EMBEDDED_KEPT:
            _EMBEDDED.clear()
            missing = list(dict.fromkeys(texts))
        if missing:
            _EMBEDDED.update(zip(missing, embedder.embed(missing), strict=True))
        return np.stack([_EMBEDDED[t] for t in texts])


def decision(fitted: Fitted, hyper: Hyper, texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """(len(texts), len(fitted.labels)): the model's scores, as the router computes them."""
    import scipy.sparse as sp

    matrix = sp.hstack(
        [fitted.words.transform(texts), hyper.char_weight * fitted.chars.transform(texts)]
    ).tocsr()
    scores = np.asarray(fitted.svm.decision_function(matrix), dtype=np.float64)
    embedder = load_embedder()
    if fitted.neighbours is not None and fitted.owners is not None and embedder is not None:
        similarities = _embedded(embedder, texts) @ fitted.neighbours.astype(np.float32).T
        scores = scores + hyper.neighbour_weight * neighbour_scores(
            similarities, LabelGroups.of(fitted.owners), len(fitted.labels), hyper.nearest
        )
    return scores
