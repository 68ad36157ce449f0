"""The router: which label a message has, with a calibrated probability — numpy only.

A linear model over TF-IDF features (``knowledge.features``) plus nearest-neighbour scores in a
small sentence embedding (``knowledge.embedding``), trained on the offer's question bank by
``knowledge.training`` with scikit-learn, and run here with numpy alone: importing scikit-learn
costs about a second and 80 MB, the fitted vocabulary and weights load from the cache file in a
fraction of that.

Labels: a knowledge-entry id, ``advice``, ``personal:<intent>``, ``smalltalk:<kind>`` or
``out_of_scope``. :meth:`Router.route` returns the best label, its probability (softmax of the
logits divided by a temperature fitted on out-of-fold predictions) and the three best labels.
The service abstains on ``out_of_scope`` or a probability below :attr:`Router.threshold`; both
the temperature and the threshold come from grouped k-fold cross-validation on the bank
(``knowledge.calibration``), never from an evaluation set.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import tempfile
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.coverage import Cover, LabelWords
from knowledge.embedding import (
    TOKENIZER_SHA256,
    Embedder,
    LabelGroups,
    load_embedder,
    neighbour_scores,
)
from knowledge.features import char_features, normalize, word_features
from knowledge.index import STOPWORDS, stem
from knowledge.token_pieces import pieces_path, read_known_pieces

__all__ = ["FEATURE_VERSION", "Neighbours", "Router", "Routing", "TfidfSpace"]

# Change when the features, the model, its calibration or the cache format change: old cache
# files are ignored.
FEATURE_VERSION = "router-13"


_CONTENT = re.compile(r"\b[a-z]{4,}\b")


@lru_cache(maxsize=4)
def _unigrams(router: Router) -> tuple[str, ...]:
    return tuple(t for t in router.words.vocabulary if " " not in t)


@dataclass(frozen=True, slots=True)
class Routing:
    label: str
    probability: float
    ranked: tuple[tuple[str, float], ...]  # the best labels, best first (at most 5)


@dataclass(frozen=True, slots=True)
class TfidfSpace:
    """One feature family: vocabulary, idf, and its weight in the joined vector.

    The transform is scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``: 1 + log(count),
    times idf, L2-normalised — then scaled by ``weight``.
    """

    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float32]
    weight: float
    offset: int  # where this family's columns start in the joined vector

    def transform(self, grams: Sequence[str]) -> tuple[list[int], list[float]]:
        counts = Counter(g for g in grams if g in self.vocabulary)
        if not counts:
            return [], []
        columns = [self.vocabulary[g] for g in counts]
        values = [
            (1.0 + math.log(n)) * float(self.idf[c])
            for c, n in zip(columns, counts.values(), strict=True)
        ]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [c + self.offset for c in columns], [self.weight * v / norm for v in values]


@dataclass(frozen=True, slots=True, eq=False)
class Neighbours:
    """The sentence embedding's part of the score (see ``knowledge.fitting``)."""

    vectors: npt.NDArray[np.float32]  # (texts, dims): the training texts' embeddings (float32:
    # numpy has no fast float16 product; the cache file keeps float16)
    owners: npt.NDArray[np.int32]  # (texts,): each text's label, as an index into the labels
    weight: float
    nearest: int  # closest texts averaged per label (``knowledge.fitting.Hyper.nearest``)
    embedder: Embedder
    groups: LabelGroups  # ``LabelGroups.of(owners)``

    @classmethod
    def of(
        cls,
        vectors: npt.NDArray[np.float32],
        owners: npt.NDArray[np.int32],
        weight: float,
        nearest: int,
        embedder: Embedder,
    ) -> Neighbours:
        return cls(vectors, owners, weight, nearest, embedder, LabelGroups.of(owners))

    def scores(self, text: str, labels: int) -> npt.NDArray[np.float64]:
        # einsum, not ``@`` (here and in Router.logits): OpenBLAS spreads even these small
        # products over threads, and on a busy 2-core machine waking them cost 10–20 ms per
        # question (p50 9 ms → 0.5 ms measured at load 9)
        similarities = np.einsum("ij,j->i", self.vectors, self.embedder.embed([text])[0])
        return (
            self.weight
            * neighbour_scores(similarities[None, :], self.groups, labels, self.nearest)[0]
        )


