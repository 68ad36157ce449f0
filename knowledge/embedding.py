"""A small sentence embedding that the router adds to its TF-IDF features.

TF-IDF only knows the words the bank and the documents use; an employee who writes "quit" where
the bank says "leave" or "resign" shares no feature with it. A sentence embedding places such
words near each other (``knowledge.fitting`` scores a message by its nearest neighbours among
each label's training texts). We use WordLlama's 256-dimensional token table (MIT licence; the
weights, 16 MB, and the tokenizer ship inside the ``wordllama`` wheel on PyPI): a message's
vector is the mean of its tokens' rows, L2-normalised — numpy (the table memory-mapped) and the
``tokenizers`` library, no torch, nothing downloaded. Grouped 5-fold cross-validation on the
bank measured +2 points of answerable accuracy with it (``knowledge.fitting.Hyper``). The
tokenizer is read from its file only for a text with a piece that the router's cache of known
pieces lacks (``knowledge.token_pieces``: 76 ms of nearly every fresh ``offerbot ask``).

The ``wordllama`` package itself is never imported (its ``__init__`` pulls in much more than we
need, and it would fetch missing files from the network): we read its two data files and check
them against the SHA-256 pinned here. A missing package or a different file means no
embedding — the router is then trained and cached without it (the cache key says which), and a
warning says why.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.cache_files import file_stamp
from knowledge.token_pieces import KnownPieces

__all__ = [
    "DIMENSIONS",
    "TOKENIZER_SHA256",
    "Embedder",
    "LabelGroups",
    "file_stamps",
    "load_embedder",
    "neighbour_scores",
    "trust_checked_files",
]

logger = logging.getLogger(__name__)

DIMENSIONS = 256
_WEIGHTS = (
    "weights/l2_supercat_256.safetensors",
    "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
)
TOKENIZER_SHA256 = "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68"
_TOKENIZER = ("tokenizers/l2_supercat_tokenizer_config.json", TOKENIZER_SHA256)


@dataclass(frozen=True, slots=True, eq=False)
class Embedder:
    table: npt.NDArray[np.float16]  # (tokens, DIMENSIONS)
    tokenizer_path: Path  # the pinned tokenizer.json, loaded on first use (:attr:`tokenizer`)
    digest: str  # identifies the weights in the router's cache key
    # token ids of the pieces the router's texts are made of (``knowledge.token_pieces``): a
    # question made of them is tokenized without loading the tokenizer (76 ms per process)
    known: KnownPieces | None = None

    @property
    def tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer``, read from its file once per process."""
        return _tokenizer(self.tokenizer_path)

    def with_known(self, known: KnownPieces | None) -> Embedder:
        return replace(self, known=known)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids (no special tokens): from the known pieces when every piece
        of the text is known, else from the tokenizer — the same ids either way."""
        known = self.known
        ids = [known.ids(text) if known is not None else None for text in texts]
        missing = [row for row, found in enumerate(ids) if found is None]
        if missing:
            encodings = self.tokenizer.encode_batch(
                [texts[row] for row in missing], add_special_tokens=False
            )
            for row, encoding in zip(missing, encodings, strict=True):
                ids[row] = encoding.ids
        return [found or [] for found in ids]

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """(len(texts), DIMENSIONS): each text's mean token vector, unit length (zeros for a
        text with no tokens)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        for row, ids in enumerate(self.token_ids(texts)):
            if ids:
                vector = self.table[ids].astype(np.float32).mean(axis=0)
                norm = float(np.linalg.norm(vector))
                if norm > 0:
                    out[row] = vector / norm
        return out


@dataclass(frozen=True, slots=True, eq=False)
class LabelGroups:
    """The neighbours grouped by label, once per model (not once per question)."""

    present: npt.NDArray[np.int32]  # the labels that have neighbours
    sizes: npt.NDArray[np.intp]  # (present,): how many neighbours each label has
    order: npt.NDArray[np.intp] | None  # the neighbours sorted by label (stable); None when
    # they already are (``knowledge.fitting.fit`` stores them so): gathering the columns of a
    # (1,500 × 8,800) fold in label order cost more than the maxima themselves
    starts: npt.NDArray[np.intp]  # (present,): where each label's run begins, sorted

    @classmethod
    def of(cls, owners: npt.NDArray[np.int32]) -> LabelGroups:
        present, sizes = np.unique(owners, return_counts=True)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        in_order = bool(np.all(owners[:-1] <= owners[1:]))
        order = None if in_order else np.argsort(owners, kind="stable").astype(np.intp)
        return cls(present.astype(np.int32), sizes.astype(np.intp), order, starts)

    def slots(self) -> npt.NDArray[np.intp]:
        """(present, widest): each label's neighbour indexes, padded with -1 (a column of -inf
        appended to the similarities at scoring time). Built when asked — only ``nearest`` > 1
        uses it — not kept: 1 MB for the bundled offer's router in every process."""
        total = int(self.sizes.sum())
        order = np.arange(total, dtype=np.intp) if self.order is None else self.order
        slots = np.full((len(self.present), int(self.sizes.max(initial=0))), -1, dtype=np.intp)
        for row, (start, size) in enumerate(zip(self.starts, self.sizes, strict=True)):
            slots[row, :size] = order[start : start + size]
        return slots


_BLOCK = 64  # messages scored at once: bounds the (messages, labels, widest) gather's memory


