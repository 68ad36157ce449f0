"""An election tried by e-mail ("I tender grant 1234", a scanned form attached).

The offer accepts only a signed form delivered by fax or by hand (§4, p. 15), so the message
itself is never an election. The reply says so and gives the delivery instructions; when the
verified owner named their own grants, the intent is recorded (as from chat) so the pre-filled
form they get has a real version; the attempt goes to the audit log for HR.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.elections import ElectionIntent, IntentLine, next_tender, next_withdrawal
from bot.domain.errors import DomainError
from bot.domain.questions import Intent
from bot.domain.records import AuditEntry
from bot.domain.tender import grants_named_in, validate_tender
from bot.domain.terms import OfferTerms
from bot.ports import UnitOfWork
from bot.replies import Action, Reply
from bot.services.elections.intents import IntentResult, record_intent, record_withdrawal
from bot.services.elections.person import load_person
from bot.services.elections.wording import FORM_TITLE
from bot.services.errors import ServiceError
from bot.services.identity import Identity

__all__ = ["not_an_election"]


async def not_an_election(
    *,
    intent: Intent,
    text: str,
    identity: Identity,
    uow: UnitOfWork,
    terms: OfferTerms,
    now: datetime,
    how: str,
) -> Reply:
    """The reply to an attempted election (``intent`` "elect" or "withdraw"); audits it.

    When the verified owner names grants they may tender (or asks to withdraw), the intent is
    recorded exactly as from chat, so the pre-filled form they receive carries a version HR can
    match on receipt; the form goes out in the intent confirmation e-mail.
    """
    named: list[str] = []
    problem = ""
    recorded: IntentResult | None = None
    if identity.employee_id is not None:
        async with uow:
            person = await load_person(uow, terms, identity.employee_id)
            history = await uow.elections.intents_for(identity.employee_id)
        named = grants_named_in(text, person.assessment)
        try:
            form = _unrecorded_form(intent, named, person, history, identity, terms, now)
            if form is not None and intent is Intent.WITHDRAW:
                recorded = await record_withdrawal(
                    uow=uow,
                    terms=terms,
                    employee_id=identity.employee_id,
                    identity=identity,
                    now=now,
                )
            elif form is not None:
                recorded = await record_intent(
                    uow=uow,
                    terms=terms,
                    employee_id=identity.employee_id,
                    grant_numbers=named,
                    identity=identity,
                    now=now,
                )
        except (DomainError, ServiceError) as exc:
            problem = str(exc)
    async with uow:
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="election.attempt_by_message",
                channel=identity.channel,
                subject=identity.employee_id,
                detail={
                    "intent": intent.value,
                    "grants_named": named,
                    "verified": identity.verified,
                    "recorded": recorded is not None,
                    "version": recorded.intent.version if recorded else None,
                },
            )
        )
        await uow.commit()
    sentences = [
        "This message is not an election: the offer accepts only a signed form delivered by "
        "fax or by hand.",
        how,
    ]
    if recorded is not None:
        sentences.append(
            f"I recorded your intent (version {recorded.intent.version}), which is not an "
            f"election either, and e-mailed you the pre-filled {FORM_TITLE[recorded.intent.form]} "
            f"({recorded.form_filename}) in a separate message: check it, sign and date it, and "
            "deliver it as described above."
        )
    elif identity.verified and intent is Intent.ELECT and not problem:
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
        intent=intent,
        data={
            "is_election": False,
            "grants": named,
            "intent_version": recorded.intent.version if recorded else None,
        },
    )


def _unrecorded_form(
    intent: Intent,
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
    if intent is Intent.WITHDRAW:
        return next_withdrawal(history, **common)
    if not named:
        return None
    selection = validate_tender(named, person.assessment, terms, now=now)
    by_number = person.assessment.by_number()
    lines = [IntentLine.of(by_number[n].grant) for n in selection.grant_numbers]
    return next_tender(history, lines, **common)
