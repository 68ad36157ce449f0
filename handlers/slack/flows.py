"""What a Slack listener awaits: one call per surface, each one service call plus rendering.

The decisions (is the offer open, may this person choose, who is an HR admin), the records
they leave (audit rows, intents, the delivery claims that make a retry harmless) and their
wording live in the services: :mod:`bot.services.elections.screens`,
:mod:`bot.services.messaging.slack_deliveries`, :mod:`bot.services.hr.chat_commands`. Here a result
becomes Block Kit (:mod:`handlers.slack.blocks`) and a Web API call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.domain.slack_records import DeliveryKey, SlackPost
from bot.replies import Reply
from bot.services.elections import screens
from bot.services.hr.chat_commands import AdminDeps, admin_command
from bot.services.identity import Identity
from bot.services.messaging.slack_deliveries import answer_event_once
from bot.services.questions.conversation import ConversationDeps, respond
from handlers.slack import blocks
from handlers.slack.identity import SlackIdentities

__all__ = ["ACK_WITHIN_SECONDS", "SlackDeps"]

logger = logging.getLogger(__name__)

# A view submission is acknowledged with its result when the work takes at most this long;
# otherwise at once with a "one moment" modal that the result replaces (Slack waits 3 s).
ACK_WITHIN_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class SlackDeps:
    conversation: ConversationDeps
    identities: SlackIdentities
    hr_admins: frozenset[str]
    settings: Settings | None = None  # extensions: the two-person rule, reminder planning
    ack_within: float = ACK_WITHIN_SECONDS

    def now(self) -> datetime:
        return self.conversation.clock.now()

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
        """Answer a DM or mention once per ``event_id`` (see the service for retries)."""

        def render(reply: Reply) -> SlackPost:
            return SlackPost(
                channel=channel,
                thread_ts=thread_ts,
                text=blocks.reply_text(reply),
                blocks=blocks.reply_blocks(reply),
            )

        async def post(message: SlackPost) -> None:
            await client.chat_postMessage(
                channel=message.channel,
                thread_ts=message.thread_ts,
                text=message.text,
                blocks=message.blocks,
            )

        posted = await answer_event_once(
            deps=self.conversation,
            delivery=DeliveryKey(f"event:{event_id}", kind="message", user_id=identity.actor),
            text=text,
            identity=identity,
            render=render,
            post=post,
        )
        if not posted:
            logger.info("event %s already answered (or being answered)", event_id)

    async def reply_to(self, text: str, identity: Identity) -> Reply:
        return await respond(text=text, identity=identity, deps=self.conversation)

    # --- App Home -------------------------------------------------------------------------

    async def home(self, identity: Identity) -> dict[str, Any]:
        overview = await screens.home_overview(deps=self.conversation, identity=identity)
        return blocks.home_view(overview)

    async def publish_home(
        self, *, user_id: str, identity: Identity, client: AsyncWebClient
    ) -> None:
        await client.views_publish(user_id=user_id, view=await self.home(identity))

    # --- election modal -------------------------------------------------------------------

    async def election_view(self, identity: Identity) -> dict[str, Any]:
        """Step 1, or why there is nothing to choose (closed offer, unverified, no grants)."""
        start = await screens.election_start(deps=self.conversation, identity=identity)
        if start.grants is None:
            if start.notice is not None:
                return blocks.notice_modal("Record intent", start.notice)
            return blocks.closed_modal(start.closed)
        choices = blocks.election_choices(start.grants.data)
        if not choices:
            return blocks.notice_modal("Record intent", start.grants)
        return blocks.election_modal(
            choices,
            explanation="\n".join([start.grants.text, *start.grants.notes]),
            initial=start.current,
            title="Change intent" if start.current else "Record intent",
        )

    async def election_review(self, identity: Identity, values: list[str]) -> dict[str, Any]:
        """Step 1 submitted: inline errors, or step 2 stating exactly what will be recorded."""
        numbers = [n for v in values for n in v.split("+") if n]
        review = await screens.review_tender(
            deps=self.conversation, identity=identity, grant_numbers=numbers
        )
        if review.error:
            return blocks.field_errors(review.error)
        view = blocks.election_confirm_modal(review.summary, review.grant_numbers)
        return {"response_action": "update", "view": view}

    async def election_record(
        self, identity: Identity, grant_numbers: list[str], *, key: str
    ) -> dict[str, Any] | None:
        """Step 2 submitted: the intent, recorded once per view submission (``None``: again)."""
        recorded = await screens.record_tender(
            deps=self.conversation,
            identity=identity,
            grant_numbers=grant_numbers,
            delivery=DeliveryKey(key, kind="election", user_id=identity.actor),
        )
        return _outcome(recorded, "Intent recorded")

    async def withdraw_view(self, identity: Identity) -> dict[str, Any]:
        """The confirmation step, or why there is nothing to withdraw (closed offer)."""
        start = await screens.withdraw_start(deps=self.conversation, identity=identity)
        if start.reply is None:
            return blocks.closed_modal(start.closed)
        if not start.can_confirm:
            return blocks.notice_modal("Withdraw", start.reply)
        return blocks.withdraw_modal(start.reply.text)

    async def withdraw_record(self, identity: Identity, *, key: str) -> dict[str, Any] | None:
        recorded = await screens.record_withdraw(
            deps=self.conversation,
            identity=identity,
            delivery=DeliveryKey(key, kind="withdrawal", user_id=identity.actor),
        )
        return _outcome(recorded, "Withdrawal recorded")

    # --- home buttons ---------------------------------------------------------------------

    async def compare(self, identity: Identity) -> Reply:
        return await screens.compare_options(deps=self.conversation, identity=identity)

    async def send_form(self, identity: Identity, *, client: AsyncWebClient, user_id: str) -> None:
        """Upload the pre-filled form of the latest intent to the person's DM."""
        channel = await self.identities.dm_channel(user_id, client=client)
        form = await screens.form_download(deps=self.conversation, identity=identity)
        if form.reply is not None:
            await client.chat_postMessage(channel=channel, text=blocks.reply_text(form.reply))
            return
        await client.files_upload_v2(
            channel=channel,
            content=form.pdf,
            filename=f"offer-form-v{form.version}.pdf",
            title=f"Pre-filled form, version {form.version}",
            initial_comment="Print, sign and deliver it by fax or by hand before the deadline.",
        )

    # --- HR admin ---------------------------------------------------------------------------

    async def admin(self, *, user_id: str | None, text: str) -> Reply:
        """One /offer-admin command (the service checks the admin list and audits refusals)."""
        from handlers.email.render import reply_renderer  # e-mailed announcements: rarely

        deps = AdminDeps(
            conversation=self.conversation,
            hr_admins=self.hr_admins,
            settings=self.settings,
            render_email=reply_renderer(self.conversation.base_terms.company_short_name),
        )
        return await admin_command(deps=deps, user_id=user_id, text=text)


def _outcome(recorded: screens.Recorded | None, title: str) -> dict[str, Any] | None:
    if recorded is None:
        return None
    view = blocks.notice_modal(title if recorded.ok else "Not recorded", recorded.reply)
    return {"response_action": "update", "view": view}
