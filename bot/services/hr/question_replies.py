"""HR answers an employee's question from the console, and proposes questions as new examples
for the question bank.

**Replies.** The bot passes on what it could not answer (``unanswered_questions``); HR writes
the answer, optionally citing one knowledge entry the way the bot cites ("Q21 · How do I tender
my options? · p. 5"). :func:`reply_to_question` queues it in the outbox — the same queue, kind
(``answer``) and renderers as the bot's own e-mailed answers — on the channel the question came
from: a Slack DM to the person who asked, or an e-mail to the address on file for the employee
(never the address a message came from). Only a question from a *verified* employee can be
answered this way: a question asked in the console chat or by an unknown sender has nobody the
bot may send personal words to, and is refused with a sentence. Sending marks the question
answered and writes an audit entry, in the same transaction; the reply shows on the employee's
page because its outbox row carries their employee id. HR's words pass the same no-advice guard
as the bot's answers: a reply that reads as a recommendation to tender or not is refused.

**Suggestions.** HR can propose a question (as asked, or edited to remove personal details) as
an example of a label — a knowledge-entry id, ``out_of_scope`` or ``advice``. A suggestion is
not training data: an admin accepts or rejects it, and :func:`suggestions_bank_text` writes the
accepted ones in the bank's own file format (``knowledge/bank.py``) for a person to review and
commit into the offer's ``questions/`` folder, where the router's cache key (a hash of the bank
files) retrains the router on the next start. See docs/hr-console.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.records import AuditEntry, UnansweredQuestion
from bot.ports import UnitOfWork
from bot.replies import Citation, Reply
from bot.services.access import require_operator
from bot.services.errors import InvalidRequestError, NotFoundError
from bot.services.identity import Identity
from bot.services.offer.deadline_follow_ups import EmailRenderer
from knowledge.answerer import offer_entries
from knowledge.bank import ADVICE, OUT_OF_SCOPE, load_bank
from knowledge.compose import RECOMMENDATION
from storage.hr_console_repo import hr_console
from storage.hr_questions_repo import BankSuggestion, hr_questions

__all__ = [
    "REPLY_SUBJECT",
    "SUGGESTION_LABELS",
    "SUGGESTION_STATUSES",
    "QuestionView",
    "QueuedReply",
    "citable_entries",
    "decide_suggestion",
    "list_suggestions",
    "question_view",
    "reply_preview",
    "reply_to_question",
    "suggest_for_bank",
    "suggestions_bank_text",
]

REPLY_SUBJECT = "Your question about the option exchange offer"
MAX_REPLY_CHARS = 4000
MAX_EXAMPLE_CHARS = 300
REPLY_CHANNELS = ("slack", "email")
SUGGESTION_LABELS = (OUT_OF_SCOPE, ADVICE)  # besides the knowledge-entry ids
SUGGESTION_STATUSES = ("pending", "accepted", "rejected")  # what a review leaves a suggestion
_LABEL_LINE = re.compile(r"\[\s*[A-Za-z0-9_:-]+\s*\]")


@lru_cache(maxsize=4)
def _entries(offer_dir: Path) -> tuple[Citation, ...]:
    return tuple(
        Citation(e.id, e.title, e.pages) for e in offer_entries(offer_dir) if e.kind != "risks"
    )


def citable_entries(offer_dir: Path) -> dict[str, Citation]:
    """The knowledge entries a reply may cite, by id, in document order (Q1…Q30, S1…, RISK-n,
    COVER, SCHED-A, PROXY-n): parsed from the offer text once per process."""
    return {c.entry_id: c for c in _entries(offer_dir)}


def _reply(text: str, entry_id: str, entries: Mapping[str, Citation]) -> Reply:
    """HR's words as the bot's reply model, with the cited entry's citation."""
    body = text.strip()
    if not body:
        raise InvalidRequestError("Write the reply before sending it.")
    if len(body) > MAX_REPLY_CHARS:
        raise InvalidRequestError(f"Keep the reply under {MAX_REPLY_CHARS:,} characters.")
    if RECOMMENDATION.search(body):
        raise InvalidRequestError(
            "The reply reads as a recommendation whether to tender. The company makes no "
            "recommendation: state the facts and point to the offer instead."
        )
    if entry_id and entry_id not in entries:
        raise InvalidRequestError(f"There is no knowledge entry {entry_id!r} to cite.")
    citations = (entries[entry_id],) if entry_id else ()
    return Reply(text=body, citations=citations, kind="answer")


