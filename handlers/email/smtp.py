"""The e-mail outbox transport over SMTP (aiosmtplib): a :class:`bot.ports.OutboxTransport`.

Connections are reused: up to ``max_connections`` stay open between messages (one per
concurrent send), and a reused connection that turns out to be closed is reopened once at
once. Failures map onto the port's errors:

* a 4xx reply, a refused/closed/timed-out connection before DATA → ``TransientDeliveryError``;
* a 5xx reply → ``PermanentDeliveryError``;
* an address SMTP cannot carry (a non-ASCII local part: that needs SMTPUTF8, which offerbot
  does not use) → ``PermanentDeliveryError`` at once, before connecting — no retries. A
  non-ASCII domain is sent in its IDNA form (``xn--…``);
* a timeout or dropped connection during DATA → ``AmbiguousDeliveryError`` (aiosmtplib sends
  the body and the final "." inside one call, so a failure there may come after the server
  accepted the message; retrying could deliver it twice).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from email.utils import parseaddr

import aiosmtplib

from bot.domain.hr_records import OutboxMessage
from bot.ports import (
    AmbiguousDeliveryError,
    Clock,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from handlers.email.message_bytes import email_bytes

__all__ = ["SmtpConfig", "SmtpTransport", "smtp_address", "tls_context"]

logger = logging.getLogger(__name__)

_CONNECTION_ERRORS = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    hostname: str  # EHLO name (no getfqdn() per connection) and Message-ID domain
    tls: str = "starttls"  # "starttls" | "implicit" | "false"
    ca_file: str | None = None  # PEM bundle to verify the server; None: the system store
    user: str | None = None
    password: str | None = None
    timeout: float = 60.0
    hr_mailbox: str | None = None
    company: str = "the company"  # the offer's company_short_name, set by the wiring


class SmtpTransport:
    """Sends ``channel == "email"`` outbox rows. ``role:hr`` goes to the configured HR mailbox."""

    channel = "email"

    def __init__(self, config: SmtpConfig, *, clock: Clock, max_connections: int = 4) -> None:
        self.config = config
        self._clock = clock
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._envelope_from = parseaddr(config.mail_from)[1]
        self.max_connections = max_connections

    async def send(self, message: OutboxMessage) -> str | None:
        recipient = smtp_address(self._recipient(message))
        envelope_from = smtp_address(self._envelope_from, what="sender address")
        try:
            data = email_bytes(
                message,
                sender=self.config.mail_from,
                recipient=recipient,
                company=self.config.company,
                now=self._clock.now(),
            )
        except UnicodeError as exc:  # the same bytes would fail the same way on every retry
            raise PermanentDeliveryError(f"cannot encode the message: {exc}") from exc
        async with self._slots:
            await self._send_reusing(envelope_from, recipient, data)
        return message.message_id

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    def _recipient(self, message: OutboxMessage) -> str:
        if message.recipient == "role:hr":
            if not self.config.hr_mailbox:
                raise PermanentDeliveryError("no HR mailbox configured (OFFERBOT_HR_MAILBOX)")
            return self.config.hr_mailbox
        if "@" not in message.recipient:
            raise PermanentDeliveryError(f"not an e-mail address: {message.recipient!r}")
        return message.recipient

    async def _send_reusing(self, envelope_from: str, recipient: str, data: bytes) -> None:
        reused = bool(self._idle)
        client = self._idle.pop() if reused else await self._connect()
        try:
            await self._transaction(client, envelope_from, recipient, data)
        except _Stale:
            client.close()
            if not reused:
                raise TransientDeliveryError("the SMTP server closed the connection") from None
            client = await self._connect()  # a pooled connection timed out: one fresh try
            try:
                await self._transaction(client, envelope_from, recipient, data)
            except _Stale:
                client.close()
                raise TransientDeliveryError("the SMTP server closed the connection") from None
            except BaseException as error:
                self._release(client, error)
                raise
        except BaseException as error:
            self._release(client, error)
            raise
        self._release(client)

    def _release(self, client: aiosmtplib.SMTP, error: BaseException | None = None) -> None:
        """Back to the pool — unless something other than a mapped SMTP reply interrupted
        the transaction (a cancelled task, a bug): then where it stopped is unknown (after
        MAIL, before RCPT…), and the next message on it would get "503 nested MAIL"."""
        if error is not None and not isinstance(error, DeliveryError):
            client.close()
            return
        if client.is_connected:
            self._idle.append(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            local_hostname=c.hostname,
            use_tls=c.tls == "implicit",
            start_tls=c.tls == "starttls",
            tls_context=tls_context(c.ca_file) if c.tls != "false" else None,
            timeout=c.timeout,
        )
        try:
            await client.connect()
            if c.user:
                await client.login(c.user, c.password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise TransientDeliveryError(f"SMTP login refused: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise TransientDeliveryError(f"cannot connect to {c.host}:{c.port}: {exc}") from exc
        return client

    async def _transaction(
        self, client: aiosmtplib.SMTP, envelope_from: str, recipient: str, data: bytes
    ) -> None:
        """MAIL, RCPT and DATA, with each failure mapped by where it happened (before DATA or
        during it). One coroutine and one handler for the three commands, not a wrapper per
        command: the sender runs this for every e-mail in the event loop that also drives
        the connections, and each layer cost a few µs a message (issue 15, item 4)."""
        before_data = True
        try:
            await client.mail(envelope_from)
            await client.rcpt(recipient)
            before_data = False
            await client.data(data)
        except aiosmtplib.SMTPResponseException as exc:
            await _reset(client)
            text = f"SMTP {exc.code} {exc.message}"
            if 400 <= exc.code < 500:
                raise TransientDeliveryError(text) from exc
            raise PermanentDeliveryError(text) from exc
        except aiosmtplib.SMTPTimeoutError as exc:
            client.close()
            if before_data:
                raise TransientDeliveryError(f"SMTP timeout: {exc}") from exc
            raise AmbiguousDeliveryError(f"SMTP timeout during DATA: {exc}") from exc
        except _CONNECTION_ERRORS as exc:
            client.close()
            if before_data:
                raise _Stale() from exc
            raise AmbiguousDeliveryError(f"connection lost during DATA: {exc}") from exc


def smtp_address(address: str, *, what: str = "recipient address") -> str:
    """``address`` as SMTP without SMTPUTF8 carries it: ASCII, a non-ASCII domain in its IDNA
    form. Raises :class:`PermanentDeliveryError` when that cannot be done (a non-ASCII local
    part): retrying would fail the same way."""
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise PermanentDeliveryError(
            f"the {what} has a non-ASCII local part (needs SMTPUTF8, which is not used)"
        )
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError as exc:
        raise PermanentDeliveryError(f"the {what} has an invalid domain: {exc}") from exc


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context: the system's CAs, or only those in ``ca_file``."""
    return ssl.create_default_context(cafile=ca_file)


class _Stale(Exception):
    """The connection was closed before the transaction started (an idle pooled one)."""


async def _reset(client: aiosmtplib.SMTP) -> None:
    """After a refused command the connection is still good: RSET it for the next message."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
