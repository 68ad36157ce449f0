"""The offer's terms as plain, immutable values.

Everything here is loaded from ``knowledge/offers/<id>/offer.toml`` (see
``knowledge.offer_terms``); nothing is hard-coded in Python. ``OfferTerms.expiration`` is the
*document's* expiration; the live one (after extensions) is in the offer state kept in storage
and passed around as ``OfferTerms.with_expiration(...)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

__all__ = [
    "Contact",
    "DeliveryContact",
    "OfferTerms",
    "PricePoint",
    "VestingTerms",
]


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    title: str
    phone: str
    email: str


@dataclass(frozen=True, slots=True)
class DeliveryContact:
    """Where signed Election Forms and Notices to Withdraw go (Offer §4, p. 15)."""

    name: str
    department: str
    organization: str
    street: str
    city: str
    region: str
    postal_code: str
    phone: str
    fax: str

    @property
    def address_lines(self) -> tuple[str, ...]:
        return (
            self.organization,
            f"Attention: {self.name}, {self.department}",
            self.street,
            f"{self.city}, {self.region} {self.postal_code}",
        )


@dataclass(frozen=True, slots=True)
class VestingTerms:
    """New-option vesting (Offer Q13, p. 3; §9, p. 22): initial/denominator at grant, then
    monthly/denominator each month for ``months`` months."""

    initial_numerator: int
    monthly_numerator: int
    denominator: int
    months: int

    def __post_init__(self) -> None:
        if self.initial_numerator + self.monthly_numerator * self.months != self.denominator:
            raise ValueError("vesting fractions must add up to the whole grant")


@dataclass(frozen=True, slots=True)
class PricePoint:
    quarter_end: date
    high: Decimal
    low: Decimal


@dataclass(frozen=True, slots=True)
class OfferTerms:
    offer_id: str
    title: str
    company_name: str
    company_short_name: str
    ticker: str
    commencement: date
    expiration: datetime  # aware; the *current* expiration instant
    original_expiration: datetime  # aware; as printed in the document
    deadline_zone: ZoneInfo
    business_day_zone: ZoneInfo
    holiday_country: str
    cancellation_days_after_expiration: int
    new_grant_months_after_cancellation: int
    new_grant_days_after_cancellation: int
    minimum_exercise_price: Decimal
    eligible_plans: tuple[str, ...]
    new_option_plan: str
    eligible_employee_classes: tuple[str, ...]
    residence_countries: tuple[str, ...]
    exchange_ratio: Fraction
    new_option_term_years: int
    new_option_type: str
    exercise_price_rule: str
    vesting: VestingTerms
    election_channels: tuple[str, ...]
    receipt_confirmation_business_days: int
    extension_announcement_time: time  # local time in deadline_zone
    min_business_days_after_consideration_change: int
    hr_delivery: DeliveryContact
    question_contacts: tuple[Contact, ...]
    price_history: tuple[PricePoint, ...] = ()

    def __post_init__(self) -> None:
        for name in ("expiration", "original_expiration"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")

    def with_expiration(self, expiration: datetime) -> OfferTerms:
        """The same terms after an extension: only the expiration instant moves."""
        return dataclasses.replace(self, expiration=expiration)

    @property
    def is_extended(self) -> bool:
        return self.expiration != self.original_expiration
