"""A channel-neutral reply: the console, Slack (Block Kit) and e-mail all render this one model.

Services decide *what* is said (facts, policy wording, citations); handlers decide only *how*
it looks on their surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.hr_records import Attachment
from bot.domain.questions import Intent

__all__ = ["Action", "Citation", "Reply", "Table"]


@dataclass(frozen=True, slots=True)
class Citation:
    entry_id: str  # "Q21", "S4", "RISK-3", "COVER"
    title: str
    pages: str  # printed pages, e.g. "5" or "15-17"

    def label(self) -> str:
        """ "Q21 · How do I tender my options? · p. 5"; the proxy statement has no printed
        page numbers, so its entries name the document instead."""
        where = f"p. {self.pages}" if self.pages else "2003 proxy statement"
        return f"{self.entry_id} · {self.title} · {where}"


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    """A follow-up the person can take (a Slack button, a console hint, an e-mail line)."""

    action_id: str  # "grants", "deadline", "talk_to_hr", "help"
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()
    actions: tuple[Action, ...] = ()
    kind: str = "answer"  # "answer", "personal", "abstain", "no_advice", "error", "help"
    data: dict[str, object] = field(default_factory=dict)  # machine-readable payload (--json)
    attachments: tuple[Attachment, ...] = ()  # files sent with the reply (a pre-filled form)
    # What the message asked for, as knowledge decided it (or the conversation, for a chat
    # command); None for replies that answer no question (HR commands, notices).
    intent: Intent | None = None
    confidence: float | None = None  # knowledge's probability; None: not a routed answer
