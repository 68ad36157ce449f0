"""Small interfaces the core depends on; adapters and test fakes implement them.

The storage contract — :class:`UnitOfWork` and the repositories it exposes — is large enough
to have its own module, :mod:`bot.storage_ports`; it is re-exported here so services import
every port from one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.storage_ports import UnitOfWork

if TYPE_CHECKING:
    from bot.domain.hr_records import OutboxMessage

__all__ = [
    "AmbiguousDeliveryError",
    "Clock",
    "DeliveryError",
    "OutboxTransport",
    "PermanentDeliveryError",
    "TransientDeliveryError",
    "UnitOfWork",
]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class OutboxTransport(Protocol):
    """Delivers one outbox message on one channel ("email", "slack").

    Raises :class:`TransientDeliveryError` for failures worth retrying (4xx, connection
    errors, Slack 429) and :class:`PermanentDeliveryError` for ones that are not (5xx, unknown
    user). The outbox sender owns retries, leases and marking; a transport only sends.
    """

    channel: str

    async def send(self, message: OutboxMessage) -> str | None:
        """Send it; return the channel's id for the delivery (Message-ID, Slack ts) if any."""
        ...


class DeliveryError(Exception):
    """A message could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """Try again later (with backoff)."""


class PermanentDeliveryError(DeliveryError):
    """Do not retry; tell HR."""


class AmbiguousDeliveryError(DeliveryError):
    """The outcome is unknown (e.g. a timeout after SMTP's final "."): retrying could send a
    duplicate, so the sender marks it ``ambiguous`` and tells HR."""
