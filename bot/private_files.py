"""Files that hold personal data — Promise to Grant and Election Form PDFs, CSV exports, the
communications log — are written mode 0640 (owner read/write, group read, nobody else) whatever
the process's umask, in one step, so an interrupted write never leaves half a file. (The
database file is created 0600 by :mod:`storage.db`.)
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["EXPORT_DIR_MODE", "EXPORT_FILE_MODE", "write_private"]

EXPORT_FILE_MODE = 0o640
EXPORT_DIR_MODE = 0o750


def write_private(path: Path, content: bytes | str, *, mode: int = EXPORT_FILE_MODE) -> None:
    """Replace ``path`` with ``content`` (text is written as UTF-8), readable as ``mode`` says.

    The content goes to a hidden sibling first, created with ``mode`` and set to it exactly
    (the umask could only take bits away, and a leftover sibling could have any mode), then
    renamed over ``path``; a missing folder is created 0750.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(mode=EXPORT_DIR_MODE, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(partial, flags, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(fd)
    finally:
        os.close(fd)
    partial.replace(path)
