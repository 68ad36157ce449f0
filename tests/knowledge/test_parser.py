"""The offer text becomes entries by its structure: ids, titles and printed pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge.offer_terms import bundled_offer_dir
from knowledge.parser import OfferParseError, load_entries, parse_offer, parse_proxy

OFFER_DIR = bundled_offer_dir()
TEXT = (OFFER_DIR / "offer.txt").read_text(encoding="utf-8")
ENTRIES = {e.id: e for e in parse_offer(TEXT)}


def test_all_thirty_questions_and_nineteen_sections_are_found() -> None:
    assert [f"Q{n}" for n in range(1, 31)] == [i for i in ENTRIES if re.fullmatch(r"Q\d+", i)]
    assert [f"S{n}" for n in range(1, 20)] == [i for i in ENTRIES if re.fullmatch(r"S\d+", i)]
    assert {"COVER", "RISKS", "SCHED-A"} <= set(ENTRIES)
    assert sum(1 for i in ENTRIES if i.startswith("RISK-")) == 10


@pytest.mark.parametrize(
    ("entry_id", "title", "pages"),
    [
        ("Q1", "What securities is Capstone offering to exchange?", "1"),
        ("Q3", "May eligible persons outside the United States participate?", "1"),
        ("Q5", "Why is Capstone making the Offer?", "1-2"),  # runs over the -1- footer
        (
            "Q12",
            "If I choose to tender an option that is eligible for exchange, do I have to "
            "tender all the shares covered by that option?",
            "2-3",
        ),
        ("Q21", "How do I tender my options?", "5"),
        ("Q22", "May I withdraw previously tendered options?", "5-6"),
        ("Q29", "What do Capstone and the Board of Directors think of the Offer?", "7"),
        ("Q30", "To whom can I talk if I have questions about the Offer?", "7"),
        ("S1", "Eligibility", "13"),
        ("S2", "Number of options; expiration date", "13-14"),
        ("S4", "Procedures for tendering options", "15-17"),
        (
            "S11",
            "Interests of directors and officers; transactions and arrangements concerning "
            "the options",
            "25-26",
        ),
        ("S14", "Material U.S. federal income tax consequences", "27-28"),
        ("S15", "Extension of Offer; termination; amendment", "28-29"),  # indented heading
        ("S19", "Miscellaneous", "30-31"),  # starts mid-line after §18's last sentence
        ("COVER", "Offer to exchange certain outstanding options for new options", "i-ii"),
        (
            "SCHED-A",
            "Information concerning the executive officers and directors of Capstone "
            "Turbine Corporation",
            "A-1",
        ),
    ],
)
def test_titles_and_printed_pages(entry_id: str, title: str, pages: str) -> None:
    entry = ENTRIES[entry_id]
    assert (entry.title, entry.pages) == (title, pages)


def test_question_text_and_its_page_references() -> None:
    assert ENTRIES["Q3"].text == "No."
    assert ENTRIES["Q4"].page_refs == ("8-9,13",)
    assert ENTRIES["Q2"].page_refs == ("13",)
    # a paragraph broken by a page footer is one paragraph again
    assert "We believe this will create better performance incentives" in ENTRIES["Q5"].text


def test_table_of_contents_is_not_an_entry() -> None:
    assert all("TABLE OF CONTENTS" not in e.text for e in ENTRIES.values())
    assert "Procedures for tendering options" not in ENTRIES["COVER"].text
    assert ENTRIES["S1"].text.startswith("Eligible persons may participate in this Offer.")


def test_risk_headings_in_order_with_their_groups() -> None:
    first, business = ENTRIES["RISK-1"], ENTRIES["RISK-8"]
    assert first.title.startswith("If our stock price increases after the date")
    assert first.group == "Economic risks" and first.pages == "8"
    assert business.title == "Business-related risks"  # a group with text and no headings
    assert ENTRIES["RISK-10"].pages == "12"


def test_another_offer_in_the_same_format_parses(tmp_path: Path) -> None:
    """No table of contents, another company name, pages shifted: the structure still holds."""
    start, end = TEXT.index("TABLE OF CONTENTS"), TEXT.index("-iii-")
    variant = (
        (TEXT[:start] + TEXT[end + 5 :]).replace("Capstone", "Acme").replace("CAPSTONE", "ACME")
    )
    variant = re.sub(
        r"(?m)^(\s*)-(\d+)-\s*$", lambda m: f"{m.group(1)}-{int(m.group(2)) + 40}-", variant
    )
    entries = {e.id: e for e in parse_offer(variant)}
    assert sum(1 for i in entries if re.fullmatch(r"Q\d+", i)) == 30
    assert sum(1 for i in entries if re.fullmatch(r"S\d+", i)) == 19
    assert entries["Q1"].title == "What securities is Acme offering to exchange?"
    assert entries["S4"].pages == "55-57"


def test_a_text_without_a_term_sheet_is_refused() -> None:
    with pytest.raises(OfferParseError):
        parse_offer("Just a letter.\n\n-1-\n")


def test_proxy_entries_are_secondary() -> None:
    proxy = parse_proxy((OFFER_DIR / "proxy-2003.txt").read_text(encoding="utf-8"))
    assert proxy and all(e.id.startswith("PROXY-") and e.source == "proxy" for e in proxy)
    assert any("record date" in e.text for e in proxy)
    everything = load_entries(OFFER_DIR, "offer.txt", ("proxy-2003.txt",))
    assert len(everything) == len(ENTRIES) + len(proxy)
