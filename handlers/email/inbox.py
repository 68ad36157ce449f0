"""One inbound message: dedupe, loop protection, who is asking, answer, queue the threaded reply.

The reply is queued in the outbox in the same transaction that records the message as
processed and advances the inbox position, so a crash either leaves the message unprocessed
(it is read again) or fully answered (it is skipped) — never answered twice. Its idempotency
key is the content hash, so even a resync that finds the same message under a new UID is a
no-op.

Personal data goes only to the address on file: a sender is verified when the From address
matches an employee's address case-insensitively (and, when configured, our own server
reported DMARC pass); the reply to a verified sender goes to the roster's address, never to
the From or Reply-To as written. Anyone else gets general answers only.

A message over the limits of :mod:`handlers.email.limits`, or one the parser fails on, is
recorded as ``rejected:<reason>`` (counted in ``offerbot hr metrics``) and marked processed
like any other, so it is never read again; it gets no answer (no backscatter to a forged
sender). :func:`reject_oversize` does the same for a message the watcher did not download
because the server reported it over ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.mail_records import ImapPosition, InboundRecord
from bot.domain.questions import Intent
from bot.ports import UnitOfWork
from bot.replies import Reply
from bot.runtime.logging_setup import fingerprint
from bot.services.identity import Identity
from bot.services.questions.conversation import (
    ConversationDeps,
    carries_personal_data,
    election_attempt_reply,
    respond,
)
from handlers.email.parse import (
    InboundMail,
    MailLimits,
    MailRejected,
    UnreadableMail,
    dmarc_pass,
    parse_mail,
    why_not_answer,
)
from handlers.email.render import render_reply

__all__ = ["InboxConfig", "content_hash", "process_message", "reject_oversize"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboxConfig:
    mailbox: str = "INBOX"
    own_addresses: frozenset[str] = field(default_factory=frozenset)
    trusted_authserv_id: str | None = None
    rate_per_hour: int = 20
    company: str = "the company"  # the offer's company_short_name, set by the wiring
    limits: MailLimits = field(default_factory=MailLimits)


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


async def process_message(
    raw: bytes,
    *,
    uid: int,
    uidvalidity: int,
    received_at: datetime | None,
    deps: ConversationDeps,
    config: InboxConfig,
) -> str:
    """Handle one message; returns its outcome ("answered", "duplicate", "ignored:…", …)."""
    uow = deps.uow
    digest = content_hash(raw)
    now = deps.clock.now()
    received = received_at or now  # the server's INTERNALDATE, never the sender's Date:

    async def finish(
        sender: str,
        outcome: str,
        employee_id: str | None = None,
        reply: OutboxMessage | None = None,
    ) -> str:
        return await _finish(
            uow,
            config,
            uidvalidity,
            uid,
            digest,
            sender,
            employee_id,
            received,
            now,
            outcome,
            reply,
        )

    if await _already_recorded(uow, config, uidvalidity, uid, digest, now):
        return "duplicate"
    try:
        mail = parse_mail(raw, limits=config.limits)
    except MailRejected as exc:
        logger.warning("inbox uid %s: rejected, %s (%d bytes)", uid, exc, len(raw))
        return await finish("", f"rejected:{exc.reason}")
    except UnreadableMail as exc:
        logger.warning("inbox uid %s: rejected, unreadable (%s)", uid, exc)
        return await finish("", "rejected:unparseable")
    except Exception:  # a parser bug on hostile input: record it, or it is read forever
        logger.exception("inbox uid %s: rejected, the parser failed", uid)
        return await finish("", "rejected:parse-error")
    skip = why_not_answer(mail, own_addresses=set(config.own_addresses))
    if skip is not None:
        logger.info("inbox uid %s from %s: not answered (%s)", uid, fingerprint(mail.sender), skip)
        return await finish(mail.sender, f"ignored:{skip}")
    async with uow:
        employee = await uow.employees.by_email(mail.sender)
        recent = await uow.inbox.answered_since(mail.sender, now - timedelta(hours=1))
    if recent >= config.rate_per_hour:
        logger.warning("inbox uid %s from %s: rate limit", uid, fingerprint(mail.sender))
        return await finish(mail.sender, "ignored:rate-limit")
    verified = employee is not None and (
        config.trusted_authserv_id is None or dmarc_pass(mail, config.trusted_authserv_id)
    )
    identity = Identity(
        channel="email",
        actor=mail.sender,
        employee_id=employee.employee_id if verified and employee else None,
    )
    reply = await _answer(mail, identity, deps)
    recipient = employee.email if verified and employee else mail.sender
    # Verified by the From address alone (no DMARC check configured): anyone can forge it, so a
    # reply that may carry the employee's own data goes out under our subject, not threaded
    # under a message whose subject a stranger chose ("Re: urgent: confirm your grants …").
    by_address_only = (
        identity.employee_id is not None
        and config.trusted_authserv_id is None
        and carries_personal_data(reply)
    )
    subject = OWN_SUBJECT if by_address_only else _reply_subject(mail.subject)
    text, html = render_reply(reply, company=config.company, subject=subject)
    references = " ".join((*mail.references, *([mail.message_id] if mail.message_id else [])))
    if by_address_only:
        references = ""
    answer = OutboxMessage(
        idempotency_key=f"answer:{digest}",
        channel="email",
        recipient=recipient,
        kind=MessageKind.ANSWER,
        subject=subject,
        body_text=text,
        body_html=html,
        in_reply_to=None if by_address_only else mail.message_id,
        references=references or None,
        created_at=now,
        due_at=now,
        employee_id=identity.employee_id,
        attachments=reply.attachments,
    )
    return await finish(mail.sender, "answered", identity.employee_id, answer)


async def reject_oversize(
    *,
    uid: int,
    uidvalidity: int,
    size: int,
    received_at: datetime | None,
    deps: ConversationDeps,
    config: InboxConfig,
) -> str:
    """Record a message the server reports over ``limits.max_bytes``, without its bytes."""
    uow = deps.uow
    now = deps.clock.now()
    # No content to hash: the key is its place, so a resync under a new UIDVALIDITY records it
    # once more (harmless: it is rejected again, never answered).
    digest = content_hash(f"oversize:{config.mailbox}:{uidvalidity}:{uid}:{size}".encode())
    if await _already_recorded(uow, config, uidvalidity, uid, digest, now):
        return "duplicate"
    logger.warning(
        "inbox uid %s: rejected, size: %d bytes > %d (not downloaded)",
        uid,
        size,
        config.limits.max_bytes,
    )
    received = received_at or now
    return await _finish(
        uow, config, uidvalidity, uid, digest, "", None, received, now, "rejected:size"
    )


async def _answer(mail: InboundMail, identity: Identity, deps: ConversationDeps) -> Reply:
    text = mail.text or mail.subject
    if mail.has_form_attachment:
        # A scanned or filled-in form sent by e-mail: not an election (§4, p. 15).
        return await election_attempt_reply(Intent.ELECT, text, identity, deps)
    return await respond(text=text, identity=identity, deps=deps, record_elections=False)


OWN_SUBJECT = "Your question about the option exchange"


async def _already_recorded(
    uow: UnitOfWork, config: InboxConfig, uidvalidity: int, uid: int, digest: str, now: datetime
) -> bool:
    """A message read before (same place, same content): only the watermark moves on."""
    async with uow:
        if not await uow.inbox.seen(
            mailbox=config.mailbox, uidvalidity=uidvalidity, uid=uid, content_hash=digest
        ):
            return False
        await _advance(uow, config, uidvalidity, uid, now)
        await uow.commit()
        return True


def _reply_subject(subject: str) -> str:
    subject = " ".join(subject.split()) or OWN_SUBJECT
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


async def _finish(
    uow: UnitOfWork,
    config: InboxConfig,
    uidvalidity: int,
    uid: int,
    digest: str,
    sender: str,
    employee_id: str | None,
    received: datetime,
    now: datetime,
    outcome: str,
    reply: OutboxMessage | None = None,
) -> str:
    """One transaction: the reply (if any), the processed-message row, the new position."""
    async with uow:
        if reply is not None:
            await uow.outbox.enqueue(reply)
        await uow.inbox.record(
            InboundRecord(
                mailbox=config.mailbox,
                uidvalidity=uidvalidity,
                uid=uid,
                content_hash=digest,
                sender=sender,
                employee_id=employee_id,
                received_at=received,
                outcome=outcome,
                processed_at=now,
            )
        )
        await _advance(uow, config, uidvalidity, uid, now)
        await uow.commit()
    return outcome


async def _advance(
    uow: UnitOfWork, config: InboxConfig, uidvalidity: int, uid: int, now: datetime
) -> None:
    await uow.inbox.advance(ImapPosition(config.mailbox, uidvalidity, uid), at=now)
