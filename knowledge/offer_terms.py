"""Load an offer's terms from its bundled ``offer.toml``.

The TOML is the single source of every date, price, name and number the bot states; this
module only turns it into :class:`bot.domain.terms.OfferTerms` and refuses a file that is
missing a key (a silent default would put a wrong deadline in front of an employee).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.terms import Contact, DeliveryContact, OfferTerms, PricePoint, VestingTerms
from knowledge.toml_tables import read_toml, require

__all__ = [
    "OfferSigner",
    "OfferTermsError",
    "bundled_offer_dir",
    "load_offer_signer",
    "load_offer_terms",
    "terms_digest",
]

DEFAULT_OFFER_ID = "capstone-2003"


class OfferTermsError(ValueError):
    """The offer.toml is missing a key or holds a value of the wrong kind."""


@dataclass(frozen=True, slots=True)
class OfferSigner:
    """The officer who signs the Promise to Grant letters for the company (Offer §6, p. 18:
    the letter is the company's binding commitment, so it carries an authorized signature).
    ``demo`` marks a placeholder that must never sign a real offer's letters."""

    name: str
    title: str
    demo: bool = False


def bundled_offer_dir(offer_id: str = DEFAULT_OFFER_ID) -> Path:
    path = Path(str(resources.files("knowledge") / "offers" / offer_id))
    if not (path / "offer.toml").is_file():
        raise OfferTermsError(f"no bundled offer named {offer_id!r} (looked in {path})")
    return path


def _get(table: dict[str, Any], dotted: str) -> Any:
    return require(table, dotted, file="offer.toml", error=OfferTermsError)


def _date(value: Any, key: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise OfferTermsError(f"offer.toml: {key} is not a date: {value!r}") from exc


def load_offer_terms(path: Path | str | None = None) -> OfferTerms:
    """Read ``offer.toml`` (a file, or a folder holding one; default: the bundled offer)."""
    path = Path(path) if path is not None else bundled_offer_dir()
    if path.is_dir():
        path = path / "offer.toml"
    data = read_toml(path, error=OfferTermsError)

    deadline_zone = ZoneInfo(_get(data, "dates.deadline_timezone"))
    naive_expiration = datetime.fromisoformat(str(_get(data, "dates.expiration")))
    if naive_expiration.tzinfo is not None:
        raise OfferTermsError("offer.toml: dates.expiration is local time in deadline_timezone")
    expiration = naive_expiration.replace(tzinfo=deadline_zone)
    hr = _get(data, "contacts.hr_delivery")
    return OfferTerms(
        offer_id=_get(data, "offer.id"),
        title=_get(data, "offer.title"),
        company_name=_get(data, "company.name"),
        company_short_name=_get(data, "company.short_name"),
        ticker=_get(data, "company.ticker"),
        commencement=_date(_get(data, "dates.commencement"), "dates.commencement"),
        expiration=expiration,
        original_expiration=expiration,
        deadline_zone=deadline_zone,
        business_day_zone=ZoneInfo(_get(data, "dates.business_day_timezone")),
        holiday_country=_get(data, "dates.business_day_holidays"),
        cancellation_days_after_expiration=int(
            _get(data, "dates.cancellation_days_after_expiration")
        ),
        new_grant_months_after_cancellation=int(
            _get(data, "dates.new_grant_months_after_cancellation")
        ),
        new_grant_days_after_cancellation=int(
            _get(data, "dates.new_grant_days_after_cancellation")
        ),
        minimum_exercise_price=Decimal(str(_get(data, "eligibility.minimum_exercise_price"))),
        eligible_plans=tuple(_get(data, "eligibility.eligible_plans")),
        new_option_plan=_get(data, "eligibility.new_option_plan"),
        eligible_employee_classes=tuple(_get(data, "eligibility.eligible_employee_classes")),
        residence_countries=tuple(c.upper() for c in _get(data, "eligibility.residence_countries")),
        exchange_ratio=Fraction(str(_get(data, "new_options.exchange_ratio"))),
        new_option_term_years=int(_get(data, "new_options.term_years")),
        new_option_type=_get(data, "new_options.option_type"),
        exercise_price_rule=_get(data, "new_options.exercise_price_rule"),
        vesting=VestingTerms(
            initial_numerator=int(_get(data, "vesting.initial_numerator")),
            monthly_numerator=int(_get(data, "vesting.monthly_numerator")),
            denominator=int(_get(data, "vesting.denominator")),
            months=int(_get(data, "vesting.months")),
        ),
        election_channels=tuple(_get(data, "procedures.election_channels")),
        receipt_confirmation_business_days=int(
            _get(data, "procedures.receipt_confirmation_business_days")
        ),
        extension_announcement_time=time.fromisoformat(
            str(_get(data, "procedures.extension_announcement_time"))
        ),
        min_business_days_after_consideration_change=int(
            _get(data, "procedures.min_business_days_open_after_consideration_change")
        ),
        hr_delivery=DeliveryContact(
            **{k: hr[k] for k in DeliveryContact.__dataclass_fields__ if k in hr}
        ),
        question_contacts=tuple(
            Contact(name=c["name"], title=c["title"], phone=c["phone"], email=c["email"])
            for c in _get(data, "contacts.questions")
        ),
        price_history=tuple(
            PricePoint(
                quarter_end=_date(p["quarter_end"], "price_history.quarter_end"),
                high=Decimal(str(p["high"])),
                low=Decimal(str(p["low"])),
            )
            for p in data.get("price_history", [])
        ),
    )


def load_offer_signer(path: Path | str | None = None) -> OfferSigner | None:
    """The ``[signer]`` table of ``offer.toml`` (``name``, ``title``, optional ``demo``), or
    None when the file has none: ``hr close`` then refuses to issue unsigned letters."""
    path = Path(path) if path is not None else bundled_offer_dir()
    if path.is_dir():
        path = path / "offer.toml"
    table = read_toml(path, error=OfferTermsError).get("signer")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise OfferTermsError("offer.toml: [signer] must be a table with name and title")
    name, title = str(table.get("name", "")).strip(), str(table.get("title", "")).strip()
    if not name or not title:
        raise OfferTermsError("offer.toml: [signer] needs both name and title")
    return OfferSigner(name=name, title=title, demo=bool(table.get("demo", False)))


def terms_digest(path: Path | str | None = None) -> str:
    """SHA-256 of the offer.toml, so the stored offer state knows which terms it came from."""
    import hashlib

    path = Path(path) if path is not None else bundled_offer_dir()
    if path.is_dir():
        path = path / "offer.toml"
    return hashlib.sha256(path.read_bytes()).hexdigest()
