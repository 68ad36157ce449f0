"""What a Slack listener awaits: one call per surface, over the services.

Listeners parse the payload and call one of these; these call services and the renderers in
:mod:`handlers.slack.blocks`. No eligibility, deadline or policy wording lives here.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import parse_instant
from bot.config import Settings
from bot.domain.elections import Delivery, FormKind
from bot.domain.errors import DomainError
from bot.domain.records import AuditEntry
from bot.domain.terms import OfferTerms
from bot.replies import Reply
from bot.services.amendment_wording import amendment_reply
from bot.services.conversation import ConversationDeps, respond
from bot.services.deadlines import deadlines_reply, get_deadlines
from bot.services.election_preview import preview_tender
from bot.services.elections import (
    IntentResult,
    employee_status,
    hr_report,
    intent_reply,
    latest_form,
    model_options,
    model_reply,
    receipt_reply,
    record_intent,
    record_receipt,
    record_withdrawal,
    status_reply,
)
from bot.services.errors import ServiceError
from bot.services.extension import approve_amendment, extend_offer, reject_amendment
from bot.services.grants import grants_reply, my_grants
from bot.services.identity import Identity
from bot.services.offer import current_terms
from handlers.slack import blocks
from handlers.slack.dedupe import ClaimOnCommit, EventReply
from handlers.slack.identity import SlackIdentities, hr_identity
from storage.slack_repo import DuplicateDeliveryError, SlackDeliveryState, SlackPost

__all__ = ["SlackDeps"]

logger = logging.getLogger(__name__)

ADMIN_USAGE = (
    "Usage: /offer-admin report | unanswered | "
    "receive EMPLOYEE_ID election|withdrawal VERSION fax|hand RECEIVED_AT (ISO with offset) | "
    "extend NEW_EXPIRATION (ISO with offset) [MESSAGE] | approve AMENDMENT_ID | "
    "reject AMENDMENT_ID"
)

# Posted by a late retry of an event whose first delivery died before it could post or park
# its reply: whether that reply went out is unknown, and answering again could record the
# question (or a chat election) twice, so the person is asked to send it again.
ANSWER_LOST = Reply(
    text="Sorry, I may not have finished answering your last message. If you did not get an "
    "answer, please send it again.",
    kind="error",
)


@dataclass(frozen=True, slots=True)
class SlackDeps:
    conversation: ConversationDeps
    identities: SlackIdentities
    hr_admins: frozenset[str]
    settings: Settings | None = None  # extensions: the two-person rule, reminder planning

    def now(self) -> datetime:
        return self.conversation.clock.now()

    def claim(
        self,
        key: str,
        *,
        kind: str,
        user_id: str | None,
        state: SlackDeliveryState = SlackDeliveryState.DONE,
    ) -> ClaimOnCommit:
        return ClaimOnCommit(
            self.conversation.uow,
            key=key,
            kind=kind,
            user_id=user_id,
            clock=self.conversation.clock,
            state=state,
        )

    # --- questions ------------------------------------------------------------------------

    async def answer_event(
        self,
        *,
        event_id: str,
        text: str,
        identity: Identity,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
    ) -> None:
        """Answer a DM or mention once per ``event_id``; a reply whose post failed is posted by
        Slack's retry, which never answers (and records) the question a second time."""
        key = f"event:{event_id}"
        once = EventReply(self.conversation.uow, key=key, clock=self.conversation.clock)

        def rendered(reply: Reply) -> SlackPost:
            return SlackPost(
                channel=channel,
                thread_ts=thread_ts,
                text=blocks.reply_text(reply),
                blocks=blocks.reply_blocks(reply),
            )

        if not await once.claimed():
            claim = self.claim(
                key, kind="message", user_id=identity.actor, state=SlackDeliveryState.ANSWERING
            )
            try:
                reply = await respond(
                    text=text, identity=identity, deps=replace(self.conversation, uow=claim)
                )
                await claim.claim()
            except DuplicateDeliveryError:
                pass  # a concurrent delivery of the event claimed it first
            else:
                await once.post_first(client, rendered(reply))
                return
        if not await once.post_parked(client, lost=rendered(ANSWER_LOST)):
            logger.info("event %s already answered (or being answered)", event_id)

    async def reply_to(self, text: str, identity: Identity) -> Reply:
        return await respond(text=text, identity=identity, deps=self.conversation)

    # --- App Home -------------------------------------------------------------------------

    async def home(self, identity: Identity) -> dict[str, Any]:
        deps, now = self.conversation, self.now()
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        deadlines = get_deadlines(terms, now=now)
        deadline = deadlines_reply(deadlines, terms, now=now)
        if not identity.verified or identity.employee_id is None:
            return blocks.home_view(blocks.HomeContent(deadline=deadline, offer_open=False))
        employee_id = identity.employee_id
        assessment = await my_grants(
            uow=deps.uow, terms=terms, employee_id=employee_id, identity=identity, now=now
        )
        status = await employee_status(
            uow=deps.uow, terms=terms, employee_id=employee_id, identity=identity, now=now
        )
        latest = status.latest
        return blocks.home_view(
            blocks.HomeContent(
                deadline=deadline,
                grants=grants_reply(assessment, terms),
                status=status_reply(status, terms),
                offer_open=deadlines.is_open and bool(assessment.eligible_grants),
                has_intent=latest is not None and bool(latest.lines),
            )
        )

    async def publish_home(
        self, *, user_id: str, identity: Identity, client: AsyncWebClient
    ) -> None:
        await client.views_publish(user_id=user_id, view=await self.home(identity))

    # --- election modal -------------------------------------------------------------------

    async def election_view(self, identity: Identity, *, text: str = "") -> dict[str, Any]:
        """Step 1, or why there is nothing to choose (closed offer, unverified, no grants)."""
        deps, now = self.conversation, self.now()
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        deadlines = get_deadlines(terms, now=now)
        if not deadlines.is_open:
            return blocks.closed_modal(deadlines_reply(deadlines, terms, now=now).text)
        if not identity.verified or identity.employee_id is None:
            return blocks.notice_modal("Record intent", await self.reply_to("tender", identity))
        assessment = await my_grants(
            uow=deps.uow, terms=terms, employee_id=identity.employee_id, identity=identity, now=now
        )
        reply = grants_reply(assessment, terms)
        choices = blocks.election_choices(reply.data)
        if not choices:
            return blocks.notice_modal("Record intent", reply)
        explanation = "\n".join([reply.text, *reply.notes])
        return blocks.election_modal(choices, explanation=explanation)

    async def election_review(self, identity: Identity, values: list[str]) -> dict[str, Any]:
        """Step 1 submitted: inline errors, or step 2 stating exactly what will be recorded."""
        numbers = [n for v in values for n in v.split("+") if n]
        deps = self.conversation
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        try:
            preview = await preview_tender(
                uow=deps.uow,
                terms=terms,
                employee_id=identity.employee_id or "",
                grant_numbers=numbers,
                identity=identity,
                now=self.now(),
            )
        except (DomainError, ServiceError) as exc:
            return blocks.field_errors(str(exc))
        view = blocks.election_confirm_modal(preview.summary, preview.selection.grant_numbers)
        return {"response_action": "update", "view": view}

    async def election_record(
        self, identity: Identity, grant_numbers: list[str], *, key: str
    ) -> dict[str, Any] | None:
        """Step 2 submitted: record the intent once per view submission."""
        return await self._record_once(
            identity,
            key=key,
            kind="election",
            title="Intent recorded",
            record=lambda uow, terms, now: record_intent(
                uow=uow,
                terms=terms,
                employee_id=identity.employee_id or "",
                grant_numbers=grant_numbers,
                identity=identity,
                now=now,
            ),
        )

    async def withdraw_view(self, identity: Identity) -> dict[str, Any]:
        """The confirmation step, or why there is nothing to withdraw (closed offer)."""
        deps, now = self.conversation, self.now()
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        deadlines = get_deadlines(terms, now=now)
        if not deadlines.is_open:
            return blocks.closed_modal(deadlines_reply(deadlines, terms, now=now).text)
        reply = await self.reply_to("withdraw", identity)
        if not identity.verified:
            return blocks.notice_modal("Withdraw", reply)
        return blocks.withdraw_modal(reply.text)

    async def withdraw_record(self, identity: Identity, *, key: str) -> dict[str, Any] | None:
        return await self._record_once(
            identity,
            key=key,
            kind="withdrawal",
            title="Withdrawal recorded",
            record=lambda uow, terms, now: record_withdrawal(
                uow=uow,
                terms=terms,
                employee_id=identity.employee_id or "",
                identity=identity,
                now=now,
            ),
        )

    async def _record_once(
        self,
        identity: Identity,
        *,
        key: str,
        kind: str,
        title: str,
        record: Callable[[Any, OfferTerms, datetime], Awaitable[IntentResult]],
    ) -> dict[str, Any] | None:
        """Run ``record`` in a unit of work that also claims ``key`` (a view submission), so a
        repeated submission records nothing; the modal shows the result or the broken rule."""
        deps = self.conversation
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        claim = self.claim(key, kind=kind, user_id=identity.actor)
        try:
            result = await record(claim, terms, self.now())
        except DuplicateDeliveryError:
            return None
        except (DomainError, ServiceError) as exc:
            reply = Reply(text=str(exc), kind="error")
            return {"response_action": "update", "view": blocks.notice_modal("Not recorded", reply)}
        view = blocks.notice_modal(title, intent_reply(result, terms))
        return {"response_action": "update", "view": view}

    # --- home buttons ---------------------------------------------------------------------

    async def compare(self, identity: Identity) -> Reply:
        deps = self.conversation
        if identity.employee_id is None:
            return await self.reply_to("grants", identity)
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        try:
            result = await model_options(
                uow=deps.uow,
                terms=terms,
                employee_id=identity.employee_id,
                prices=(),
                new_strikes=(),
                identity=identity,
                now=self.now(),
            )
        except (DomainError, ServiceError) as exc:
            return Reply(text=str(exc), kind="error")
        return model_reply(result)

    async def send_form(self, identity: Identity, *, client: AsyncWebClient, user_id: str) -> None:
        """Upload the pre-filled form of the latest intent to the person's DM."""
        deps = self.conversation
        channel = await self.identities.dm_channel(user_id, client=client)
        if identity.employee_id is None:
            reply = await self.reply_to("status", identity)
            await client.chat_postMessage(channel=channel, text=blocks.reply_text(reply))
            return
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        try:
            intent, pdf = await latest_form(
                uow=deps.uow,
                terms=terms,
                employee_id=identity.employee_id,
                identity=identity,
                version=None,
            )
        except (DomainError, ServiceError) as exc:
            await client.chat_postMessage(channel=channel, text=str(exc))
            return
        async with deps.uow:
            await deps.uow.audit.record(
                AuditEntry(
                    at=self.now(),
                    actor=identity.actor,
                    action="election.form.download",
                    channel=identity.channel,
                    subject=identity.employee_id,
                    detail={"version": intent.version},
                )
            )
            await deps.uow.commit()
        await client.files_upload_v2(
            channel=channel,
            content=pdf,
            filename=f"offer-form-v{intent.version}.pdf",
            title=f"Pre-filled form, version {intent.version}",
            initial_comment="Print, sign and deliver it by fax or by hand before the deadline.",
        )

    # --- HR admin ---------------------------------------------------------------------------

    def is_admin(self, user_id: str | None) -> bool:
        return bool(user_id) and user_id in self.hr_admins

    async def refuse_admin(self, *, user_id: str | None, what: str) -> Reply:
        """Polite refusal, and the attempt goes to the audit log."""
        uow = self.conversation.uow
        async with uow:
            await uow.audit.record(
                AuditEntry(
                    at=self.now(),
                    actor=user_id or "slack:unknown",
                    action="slack.admin.refused",
                    channel="slack",
                    detail={"attempted": what[:200]},
                )
            )
            await uow.commit()
        return Reply(
            text="Sorry, /offer-admin is only for the HR administrators of this offer. If you "
            "need something from HR, ask me 'contacts'.",
            kind="error",
        )

    async def admin(self, *, user_id: str, text: str) -> Reply:
        """One /offer-admin subcommand, for a user already checked against the admin list."""
        deps, identity, now = self.conversation, hr_identity(user_id), self.now()
        terms = await current_terms(uow=deps.uow, terms=deps.base_terms)
        try:
            args = shlex.split(text)
        except ValueError:
            args = text.split()
        command = args[0].lower() if args else ""
        try:
            if command == "report":
                report = await hr_report(uow=deps.uow, terms=terms, identity=identity, now=now)
                return Reply(text=_report_text(report), kind="answer", data=report)
            if command == "unanswered":
                async with deps.uow as uow:
                    questions = await uow.questions.unanswered(20)
                lines = [f"{q.asked_at:%Y-%m-%d %H:%M}Z {q.actor}: {q.question}" for q in questions]
                return Reply(text="\n".join(lines) or "No unanswered questions.")
            if command == "receive" and len(args) == 6:
                result = await record_receipt(
                    uow=deps.uow,
                    terms=terms,
                    employee_id=args[1],
                    form=FormKind(args[2].lower()),
                    version=int(args[3]),
                    received_at=parse_instant(args[5]),
                    via=Delivery(args[4].lower()),
                    identity=identity,
                    now=now,
                    **self._sla_setting(),
                )
                return receipt_reply(result, terms)
            if command in ("extend", "approve", "reject") and len(args) >= 2:
                return await self._amend(identity, command, args[1], " ".join(args[2:]))
        except (DomainError, ServiceError) as exc:
            return Reply(text=str(exc), kind="error")
        except ValueError as exc:
            return Reply(text=f"{exc}. {ADMIN_USAGE}", kind="error")
        return Reply(text=ADMIN_USAGE, kind="help")

    def _sla_setting(self) -> dict[str, timedelta]:
        """HR's alert point before a receipt confirmation's deadline, when configured."""
        if self.settings is None:
            return {}
        return {"sla_alert_before": timedelta(hours=self.settings.receipt_sla_alert_hours)}

    async def _amend(self, identity: Identity, command: str, target: str, message: str) -> Reply:
        """extend ISO [MESSAGE] (always announced) | approve ID | reject ID."""
        deps, now = self.conversation, self.now()
        if self.settings is None:
            return Reply(text="Extensions are not configured in this Slack app.", kind="error")
        if command == "extend":
            result = await extend_offer(
                uow=deps.uow,
                base_terms=deps.base_terms,
                settings=self.settings,
                identity=identity,
                new_expiration=parse_instant(target),
                announce=True,
                message=message,
                now=now,
                render_email=_email_renderer(deps.base_terms),
            )
        elif command == "approve":
            result = await approve_amendment(
                uow=deps.uow,
                base_terms=deps.base_terms,
                identity=identity,
                amendment_id=int(target),
                now=now,
                render_email=_email_renderer(deps.base_terms),
            )
        else:
            result = await reject_amendment(
                uow=deps.uow,
                base_terms=deps.base_terms,
                identity=identity,
                amendment_id=int(target),
                now=now,
            )
        return amendment_reply(result)


def _email_renderer(terms: OfferTerms) -> Callable[[Reply, str], tuple[str, str]]:
    """E-mailed deadline follow-ups look like every other e-mailed answer."""
    from handlers.email.render import reply_renderer

    return reply_renderer(terms.company_short_name)


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
