"""Train the router on the question bank (scikit-learn), and keep it in a cache on disk.

Training data: every bank example (weight 1) and, so that facts the bank never asks about still
find their entry, the document itself — each entry's title, its term-sheet question and its
sentences, with a lower weight (:data:`DOCUMENT_WEIGHT`). The model is a linear SVM (liblinear,
one-vs-rest) over word and character TF-IDF (``knowledge.features``); a softmax over its scores
with a fitted temperature gives the probabilities, and the temperature and the abstention
threshold come from grouped k-fold cross-validation on the bank (``knowledge.calibration``).
Measured on this machine: about 12 s for the bundled offer, the final fit alone about 3 s.

:func:`load_router` is what start-up calls: the cache file keyed by a hash of the bank, the
offer's documents and :data:`~knowledge.router.FEATURE_VERSION`, or a training run that writes
it. scikit-learn is imported only when training.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.bank import Bank, Example
from knowledge.features import analyze_chars, analyze_words
from knowledge.parser import Entry
from knowledge.router import FEATURE_VERSION, Router, TfidfSpace

__all__ = [
    "DOCUMENT_WEIGHT",
    "Hyper",
    "TrainingSet",
    "fit",
    "load_router",
    "router_key",
    "training_set",
]

logger = logging.getLogger(__name__)

DOCUMENT_WEIGHT = 0.8


@dataclass(frozen=True, slots=True)
class Hyper:
    """The model's settings, chosen by grouped 5-fold cross-validation on the bank: a grid of
    C ∈ {0.5, 1, 2} × char weight ∈ {0.5, 0.8, 1.2} × document weight ∈ {0.3, 0.5, 0.8}, scored by
    the mean of answerable accuracy and out-of-scope abstention (0.797–0.803 across the grid;
    this one 0.803). ``bench/qa_grid.py`` reruns it."""

    c: float = 0.5
    char_weight: float = 0.8
    document_weight: float = DOCUMENT_WEIGHT
    min_df: int = 1
    tol: float = 1e-2


@dataclass(frozen=True, slots=True)
class TrainingSet:
    texts: list[str]
    labels: list[str]
    weights: list[float]


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


def fit(data: TrainingSet, hyper: Hyper) -> tuple[Any, Any, Any, list[str]]:
    """(word vectorizer, char vectorizer, classifier, labels) fitted with scikit-learn."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    words = TfidfVectorizer(
        analyzer=analyze_words, sublinear_tf=True, min_df=hyper.min_df, dtype=np.float32
    )
    chars = TfidfVectorizer(
        analyzer=analyze_chars, sublinear_tf=True, min_df=hyper.min_df, dtype=np.float32
    )
    matrix = sp.hstack(
        [words.fit_transform(data.texts), hyper.char_weight * chars.fit_transform(data.texts)]
    ).tocsr()
    classifier = LinearSVC(C=hyper.c, tol=hyper.tol)
    classifier.fit(matrix, data.labels, sample_weight=np.asarray(data.weights))
    return words, chars, classifier, list(classifier.classes_)


def vectorize(words: Any, chars: Any, hyper: Hyper, texts: Sequence[str]) -> Any:
    import scipy.sparse as sp

    return sp.hstack([words.transform(texts), hyper.char_weight * chars.transform(texts)]).tocsr()


def to_router(
    fitted: tuple[Any, Any, Any, list[str]],
    hyper: Hyper,
    *,
    temperature: float,
    threshold: float,
    key: str,
    meta: dict[str, object],
) -> Router:
    words, chars, classifier, labels = fitted
    word_space = TfidfSpace(
        {str(k): int(v) for k, v in words.vocabulary_.items()},
        words.idf_.astype(np.float32),
        1.0,
        0,
    )
    char_space = TfidfSpace(
        {str(k): int(v) for k, v in chars.vocabulary_.items()},
        chars.idf_.astype(np.float32),
        hyper.char_weight,
        len(words.vocabulary_),
    )
    return Router(
        labels=tuple(labels),
        words=word_space,
        chars=char_space,
        coef=np.ascontiguousarray(classifier.coef_.T, dtype=np.float32),
        intercept=classifier.intercept_.astype(np.float32),
        temperature=temperature,
        threshold=threshold,
        key=key,
        meta=meta,
    )


def router_key(bank: Bank, documents: Sequence[Path], hyper: Hyper) -> str:
    digest = hashlib.sha256(f"{FEATURE_VERSION};{hyper};{bank.digest};".encode())
    for path in documents:
        digest.update(path.name.encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def train_router(
    bank: Bank, entries: Sequence[Entry], *, key: str, hyper: Hyper | None = None
) -> Router:
    """Cross-validate on the bank (temperature, threshold), then fit on all of it."""
    from knowledge.calibration import cross_validate

    hyper = hyper or Hyper()
    # liblinear releases the GIL: the folds and the final fit share the machine's cores
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        final = pool.submit(fit, training_set(bank.examples, entries, hyper), hyper)
        report = cross_validate(bank, entries, hyper, pool=pool)
        fitted = final.result()
    meta: dict[str, object] = {
        "examples": len(bank.examples),
        "c": hyper.c,
        "char_weight": hyper.char_weight,
        "document_weight": hyper.document_weight,
        "cv": report.summary(),
    }
    return to_router(
        fitted,
        hyper,
        temperature=report.temperature,
        threshold=report.threshold,
        key=key,
        meta=meta,
    )


def load_router(
    bank: Bank,
    entries: Sequence[Entry],
    documents: Sequence[Path],
    *,
    cache_dir: Path | None,
    hyper: Hyper | None = None,
) -> Router:
    """The cached router for this bank and these documents, trained (and cached) if missing."""
    hyper = hyper or Hyper()
    key = router_key(bank, documents, hyper)
    path = cache_dir / f"router-{key[:24]}.npz" if cache_dir is not None else None
    if path is not None:
        cached = Router.load(path, key=key)
        if cached is not None:
            return cached
    router = train_router(bank, entries, key=key, hyper=hyper)
    if path is not None:
        try:
            router.save(path)
        except OSError as exc:  # a read-only home: answer anyway, train again next start
            logger.warning("router cache not written", extra={"error": type(exc).__name__})
    return router
