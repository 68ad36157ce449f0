"""Service-layer errors.

Hierarchy::

    ServiceError                 a use case cannot go on; ``str(err)`` is a user-facing sentence
    ├── NotFoundError            no such employee / grant
    ├── NotAuthorizedError       the identity may not see or do this
    └── OfferNotLoadedError      the database has no offer yet (run ``offerbot init``)

Domain errors (``bot.domain.errors.DomainError``) pass through unchanged.
"""

from __future__ import annotations

__all__ = ["NotAuthorizedError", "NotFoundError", "OfferNotLoadedError", "ServiceError"]


class ServiceError(Exception):
    pass


class NotFoundError(ServiceError, LookupError):
    pass


class NotAuthorizedError(ServiceError, PermissionError):
    pass


class OfferNotLoadedError(ServiceError):
    pass
