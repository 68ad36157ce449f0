"""Train the router on the question bank, and keep it in a cache on disk.

The model and its training data are ``knowledge.fitting``'s; here, grouped k-fold
cross-validation on the bank (``knowledge.calibration``) fits the softmax temperature and the
abstention threshold while the final model is fitted on all of it, and the result becomes a
numpy :class:`~knowledge.router.Router`. Measured on this machine for the bundled offer's
12,594 examples: 6.4–7.4 s for the training in a fresh process, cross-validation included —
liblinear's one-vs-rest over 129 labels is most of it. (18 s at 7,602 examples before the texts
were counted once per run, the folds split by label, the character 5-grams dropped and the
calibration given three folds; 9.7 s at 11,539 before the 3-grams were dropped too; 7.5–8.0 s
at 12,594 before the calibration was given two folds; ``bench/RESULTS.md``.)

:func:`load_router` is what start-up calls: the cache file keyed by a hash of the bank, the
offer's documents, the model's settings, the sentence embedding's weights and
:data:`~knowledge.router.FEATURE_VERSION`, or a training run that writes it. scikit-learn is
imported only when training.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from knowledge.bank import Bank
from knowledge.compose import sentences
from knowledge.embedding import TOKENIZER_SHA256, load_embedder
from knowledge.fitting import (
    DOCUMENT_WEIGHT,
    Analysed,
    Fitted,
    Hyper,
    TrainingSet,
    decision,
    fit,
    training_set,
)
from knowledge.parser import Entry
from knowledge.router import FEATURE_VERSION, Neighbours, Router, TfidfSpace
from knowledge.token_pieces import pieces_path, write_known_pieces

__all__ = [
    "CALIBRATION_FOLDS",
    "DOCUMENT_WEIGHT",
    "Fitted",
    "Hyper",
    "TrainingSet",
    "decision",
    "fit",
    "load_router",
    "router_key",
    "router_path",
    "to_router",
    "training_set",
]

logger = logging.getLogger(__name__)

# The folds whose out-of-fold predictions calibrate the temperature and the threshold when the
# router is trained: two, where ``offerbot eval --cv`` reports its figures with five (a fold
# model trained on part of the bank scores it lower). The calibration is the same within the
# spread of the fold seeds. On the bank of 12,594, fold seeds 0-2: temperature 0.174 with two
# folds, 0.180 with three, 0.184 with five; thresholds 0.16/0.16/0.20, 0.14/0.22/0.14 and
# 0.16/0.18/0.16. Two folds cost 3 s of cross-validation against 5 s for three (8.5 s for five),
# and training takes 6.4-7.4 s instead of 7.5-8.0 s; the blind sets score the same. (Three
# replaced five earlier for the same reason, on the bank of 8,665.)
CALIBRATION_FOLDS = 2


def to_router(
    fitted: Fitted,
    hyper: Hyper,
    *,
    temperature: float,
    threshold: float,
    key: str,
    meta: dict[str, object],
) -> Router:
    words, chars, classifier, labels = fitted.words, fitted.chars, fitted.svm, fitted.labels
    word_space = TfidfSpace(words.vocabulary, words.idf, 1.0, 0)
    char_space = TfidfSpace(chars.vocabulary, chars.idf, hyper.char_weight, len(words.vocabulary))
    embedder = load_embedder() if fitted.neighbours is not None else None
    return Router(
        labels=tuple(labels),
        words=word_space,
        chars=char_space,
        neighbours=Neighbours.of(
            fitted.neighbours.astype(np.float32),
            fitted.owners,
            hyper.neighbour_weight,
            hyper.nearest,
            embedder,
        )
        if embedder is not None and fitted.neighbours is not None and fitted.owners is not None
        else None,
        coef=np.ascontiguousarray(classifier.coef_.T, dtype=np.float32),
        intercept=classifier.intercept_.astype(np.float32),
        temperature=temperature,
        threshold=threshold,
        key=key,
        meta=meta,
        label_words=fitted.label_words,
        cover=hyper.cover(),
    )


def router_key(bank: Bank, documents: Sequence[Path], hyper: Hyper) -> str:
    embedder = load_embedder() if hyper.neighbour_weight > 0 else None
    embedding = embedder.digest if embedder is not None else "none"
    digest = hashlib.sha256(
        f"{FEATURE_VERSION};{hyper};{CALIBRATION_FOLDS};{embedding};{bank.digest};".encode()
    )
    for path in documents:
        digest.update(path.name.encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def train_router(
    bank: Bank, entries: Sequence[Entry], *, key: str, hyper: Hyper | None = None
) -> Router:
    """Cross-validate on the bank (temperature, threshold: :data:`CALIBRATION_FOLDS`), then fit
    on all of it."""
    from knowledge.calibration import cross_validate

    hyper = hyper or Hyper()
    data = training_set(bank.examples, entries, hyper)
    analysed = Analysed.of(data.texts)  # once, for the final fit and every fold
    # liblinear releases the GIL: the folds and the final fit share the machine's cores
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        final = pool.submit(fit, data, hyper, analysed)
        report = cross_validate(
            bank, entries, hyper, folds=CALIBRATION_FOLDS, pool=pool, analysed=analysed
        )
        fitted = final.result()
    meta: dict[str, object] = {
        "examples": len(bank.examples),
        "c": hyper.c,
        "char_weight": hyper.char_weight,
        "document_weight": hyper.document_weight,
        "neighbour_weight": hyper.neighbour_weight if load_embedder() is not None else 0.0,
        "nearest": hyper.nearest,
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


def router_path(cache_dir: Path, key: str) -> Path:
    """The cache file of the router with this key."""
    return cache_dir / f"router-{key[:24]}.npz"


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
    path = router_path(cache_dir, key) if cache_dir is not None else None
    if path is not None:
        cached = Router.load(path, key=key)
        if cached is not None:
            if _write_known_pieces(cached, path, bank, entries):
                cached = Router.load(path, key=key) or cached
            return cached
    router = train_router(bank, entries, key=key, hyper=hyper)
    if path is not None:
        try:
            router.save(path)
        except OSError as exc:  # a read-only home: answer anyway, train again next start
            logger.warning("router cache not written", extra={"error": type(exc).__name__})
        else:
            _write_known_pieces(router, path, bank, entries)
    return router


def _write_known_pieces(router: Router, path: Path, bank: Bank, entries: Sequence[Entry]) -> bool:
    """Beside a cached router that uses the embedding, the token ids of the words of its bank
    and documents (``knowledge.token_pieces``), when that file is missing: a later process then
    tokenizes most questions without loading the tokenizer. True when the file was written."""
    neighbours = router.neighbours
    if neighbours is None or neighbours.embedder.known is not None:
        return False
    texts = [example.text for example in bank.examples]
    texts += [part for entry in entries for part in (entry.title, entry.question, entry.text)]
    # and the sentences an answer may quote, as ``knowledge.compose`` splits them: a sentence
    # that opens a paragraph starts with a piece ("▁This") the whole text never has, and the
    # answer's choice embeds every sentence of its entry (``KnowledgeBase.similarity``)
    texts += [sentence for entry in entries for sentence in sentences(entry.text)]
    return write_known_pieces(
        pieces_path(path),
        neighbours.embedder.tokenizer,
        texts,
        tokenizer_sha256=TOKENIZER_SHA256,
    )
