"""What the printed documents say: the Election Form, the Notice to Withdraw and the Promise to
Grant Stock Option(s). Every fact comes from :class:`OfferTerms` or the signer configured for
the offer (never a literal here); :mod:`bot.forms` lays them out.

The Promise to Grant exists for one reason the offer states twice: it is the company's binding
commitment to grant the new options, and *any successor to the company is legally obligated by
it* (Offer §6, p. 18; Q14, p. 3). So the letter says that in the offer's own terms, says what an
acquisition for stock or for cash would do to the new option (§6, p. 19; Q14, p. 4), carries
its issue date and the configured officer's signature, and never recommends anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from bot.domain.elections import ElectionIntent, FormKind, IntentLine
from bot.domain.new_option import VestingTranche
from bot.domain.roster import Employee
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_instant, format_money, format_shares
from bot.forms import FormBox, FormDocument, FormSection, FormTable, Signature
from knowledge.offer_terms import OfferSigner

__all__ = [
    "FORM_TITLE",
    "PROMISE_TITLE",
    "election_form_document",
    "promise_document",
    "with_article",
]

FORM_TITLE = {
    FormKind.ELECTION: "Election Form",
    FormKind.WITHDRAWAL: "Notice to Withdraw from the Offer",
}
PROMISE_TITLE = "Promise to Grant Stock Option(s)"

_OPTION_TYPE_NAMES = {"NSO": "non-statutory stock option", "ISO": "incentive stock option"}

# Letters whose spoken name starts with a vowel sound ("an NSO", "an ISO", "a US plan").
_VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")


def with_article(word: str) -> str:
    """``"NSO"`` → ``"an NSO"``; ``"option"`` → ``"an option"``; ``"stock"`` → ``"a stock"``.
    An all-capitals abbreviation is read letter by letter."""
    first = word.split()[0] if word.strip() else word
    if first.isupper() and first.isalpha():
        vowel = first[0] in _VOWEL_SOUND_LETTERS
    else:
        vowel = word[:1].lower() in "aeiou"
    return f"{'an' if vowel else 'a'} {word}"


def _option_kind(option_type: str) -> str:
    """``"NSO"`` → ``"an NSO (non-statutory stock option)"``."""
    name = _OPTION_TYPE_NAMES.get(option_type)
    return with_article(option_type) + (f" ({name})" if name else "")


def _deadline(terms: OfferTerms) -> str:
    return format_instant(terms.expiration, terms.deadline_zone)


def _delivery_section(terms: OfferTerms, title: str) -> FormSection:
    hr = terms.hr_delivery
    return FormSection(
        heading="Delivery",
        paragraphs=(
            f"Deliver this signed {title} by fax or by hand (e-mail is not accepted) to: "
            + " / ".join(hr.address_lines)
            + f". Fax: {hr.fax}. Phone: {hr.phone}.",
            f"It must be received before {_deadline(terms)}. Delivery is at your own risk; "
            "allow enough time (§4, p. 16).",
        ),
    )


def election_form_document(
    intent: ElectionIntent, employee: Employee, terms: OfferTerms
) -> FormDocument:
    """The Election Form (what §4, p. 16 says it must specify) or the Notice to Withdraw from
    the Offer (§5, p. 17): signature, date and representative's-capacity lines (§4, p. 16), the
    e-mail address HR's receipt confirmation goes to (§4, p. 16), the delivery instructions and
    an "HR use only" box for the day, person and channel of receipt. Up to 10 grants fit on one
    page; longer tables continue with their header repeated."""
    title = FORM_TITLE[intent.form]
    fields = (
        ("Option holder", f"{employee.name} (employee ID {employee.employee_id})"),
        ("E-mail on file for HR's receipt confirmation", employee.email),
        (
            "Form version",
            f"{intent.version}, prepared {format_instant(intent.recorded_at, terms.deadline_zone)}",
        ),
    )
    if intent.form is FormKind.ELECTION:
        body = FormSection(
            heading="Options I tender",
            paragraphs=(
                f"I tender for exchange all unexercised shares of each option listed below, on "
                f"the terms of the {terms.title} of {terms.company_name}. Each option is "
                "tendered in whole (Q12, p. 2). This form replaces any Election Form I signed "
                "before (Q23, p. 6).",
            ),
            table=FormTable(
                headers=("Grant number", "Grant date", "Exercise price", "Unexercised shares"),
                rows=tuple(
                    (
                        line.grant_number,
                        line.grant_date.isoformat(),
                        format_money(line.exercise_price),
                        format_shares(line.unexercised_shares),
                    )
                    for line in intent.lines
                ),
            ),
        )
    else:
        body = FormSection(
            heading="Withdrawal",
            paragraphs=(
                f"I withdraw all of my tendered options from the {terms.title} of "
                f"{terms.company_name}. I understand that I will no longer participate in the "
                "offer, that this withdrawal cannot be rescinded, and that I may tender again "
                "only by delivering a new Election Form before the offer expires (Q22, p. 5; "
                "§5, p. 18). This notice is dated after my most recent Election Form (Q23, "
                "p. 6).",
            ),
        )
    return FormDocument(
        title=title,
        subtitle=f"{terms.company_name} - {terms.title}",
        created_at=intent.recorded_at,
        fields=fields,
        sections=(
            body,
            _delivery_section(terms, title),
            FormSection(
                keep_with_end=True,
                heading="Signature",
                paragraphs=(
                    "Sign exactly as your name appears on your option agreement. If your name "
                    "has legally changed, attach proof. If you sign for the holder (as executor, "
                    "administrator, guardian, attorney-in-fact, officer of a corporation or "
                    "another representative capacity), give your name and capacity below and "
                    "attach proof of your authority (§4, p. 16).",
                ),
            ),
        ),
        signatures=(
            Signature(caption=f"Signature of option holder ({employee.name})", beside="Date"),
            Signature(
                caption="If signed by a representative: printed name and capacity",
                beside="Date",
            ),
        ),
        box=FormBox(
            heading="HR use only",
            lines=(
                "Received on ______ / ______ / ________  at  ______ : ______ (Pacific time)"
                "      by ______________________",
                "Via:   [  ] fax      [  ] hand",
            ),
        ),
        footer=(
            "Prepared by offerbot from your recorded intent. This form counts only when HR "
            "receives it signed; receipt is not acceptance (§6, p. 19)."
        ),
        running_head=f"{title} - {employee.name} ({employee.employee_id}) - version "
        f"{intent.version}",
        author=terms.company_name,
        keywords={
            "employee_id": employee.employee_id,
            "version": str(intent.version),
            "form": intent.form.value,
        },
    )


def promise_paragraphs(terms: OfferTerms, grant_date: date) -> tuple[str, ...]:
    """The letter's fixed text: the same for every holder in one close (laid out once)."""
    company, short = terms.company_name, terms.company_short_name
    v = terms.vesting
    return (
        f"{company} has accepted for exchange and cancelled the options listed below. "
        f"{company} promises to grant you, on the New Option Grant Date, "
        f"{format_date(grant_date)}, {_option_kind(terms.new_option_type)} under the "
        f"{terms.new_option_plan} for the number of shares shown for each "
        f"cancelled option, provided that you are an employee of {short}, one of its "
        "subsidiaries or a successor entity on that date (§6, p. 18).",
        f"This Promise to Grant is a binding commitment of {company}. If {short} is acquired by "
        f"another company before the new options are granted, any successor to {short} is "
        "legally obligated by this commitment, subject to your meeting the conditions for "
        "receiving a new option (§6, p. 18; Q14, p. 3).",
        f"If {short} is acquired for stock, the new option would be for the acquiring company's "
        "stock, its number of shares adjusted by the exchange ratio used in the acquisition, "
        "with an exercise price equal to the fair market value of the acquiring company's stock "
        "on the grant date. If it is acquired solely for cash, the number of shares would be "
        "based on the acquiring company's shares you could have bought with the cash paid to "
        f"{short}'s stockholders for the shares of your cancelled options (§6, p. 19; Q14, "
        "p. 4).",
        f"Exercise price: the {terms.exercise_price_rule} (Q11, p. 2). Term: "
        f"{terms.new_option_term_years} years (Q19, p. 5). Vesting: {v.initial_numerator}/"
        f"{v.denominator} on the grant date, then {v.monthly_numerator}/{v.denominator} each "
        f"month, fully vested {v.months} months after the grant date, while you remain an "
        "employee (Q13, p. 3).",
    )


