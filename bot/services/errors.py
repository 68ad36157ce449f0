"""Service-layer errors.

Hierarchy::

    ServiceError                 a use case cannot go on; ``str(err)`` is a user-facing sentence
    ├── NotFoundError            no such employee / grant
    ├── NotAuthorizedError       the identity may not see or do this
    ├── OfferNotLoadedError      the database has no offer yet (run ``offerbot init``)
    └── InvalidRequestError      (also ValueError) a request that cannot be carried out as
                                 given (a split ratio like ``1:0``, a duplicate adjustment)

Domain errors (``bot.domain.errors.DomainError``) pass through unchanged.
"""

from __future__ import annotations

__all__ = [
    "InvalidRequestError",
    "NotAuthorizedError",
    "NotFoundError",
    "OfferNotLoadedError",
    "ServiceError",
]


class ServiceError(Exception):
    pass


class NotFoundError(ServiceError, LookupError):
    pass


class NotAuthorizedError(ServiceError, PermissionError):
    pass


class OfferNotLoadedError(ServiceError):
    pass


class InvalidRequestError(ServiceError, ValueError):
    pass
