"""The printed documents, read back with pypdf: the Promise to Grant (issue date, "an NSO", the
successor commitment of §6 and Q14, the configured signer) and the Election Form (the
representative's capacity line, the e-mail on file, the HR-use box, one page for up to 10 grants
and clean pages above)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from bot.domain.elections import ElectionIntent, IntentKind, IntentLine, Transition
from bot.domain.new_option import vesting_schedule
from bot.domain.terms import OfferTerms
from bot.forms import render_pdf
from bot.forms.document import FormDocument
from bot.services.elections.printed_forms import (
    election_form_document,
    promise_document,
    with_article,
)
from knowledge.offer_terms import OfferSigner, load_offer_signer, load_offer_terms
from tests.services.close_setup import SIGNER
from tests.services.elections_setup import EMPLOYEES, option

GRANT_DAY = date(2004, 1, 26)
ISSUED = datetime(2003, 7, 25, 16, 0, tzinfo=UTC)  # 9:00 a.m. PDT, the day after expiration
HOLDER = EMPLOYEES[0]


@pytest.fixture(scope="module")
def terms() -> OfferTerms:
    return load_offer_terms()


def pages(content: bytes) -> list[str]:
    """Each page's text with line wraps collapsed to one space."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages]


def lines(count: int) -> tuple[IntentLine, ...]:
    return tuple(IntentLine.of(option(f"G{i:05d}", "E1", "3.33", 1000 + i)) for i in range(count))


def promise_doc(terms: OfferTerms, signer: OfferSigner, count: int = 2) -> FormDocument:
    """HOLDER's Promise to Grant for ``count`` options, each fully tendered."""
    options = [(line, line.unexercised_shares) for line in lines(count)]
    return promise_document(
        employee=HOLDER,
        terms=terms,
        options=options,
        grant_date=GRANT_DAY,
        schedules={
            line.grant_number: vesting_schedule(n, GRANT_DAY, terms.vesting) for line, n in options
        },
        adjusted=False,
        issued_at=ISSUED,
        signer=signer,
    )


def promise(terms: OfferTerms, signer: OfferSigner, count: int = 2) -> bytes:
    return render_pdf(promise_doc(terms, signer, count))


def election_form(terms: OfferTerms, count: int) -> bytes:
    intent = ElectionIntent(
        employee_id="E1",
        version=3,
        kind=IntentKind.TENDER,
        transition=Transition.CHANGE,
        lines=lines(count),
        recorded_at=datetime(2003, 7, 10, 16, 0, tzinfo=UTC),
        actor="cli:hr",
        channel="cli",
    )
    return render_pdf(election_form_document(intent, HOLDER, terms))


def test_the_promise_states_date_successor_commitment_and_signer(terms: OfferTerms) -> None:
    (text,) = pages(promise(terms, SIGNER))
    assert "Date issued: Friday, July 25, 2003" in text
    assert "an NSO (non-statutory stock option) under the 2000 Equity Incentive Plan" in text
    assert "a NSO" not in text
    # The letter's purpose (§6, p. 18; Q14, p. 3): binding, and binding on any successor.
    assert "This Promise to Grant is a binding commitment of Capstone Turbine Corporation" in text
    assert "any successor to Capstone is legally obligated by this commitment" in text
    assert "(§6, p. 18; Q14, p. 3)" in text
    assert "acquired for stock, the new option would be for the acquiring company's stock" in text
    assert "acquired solely for cash" in text and "(§6, p. 19; Q14, p. 4)" in text
    assert "Monday, January 26, 2004" in text  # the New Option Grant Date
    assert "/s/ Wade Welch" in text and "Wade Welch, VP Finance" in text
    assert "For Capstone Turbine Corporation" in text
    assert "demo" not in text.lower()
    assert "G00001 1,001 1,001 125 2007-07-26" in text  # 6/48 on the grant date, 42 months


def test_the_demo_signer_is_marked_as_such(terms: OfferTerms) -> None:
    demo = load_offer_signer()
    assert demo is not None and demo.demo
    (text,) = pages(promise(terms, demo))
    assert "/s/ Demo Signer" in text
    assert "(demo signer: not valid for a real offer)" in text


def test_articles_follow_how_an_abbreviation_is_read() -> None:
    assert with_article("NSO") == "an NSO"
    assert with_article("ISO") == "an ISO"
    assert with_article("RSU") == "an RSU"
    assert with_article("option") == "an option"
    assert with_article("stock option") == "a stock option"
    assert with_article("US plan") == "a US plan"  # "U" read as "you": not in the vowel letters


@pytest.mark.parametrize("count", [1, 10])
def test_an_election_form_of_up_to_ten_grants_is_one_page(terms: OfferTerms, count: int) -> None:
    (text,) = pages(election_form(terms, count))
    assert f"G{count - 1:05d}" in text
    assert "E-mail on file for HR's receipt confirmation: e1@example.com" in text
    assert "Signature of option holder (Rosalind Ashcombe)" in text
    assert "If signed by a representative: printed name and capacity" in text
    assert "HR use only" in text and "Received on" in text and "[ ] fax [ ] hand" in text
    assert "Page 1 of 1" in text


def test_a_long_election_form_repeats_the_table_header_on_every_page(terms: OfferTerms) -> None:
    texts = pages(election_form(terms, 60))
    assert len(texts) >= 3
    header = "Grant number Grant date Exercise price Unexercised shares"
    total = len(texts)
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {total}" in text
        if number > 1:  # whose form a loose page belongs to
            assert text.startswith("Election Form - Rosalind Ashcombe (E1) - version 3")
    with_rows = [t for t in texts if "G000" in t]
    assert all(header in t for t in with_rows)
    everything = " ".join(texts)
    assert all(f"G{i:05d} " in everything for i in range(60))  # no grant lost at a page break
    assert "HR use only" in texts[-1] and "Signature of option holder" in texts[-1]


def test_text_outside_latin_1_is_refused_not_dropped(terms: OfferTerms) -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="cannot print"):
        render_pdf(
            election_form_document(
                ElectionIntent(
                    employee_id="E1",
                    version=1,
                    kind=IntentKind.TENDER,
                    transition=Transition.TENDER,
                    lines=lines(1),
                    recorded_at=ISSUED,
                    actor="cli:hr",
                    channel="cli",
                ),
                replace(HOLDER, name="\u5f20\u4f1f"),
                terms,
            )
        )


def test_letters_rendered_on_every_core_are_the_same_bytes_in_the_same_order(
    terms: OfferTerms,
) -> None:
    """`hr close` renders each batch in worker processes (bot.forms.pool): what comes back must
    be exactly what rendering here gives, letter for letter, so a resumed close that rendered
    in-process agrees with one that did not."""
    from bot.forms.pool import PdfPool, render_in_process

    documents = [promise_doc(terms, SIGNER, count) for count in (1, 2, 3, 1, 12, 2, 1)]
    here = render_in_process(documents)
    with PdfPool(workers=2) as render:
        assert render.parallel
        there = render(documents)
    assert there == here
    assert len(set(here)) == 4  # 1, 2, 3 and 12 grants: four different letters
    assert "G00011" in " ".join(pages(there[4])) and "G00011" not in " ".join(pages(there[5]))