def promise_document(
    *,
    employee: Employee,
    terms: OfferTerms,
    options: Sequence[tuple[IntentLine, int]],
    grant_date: date,
    schedules: Mapping[str, Sequence[VestingTranche]],
    adjusted: bool,
    issued_at: datetime,
    signer: OfferSigner,
    paragraphs: tuple[str, ...] | None = None,
) -> FormDocument:
    """Promise to Grant Stock Option(s) (§6, p. 18): one new option per cancelled grant, issued
    on ``issued_at`` and signed by ``signer``. ``paragraphs``: the fixed text prepared once per
    close (:func:`promise_paragraphs`), so 20,000 letters do not rebuild it."""
    rows = []
    for line, shares in options:
        schedule = schedules[line.grant_number]
        first = schedule[0].shares if schedule else 0
        last = schedule[-1].date.isoformat() if schedule else "-"
        rows.append(
            (
                line.grant_number,
                format_shares(line.unexercised_shares),
                format_shares(shares),
                format_shares(first),
                last,
            )
        )
    after: tuple[str, ...] = ()
    if adjusted:
        after = (
            "Share counts include the capitalization adjustments recorded between the "
            "cancellation date and the grant date (Q7, p. 2).",
        )
    issued = issued_at.astimezone(terms.deadline_zone).date()
    demo = " (demo signer: not valid for a real offer)" if signer.demo else ""
    return FormDocument(
        title=PROMISE_TITLE,
        subtitle=f"{terms.company_name} - {terms.title}",
        created_at=issued_at,
        fields=(
            ("Date issued", format_date(issued)),
            ("Option holder", employee.name),
            ("Employee ID", employee.employee_id),
        ),
        sections=(
            FormSection(
                paragraphs=paragraphs or promise_paragraphs(terms, grant_date),
                table=FormTable(
                    headers=(
                        "Cancelled grant",
                        "Cancelled shares",
                        "New option shares",
                        "Vested on grant date",
                        "Fully vested",
                    ),
                    rows=tuple(rows),
                ),
                after_table=after,
            ),
        ),
        signatures=(
            Signature(
                caption=f"For {terms.company_name}",
                signed=f"/s/ {signer.name}",
                detail=(f"{signer.name}, {signer.title}{demo}",),
            ),
        ),
        footer=f"Keep this letter: it is your evidence of {terms.company_short_name}'s "
        "commitment to grant the new options.",
        running_head=f"{PROMISE_TITLE} - {employee.name} ({employee.employee_id})",
        author=terms.company_name,
        keywords={
            "employee_id": employee.employee_id,
            "document": "promise_to_grant",
            "issued": issued.isoformat(),
            "signer": signer.name,
        },
    )