def slack_text(reply: Reply) -> str:
    """The DM's text: the reply, then the sources line the bot's Slack answers end with."""
    if not reply.citations:
        return reply.text
    return reply.text + "\n\nSource: " + " | ".join(c.label() for c in reply.citations)


def reply_preview(*, text: str, entry_id: str, entries: Mapping[str, Citation]) -> str:
    """What the employee will read (the Slack form; the e-mail adds a greeting and footer)."""
    return slack_text(_reply(text, entry_id, entries))


@dataclass(frozen=True, slots=True)
class QuestionView:
    question: UnansweredQuestion
    answered: bool
    refusal: str  # why a reply cannot go through offerbot ("" when it can)


@dataclass(frozen=True, slots=True)
class QueuedReply:
    question: UnansweredQuestion
    message: OutboxMessage


def _reachable(question: UnansweredQuestion) -> str:
    """Why the question cannot be answered through the outbox, or "" when it can."""
    if question.channel not in REPLY_CHANNELS:
        return (
            f"This question was asked through the {question.channel} channel, which has no "
            "inbox to reply to: answer the person directly."
        )
    if question.employee_id is None:
        return (
            "This question came from someone the bot could not match to an employee, so a "
            "reply cannot be sent through offerbot: answer them directly if appropriate."
        )
    return ""


async def question_view(*, uow: UnitOfWork, identity: Identity, question_id: int) -> QuestionView:
    """One question, whether HR answered it, and whether a reply can reach the person."""
    require_operator(identity)
    async with uow:
        question = await hr_questions(uow).question(question_id)
        answered = question_id in await hr_console(uow).answered_question_ids()
    if question is None:
        raise NotFoundError(f"No question #{question_id}.")
    return QuestionView(question, answered, _reachable(question))


async def reply_to_question(
    *,
    uow: UnitOfWork,
    identity: Identity,
    question_id: int,
    text: str,
    entry_id: str,
    entries: Mapping[str, Citation],
    now: datetime,
    render_email: EmailRenderer,
) -> QueuedReply:
    """Queue HR's reply to the employee who asked, mark the question answered, audit it."""
    require_operator(identity)
    reply = _reply(text, entry_id, entries)
    async with uow:
        question = await hr_questions(uow).question(question_id)
        if question is None:
            raise NotFoundError(f"No question #{question_id}.")
        refusal = _reachable(question)
        if refusal:
            raise InvalidRequestError(refusal)
        assert question.employee_id is not None
        employee = await uow.employees.get(question.employee_id)
        if employee is None:
            raise InvalidRequestError(
                f"Employee {question.employee_id} is no longer in the roster: answer directly."
            )
        if question.channel == "email":
            recipient = employee.email.strip()  # the address on file, never another
            body_text, body_html = render_email(reply, REPLY_SUBJECT)
        else:
            recipient = employee.slack_user_id or question.actor
            body_text, body_html = slack_text(reply), None
        if not recipient:
            raise InvalidRequestError(
                f"Employee {employee.employee_id} has no {question.channel} address on file."
            )
        if not await hr_console(uow).mark_answered(question_id, at=now, by=identity.actor):
            raise InvalidRequestError(f"Question #{question_id} is already answered.")
        message = OutboxMessage(
            idempotency_key=f"hr_reply:{question_id}",
            channel=question.channel,
            recipient=recipient,
            kind=MessageKind.ANSWER,
            subject=REPLY_SUBJECT,
            body_text=body_text,
            body_html=body_html,
            created_at=now,
            due_at=now,
            employee_id=employee.employee_id,
            reference=f"question:{question_id}",
        )
        await uow.outbox.enqueue(message)
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="hr_console.question.replied",
                channel=identity.channel,
                subject=employee.employee_id,
                # no reply text here: the outbox row holds it, the audit log is read widely
                detail={
                    "question_id": question_id,
                    "via": question.channel,
                    "cited": entry_id or None,
                },
            )
        )
        await uow.commit()
    return QueuedReply(question, message)


# --- question-bank suggestions ---------------------------------------------------------------


