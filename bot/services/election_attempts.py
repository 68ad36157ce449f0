"""An election tried by e-mail ("I tender grant 1234", a scanned form attached).

The offer accepts only a signed form delivered by fax or by hand (§4, p. 15), so nothing is
recorded as an intent. The reply says so, gives the delivery instructions and — when the
verified owner named their own grants — the pre-filled form to sign; the attempt goes to the
audit log for HR.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.domain.elections import ElectionIntent, IntentLine, next_tender, next_withdrawal
from bot.domain.errors import DomainError
from bot.domain.hr_records import Attachment
from bot.domain.records import AuditEntry
from bot.domain.tender import validate_tender
from bot.domain.terms import OfferTerms
from bot.replies import Action, Reply
from bot.services.election_intents import PDF, render_intent_form
from bot.services.election_support import load_person
from bot.services.election_wording import FORM_TITLE, form_filename
from bot.services.identity import Identity

__all__ = ["not_an_election"]

_GRANT_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


async def not_an_election(
    *,
    intent: str,
    text: str,
    identity: Identity,
    uow: Any,
    terms: OfferTerms,
    now: datetime,
    how: str,
) -> Reply:
    """The reply to an attempted election (``intent`` "elect" or "withdraw"); audits it."""
    form: ElectionIntent | None = None
    attachment: Attachment | None = None
    named: list[str] = []
    problem = ""
    async with uow:
        if identity.employee_id is not None:
            person = await load_person(uow, terms, identity.employee_id)
            history = await uow.elections.intents_for(identity.employee_id)
            tokens = {t.upper() for t in _GRANT_TOKEN.findall(text)}
            named = [
                g.grant.grant_number
                for g in person.assessment.grants
                if g.grant.grant_number.upper() in tokens
            ]
            try:
                form = _unrecorded_form(intent, named, person, history, identity, terms, now)
            except DomainError as exc:
                problem = str(exc)
            if form is not None:
                attachment = Attachment(
                    filename=form_filename(form),
                    content_type=PDF,
                    content=render_intent_form(form, person.employee, terms),
                )
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="election.attempt_by_message",
                channel=identity.channel,
                subject=identity.employee_id,
                detail={
                    "intent": intent,
                    "grants_named": named,
                    "verified": identity.verified,
                    "form_sent": attachment is not None,
                    "recorded": False,
                },
            )
        )
        await uow.commit()
    sentences = [
        "This message is not an election and nothing was recorded: the offer accepts only a "
        "signed form delivered by fax or by hand.",
        how,
    ]
    if form is not None:
        sentences.append(
            f"Attached is your pre-filled {FORM_TITLE[form.form]} for the grants you named; "
            "check it, sign and date it, and deliver it as described above."
        )
    elif identity.verified and intent == "elect" and not problem:
        sentences.append("Name the grants you mean (e.g. 'tender G1234') to get a pre-filled form.")
    if problem:
        sentences.append(problem)
    if not identity.verified:
        sentences.append(
            "I could not match your address to HR's roster, so I cannot prepare a form for you."
        )
    return Reply(
        text=" ".join(sentences),
        actions=(Action("deadline", "Deadline"), Action("talk_to_hr", "Talk to HR")),
        kind="personal" if identity.verified else "answer",
        data={"intent": intent, "is_election": False, "grants": named},
        attachments=(attachment,) if attachment else (),
    )


def _unrecorded_form(
    intent: str,
    named: list[str],
    person: Any,
    history: Any,
    identity: Identity,
    terms: OfferTerms,
    now: datetime,
) -> ElectionIntent | None:
    """The intent a form would carry, built by the domain rules and never stored."""
    common = {
        "employee_id": person.employee.employee_id,
        "terms": terms,
        "now": now,
        "actor": identity.actor,
        "channel": identity.channel,
    }
    if intent == "withdraw":
        return next_withdrawal(history, **common)
    if not named:
        return None
    selection = validate_tender(named, person.assessment, terms, now=now)
    by_number = person.assessment.by_number()
    lines = [IntentLine.of(by_number[n].grant) for n in selection.grant_numbers]
    return next_tender(history, lines, **common)