def _mapped_member(path: Path, name: str) -> npt.NDArray[Any] | None:
    """The array ``name`` of an ``.npz`` file memory-mapped read-only, or None when it cannot
    be (a compressed member, an object array): the caller then reads it whole.

    Why: ``coef`` is the router's largest array (features × labels, 26 MB for the bundled
    offer) and a question reads only the rows of the features it has — a few hundred. Read
    whole, it cost a fresh ``offerbot ask`` process 25–40 ms of CPU and more in wall time on a
    busy machine; mapped, the pages a question touches are read. ``np.savez`` stores members
    uncompressed: a member is a zip local header, then an ``.npy`` header, then the data.
    """
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with path.open("rb") as stream:
        stream.seek(info.header_offset)
        local = stream.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            return None
        name_size, extra_size = struct.unpack("<HH", local[26:30])
        stream.seek(info.header_offset + 30 + name_size + extra_size)
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            return None
        offset = stream.tell()
    if dtype.hasobject:
        return None
    return np.memmap(
        path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
    )


@dataclass(frozen=True, slots=True, eq=False)
class Router:
    labels: tuple[str, ...]
    words: TfidfSpace
    chars: TfidfSpace
    neighbours: Neighbours | None  # None when the embedding is not installed
    coef: npt.NDArray[np.float32]  # (features, labels): a feature's row is contiguous
    intercept: npt.NDArray[np.float32]  # (labels,)
    temperature: float
    threshold: float  # abstain below this probability (chosen by cross-validation)
    key: str  # the cache key it was trained for
    meta: dict[str, object]  # training figures (examples, cross-validated scores, C, …)
    label_words: LabelWords  # each label's content words (``knowledge.coverage``)
    cover: Cover  # when an entry's answer to words it never uses is withheld

    def vector(self, text: str) -> tuple[list[int], list[float]]:
        """The message's sparse feature vector (columns, values)."""
        wc, wv = self.words.transform(word_features(text))
        cc, cv = self.chars.transform(char_features(text))
        return wc + cc, wv + cv

    def logits(self, text: str) -> npt.NDArray[np.float64]:
        columns, values = self.vector(text)
        scores = self.intercept.astype(np.float64)
        if columns:
            scores = scores + np.einsum(
                "i,ij->j", np.asarray(values, dtype=np.float32), self.coef[columns]
            )
        if self.neighbours is not None:
            scores = scores + self.neighbours.scores(text, len(self.labels))
        return scores

    def probabilities(self, text: str) -> npt.NDArray[np.float64]:
        z = self.logits(text) / self.temperature
        z = np.exp(z - z.max())
        return z / z.sum()

    def route(self, text: str) -> Routing:
        p = self.probabilities(text)
        order = np.argsort(-p)[:5]
        ranked = tuple((self.labels[i], float(p[i])) for i in order)
        return Routing(ranked[0][0], ranked[0][1], ranked)

    def thinly_covered(self, text: str, label: str, probability: float) -> bool:
        """Whether an answer with ``label`` at ``probability`` is withheld because the message
        asks, beside the label's topic, what that entry never states (:attr:`cover`,
        ``knowledge.coverage``)."""
        if not self.cover.applies(label, probability) or label not in self.labels:
            return False
        uncovered, content = self.label_words.uncovered(
            text, self.labels.index(label), self.words.vocabulary, self.words.idf
        )
        return self.cover.withholds(uncovered, content)

    def unknown_words(self, text: str) -> list[str]:
        """Content words the router has never seen, in the bank or the documents, nor anything
        within a typo of them ("zorblax", "quasiplasm"; not "recieve")."""
        vocabulary = self.words.vocabulary
        unseen = [
            word
            for word in set(_CONTENT.findall(normalize(text)))
            if word not in STOPWORDS and stem(word) not in vocabulary
        ]
        if not unseen:
            return []
        # imported here: most questions have no unseen word, and a fresh `offerbot ask` process
        # then does not pay for rapidfuzz (~8 ms)
        from rapidfuzz import fuzz, process

        known = _unigrams(self)
        unknown = [
            word
            for word in unseen
            if process.extractOne(word, known, scorer=fuzz.ratio, score_cutoff=80) is None
        ]
        return sorted(unknown)

    # --- the cache file ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed), so a reader never sees half a model."""
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "version": FEATURE_VERSION,
            "key": self.key,
            "labels": list(self.labels),
            "temperature": self.temperature,
            "threshold": self.threshold,
            "word_weight": self.words.weight,
            "char_weight": self.chars.weight,
            "neighbour_weight": self.neighbours.weight if self.neighbours else 0.0,
            "nearest": self.neighbours.nearest if self.neighbours else 1,
            "cover_mass": self.cover.mass,
            "cover_share": self.cover.share,
            "cover_below": self.cover.below,
            "unseen_weight": self.label_words.unseen,
            "meta": self.meta,
        }
        word_terms = sorted(self.words.vocabulary, key=self.words.vocabulary.__getitem__)
        char_terms = sorted(self.chars.vocabulary, key=self.chars.vocabulary.__getitem__)
        extra: dict[str, Any] = {}
        if self.neighbours is not None:
            extra = {
                "neighbours": self.neighbours.vectors.astype(np.float16),
                "owners": self.neighbours.owners,
            }
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".router-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(
                    stream,
                    header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                    word_terms=np.frombuffer("\n".join(word_terms).encode(), dtype=np.uint8),
                    char_terms=np.frombuffer("\n".join(char_terms).encode(), dtype=np.uint8),
                    word_idf=self.words.idf,
                    char_idf=self.chars.idf,
                    coef=self.coef,
                    intercept=self.intercept,
                    cover_ptr=self.label_words.ptr,
                    cover_ids=self.label_words.ids,
                    **extra,
                )
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, *, key: str) -> Router | None:
        """The cached router for ``key``, or None (missing, stale, or unreadable file)."""
        try:
            mapped = _mapped_member(path, "coef")
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode())
                if header.get("version") != FEATURE_VERSION or header.get("key") != key:
                    return None
                word_terms = bytes(data["word_terms"]).decode().split("\n")
                char_terms = bytes(data["char_terms"]).decode().split("\n")
                word_idf, char_idf = data["word_idf"], data["char_idf"]
                coef = data["coef"] if mapped is None else mapped
                intercept = data["intercept"]
                weight = float(header.get("neighbour_weight", 0.0))
                nearest = int(header.get("nearest", 1))
                vectors = data["neighbours"] if weight > 0 else None
                owners = data["owners"] if weight > 0 else None
                label_words = LabelWords(
                    data["cover_ptr"], data["cover_ids"], float(header["unseen_weight"])
                )
        except (OSError, ValueError, KeyError, json.JSONDecodeError, zipfile.BadZipFile):
            return None
        neighbours = None
        if vectors is not None and owners is not None:
            embedder = load_embedder()
            if embedder is None:
                return None  # trained with the embedding, which is not available now
            # the question's tokens without loading the tokenizer, when its words are known
            known = read_known_pieces(pieces_path(path), tokenizer_sha256=TOKENIZER_SHA256)
            neighbours = Neighbours.of(
                vectors.astype(np.float32), owners, weight, nearest, embedder.with_known(known)
            )
        words = TfidfSpace(
            dict(zip(word_terms, range(len(word_terms)), strict=True)),
            word_idf,
            float(header["word_weight"]),
            0,
        )
        chars = TfidfSpace(
            dict(zip(char_terms, range(len(char_terms)), strict=True)),
            char_idf,
            float(header["char_weight"]),
            len(word_terms),
        )
        return cls(
            labels=tuple(header["labels"]),
            words=words,
            chars=chars,
            neighbours=neighbours,
            coef=coef,
            intercept=intercept,
            temperature=float(header["temperature"]),
            threshold=float(header["threshold"]),
            key=key,
            meta=dict(header.get("meta", {})),
            label_words=label_words,
            cover=Cover(
                float(header["cover_mass"]),
                float(header["cover_share"]),
                float(header["cover_below"]),
            ),
        )