def neighbour_scores(
    similarities: npt.NDArray[np.float32], groups: LabelGroups, labels: int, nearest: int = 1
) -> npt.NDArray[np.float64]:
    """(messages, labels) from (messages, neighbours) cosines: for each label, the mean cosine
    of its ``nearest`` closest neighbours (all of them when it has fewer; 0 for a label with
    none), minus the mean over the labels — so the score says how much closer this label's
    nearest texts are than the others'. ``nearest`` > 1 was measured by cross-validation and
    gained nothing over the single nearest (see :class:`knowledge.fitting.Hyper`); it stays so
    ``bench/qa_grid.py`` can measure it again on another offer's bank."""
    similarities = np.atleast_2d(similarities)
    rows = similarities.shape[0]
    out = np.zeros((rows, labels), dtype=np.float64)
    widest = int(groups.sizes.max(initial=0))
    if widest == 0:
        return out
    if nearest <= 1:
        # each label's best is a max over its run of the label-sorted columns: one pass over
        # the similarities, where gathering (messages, labels, widest) copies the widest label's
        # 900 columns for every label (2.8 s of a cross-validation's 25 s CPU)
        ordered = similarities if groups.order is None else similarities[:, groups.order]
        best = np.maximum.reduceat(ordered, groups.starts, axis=1)
        out[:, groups.present] = best
        return out - out.mean(axis=1, keepdims=True)
    padded = np.concatenate(
        [similarities, np.full((rows, 1), -np.inf, dtype=similarities.dtype)], axis=1
    )
    slots = groups.slots()
    k = min(nearest, widest)
    for start in range(0, rows, _BLOCK):
        block = padded[start : start + _BLOCK][:, slots]  # (b, present, widest), a copy
        # k rounds of "take each label's best, then rule it out": 0.6 ms per message for k = 5
        # against 14 ms for np.partition along the last axis (measured at load 10)
        total = np.zeros(block.shape[:2], dtype=np.float64)
        for _ in range(k):
            where = block.argmax(axis=2)[..., None]
            best = np.take_along_axis(block, where, axis=2)[..., 0]
            total += np.where(np.isfinite(best), best, 0.0)
            if k > 1:
                np.put_along_axis(block, where, -np.inf, axis=2)
        out[start : start + _BLOCK, groups.present] = total / np.minimum(groups.sizes, k)
    return out - out.mean(axis=1, keepdims=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mapped_tensor(path: Path, name: str) -> npt.NDArray[np.float16]:
    """One float16 tensor of a safetensors file, memory-mapped read-only: a question touches a
    few of the 32,000 rows, so the process keeps a few pages of the 16 MB resident, not all.
    The format: an 8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range, then the data."""
    with path.open("rb") as stream:
        (size,) = struct.unpack("<Q", stream.read(8))
        header = json.loads(stream.read(size))
    tensor = header[name]
    if tensor["dtype"] != "F16":
        raise ValueError(f"{path.name}: {name} is {tensor['dtype']}, expected F16")
    start, end = tensor["data_offsets"]
    shape = tuple(tensor["shape"])
    if end - start != 2 * math.prod(shape):
        raise ValueError(f"{path.name}: {name} has {end - start} bytes for shape {shape}")
    return np.memmap(path, dtype="<f2", mode="r", offset=8 + size + start, shape=shape)


# (path, size, mtime) of wordllama files whose checksum an earlier process verified: see
# :func:`trust_checked_files`.
_CHECKED: set[tuple[str, int, int]] = set()


def _root() -> Path | None:
    spec = importlib.util.find_spec("wordllama")  # locates the package without importing it
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def file_stamps() -> list[tuple[str, int, int]]:
    """(path, size, mtime) of the embedding's two files, those present: what a cache built with
    the embedding records, to know later that the files are the same ones."""
    root = _root()
    if root is None:
        return []
    paths = [root / relative for relative, _ in (_WEIGHTS, _TOKENIZER)]
    return [file_stamp(path) for path in paths if path.is_file()]


def trust_checked_files(stamps: Sequence[tuple[str, int, int]]) -> None:
    """Skip the checksum of files that still have the name, size and modification time they
    had when an earlier process checked them (``knowledge.snapshot``: the stamp of a snapshot
    includes :func:`file_stamps`, and it was written after :func:`load_embedder` checked them).
    Hashing the 16 MB table costs every fresh process 20 ms; a changed file is hashed again."""
    _CHECKED.update((str(path), int(size), int(mtime)) for path, size, mtime in stamps)


def _pinned(path: Path, expected: str) -> bool:
    if not path.is_file():
        return False
    return file_stamp(path) in _CHECKED or _sha256(path) == expected


@lru_cache(maxsize=1)
def load_embedder() -> Embedder | None:
    """The embedding from the installed ``wordllama`` wheel's files, or None (with a warning)
    when the package is missing or its files are not the ones pinned here."""
    root = _root()
    if root is None:
        logger.warning("sentence embedding unavailable: the wordllama package is not installed")
        return None
    paths = []
    for relative, expected in (_WEIGHTS, _TOKENIZER):
        path = root / relative
        if not _pinned(path, expected):
            logger.warning(
                "sentence embedding unavailable: a wordllama file is missing or differs from "
                "the pinned checksum",
                extra={"file": relative},
            )
            return None
        paths.append(path)
    table = _mapped_tensor(paths[0], "embedding.weight")
    return Embedder(table=table, tokenizer_path=paths[1], digest=_WEIGHTS[1][:16])


@lru_cache(maxsize=2)
def _tokenizer(path: Path) -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))
