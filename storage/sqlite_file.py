"""One stdlib connection for a one-statement read of an existing SQLite file.

Its own module, with nothing but the standard library: :mod:`storage.deferred` reads with it
in a process that has not loaded SQLAlchemy, and :mod:`storage.offer_reads` pools it under a
sync engine; neither may import the other (an import circle through the repositories).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

__all__ = ["connect_sqlite_file"]


def connect_sqlite_file(path: Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """``mode=rw`` never creates a missing file (it would be 0644; :mod:`storage.db` makes it
    0600), ``timeout=0`` answers "busy" at once instead of waiting in the event loop, and
    autocommit holds no transaction open."""
    uri = f"file:{quote(os.path.abspath(path))}?mode=rw"
    return sqlite3.connect(
        uri, uri=True, timeout=0, check_same_thread=check_same_thread, isolation_level=None
    )
