"""The embedding tokenizer's answers for the words the router already knows, kept on disk.

Why: ``offerbot ask`` is a fresh process per question (target 0.8 s with Python's start, issue
15), and loading the embedding's tokenizer (``tokenizers.Tokenizer.from_file``, one 1.8 MB JSON
with 32,000 tokens and 61,249 merges) cost it 76 ms of the 4 ms question. The words of a
question are nearly always words of the question bank or of the offer's documents; their token
ids are computed once, when the router is trained or first cached (``knowledge.training``), and
read back here from a small JSON file. A question with any piece not in the file is tokenized by
the real tokenizer, as before.

Why this gives exactly the real tokenizer's ids. The pinned tokenizer (Llama-2's SentencePiece
BPE, as the ``tokenizers`` library runs it) has no pre-tokenizer: its normalizer prepends "▁"
and replaces every space " " by "▁", then BPE merges run over the whole string. No token of its
vocabulary has a "▁" after another character (the pure runs "▁▁", "▁▁▁" … start with one), so no
token — and no merge, whose result is a token — ever spans the point between a character that is
not "▁" and a "▁" that follows it. BPE applies each possible merge by its rank, and a merge never
touches two sides of such a point, so the merges on one side never change what happens on the
other: the ids of the whole string are the ids of its **pieces** (a run of "▁" followed by a run
of other characters; a trailing run of "▁" alone) one after the other, each tokenized by the BPE
model alone. Added tokens ("<s>", "</s>", "<unk>") are matched in the raw text before the
normalizer, so a text containing one is never answered from here. :func:`check_tokenizer` holds
the assumptions this rests on (normalizer, no pre-tokenizer, the vocabulary's shape) and a cache
is not written for a tokenizer that breaks one; ``tests/knowledge/test_token_pieces.py`` compares
both ways on every text of the bank and documents and on hand-made hard cases.

The file is named after the router's cache file and records the tokenizer's pinned checksum:
a different tokenizer means no cache (the real one is used). JSON, never pickle: a cache file is
data and never code.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.cache_files import write_json_cache

__all__ = [
    "PIECES_VERSION",
    "KnownPieces",
    "check_tokenizer",
    "model_pieces",
    "pieces_path",
    "read_known_pieces",
    "write_known_pieces",
]

logger = logging.getLogger(__name__)

# Change when the file's content or the way pieces are cut changes: older files are ignored.
PIECES_VERSION = "pieces-2"

_SPACE = "\u2581"  # "▁", SentencePiece's word-boundary mark
# A run of "▁" then a run of other characters; or a run of "▁" at the end of the text.
_PIECE = re.compile(f"{_SPACE}*[^{_SPACE}]+|{_SPACE}+")
_EXPECTED_NORMALIZER = {
    "type": "Sequence",
    "normalizers": [
        {"type": "Prepend", "prepend": _SPACE},
        {"type": "Replace", "pattern": {"String": " "}, "content": _SPACE},
    ],
}


def model_pieces(text: str) -> list[str]:
    """The text as the tokenizer's normalizer leaves it ("▁" before it, "▁" for each space),
    cut before every "▁" that follows another character; the pieces joined give it back."""
    if not text:
        return []  # the normalizer prepends nothing to an empty text: no tokens
    return _PIECE.findall(_SPACE + text.replace(" ", _SPACE))


def check_tokenizer(config: Mapping[str, Any]) -> str | None:
    """Why pieces cannot stand for this tokenizer (its ``tokenizer.json`` as a dict), or None
    when the assumptions of this module's docstring hold."""
    if config.get("normalizer") != _EXPECTED_NORMALIZER:
        return "the normalizer is not Prepend('▁') then Replace(' ', '▁')"
    if config.get("pre_tokenizer") is not None:
        return "the tokenizer has a pre-tokenizer"
    model = config.get("model") or {}
    if model.get("type") != "BPE" or model.get("dropout") not in (None, 0.0):
        return "the model is not a BPE without dropout"
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        return "the BPE model marks subwords"
    for token in model.get("vocab", {}):
        if _SPACE in token.lstrip(_SPACE):
            return f"the vocabulary has a token with '▁' inside: {token!r}"
    return None


@dataclass(frozen=True, slots=True)
class KnownPieces:
    """Token ids of known pieces; :meth:`ids` answers a whole text or says it cannot."""

    ids_of: Mapping[str, str]  # piece → its ids, space-separated (JSON strings parse in half
    # the time of JSON lists: 7 against 14 ms for the bundled offer's 14,000 pieces)
    added: tuple[str, ...]  # the tokenizer's added tokens, matched before the normalizer

    def ids(self, text: str) -> list[int] | None:
        """The real tokenizer's ids for ``text`` (without special tokens), or None when a piece
        is unknown or the text contains an added token."""
        if any(token in text for token in self.added):
            return None
        ids: list[int] = []
        for piece in model_pieces(text):
            known = self.ids_of.get(piece)
            if not isinstance(known, str):  # unknown (or a file not written by this module)
                return None
            ids += map(int, known.split())
        return ids


def pieces_path(router_file: Path) -> Path:
    """``router-KEY.npz`` → ``tokens-KEY.json`` beside it."""
    return router_file.with_name(router_file.stem.replace("router-", "tokens-", 1) + ".json")


def read_known_pieces(path: Path, *, tokenizer_sha256: str) -> KnownPieces | None:
    """The file's pieces if it is for this tokenizer; None when missing, stale or unreadable."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("version") != PIECES_VERSION or data.get("tokenizer") != tokenizer_sha256:
            return None
        pieces = data["pieces"]
        if not isinstance(pieces, dict):
            return None
        return KnownPieces(pieces, tuple(str(token) for token in data["added"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_known_pieces(
    path: Path, tokenizer: Any, texts: Iterable[str], *, tokenizer_sha256: str
) -> bool:
    """Tokenize every piece of ``texts`` (and its lower-case and capitalised forms, as a
    question may write them) with ``tokenizer``'s BPE model alone, and write them atomically.
    False, with nothing written, when :func:`check_tokenizer` refuses the tokenizer or the
    folder cannot be written (the next process then uses the real tokenizer)."""
    config = json.loads(tokenizer.to_str())
    refused = check_tokenizer(config)
    if refused is not None:
        logger.info("tokenizer pieces not cached", extra={"reason": refused})
        return False
    pieces: set[str] = set()
    for text in texts:
        for piece in model_pieces(text):
            pieces.add(piece)
            word = piece.lstrip(_SPACE)
            marks = piece[: len(piece) - len(word)]
            pieces.add(marks + word.lower())
            pieces.add(marks + word[:1].upper() + word[1:].lower())
    model = tokenizer.model
    data = {
        "version": PIECES_VERSION,
        "tokenizer": tokenizer_sha256,
        "added": sorted(token["content"] for token in config.get("added_tokens", [])),
        "pieces": {
            piece: " ".join(str(token.id) for token in model.tokenize(piece))
            for piece in sorted(pieces)
        },
    }
    try:
        write_json_cache(path, data, compact=True)
    except OSError as exc:
        logger.warning("tokenizer pieces not written", extra={"error": type(exc).__name__})
        return False
    return True
