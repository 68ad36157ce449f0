"""offer.toml holds every term the bot states; the loader refuses an incomplete file."""

from __future__ import annotations

import ast
import re
from datetime import date, datetime, time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from knowledge.offer_terms import OfferTermsError, bundled_offer_dir, load_offer_terms, terms_digest

ROOT = Path(__file__).resolve().parents[2]
PACIFIC = ZoneInfo("America/Los_Angeles")


def test_bundled_terms_match_the_offer_document() -> None:
    t = load_offer_terms()
    assert t.company_name == "Capstone Turbine Corporation"
    assert t.commencement == date(2003, 6, 25)  # cover, p. i
    assert t.expiration == datetime(2003, 7, 24, 17, tzinfo=PACIFIC)  # cover, p. i
    assert t.expiration.utcoffset().total_seconds() == -7 * 3600  # PDT in July
    assert t.business_day_zone.key == "America/New_York"  # §2, p. 14
    assert t.minimum_exercise_price == Decimal("2.00")  # Q1, p. 1
    assert t.eligible_plans == ("1993 Incentive Stock Plan", "2000 Equity Incentive Plan")
    assert t.residence_countries == ("US",)  # Q3, p. 1
    assert t.exchange_ratio == Fraction(1)  # Q7, p. 2
    assert t.new_option_term_years == 10  # Q19, p. 7
    assert (t.vesting.initial_numerator, t.vesting.monthly_numerator) == (6, 1)  # Q13, p. 3
    assert (t.vesting.denominator, t.vesting.months) == (48, 42)
    assert t.receipt_confirmation_business_days == 2  # §4, p. 17
    assert t.extension_announcement_time == time(6, 0)  # Q20, p. 7
    assert t.min_business_days_after_consideration_change == 10  # §2, p. 13-14
    assert t.election_channels == ("fax", "hand")  # §4, p. 15
    hr = t.hr_delivery  # §4, p. 15
    assert (hr.name, hr.street, hr.fax, hr.phone) == (
        "Debbie Bernard",
        "21211 Nordhoff Street",
        "(818) 734-5381",
        "(818) 734-5431",
    )
    assert [c.title for c in t.question_contacts] == ["General Counsel", "VP Finance"]
    assert len(t.price_history) == 9  # §8, p. 21


def test_the_offer_document_ships_beside_its_terms() -> None:
    folder = bundled_offer_dir()
    text = (folder / "offer.txt").read_text(encoding="utf-8")
    assert "OFFER TO EXCHANGE CERTAIN OUTSTANDING OPTIONS FOR NEW OPTIONS" in text
    assert "Q30." in text and "<PAGE>" in text
    assert (folder / "proxy-2003.txt").is_file()


def test_missing_key_is_named(tmp_path: Path) -> None:
    source = (bundled_offer_dir() / "offer.toml").read_text()
    broken = re.sub(r"(?m)^minimum_exercise_price.*$", "", source)
    (tmp_path / "offer.toml").write_text(broken)
    with pytest.raises(OfferTermsError, match=r"eligibility\.minimum_exercise_price"):
        load_offer_terms(tmp_path)


def test_naive_expiration_is_local_to_the_deadline_zone(tmp_path: Path) -> None:
    source = (bundled_offer_dir() / "offer.toml").read_text()
    (tmp_path / "offer.toml").write_text(
        source.replace('expiration = "2003-07-24T17:00:00"', 'expiration = "2003-12-04T17:00:00"')
    )
    t = load_offer_terms(tmp_path)
    assert t.expiration.utcoffset().total_seconds() == -8 * 3600  # PST in December
    assert terms_digest(tmp_path) != terms_digest()


def test_no_offer_fact_is_hard_coded_in_python() -> None:
    """Dates, prices, names and numbers of the offer live in offer.toml only.

    Docstrings may cite the offer ("July 25, 2003", "p. 13"); string literals in code may not.
    """
    facts = [
        "2003-07-24",
        "July 24",
        "2003-06-25",
        "2004-01-26",
        "Debbie",
        "Bernard",
        "Nordhoff",
        "734-5",
        "Cayley",
        "Welch",
        "29.07",
        "Capstone",
        "1993 Incentive",
        "2000 Equity",
    ]
    offenders = []
    for folder in ("bot", "knowledge", "storage", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            for literal in _code_string_literals(path):
                offenders += [
                    f"{path.relative_to(ROOT)}: {f!r} in {literal[:60]!r}"
                    for f in facts
                    if f in literal
                ]
    assert not offenders, "\n".join(offenders)


def _code_string_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]
