"""The knowledge base's snapshot (knowledge/snapshot.py): a later process loads it instead of
parsing, and a changed offer.toml, bank file or document means a new build, never a stale one.

Each test works on a copy of the bundled offer folder and a cache folder of its own, seeded with
the bundled offer's trained router (its key hashes the bank's and documents' contents, so the
copy's router is the same file and nothing is trained here). A "fresh process" is the loaded
knowledge bases forgotten (`_forget`); tests/cli/test_console_script.py runs real processes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge import answerer
from knowledge.answerer import default_cache_dir, knowledge_base
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms
from knowledge.training import router_path

TERMS = load_offer_terms()


@pytest.fixture
def offer(tmp_path: Path) -> tuple[Path, Path]:
    """(offer folder, cache folder): a copy of the bundled offer, a cache with its router."""
    bundled = knowledge_base(bundled_offer_dir())  # trains into the default cache if needed
    folder = tmp_path / "offer"
    shutil.copytree(bundled_offer_dir(), folder)
    cache = tmp_path / "cache"
    cache.mkdir()
    trained = router_path(default_cache_dir(), bundled.router.key)
    shutil.copy2(trained, cache / trained.name)
    return folder, cache


@pytest.fixture(autouse=True)
def _keep_the_loaded_knowledge_bases() -> Iterator[None]:
    """Other tests hold the bundled knowledge base and expect the same object back."""
    kept = dict(answerer._LOADED)
    yield
    answerer._LOADED.clear()
    answerer._LOADED.update(kept)


def _forget() -> None:
    """What a new process starts without: the knowledge bases this one loaded."""
    answerer._LOADED.clear()
    answerer._cached_knowledge_base.cache_clear()


def _snapshot(cache: Path) -> Path:
    (path,) = cache.glob("kb-*.json")
    return path


def _mark_snapshot(cache: Path) -> None:
    """Rename Q20 inside the snapshot (its stamp kept): a knowledge base that shows the new title
    was read from the snapshot, one that shows the offer's was parsed from the files."""
    path = _snapshot(cache)
    data = json.loads(path.read_text(encoding="utf-8"))
    for entry in data["entries"]:
        if entry["id"] == "Q20":
            entry["title"] = "FROM THE SNAPSHOT"
    path.write_text(json.dumps(data), encoding="utf-8")


def _q20_title(folder: Path, cache: Path) -> str:
    _forget()
    entry = knowledge_base(folder, cache).entry("Q20")
    assert entry is not None
    return entry.title


def test_a_later_process_loads_the_snapshot_and_answers_the_same(
    offer: tuple[Path, Path],
) -> None:
    folder, cache = offer
    _forget()
    built = knowledge_base(folder, cache)
    assert _snapshot(cache).is_file()
    _forget()
    loaded = knowledge_base(folder, cache)
    assert loaded is not built
    assert loaded.entries == built.entries and loaded.digest == built.digest
    assert loaded.router.key == built.router.key
    for question in ("when is the deadline", "can I fax my form?", "lunch menu", "hi"):
        got = answerer.answer(question, kb=loaded, terms=TERMS)
        assert got == answerer.answer(question, kb=built, terms=TERMS)

    _mark_snapshot(cache)
    assert _q20_title(folder, cache) == "FROM THE SNAPSHOT"  # read, not parsed


@pytest.mark.parametrize("changed", ["offer.toml", "questions/term-sheet-1.txt", "offer.txt"])
def test_a_changed_offer_file_or_bank_file_builds_again(
    offer: tuple[Path, Path], changed: str
) -> None:
    folder, cache = offer
    _forget()
    original = knowledge_base(folder, cache).entry("Q20")
    assert original is not None
    _mark_snapshot(cache)
    assert _q20_title(folder, cache) == "FROM THE SNAPSHOT"

    # A newer modification time alone (an editor's save of the same text): the stamp differs,
    # so the files are parsed again — and their contents are the same, so is the router.
    path = folder / changed
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert _q20_title(folder, cache) == original.title
    # and the snapshot was written again, for the new stamp
    assert _q20_title(folder, cache) == original.title
    assert "FROM THE SNAPSHOT" not in _snapshot(cache).read_text(encoding="utf-8")


def test_an_unreadable_snapshot_is_built_again(offer: tuple[Path, Path]) -> None:
    folder, cache = offer
    _forget()
    original = knowledge_base(folder, cache)
    _snapshot(cache).write_text("{not json", encoding="utf-8")
    _forget()
    assert knowledge_base(folder, cache).entries == original.entries
    json.loads(_snapshot(cache).read_text(encoding="utf-8"))  # rewritten whole
