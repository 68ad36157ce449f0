"""Written communications about the offer, kept verbatim for the filing.

Written communications about a tender offer are filed with the SEC as Schedule TO exhibits, so
every broadcast and reminder *template* that went out is kept exactly as sent, once, with the
count of people it reached. Personal fields are kept as their placeholders (``{name}``); each
delivered copy is in the outbox, linked by ``reference``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Communication", "CommunicationStats"]


@dataclass(frozen=True, slots=True)
class Communication:
    key: str  # e.g. "extension:3", "reminder:2003-07-21T16:00:00+00:00"
    kind: str  # "extension_announcement", "amendment_notice", "reminder", "deadline_follow_up"
    subject: str
    body: str  # the template as sent, placeholders for the personal fields
    created_at: datetime
    channel_post: str | None = None  # the announcement-channel post, verbatim, if any
    id: int | None = None

    @property
    def reference(self) -> str:
        """What each outbox copy stores in ``reference`` to link back to this record."""
        if self.id is None:
            raise ValueError("the communication is not stored yet")
        return f"comm:{self.id}"


@dataclass(frozen=True, slots=True)
class CommunicationStats:
    """Delivery counts of one communication's copies, from the outbox."""

    queued: int
    sent: int
    failed: int  # refused, or out of attempts (not counting ``ambiguous``)
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    by_channel: dict[str, int]  # channel → sent
    queued_by_channel: dict[str, int] = field(default_factory=dict)  # channel → copies
    ambiguous: int = 0  # copies the connection died on after the final "." (maybe delivered)
