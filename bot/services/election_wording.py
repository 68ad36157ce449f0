"""What offerbot says about elections: confirmations, HR notices, receipt confirmations and the
printed forms. Every fact comes from :class:`OfferTerms` (never a literal here).

Rules every confirmation follows (Offer Q21-Q23, p. 5-6; §4-§6, p. 15-19):
- it says it is not itself an election (or withdrawal);
- it names exactly what must be signed (the Election Form listing these grants, or the Notice
  to Withdraw from the Offer), where it goes (HR's delivery contact, address, fax) and by when
  (the live expiration, in the offer's zone);
- receipt is not acceptance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from bot.domain.elections import (
    Delivery,
    ElectionIntent,
    FormKind,
    FormReceipt,
    IntentLine,
    Step,
    Transition,
)
from bot.domain.new_option import VestingTranche
from bot.domain.roster import Employee, file_name_part
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_date, format_instant, format_money, format_shares
from bot.forms import FormDocument, FormSection, FormTable

__all__ = [
    "FORM_TITLE",
    "deadline_text",
    "delivery_text",
    "form_document",
    "form_filename",
    "hr_notice_text",
    "intent_confirmation_text",
    "intent_sentences",
    "promise_document",
    "receipt_confirmation_text",
    "step_text",
    "time_left_text",
]

FORM_TITLE = {
    FormKind.ELECTION: "Election Form",
    FormKind.WITHDRAWAL: "Notice to Withdraw from the Offer",
}
_VIA = {Delivery.FAX: "fax", Delivery.HAND: "hand delivery"}


def deadline_text(terms: OfferTerms) -> str:
    return format_instant(terms.expiration, terms.deadline_zone)


def delivery_text(terms: OfferTerms) -> str:
    hr = terms.hr_delivery
    return (
        f"{hr.name}, {hr.department}, {hr.organization}, {hr.street}, {hr.city}, {hr.region} "
        f"{hr.postal_code} (fax {hr.fax}, phone {hr.phone})"
    )


def time_left_text(left: timedelta) -> str:
    seconds = max(int(left.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    if hours or days:
        parts.append(f"{hours} hour{'s' * (hours != 1)}")
    parts.append(f"{minutes} minute{'s' * (minutes != 1)}")
    return ", ".join(parts)


def form_filename(intent: ElectionIntent) -> str:
    stem = "election-form" if intent.form is FormKind.ELECTION else "notice-to-withdraw"
    return f"{stem}-{file_name_part(intent.employee_id)}-v{intent.version}.pdf"


def _line_text(line: IntentLine) -> str:
    return (
        f"grant {line.grant_number} (granted {line.grant_date.isoformat()}, exercise price "
        f"{format_money(line.exercise_price)}, {format_shares(line.unexercised_shares)} "
        "unexercised shares)"
    )


def intent_sentences(intent: ElectionIntent, terms: OfferTerms) -> list[str]:
    """The sentences every confirmation of an intent carries, in order."""
    title = FORM_TITLE[intent.form]
    where = delivery_text(terms)
    when = deadline_text(terms)
    if intent.form is FormKind.ELECTION:
        head = (
            f"I recorded your intent to tender (version {intent.version}). This is not itself "
            f"an election: nothing is tendered until HR receives your signed {title}."
        )
        sign = (
            f"Sign and date the {title} (version {intent.version}) that lists exactly these "
            f"grants: {'; '.join(_line_text(line) for line in intent.lines)}. Sign exactly as "
            "your name appears on your option agreement (§4, p. 16)."
        )
    else:
        head = (
            f"I recorded your intent to withdraw (version {intent.version}). This does not "
            f"itself withdraw anything: nothing is withdrawn until HR receives your signed {title}."
        )
        sign = (
            f"Sign and date the {title} (version {intent.version}). It withdraws all of your "
            "tendered options; a withdrawal cannot be rescinded, but you may tender again by "
            "delivering a new Election Form before the deadline (Q22, p. 5; §5, p. 18)."
        )
    deliver = (
        f"Deliver it by fax or by hand to {where} so that it is received before {when}. "
        "E-mail is not accepted (Q21, p. 5)."
    )
    sentences = [head, sign, deliver]
    if intent.transition is Transition.CHANGE:
        sentences.append(
            "It replaces your earlier intent: once HR receives this signed form, any Election "
            "Form you signed before is disregarded (Q23, p. 6)."
        )
    elif intent.transition is Transition.RETENDER:
        sentences.append(
            "This re-tenders after a withdrawal: only the new signed Election Form counts "
            "(§5, p. 18)."
        )
    sentences.append(
        f"HR intends to confirm receipt by e-mail within {terms.receipt_confirmation_business_days}"
        " business days; if no confirmation arrives, it is your responsibility to make sure HR "
        "received your form (§4, p. 16)."
    )
    return sentences


def intent_confirmation_text(
    intent: ElectionIntent, employee: Employee, terms: OfferTerms
) -> tuple[str, str]:
    title = FORM_TITLE[intent.form]
    subject = (
        f"{terms.company_short_name} option exchange: sign your {title} (version {intent.version})"
    )
    body = "\n\n".join(
        [f"Dear {employee.name},", *intent_sentences(intent, terms), f"The {title} is attached."]
    )
    return subject, body


def hr_notice_text(
    intent: ElectionIntent, employee: Employee, terms: OfferTerms
) -> tuple[str, str]:
    title = FORM_TITLE[intent.form]
    subject = (
        f"Expect a signed {title}: {employee.name} ({employee.employee_id}), v{intent.version}"
    )
    lines = [
        f"{employee.name} ({employee.employee_id}) recorded an intent to {intent.kind.value} "
        f"({intent.transition.value}, version {intent.version}) at "
        f"{format_instant(intent.recorded_at, terms.deadline_zone)} via {intent.channel}.",
        f"A pre-filled {title} was sent to the employee. This is not an election: record the "
        f"signed form when it arrives by fax or by hand with `offerbot hr receive "
        f"{employee.employee_id} --form {intent.form.value} --version {intent.version} "
        "--received-at ISO --via fax|hand`.",
        f"Signed forms must be received before {deadline_text(terms)}.",
    ]
    if intent.lines:
        lines.append("Grants: " + "; ".join(_line_text(line) for line in intent.lines) + ".")
    return subject, "\n\n".join(lines)


def receipt_confirmation_text(
    receipt: FormReceipt,
    employee: Employee,
    terms: OfferTerms,
    *,
    superseded_by: int | None,
    due: date,
) -> tuple[str, str]:
    title = FORM_TITLE[receipt.form]
    subject = f"{terms.company_short_name} option exchange: we received your {title}"
    lines = [
        f"Dear {employee.name},",
        f"HR received your signed {title} (version {receipt.version}) by "
        f"{_VIA[receipt.via]} at {format_instant(receipt.received_at, terms.deadline_zone)}.",
        "Receipt is not acceptance: this confirmation is not by itself an acceptance of your "
        "options for exchange. Options are accepted only when the company gives notice of its "
        "acceptance after the offer expires (§6, p. 19).",
    ]
    if superseded_by is not None:
        lines.append(
            f"HR already holds your signed form of version {superseded_by}, which is later; "
            "this earlier form does not replace it (Q23, p. 6)."
        )
    lines.append(
        f"You may still change your election or withdraw until {deadline_text(terms)} by "
        f"delivering a new signed form by fax or by hand to {delivery_text(terms)}."
    )
    lines.append(f"(Confirmation due by {format_date(due)}.)")
    return subject, "\n\n".join(lines)


def step_text(step: Step, intent: ElectionIntent | None, terms: OfferTerms) -> str:
    when = deadline_text(terms)
    where = delivery_text(terms)
    version = intent.version if intent is not None else 0
    return {
        Step.NOTHING_RECORDED: "No intent is recorded. To tender, name the grants (whole grants "
        f"only); the signed Election Form must reach HR before {when}.",
        Step.SIGN_ELECTION_FORM: f"Sign and date the Election Form (version {version}) and "
        f"deliver it by fax or by hand to {where} before {when}; e-mail is not accepted.",
        Step.SIGN_NOTICE_TO_WITHDRAW: "Sign and date the Notice to Withdraw from the Offer "
        f"(version {version}) and deliver it by fax or by hand to {where} before {when}; "
        "e-mail is not accepted.",
        Step.AWAIT_RECEIPT_CONFIRMATION: "Wait for HR's e-mail confirming receipt (within "
        f"{terms.receipt_confirmation_business_days} business days of receipt); receipt is not "
        "acceptance.",
        Step.CONFIRMATION_OVERDUE: "HR's receipt confirmation is overdue: contact HR to make sure "
        f"your form was received ({where}).",
        Step.FORM_NOT_RECEIVED_BEFORE_CLOSE: f"The offer closed at {when}; no signed form of "
        f"version {version} was recorded as received before then.",
        Step.NOTHING_LEFT: "Nothing is left to do: HR confirmed receipt. Receipt is not "
        "acceptance; acceptance is announced after the offer expires.",
    }[step]


# --- printed documents ----------------------------------------------------------------------


def _delivery_section(terms: OfferTerms, title: str) -> FormSection:
    hr = terms.hr_delivery
    return FormSection(
        heading="Delivery",
        paragraphs=(
            f"Deliver this signed {title} by fax or by hand (e-mail is not accepted) to:",
            " / ".join(hr.address_lines),
            f"Fax: {hr.fax}    Phone: {hr.phone}",
            f"It must be received before {deadline_text(terms)}. Delivery is at your own risk; "
            "allow enough time (§4, p. 16).",
        ),
    )


def form_document(intent: ElectionIntent, employee: Employee, terms: OfferTerms) -> FormDocument:
    """The Election Form (what §4, p. 16 says it must specify) or the Notice to Withdraw from
    the Offer (§5, p. 17), with signature and date lines and the delivery instructions."""
    title = FORM_TITLE[intent.form]
    fields = (
        ("Option holder", employee.name),
        ("Employee ID", employee.employee_id),
        ("Form version", str(intent.version)),
        ("Prepared", format_instant(intent.recorded_at, terms.deadline_zone)),
    )
    if intent.form is FormKind.ELECTION:
        body = FormSection(
            heading="Options I tender",
            paragraphs=(
                f"I tender for exchange all unexercised shares of each option listed below, on "
                f"the terms of the {terms.title} of {terms.company_name}. Each option is "
                "tendered in whole (Q12, p. 2).",
                "This form replaces any Election Form I signed before (Q23, p. 6).",
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
                "§5, p. 18).",
                "This notice is dated after my most recent Election Form (Q23, p. 6).",
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
                heading="Signature",
                paragraphs=(
                    "Sign exactly as your name appears on your option agreement. If your name "
                    "has legally changed, attach proof; if you sign for someone else, give your "
                    "full title and proof of authority (§4, p. 16).",
                ),
            ),
        ),
        signature_lines=(
            f"Signature of option holder ({employee.name})",
            "Date",
        ),
        footer=(
            "Prepared by offerbot from your recorded intent. This form counts only when HR "
            "receives it signed; receipt is not acceptance (§6, p. 19). " + _delivery_footer(terms)
        ),
        author=terms.company_name,
        keywords={
            "employee_id": employee.employee_id,
            "version": str(intent.version),
            "form": intent.form.value,
        },
    )


def _delivery_footer(terms: OfferTerms) -> str:
    hr = terms.hr_delivery
    return (
        f"Deliver by fax to {hr.fax} or by hand to {hr.name}, {hr.department}, {hr.street}, "
        f"{hr.city}, {hr.region} {hr.postal_code}, before {deadline_text(terms)}."
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
) -> FormDocument:
    """Promise to Grant Stock Option(s) (§6, p. 18): one new option per cancelled grant."""
    v = terms.vesting
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
    paragraphs = [
        f"{terms.company_name} accepted for exchange and cancelled the options listed below. It "
        f"promises to grant you, on the New Option Grant Date, {format_date(grant_date)}, a "
        f"{terms.new_option_type} stock option under the {terms.new_option_plan} for the number "
        "of shares shown for each cancelled option, provided that you are an employee of "
        f"{terms.company_name}, one of its subsidiaries or a successor entity on that date "
        "(§6, p. 18).",
        f"Exercise price: the {terms.exercise_price_rule} (Q11, p. 2). Term: "
        f"{terms.new_option_term_years} years (Q19, p. 5).",
        f"Vesting: {v.initial_numerator}/{v.denominator} on the grant date, then "
        f"{v.monthly_numerator}/{v.denominator} each month, fully vested "
        f"{v.months} months after the grant date, while you remain an employee (Q13, p. 3).",
    ]
    if adjusted:
        paragraphs.append(
            "Share counts include the capitalization adjustments recorded between the "
            "cancellation date and the grant date (Q7, p. 2)."
        )
    return FormDocument(
        title="Promise to Grant Stock Option(s)",
        subtitle=f"{terms.company_name} - {terms.title}",
        created_at=issued_at,
        fields=(("Option holder", employee.name), ("Employee ID", employee.employee_id)),
        sections=(
            FormSection(
                paragraphs=tuple(paragraphs),
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
            ),
        ),
        signature_lines=(f"For {terms.company_name}: authorized officer", "Date"),
        footer="Issued by offerbot for HR after the offer expired.",
        author=terms.company_name,
        keywords={"employee_id": employee.employee_id, "document": "promise_to_grant"},
    )
