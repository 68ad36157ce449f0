"""Shared fixtures for the pure domain rules: the bundled offer's terms and its calendar."""

from __future__ import annotations

import pytest

from bot.domain.calendar import BusinessCalendar
from bot.domain.deadlines import business_calendar
from bot.domain.terms import OfferTerms
from knowledge.offer_terms import load_offer_terms


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    """Capstone's June 25, 2003 offer exactly as printed (cover, p. i)."""
    return load_offer_terms()


@pytest.fixture(scope="module")
def calendar(terms: OfferTerms) -> BusinessCalendar:
    """Eastern Time, US federal holidays (Offer §2, p. 14)."""
    return business_calendar(terms)
