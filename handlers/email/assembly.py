"""Build the e-mail parts from the composition root (:class:`bot.runtime.bootstrap.App`, which calls
these).

What they need from it is named by :class:`EmailRoot`, a Protocol, rather than by importing
``bot.runtime.bootstrap``: the composition root imports this module, and this module importing it
back would be an import circle (``tests/ops/test_import_graph.py`` refuses one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Protocol

from bot.domain.hr_records import OutboxMessage
from handlers.email.imap import ImapConfig, ImapWatcher, MailboxLock
from handlers.email.inbox import InboxConfig, process_message, reject_oversize
from handlers.email.limits import MailLimits
from handlers.email.render import new_message_id

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.domain.terms import OfferTerms
    from bot.ports import UnitOfWork
    from bot.services.questions.conversation import ConversationDeps

__all__ = ["EmailRoot", "build_inbox_watcher", "inbox_config", "message_id_factory"]


class EmailRoot(Protocol):
    """The parts of :class:`bot.runtime.bootstrap.App` the e-mail wiring reads."""

    @property
    def settings(self) -> Settings: ...

    @property
    def base_terms(self) -> OfferTerms: ...

    def uow(self) -> UnitOfWork: ...

    def mailbox_lock(self, key: str) -> MailboxLock:
        """One reader of the mailbox across replicas (storage's advisory lock)."""
        ...

    def conversation(self) -> ConversationDeps: ...


def inbox_config(app: EmailRoot) -> InboxConfig:
    s = app.settings
    own = {parseaddr(a)[1].strip().lower() for a in (s.mail_from, s.imap_user, s.hr_mailbox) if a}
    return InboxConfig(
        mailbox=s.imap_mailbox,
        own_addresses=frozenset(a for a in own if "@" in a),
        trusted_authserv_id=s.mail_trusted_authserv_id,
        rate_per_hour=s.mail_rate_per_hour,
        company=app.base_terms.company_short_name,
        limits=MailLimits(
            max_bytes=s.mail_max_bytes,
            max_header_bytes=s.mail_max_header_bytes,
            max_header_field_bytes=s.mail_max_header_field_bytes,
            max_encoded_words=s.mail_max_encoded_words,
        ),
    )


def build_inbox_watcher(app: EmailRoot) -> ImapWatcher | None:
    s = app.settings
    if not s.imap_host:
        return None
    config = ImapConfig(
        host=s.imap_host,
        port=s.imap_port,
        user=s.imap_user or "",
        password=s.imap_password.get_secret_value() if s.imap_password else "",
        tls=s.imap_tls,
        ca_file=s.imap_ca_file,
        mailbox=s.imap_mailbox,
        processed=s.imap_processed,
        idle=s.imap_idle,
        poll_seconds=s.imap_poll_seconds,
        max_message_bytes=s.mail_max_bytes,
    )
    inbox = inbox_config(app)

    async def handle(raw: bytes, uid: int, uidvalidity: int, received: datetime | None) -> str:
        return await process_message(
            raw,
            uid=uid,
            uidvalidity=uidvalidity,
            received_at=received,
            deps=app.conversation(),
            config=inbox,
        )

    async def reject(uid: int, uidvalidity: int, size: int, received: datetime | None) -> str:
        return await reject_oversize(
            uid=uid,
            uidvalidity=uidvalidity,
            size=size,
            received_at=received,
            deps=app.conversation(),
            config=inbox,
        )

    async def position() -> tuple[int, int] | None:
        async with app.uow() as uow:
            found = await uow.inbox.position(inbox.mailbox)
        return None if found is None else (found.uidvalidity, found.last_uid)

    # One reader per mailbox across replicas (PostgreSQL advisory lock; SQLite: single worker).
    lock = app.mailbox_lock(
        f"imap-watcher:{config.user}@{config.host}:{config.port}/{config.mailbox}"
    )
    return ImapWatcher(
        config,
        handle=handle,
        position=position,
        lock=lock,
        lock_retry=s.imap_lock_retry_seconds,
        reject=reject,
    )


def message_id_factory(app: EmailRoot) -> Callable[[OutboxMessage], str | None]:
    """A fresh Message-ID for each e-mail the outbox sends (none for other channels)."""
    hostname = app.settings.mail_hostname

    def message_id_for(message: OutboxMessage) -> str | None:
        return new_message_id(hostname) if message.channel == "email" else None

    return message_id_for
