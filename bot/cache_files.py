"""Cache files one process writes for the next — the knowledge snapshot, the tokenizer's known
pieces, the holiday table: JSON that replaces the old file in one step (a temporary sibling,
then a rename), so a reader never sees half a file. A cache is never personal data (those files
go through :mod:`bot.private_files`), and a folder that cannot be written only means the next
process works it out again: callers catch the ``OSError`` and log it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["default_cache_dir", "file_stamp", "unchanged", "write_json_cache"]

FileStamp = tuple[str, int, int]  # (path, size, modification time in ns)


def default_cache_dir() -> Path:
    """Where trained routers and the other caches are kept unless the caller says otherwise.
    Here, not in ``knowledge``, so a process that needs only the holiday table does not import
    numpy for a path."""
    return Path.home() / ".cache" / "offerbot"


def write_json_cache(path: Path, data: Any, *, compact: bool = False) -> None:
    """Replace ``path`` with ``data`` as JSON (``compact``: no spaces after separators).
    Raises ``OSError`` when the folder cannot be created or written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            separators = (",", ":") if compact else None
            json.dump(data, stream, ensure_ascii=False, separators=separators)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def file_stamp(path: str | Path) -> FileStamp:
    """What a cache records of a file it was made from, to know later (a stat, no reading)
    that the file is still the same one. Raises ``OSError`` for a missing file."""
    stat = os.stat(path)
    return (str(path), stat.st_size, stat.st_mtime_ns)


def unchanged(stamps: object) -> bool:
    """Every recorded ``(path, size, mtime)`` still describes its file (False for none, for a
    malformed record or a missing file)."""
    if not isinstance(stamps, list) or not stamps:
        return False
    try:
        return all(file_stamp(path) == (path, size, mtime) for path, size, mtime in stamps)
    except (OSError, TypeError, ValueError):
        return False
