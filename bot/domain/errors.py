"""Domain errors.

Hierarchy::

    DomainError                 base of every rule violation; carries a user-facing message
    ├── OfferClosedError        the offer is not open at the given instant
    ├── TenderError             a tender breaks a rule (partial, split pair, ineligible grant)
    ├── ExtensionError          an extension that the offer's terms do not allow
    ├── ElectionError           an intent the election state machine does not allow
    │                           (withdrawing nothing, closing an offer that is still open)
    └── ReceiptError            a signed form HR cannot record (late, unknown version, twice)

The edges (CLI, Slack, e-mail) turn these into sentences; the message is already one.
"""

from __future__ import annotations

__all__ = [
    "DomainError",
    "ElectionError",
    "ExtensionError",
    "OfferClosedError",
    "ReceiptError",
    "TenderError",
]


class DomainError(Exception):
    """A business rule was broken; ``str(err)`` is safe to show to the person who asked."""


class OfferClosedError(DomainError):
    """Raised when something is attempted at or after the expiration instant."""


class TenderError(DomainError):
    """Raised when a tender names grants the offer does not let this person tender together."""


class ExtensionError(DomainError):
    """Raised when a proposed new expiration is not a valid extension."""


class ElectionError(DomainError):
    """Raised when an intent or an HR step does not fit the election's current state."""


class ReceiptError(DomainError):
    """Raised when HR records a signed form that cannot count (late, unknown, recorded twice)."""
