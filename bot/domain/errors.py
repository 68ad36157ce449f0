"""Domain errors.

Hierarchy::

    DomainError                 base of every rule violation; carries a user-facing message
    ├── OfferClosedError        the offer is not open at the given instant
    ├── TenderError             a tender breaks a rule (partial, split pair, ineligible grant)
    └── ExtensionError          an extension that the offer's terms do not allow

The edges (CLI, Slack, e-mail) turn these into sentences; the message is already one.
"""

from __future__ import annotations

__all__ = ["DomainError", "ExtensionError", "OfferClosedError", "TenderError"]


class DomainError(Exception):
    """A business rule was broken; ``str(err)`` is safe to show to the person who asked."""


class OfferClosedError(DomainError):
    """Raised when something is attempted at or after the expiration instant."""


class TenderError(DomainError):
    """Raised when a tender names grants the offer does not let this person tender together."""


class ExtensionError(DomainError):
    """Raised when a proposed new expiration is not a valid extension."""
