"""Records of the IMAP watcher's progress: where it is in a mailbox, and each message it read.

Plain values shared by the e-mail channel (which decides what to record) and ``storage/``
(which keeps them, :class:`storage.mail_repo.InboxRepository`). No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ImapPosition", "InboundRecord"]


@dataclass(frozen=True, slots=True)
class ImapPosition:
    """The last UID read in ``mailbox`` under its ``uidvalidity`` (a new one restarts it)."""

    mailbox: str
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """One message read: where it was, its content hash (dedupe), and what became of it."""

    mailbox: str
    uidvalidity: int
    uid: int
    content_hash: str
    sender: str
    employee_id: str | None
    received_at: datetime
    outcome: str
    processed_at: datetime | None = None  # our clock: what rate limits count in
