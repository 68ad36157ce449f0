"""The parsed knowledge base kept on disk beside the router, so a fresh process loads one file.

Why: ``offerbot ask`` is a fresh process per question, and its target is 0.8 s with Python's own
start included (issue 15). Building the knowledge base from the offer folder costs it about
0.15 s of CPU before the router is even read: parsing the offer text and the proxy statement
into entries, reading the question bank, and hashing the documents and the bank for the router
cache's key (``knowledge.training.router_key``). None of that changes between two questions.

The snapshot is a JSON file in the router's cache folder, one per offer folder: the entries,
the digest, and which router file (with its full key) they go with. It is used only when its
**stamp** matches: the names, sizes and modification times of the offer folder's files and its
question bank (the same listing a running process re-checks every second), of the
``knowledge`` package's own source files (a parser that changed must parse again), of the
sentence embedding's files (then their pinned checksums, checked by the process that wrote the
snapshot, need not be computed again: ``knowledge.embedding.trust_checked_files``), and the
router's feature version. Nothing is hashed to check it — a stat of about fifty files. When the
stamp differs (an edited bank, a replaced document, a new release) the caller builds the
knowledge base as before, with the full hashes, and writes a new snapshot. The router file is
still loaded by :meth:`knowledge.router.Router.load`, which checks its key. JSON, not pickle: a
cache file is data and never code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.cache_files import write_json_cache
from knowledge.embedding import file_stamps
from knowledge.parser import Entry
from knowledge.router import FEATURE_VERSION

__all__ = ["Snapshot", "file_listing", "read_snapshot", "snapshot_stamp", "write_snapshot"]

logger = logging.getLogger(__name__)

# Change when what the snapshot holds, or how it is read, changes: older files are ignored.
SNAPSHOT_VERSION = "kb-1"
_CODE = Path(__file__).resolve().parent  # the knowledge package: parser, bank, router …


def file_listing(folder: Path, suffix: str = "") -> list[tuple[str, int, int]]:
    """(path, size, mtime) of the files directly in ``folder`` whose names end with ``suffix``
    (none when the folder is missing): a stat, no reading. Also what a running process
    compares every second to see an edited offer folder (``knowledge.answerer``)."""
    found: list[tuple[str, int, int]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file() and entry.name.endswith(suffix):
                    stat = entry.stat()
                    found.append((entry.path, stat.st_size, stat.st_mtime_ns))
    except FileNotFoundError:
        pass
    return found


def snapshot_stamp(offer_dir: Path, cache_dir: Path) -> str:
    """What the snapshot must have been made from (the module docstring): a hash of file names,
    sizes and modification times, the feature version and the cache folder's path."""
    files = [
        *file_listing(offer_dir),
        *file_listing(offer_dir / "questions"),
        *file_listing(_CODE, ".py"),
        *file_stamps(),  # the sentence embedding's table and tokenizer
    ]
    digest = hashlib.sha256(f"{SNAPSHOT_VERSION};{FEATURE_VERSION};{cache_dir};".encode())
    for name, size, mtime in sorted(files):
        digest.update(f"{name}:{size}:{mtime};".encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """A snapshot that matched its stamp: the entries, the digest, the router file and key."""

    entries: list[Entry]
    digest: str
    router_path: Path
    router_key: str


def _path(offer_dir: Path, cache_dir: Path) -> Path:
    folder = hashlib.sha256(str(offer_dir).encode()).hexdigest()[:16]
    return cache_dir / f"kb-{folder}.json"


def read_snapshot(offer_dir: Path, cache_dir: Path, *, stamp: str) -> Snapshot | None:
    """The snapshot of ``offer_dir`` made with this ``stamp``, or None (missing, stale or
    unreadable: the caller builds the knowledge base)."""
    try:
        data = json.loads(_path(offer_dir, cache_dir).read_bytes())
        if data.get("version") != SNAPSHOT_VERSION or data.get("stamp") != stamp:
            return None
        return Snapshot(
            entries=[_entry(item) for item in data["entries"]],
            digest=str(data["digest"]),
            router_path=cache_dir / str(data["router"]),
            router_key=str(data["router_key"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_snapshot(
    offer_dir: Path,
    cache_dir: Path,
    *,
    stamp: str,
    entries: list[Entry] | tuple[Entry, ...],
    digest: str,
    router_path: Path,
    router_key: str,
) -> None:
    """Write atomically (a temporary file renamed); a cache folder that cannot be written only
    means the next process builds again."""
    data = {
        "version": SNAPSHOT_VERSION,
        "stamp": stamp,
        "digest": digest,
        "router": router_path.name,
        "router_key": router_key,
        "entries": [_entry_json(entry) for entry in entries],
    }
    path = _path(offer_dir, cache_dir)
    try:
        write_json_cache(path, data)
    except OSError as exc:
        logger.warning("knowledge snapshot not written", extra={"error": type(exc).__name__})


def _entry_json(entry: Entry) -> dict[str, Any]:
    return asdict(entry)  # page_refs, a tuple, is written as a JSON list


def _entry(item: dict[str, Any]) -> Entry:
    return Entry(**{**item, "page_refs": tuple(item["page_refs"])})
