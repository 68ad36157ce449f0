"""The folder ``offerbot hr close --out-dir`` writes the Promise to Grant PDFs to.

Each letter is written whole to a hidden sibling and renamed into place, mode 0640 (personal
data), so a kill mid-write never leaves half a PDF under a letter's name — at most a hidden
``.name.partial`` that the next run replaces. Files are not synced one by one (3–4 ms each
here: 20,000 letters would spend over a minute waiting on the disk); :meth:`flush` syncs the
folder's file system once per batch, before that batch's database commit, so a batch the
database counts as done always has its letters on disk.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

from bot.private_files import EXPORT_DIR_MODE, EXPORT_FILE_MODE

__all__ = ["LetterFolder"]


class LetterFolder:
    """A :class:`bot.services.elections.close.LetterSink` over a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=EXPORT_DIR_MODE, parents=True, exist_ok=True)
        self._dirty = False

    def path(self, filename: str) -> Path:
        return self.folder / filename

    def write(self, filename: str, content: bytes) -> None:
        if "/" in filename or filename.startswith("."):
            raise ValueError(f"not a plain file name: {filename!r}")
        target = self.folder / filename
        partial = self.folder / f".{filename}.partial"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(partial, flags, EXPORT_FILE_MODE)
        try:
            os.fchmod(fd, EXPORT_FILE_MODE)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        partial.replace(target)
        self._dirty = True

    def flush(self) -> None:
        if not self._dirty:
            return
        _sync_file_system(self.folder)
        self._dirty = False


def _sync_file_system(folder: Path) -> None:
    """``syncfs(2)`` on the folder's file system (Linux); elsewhere ``sync``."""
    name = ctypes.util.find_library("c")
    syncfs = getattr(ctypes.CDLL(name, use_errno=True), "syncfs", None) if name else None
    if syncfs is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(folder))
    finally:
        os.close(fd)
