"""The composition root: the one place that turns :class:`Settings` into running parts.

Nothing is created at import time. Tests call :func:`build` with their own settings and clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot import ports
from bot.clock import AnchoredClock, SimulatedClock, SystemClock
from bot.config import Settings
from bot.domain.terms import OfferTerms
from bot.ports import Clock, OutboxTransport
from bot.services.questions.conversation import ConversationDeps
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms, terms_digest
from storage.deferred import DeferredUnitOfWork, sqlite_file_of

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from handlers.email.imap import ImapWatcher, MailboxLock
    from handlers.slack.flows import SlackDeps

__all__ = ["App", "ConfigurationError", "build", "build_clock"]


class ConfigurationError(Exception):
    """A setting a requested part needs is missing (the CLI exits with status 2)."""


def build_clock(settings: Settings) -> Clock:
    if settings.now is not None and settings.now_anchor is not None:
        return AnchoredClock(settings.now, settings.now_anchor)
    if settings.now is not None:
        return SimulatedClock(settings.now)
    return SystemClock()


@dataclass
class App:
    """The running parts. The database engine is made on first use (:attr:`engine`): a
    question answered without a transaction (``offerbot ask``) never imports SQLAlchemy."""

    settings: Settings
    clock: Clock
    offer_dir: Path
    base_terms: OfferTerms
    terms_digest: str
    _engine: AsyncEngine | None = field(default=None, repr=False)
    _sessions: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            from storage.db import create_engine

            settings = self.settings
            self._engine = create_engine(
                settings.database_url,
                busy_timeout_ms=round(settings.sqlite_busy_timeout * 1000),
            )
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            from storage.db import session_factory

            self._sessions = session_factory(self.engine)
        return self._sessions

    def uow(self) -> ports.UnitOfWork:
        """A unit of work over this app's database, made (with the engine) when first opened:
        :class:`storage.deferred.DeferredUnitOfWork`, so mypy checks here that it implements
        the services' Protocol."""
        return DeferredUnitOfWork(
            self._sqlalchemy_uow, sqlite_file=sqlite_file_of(self.settings.database_url)
        )

    def _sqlalchemy_uow(self) -> ports.UnitOfWork:
        """The real unit of work; typed as the services' Protocol, so mypy checks here that
        :class:`storage.uow.UnitOfWork` implements it."""
        from storage.uow import UnitOfWork

        return UnitOfWork(self.sessions)

    def conversation(self) -> ConversationDeps:
        return ConversationDeps(
            uow=self.uow(), clock=self.clock, base_terms=self.base_terms, offer_dir=self.offer_dir
        )

    def slack_app(self) -> tuple[AsyncApp, SlackDeps]:
        """The Slack Bolt app and its deps (``handlers.slack``); needs SLACK_BOT_TOKEN."""
        from handlers.slack import build_slack_app

        settings = self.settings
        if settings.slack_bot_token is None:
            raise ConfigurationError("SLACK_BOT_TOKEN is not set")
        return build_slack_app(
            conversation=self.conversation(),
            token=settings.slack_bot_token.get_secret_value(),
            signing_secret=(
                settings.slack_signing_secret.get_secret_value()
                if settings.slack_signing_secret
                else ""
            ),
            api_url=settings.slack_api_url,
            hr_admins=settings.hr_admins,
            settings=settings,
        )

    # --- e-mail (issue 6) ---------------------------------------------------------------

    def outbox_transports(self) -> dict[str, OutboxTransport]:
        """{channel: transport} for every configured outbox channel."""
        transports: dict[str, OutboxTransport] = {}
        email = self.email_transport()
        if email is not None:
            transports["email"] = email
        slack = self.slack_transport()
        if slack is not None:
            transports["slack"] = slack
        return transports

    def slack_transport(self) -> OutboxTransport | None:
        """Outbox rows on channel "slack" as DMs, when SLACK_BOT_TOKEN is set."""
        if self.settings.slack_bot_token is None:
            return None
        from handlers.slack import SlackOutboxTransport, SlackRateLimiter, slack_client
        from handlers.slack.identity import SlackIdentities

        client = slack_client(
            token=self.settings.slack_bot_token.get_secret_value(),
            base_url=self.settings.slack_api_url,
            max_rate_limit_retries=0,  # the transport's limiter handles 429s for every sender
        )
        limiter = SlackRateLimiter(self.settings.slack_rate_per_second)
        return SlackOutboxTransport(client, SlackIdentities(self.conversation()), limiter)

    def email_transport(self) -> OutboxTransport | None:
        """The SMTP transport, when OFFERBOT_SMTP_HOST and OFFERBOT_MAIL_FROM are set."""
        from handlers.email.smtp import SmtpConfig, SmtpTransport

        s = self.settings
        if not s.smtp_host:
            return None
        if not s.mail_from:
            raise ConfigurationError("OFFERBOT_MAIL_FROM is required with OFFERBOT_SMTP_HOST")
        config = SmtpConfig(
            host=s.smtp_host,
            port=s.smtp_port,
            mail_from=s.mail_from,
            hostname=s.mail_hostname,
            tls=s.smtp_tls,
            ca_file=s.smtp_ca_file,
            user=s.smtp_user,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.smtp_timeout,
            hr_mailbox=s.hr_mailbox,
            company=self.base_terms.company_short_name,
        )
        return SmtpTransport(config, clock=self.clock, max_connections=s.outbox_concurrency)

    def inbox_watcher(self) -> ImapWatcher | None:
        """The IMAP watcher (``handlers.email``), when OFFERBOT_IMAP_HOST is set."""
        from handlers.email.assembly import build_inbox_watcher

        return build_inbox_watcher(self)

    def mailbox_lock(self, key: str) -> MailboxLock:
        """One reader of a mailbox across replicas (a PostgreSQL advisory lock)."""
        from storage.locks import advisory_lock

        return advisory_lock(self.engine, key, purpose="imap")

    # --- end of e-mail ---------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._engine is not None:  # made on first use: nothing to close otherwise
            from storage.offer_reads import close_offer_state_reads

            await close_offer_state_reads(self.sessions)  # its listener: dispose cannot await
            await self._engine.dispose()


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> App:
    settings = settings or Settings()
    offer_dir = settings.offer_dir or bundled_offer_dir()
    return App(
        settings=settings,
        clock=clock or build_clock(settings),
        offer_dir=offer_dir,
        base_terms=load_offer_terms(offer_dir),
        terms_digest=terms_digest(offer_dir),
    )
