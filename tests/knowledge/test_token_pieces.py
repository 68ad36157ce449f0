"""Known pieces give exactly the tokenizer's ids (and so the same embedding), or step aside.

The proof the cache rests on (``knowledge.token_pieces``) is checked three ways: the pinned
tokenizer has the shape it assumes; cutting a text into pieces and tokenizing each with the BPE
model alone equals the whole tokenizer on thousands of varied texts; and a cache built from the
bundled bank and documents answers every one of their texts with the tokenizer's own ids.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge.answerer import offer_entries
from knowledge.bank import load_bank
from knowledge.embedding import TOKENIZER_SHA256, Embedder, load_embedder
from knowledge.offer_terms import bundled_offer_dir
from knowledge.router import Router
from knowledge.token_pieces import (
    KnownPieces,
    check_tokenizer,
    model_pieces,
    pieces_path,
    read_known_pieces,
    write_known_pieces,
)
from knowledge.training import load_router
from tests.knowledge.test_router import ENTRIES, SMALL

# Texts that stress the cut: runs of spaces (Llama has "▁▁" … tokens), leading and trailing
# spaces, a literal "▁", tabs and newlines, digits, punctuation glued to words, accents,
# combining marks, scripts the vocabulary lacks (byte fallback), emoji, zero-width characters.
HARD = [
    "",
    " ",
    "   ",
    "a",
    "when is the deadline",
    "When is the deadline?",
    "  when  is   the    deadline  ",
    "deadline??",
    "x\ty\nz\r\n",
    "\u2581literal\u2581 marks\u2581\u2581",
    "123,456.78 $4.50 10% 2003-07-24 5:00pm",
    "naïve café résumé Ünïcödé",
    "e\u0301 combining",
    "中文 字 日本語 한국어 العربية",
    "emoji 😀👍🏽 done",
    "zero\u200bwidth\u200djoin\ufeff",
    "\u00a0nbsp\u00a0x",
    "recieve  my   grnats?",
    "e-mail:someone@example.com!!!",
    'it\'s (really) "quoted" — dashes – and … dots',
    "ALL CAPS SHOUTING",
    "tEnDeR mY oPtIoNs",
]
ADDED = ["<s>", "</s>", "<unk>", "hi <s> there", "end</s>"]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    found = load_embedder()
    assert found is not None, "the wordllama wheel is a dependency"
    return found


@pytest.fixture(scope="module")
def bundled_texts() -> list[str]:
    folder = bundled_offer_dir()
    texts = [example.text for example in load_bank(folder).examples]
    for entry in offer_entries(folder):
        texts += [entry.title, entry.question, entry.text]
    return texts


def _real(embedder: Embedder, text: str) -> list[int]:
    return list(embedder.tokenizer.encode(text, add_special_tokens=False).ids)


def _piecewise(embedder: Embedder, text: str) -> list[int]:
    model = embedder.tokenizer.model
    return [token.id for piece in model_pieces(text) for token in model.tokenize(piece)]


def _random_texts(count: int) -> list[str]:
    rng = random.Random(15)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    alphabet += list(" " * 12 + "\u2581\t\n.,;:!?'\"()-$%/@#&*é中😀\u200b\u00a0ß")
    words = [
        "the",
        "deadline",
        "tender",
        "options",
        "grant",
        "exchange",
        "withdraw",
        "form",
        "HR",
        "vesting",
    ]
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.5:
                parts.append(rng.choice(words))
            else:
                parts.append("".join(rng.choices(alphabet, k=rng.randint(1, 8))))
        texts.append(rng.choice(["", " ", "  "]).join(parts))
    return texts


def test_the_pinned_tokenizer_has_the_shape_the_pieces_rely_on(embedder: Embedder) -> None:
    config = json.loads(embedder.tokenizer.to_str())
    assert check_tokenizer(config) is None
    broken: dict[str, Any] = {**config, "pre_tokenizer": {"type": "Whitespace"}}
    assert check_tokenizer(broken) is not None
    vocab = {**config["model"]["vocab"], "a\u2581b": 99999}
    assert check_tokenizer({**config, "model": {**config["model"], "vocab": vocab}}) is not None


def test_pieces_join_back_to_the_normalized_text() -> None:
    for text in HARD + _random_texts(300):
        expected = "\u2581" + text.replace(" ", "\u2581") if text else ""
        assert "".join(model_pieces(text)) == expected


def test_tokenizing_piece_by_piece_equals_the_tokenizer(
    embedder: Embedder, bundled_texts: list[str]
) -> None:
    texts = HARD + _random_texts(3000) + bundled_texts
    for text in texts:
        assert _piecewise(embedder, text) == _real(embedder, text), text


def test_known_pieces_answer_the_bank_and_documents_with_the_tokenizers_ids(
    embedder: Embedder, bundled_texts: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "tokens-k.json"
    assert write_known_pieces(
        path, embedder.tokenizer, bundled_texts + HARD, tokenizer_sha256=TOKENIZER_SHA256
    )
    known = read_known_pieces(path, tokenizer_sha256=TOKENIZER_SHA256)
    assert known is not None
    for text in bundled_texts + HARD:
        if any(token in text for token in ADDED[:3]):
            continue
        assert known.ids(text) == _real(embedder, text), text
    # the lower-case and capitalised forms of each word are written too
    assert known.ids("WHEN IS THE DEADLINE?".lower()) == _real(embedder, "when is the deadline?")
    assert known.ids("Deadline") == _real(embedder, "Deadline")
    # an added token is matched before the normalizer: never answered from the pieces
    for text in ADDED:
        assert known.ids(text) is None
    # a piece nobody wrote: not known, so the tokenizer answers
    assert known.ids("zorblaxquasiplasm") is None


def test_an_embedder_with_known_pieces_gives_the_same_vectors(
    embedder: Embedder, tmp_path: Path
) -> None:
    texts = ["when is the deadline", "can I tender some grants?", "zorblax!", "<s>", ""]
    path = tmp_path / "tokens-k.json"
    assert write_known_pieces(
        path, embedder.tokenizer, texts[:2], tokenizer_sha256=TOKENIZER_SHA256
    )
    known = read_known_pieces(path, tokenizer_sha256=TOKENIZER_SHA256)
    assert known is not None and known.ids(texts[0]) is not None
    with_known = embedder.with_known(known)
    assert with_known.token_ids(texts) == [_real(embedder, text) for text in texts]
    assert np.array_equal(with_known.embed(texts), embedder.embed(texts))


def test_a_stale_or_broken_file_is_ignored(embedder: Embedder, tmp_path: Path) -> None:
    path = tmp_path / "tokens-k.json"
    assert write_known_pieces(path, embedder.tokenizer, ["hi"], tokenizer_sha256="other")
    assert read_known_pieces(path, tokenizer_sha256=TOKENIZER_SHA256) is None
    path.write_text("not json")
    assert read_known_pieces(path, tokenizer_sha256=TOKENIZER_SHA256) is None
    assert read_known_pieces(tmp_path / "missing.json", tokenizer_sha256="x") is None
    # a value that is not an id string: that piece counts as unknown
    odd = KnownPieces({"\u2581hi": [1, 2]}, ())  # type: ignore[dict-item]
    assert odd.ids("hi") is None


def test_the_router_cache_gets_its_pieces_and_loads_them(tmp_path: Path) -> None:
    router = load_router(SMALL, ENTRIES, (), cache_dir=tmp_path)
    (router_file,) = tmp_path.glob("router-*.npz")
    assert pieces_path(router_file).is_file()
    loaded = Router.load(router_file, key=router.key)
    assert loaded is not None and loaded.neighbours is not None
    known = loaded.neighbours.embedder.known
    assert known is not None and known.ids("who qualifies") is not None
    for text in ["who qualifies?", "am i allowed to join", "zorblax menu"]:
        assert np.array_equal(router.logits(text), loaded.logits(text))
    # removed: the next load_router writes it again; the router still loads without it
    pieces_path(router_file).unlink()
    without = Router.load(router_file, key=router.key)
    assert without is not None and without.neighbours is not None
    assert without.neighbours.embedder.known is None
    assert np.array_equal(without.logits("who qualifies?"), router.logits("who qualifies?"))
    again = load_router(SMALL, ENTRIES, (), cache_dir=tmp_path)
    assert again.neighbours is not None and again.neighbours.embedder.known is not None


def test_every_sentence_an_answer_may_quote_is_tokenized_without_the_tokenizer(
    tmp_path: Path,
) -> None:
    """The answer's choice of sentences embeds each sentence of its entry; one that opens a
    paragraph starts with a piece ("▁This") that the entry's whole text never has."""
    from knowledge.compose import sentences
    from knowledge.parser import Entry

    entries = [*ENTRIES, Entry("S9", "section", "Plans", "Intro here.\n\nThis opens it.", "22")]
    router = load_router(SMALL, entries, (), cache_dir=tmp_path)
    assert router.neighbours is not None
    (router_file,) = tmp_path.glob("router-*.npz")
    known = read_known_pieces(pieces_path(router_file), tokenizer_sha256=TOKENIZER_SHA256)
    assert known is not None
    quoted = [sentence for entry in entries for sentence in sentences(entry.text)]
    assert "This opens it." in quoted
    assert all(known.ids(sentence) is not None for sentence in quoted)
