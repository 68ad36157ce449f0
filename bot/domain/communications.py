"""Written communications about the offer, kept verbatim for the filing.

Written communications about a tender offer are filed with the SEC as Schedule TO exhibits, so
every broadcast and reminder *template* that went out is kept exactly as sent, once, with the
count of people it reached. Personal fields are kept as their placeholders (``{name}``); each
delivered copy is in the outbox, linked by ``reference``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

__all__ = [
    "GRANTS_PLACEHOLDER",
    "NAME_PLACEHOLDER",
    "Communication",
    "CommunicationStats",
    "PersonalCopy",
    "personal_text",
]

NAME_PLACEHOLDER = "{name}"  # the personal fields of a template (kept as sent)
GRANTS_PLACEHOLDER = "{grants}"  # a reminder's list of the person's eligible grants


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


class PersonalCopy(NamedTuple):
    """One person's copy of a stored communication on one channel: its text is the
    communication's ``body`` with the personal fields filled in (:func:`personal_text`). The
    outbox keeps the text once per communication and only these fields per copy. A tuple, not
    a dataclass: a reminder round builds ~120,000 of them."""

    idempotency_key: str
    channel: str  # "email" | "slack"
    recipient: str  # the address, or the Slack user id
    employee_id: str
    name: str  # replaces NAME_PLACEHOLDER
    grants: str | None = None  # replaces GRANTS_PLACEHOLDER; None: left as it is


def personal_text(body: str, *, name: str | None, grants: str | None) -> str:
    """The text a person receives: the grants first, then the name (a name is never searched
    for a placeholder it happens to contain). The outbox's stored form of a copy is read back
    with the same replacements in SQL (``storage.outbox_models.OUTBOX_BODY``)."""
    if grants is not None:
        body = body.replace(GRANTS_PLACEHOLDER, grants)
    return body if name is None else body.replace(NAME_PLACEHOLDER, name)