def _example_line(text: str) -> str:
    """One bank line: whitespace collapsed; refused when the bank would read it otherwise."""
    line = " ".join(text.split())
    if not line:
        raise InvalidRequestError("Give the question text to add to the bank.")
    if len(line) > MAX_EXAMPLE_CHARS:
        raise InvalidRequestError(f"Keep the example under {MAX_EXAMPLE_CHARS} characters.")
    if line.startswith("#") or _LABEL_LINE.fullmatch(line):
        raise InvalidRequestError(
            "An example cannot start with '#' or be a [LABEL]: the bank would read it as a "
            "comment or a label."
        )
    return line


async def suggest_for_bank(
    *,
    uow: UnitOfWork,
    identity: Identity,
    text: str,
    label: str,
    entries: Mapping[str, Citation],
    offer_dir: Path,
    now: datetime,
    question_id: int | None = None,
) -> BankSuggestion:
    """Store ``text`` as a proposed example of ``label``, pending an admin's review."""
    require_operator(identity)
    line = _example_line(text)
    if label not in entries and label not in SUGGESTION_LABELS:
        raise InvalidRequestError(
            "Choose a knowledge entry, out of scope, or advice as the question's label."
        )
    for example in load_bank(offer_dir).examples:
        if example.text.casefold() == line.casefold():
            raise InvalidRequestError(
                f"The bank already has this question, as an example of {example.label} "
                f"({example.file}, line {example.line})."
            )
    async with uow:
        repo = hr_questions(uow)
        if question_id is not None and await repo.question(question_id) is None:
            raise NotFoundError(f"No question #{question_id}.")
        found = await repo.find_suggestion(line)
        if found is not None:
            raise InvalidRequestError(
                f"This question is already suggested (#{found.id}, {found.label}, {found.status})."
            )
        suggestion = BankSuggestion(
            question_id=question_id,
            text=line,
            label=label,
            status="pending",
            proposed_at=now,
            proposed_by=identity.actor,
        )
        new_id = await repo.add_suggestion(suggestion)
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action="hr_console.suggestion.added",
                channel=identity.channel,
                subject=None,
                detail={"suggestion_id": new_id, "label": label, "question_id": question_id},
            )
        )
        await uow.commit()
    return replace(suggestion, id=new_id)


async def decide_suggestion(
    *, uow: UnitOfWork, identity: Identity, suggestion_id: int, accept: bool, now: datetime
) -> None:
    """Accept or reject a pending suggestion (an admin; audited)."""
    require_operator(identity)
    status = "accepted" if accept else "rejected"
    async with uow:
        if not await hr_questions(uow).decide_suggestion(
            suggestion_id, status=status, at=now, by=identity.actor
        ):
            raise NotFoundError(f"No pending suggestion #{suggestion_id}.")
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action=f"hr_console.suggestion.{status}",
                channel=identity.channel,
                subject=None,
                detail={"suggestion_id": suggestion_id},
            )
        )
        await uow.commit()


async def list_suggestions(
    *, uow: UnitOfWork, identity: Identity, status: str | None = None
) -> list[BankSuggestion]:
    """Suggestions, newest first (``status``: only pending / accepted / rejected)."""
    require_operator(identity)
    async with uow:
        return await hr_questions(uow).suggestions(status=status)


async def suggestions_bank_text(
    *, uow: UnitOfWork, identity: Identity, entries: Mapping[str, Citation]
) -> str:
    """Every accepted suggestion as a bank file (``questions/hr-suggestions.txt``): a
    ``[LABEL]`` block per label, one example per line, oldest first; the same bytes every
    time for the same accepted rows, so a re-export shows only what is new in a diff."""
    require_operator(identity)
    async with uow:
        accepted = await hr_questions(uow).accepted_suggestions()
    lines = [
        "# Employees' questions HR accepted from the console's question-bank suggestions",
        "# (offerbot hr suggestions export). Review before committing: no personal details, no",
        "# question from an evaluation set; then `offerbot kb check` and the bank tests.",
    ]
    by_label: dict[str, list[BankSuggestion]] = {}
    for s in accepted:
        by_label.setdefault(s.label, []).append(s)
    for label in sorted(by_label):
        title = entries[label].title if label in entries else label.replace("_", " ")
        lines += ["", f"# {label}: {title}", f"[{label}]"]
        lines += [s.text for s in by_label[label]]
    return "\n".join(lines) + "\n"
