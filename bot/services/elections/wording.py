"""What offerbot says about elections: confirmations, HR notices, receipt confirmations (the
printed forms are ``bot.services.elections.printed_forms``). Every fact comes from
:class:`OfferTerms` (never a literal here).

Rules every confirmation follows (Offer Q21-Q23, p. 5-6; §4-§6, p. 15-19):
- it says it is not itself an election (or withdrawal);
- it names exactly what must be signed (the Election Form listing these grants, or the Notice
  to Withdraw from the Offer), where it goes (HR's delivery contact, address, fax) and by when
  (the live expiration, in the offer's zone);
- receipt is not acceptance.
"""

from __future__ import annotations

from datetime import date

from bot.domain.elections import (
    Delivery,
    ElectionIntent,
    FormKind,
    FormReceipt,
    IntentLine,
    Step,
    Transition,
)
from bot.domain.reminders import time_left_phrase
from bot.domain.roster import Employee, file_name_part
from bot.domain.terms import OfferTerms
from bot.domain.timefmt import format_instant, format_money, format_shares

__all__ = [
    "FORM_TITLE",
    "deadline_text",
    "delivery_text",
    "form_filename",
    "hr_notice_text",
    "intent_confirmation_text",
    "intent_sentences",
    "receipt_confirmation_text",
    "step_text",
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
    """The e-mail that carries the pre-filled form: what was recorded, the grants as a list,
    the deadline (highlighted, with the time left), and one next step — sign and deliver."""
    title = FORM_TITLE[intent.form]
    subject = (
        f"{terms.company_short_name} option exchange: sign your {title} (version {intent.version})"
    )
    head, _sign, _deliver, *rest = intent_sentences(intent, terms)
    if intent.form is FormKind.ELECTION:
        count = len(intent.lines)
        what = (
            f"The attached {title} lists {count} grant{'s' * (count != 1)}, each tendered in "
            "whole:\n" + "\n".join(f"- {_grant_item(line)}" for line in intent.lines)
        )
    else:
        what = (
            f"The attached {title} withdraws all of your tendered options; a withdrawal cannot "
            "be rescinded, but you may tender again by delivering a new Election Form before "
            "the deadline (Q22, p. 5; §5, p. 18)."
        )
    left = time_left_phrase(terms.expiration - intent.recorded_at)
    body = "\n\n".join(
        [
            f"Dear {employee.name},",
            head,
            what,
            f"> Deadline: {deadline_text(terms)} ({left} left when your intent was recorded)",
            f"> Next step: sign and date the attached {title} (version {intent.version}) "
            "exactly as your name appears on your option agreement (§4, p. 16), and deliver it "
            f"by fax or by hand to {delivery_text(terms)} so that it is received before "
            f"{deadline_text(terms)}. E-mail is not accepted (Q21, p. 5).",
            *rest,
        ]
    )
    return subject, body


def hr_notice_text(
    intent: ElectionIntent, employee: Employee, terms: OfferTerms
) -> tuple[str, str]:
    title = FORM_TITLE[intent.form]
    subject = (
        f"Expect a signed {title}: {employee.name} ({employee.employee_id}), v{intent.version}"
    )
    # "(change, version 2)", but not "(tender, version 1)" after "an intent to tender"
    how = "" if intent.transition.value == intent.kind.value else f"{intent.transition.value}, "
    lines = [
        f"{employee.name} ({employee.employee_id}) recorded an intent to {intent.kind.value} "
        f"({how}version {intent.version}) at "
        f"{format_instant(intent.recorded_at, terms.deadline_zone)} via {intent.channel}. "
        f"A pre-filled {title} was sent to the employee. This is not an election until the "
        "signed form arrives.",
    ]
    if intent.lines:
        lines.append("Grants:\n" + "\n".join(f"- {_grant_item(line)}" for line in intent.lines))
    lines += [
        f"> Deadline: signed forms must be received before {deadline_text(terms)}",
        "> Next step: when the signed form arrives by fax or by hand, record it on the HR "
        "console (Record a form) or with "
        f"`offerbot hr receive {employee.employee_id} --form {intent.form.value} "
        f"--version {intent.version} --received-at now --via fax|hand` (or a Pacific "
        "`YYYY-MM-DD HH:MM` instead of `now`).",
    ]
    return subject, "\n\n".join(lines)


def receipt_confirmation_text(
    receipt: FormReceipt,
    employee: Employee,
    terms: OfferTerms,
    *,
    intent: ElectionIntent | None,
    superseded_by: int | None,
) -> tuple[str, str]:
    """What HR received (the form, its version and, for an Election Form, its grants), when
    (in the offer's zone, with the zone) and how (fax or hand delivery) it arrived, and that
    receipt is not acceptance (§4, p. 16; §6, p. 19). ``intent`` is the recorded intent of
    that version (None only for data recorded before intents carried their lines)."""
    title = FORM_TITLE[receipt.form]
    zone = terms.deadline_zone
    subject = (
        f"{terms.company_short_name} option exchange: HR received your signed {title} "
        f"(version {receipt.version})"
    )
    lines = [
        f"Dear {employee.name},",
        f"HR received your signed {title}, version {receipt.version}.",
        f"> Received: {format_instant(receipt.received_at, zone)}, by {_VIA[receipt.via]}",
    ]
    if receipt.form is FormKind.ELECTION and intent is not None and intent.lines:
        count = len(intent.lines)
        lines.append(
            f"The form lists {count} grant{'s' * (count != 1)}, each tendered in whole:\n"
            + "\n".join(f"- {_grant_item(line)}" for line in intent.lines)
        )
    elif receipt.form is FormKind.WITHDRAWAL:
        lines.append("The notice withdraws all of your tendered options from the offer.")
    lines.append(
        "> Receipt is not acceptance: this e-mail confirms only that HR has the form. Options "
        "are accepted only when the company gives notice of its acceptance after the offer "
        "expires (§6, p. 19)."
    )
    if superseded_by is not None:
        lines.append(
            f"HR already holds your signed form of version {superseded_by}, which is later; "
            "this earlier form does not replace it (Q23, p. 6)."
        )
    lines.append(
        "> Next step: none is needed for this form. To change your election or withdraw, "
        f"deliver a new signed form by fax or by hand to {delivery_text(terms)} so that HR "
        f"receives it before {deadline_text(terms)}."
    )
    return subject, "\n\n".join(lines)


def _month_day_year(day: date) -> str:
    """``November 1, 2001``: a grant date, without the weekday a deadline carries."""
    return f"{day:%B} {day.day}, {day.year}"


def _grant_item(line: IntentLine) -> str:
    """One grant as a list item: number, grant date, exercise price, unexercised shares."""
    return (
        f"Grant {line.grant_number}: granted {_month_day_year(line.grant_date)}, exercise price "
        f"{format_money(line.exercise_price)}, {format_shares(line.unexercised_shares)} "
        "unexercised shares"
    )


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
