"""Who is asking, as far as the channel could verify it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Identity"]


@dataclass(frozen=True, slots=True)
class Identity:
    """``employee_id`` is set only when the channel verified the person against the roster.

    Personal data is only ever shown to a verified identity, and only that person's own.
    """

    channel: str  # "console", "cli", "slack", "email"
    actor: str  # what the channel knows: Slack user id, e-mail address, "hr:<name>"
    employee_id: str | None = None

    @property
    def verified(self) -> bool:
        return self.employee_id is not None
