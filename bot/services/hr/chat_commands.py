"""``/offer-admin`` — HR's commands typed in a chat channel (Slack), as one use case.

The admin list is checked on every command; a refusal is audited (who tried what). The
subcommands reuse the election, receipt and extension services; their wording of the outcome
is theirs. Channels only pass the user id and the text, and render the returned
:class:`~bot.replies.Reply`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.clock import parse_instant
from bot.config import Settings
from bot.domain.elections import Delivery, FormKind
from bot.domain.errors import DomainError
from bot.domain.records import AuditEntry
from bot.replies import Reply
from bot.services.elections.receipts import receipt_reply, record_receipt
from bot.services.elections.reports import hr_report
from bot.services.errors import ServiceError
from bot.services.identity import Identity
from bot.services.offer.amendment_wording import amendment_reply
from bot.services.offer.extension import approve_amendment, extend_offer, reject_amendment
from bot.services.offer.live_offer import current_terms
from bot.services.questions.conversation import ConversationDeps

__all__ = ["ADMIN_USAGE", "AdminDeps", "admin_command", "hr_identity"]

ADMIN_USAGE = (
    "Usage: /offer-admin report | unanswered | "
    "receive EMPLOYEE_ID election|withdrawal VERSION fax|hand RECEIVED_AT (ISO with offset) | "
    "extend NEW_EXPIRATION (ISO with offset) [MESSAGE] | approve AMENDMENT_ID | "
    "reject AMENDMENT_ID"
)

REFUSED = (
    "Sorry, /offer-admin is only for the HR administrators of this offer. If you need "
    "something from HR, ask me 'contacts'."
)


@dataclass(frozen=True, slots=True)
class AdminDeps:
    """What the admin commands need besides the conversation's: who may run them, the
    settings of extensions (two-person rule, reminders, receipt SLA), and how e-mailed
    announcements are rendered (a channel concern, handed in by the composition)."""

    conversation: ConversationDeps
    hr_admins: frozenset[str]
    settings: Settings | None = None
    render_email: Callable[[Reply, str], tuple[str, str]] | None = None


def hr_identity(user_id: str) -> Identity:
    """An HR admin acting through Slack (only after the admin list was checked)."""
    return Identity(channel="slack-hr", actor=f"slack:{user_id}")


async def admin_command(*, deps: AdminDeps, user_id: str | None, text: str) -> Reply:
    """One ``/offer-admin`` command: refused (and audited) unless ``user_id`` is an HR admin."""
    if not user_id or user_id not in deps.hr_admins:
        return await _refuse(deps.conversation, user_id=user_id, what=f"/offer-admin {text}")
    try:
        args = shlex.split(text)
    except ValueError:
        args = text.split()
    try:
        return await _run(deps, hr_identity(user_id), args)
    except (DomainError, ServiceError) as exc:
        return Reply(text=str(exc), kind="error")
    except ValueError as exc:
        return Reply(text=f"{exc}. {ADMIN_USAGE}", kind="error")


async def _refuse(deps: ConversationDeps, *, user_id: str | None, what: str) -> Reply:
    """Polite refusal, and the attempt goes to the audit log."""
    async with deps.uow as uow:
        await uow.audit.record(
            AuditEntry(
                at=deps.clock.now(),
                actor=user_id or "slack:unknown",
                action="slack.admin.refused",
                channel="slack",
                detail={"attempted": what[:200]},
            )
        )
        await uow.commit()
    return Reply(text=REFUSED, kind="error")


async def _run(deps: AdminDeps, identity: Identity, args: list[str]) -> Reply:
    conversation = deps.conversation
    uow, now = conversation.uow, conversation.clock.now()
    terms = await current_terms(uow=uow, terms=conversation.base_terms)
    command = args[0].lower() if args else ""
    if command == "report":
        report = await hr_report(uow=uow, terms=terms, identity=identity, now=now)
        return Reply(text=_report_text(report), kind="answer", data=report)
    if command == "unanswered":
        async with uow:
            questions = await uow.questions.unanswered(20)
        lines = [f"{q.asked_at:%Y-%m-%d %H:%M}Z {q.actor}: {q.question}" for q in questions]
        return Reply(text="\n".join(lines) or "No unanswered questions.")
    if command == "receive" and len(args) == 6:
        sla: dict[str, Any] = (
            {}
            if deps.settings is None
            else {"sla_alert_before": timedelta(hours=deps.settings.receipt_sla_alert_hours)}
        )
        result = await record_receipt(
            uow=uow,
            terms=terms,
            employee_id=args[1],
            form=FormKind(args[2].lower()),
            version=int(args[3]),
            received_at=parse_instant(args[5]),
            via=Delivery(args[4].lower()),
            identity=identity,
            now=now,
            **sla,
        )
        return receipt_reply(result, terms)
    if command in ("extend", "approve", "reject") and len(args) >= 2:
        return await _amend(deps, identity, command, args[1], " ".join(args[2:]))
    return Reply(text=ADMIN_USAGE, kind="help")


async def _amend(
    deps: AdminDeps, identity: Identity, command: str, target: str, message: str
) -> Reply:
    """extend ISO [MESSAGE] (always announced) | approve ID | reject ID."""
    conversation = deps.conversation
    uow, base, now = conversation.uow, conversation.base_terms, conversation.clock.now()
    if deps.settings is None:
        return Reply(text="Extensions are not configured in this Slack app.", kind="error")
    if command == "extend":
        result = await extend_offer(
            uow=uow,
            base_terms=base,
            settings=deps.settings,
            identity=identity,
            new_expiration=parse_instant(target),
            announce=True,
            message=message,
            now=now,
            render_email=deps.render_email,
        )
    elif command == "approve":
        result = await approve_amendment(
            uow=uow,
            base_terms=base,
            identity=identity,
            amendment_id=int(target),
            now=now,
            render_email=deps.render_email,
        )
    else:
        result = await reject_amendment(
            uow=uow, base_terms=base, identity=identity, amendment_id=int(target), now=now
        )
    return amendment_reply(result)


def _report_text(report: dict[str, Any]) -> str:
    lines = []
    for key, value in report.items():
        if isinstance(value, dict):
            parts = ", ".join(
                f"{k.replace('_', ' ')} {v}" for k, v in value.items() if not isinstance(v, list)
            )
            lines.append(f"{key.replace('_', ' ').capitalize()}: {parts}")
        elif not isinstance(value, list):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return "\n".join(lines)
