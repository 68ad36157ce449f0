"""`hr close --out-dir`'s folder (bot/letter_files.py): letters are written by a few threads, and
`flush` — called before each batch commits — returns only once every one is whole on disk, or
raises the first failure so that batch does not commit."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.letter_files import LetterFolder
from bot.private_files import EXPORT_FILE_MODE


def test_every_letter_is_whole_and_private_once_flush_returns(tmp_path: Path) -> None:
    folder = LetterFolder(tmp_path / "letters", threads=4)
    try:
        contents = {
            f"promise-to-grant-E{i:04d}.pdf": bytes([i % 251]) * (3000 + i) for i in range(200)
        }
        for name, content in contents.items():
            folder.write(name, content)
        folder.write("promise-to-grant-E0007.pdf", b"again")  # a retried batch: last one wins
        contents["promise-to-grant-E0007.pdf"] = b"again"
        folder.flush()
        on_disk = {p.name: p.read_bytes() for p in (tmp_path / "letters").iterdir()}
        assert on_disk == contents  # no hidden partial left beside them
        modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "letters").iterdir()}
        assert modes == {EXPORT_FILE_MODE}
    finally:
        folder.close()


def test_a_failed_write_is_raised_by_flush(tmp_path: Path) -> None:
    folder = LetterFolder(tmp_path / "letters", threads=2)
    blocked = tmp_path / "letters" / "promise-to-grant-E1.pdf"
    blocked.mkdir()  # a directory where the letter should go: the rename must fail
    (blocked / "keep").write_text("x")
    try:
        folder.write("promise-to-grant-E2.pdf", b"fine")
        folder.write("promise-to-grant-E1.pdf", b"cannot land")
        with pytest.raises(OSError):
            folder.flush()
        assert (tmp_path / "letters" / "promise-to-grant-E2.pdf").read_bytes() == b"fine"
        folder.flush()  # the failure was reported once; nothing is left pending
    finally:
        folder.close()


def test_without_threads_a_letter_is_written_at_once(tmp_path: Path) -> None:
    folder = LetterFolder(tmp_path, threads=0)
    folder.write("promise-to-grant-E1.pdf", b"now")
    assert (tmp_path / "promise-to-grant-E1.pdf").read_bytes() == b"now"
    folder.flush()
