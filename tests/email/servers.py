"""Real mail servers on loopback for the e-mail tests.

SMTP: an aiosmtpd server in the test's event loop on port 0, recording what it accepts, with
scripted answers per recipient (``451``, ``550``, or a stall after the final "." to make the
client time out). IMAP: a throwaway Dovecot (``tests/scripts/start_dovecot.sh``) with the
user ``test@example.com`` / ``secret``; skipped locally with an install hint when Dovecot is
missing, a failure under CI.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aioimaplib
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers import SCRIPTS, free_port, skip_or_fail

DOVECOT = "/usr/sbin/dovecot"
DOVECOT_HINT = (
    "Dovecot not found at /usr/sbin/dovecot; install it with `apt-get install dovecot-imapd` "
    "(or run `bash scripts/test`, which does)"
)
IMAP_USER, IMAP_PASSWORD = "test@example.com", "secret"


@dataclass
class SmtpRecorder:
    """What the server accepted, and scripted replies: recipient → replies to use in order."""

    accepted: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    scripted: dict[str, list[str]] = field(default_factory=dict)
    stall_seconds: float = 0.0  # after the final ".", before answering (one message)
    connections: int = 0
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # (mechanism, user, tls)
    encrypted: list[bool] = field(default_factory=list)  # per accepted message: over TLS?

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(d, policy=policy.default) for _, _, d in self.accepted]  # type: ignore[misc]

    def to(self, address: str) -> list[EmailMessage]:
        return [
            message_from_bytes(d, policy=policy.default)  # type: ignore[misc]
            for _, rcpts, d in self.accepted
            if address in rcpts
        ]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for rcpt in envelope.rcpt_tos:
            replies = self.scripted.get(rcpt)
            if replies:
                return replies.pop(0)
        if self.stall_seconds:
            stall, self.stall_seconds = self.stall_seconds, 0.0
            await asyncio.sleep(stall)
            return "250 OK (too late)"
        data = envelope.original_content or b""
        self.encrypted.append(_over_tls(server))
        self.accepted.append((envelope.mail_from or "", list(envelope.rcpt_tos), data))
        return "250 OK"


def _over_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


@dataclass(frozen=True)
class SmtpAuth:
    """AUTH the test server demands: one user, and the mechanisms it does not offer."""

    user: str
    password: str
    exclude: tuple[str, ...] = ()


class _CountingSMTP(SMTP):
    def __init__(self, recorder: SmtpRecorder, **kwargs: Any) -> None:
        super().__init__(recorder, hostname="smtp.test", ident="test-smtpd", **kwargs)
        recorder.connections += 1


async def start_smtp(
    recorder: SmtpRecorder,
    *,
    tls: str = "false",
    context: ssl.SSLContext | None = None,
    auth: SmtpAuth | None = None,
) -> tuple[asyncio.AbstractServer, int]:
    """``tls``: "false" (plain), "starttls" (STARTTLS required before MAIL/AUTH) or
    "implicit" (TLS from the first byte, as on port 465); ``context`` is the server's."""
    kwargs: dict[str, Any] = {}
    if tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if auth is not None:

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                auth.user.encode(),
                auth.password.encode(),
            )
            if ok:
                recorder.logins.append((mechanism, auth.user, _over_tls(server)))
            return AuthResult(success=ok, handled=False)

        kwargs.update(
            authenticator=authenticate,
            auth_required=True,
            # aiosmtpd only knows about STARTTLS; under implicit TLS the socket already is
            auth_require_tls=tls != "implicit",
            auth_exclude_mechanism=auth.exclude,
        )

    def protocol() -> _CountingSMTP:
        with warnings.catch_warnings():  # "AUTH while not requiring TLS": it is TLS already
            warnings.simplefilter("ignore", UserWarning)
            return _CountingSMTP(recorder, **kwargs)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        protocol,
        "127.0.0.1",
        0,
        ssl=context if tls == "implicit" else None,
    )
    return server, int(server.sockets[0].getsockname()[1])


@dataclass
class Dovecot:
    base: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    tls: tuple[Path, Path] | None = None  # (certificate, key): implicit TLS (imaps) only

    def start(self, timeout: float = 20.0) -> None:
        log = (self.base / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [
                "sh",
                str(SCRIPTS / "start_dovecot.sh"),
                str(self.base / "dc"),
                str(self.port),
                *(str(p) for p in self.tls or ()),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot exited early: {self._log()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"Dovecot not listening after {timeout} s: {self._log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def _log(self) -> str:
        path = self.base / "dc" / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"


@contextmanager
def running_dovecot(tls: tuple[Path, Path] | None = None) -> Iterator[Dovecot]:
    """A Dovecot on loopback: plain IMAP, or with ``tls=(cert, key)`` implicit TLS only."""
    if not Path(DOVECOT).exists():
        skip_or_fail(DOVECOT_HINT)
    base = Path(tempfile.mkdtemp(prefix="offerbot-imap-"))
    base.chmod(0o755)  # as root, Dovecot's own users must reach it
    server = Dovecot(base=base, port=free_port(), tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


async def imap_client(port: int, tls: ssl.SSLContext | None = None) -> aioimaplib.IMAP4:
    client = (
        aioimaplib.IMAP4(host="127.0.0.1", port=port, timeout=10)
        if tls is None
        else aioimaplib.IMAP4_SSL(host="127.0.0.1", port=port, timeout=10, ssl_context=tls)
    )
    await client.wait_hello_from_server()
    await client.login(IMAP_USER, IMAP_PASSWORD)
    return client


async def deliver(
    port: int, raw: bytes, mailbox: str = "INBOX", tls: ssl.SSLContext | None = None
) -> None:
    """Put a message into the test mailbox (IMAP APPEND needs CRLF line endings)."""
    client = await imap_client(port, tls)
    try:
        data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        response = await client.append(data, mailbox=mailbox)
        assert response.result == "OK", response
    finally:
        await client.logout()


async def flags_of(port: int, mailbox: str = "INBOX") -> list[str]:
    client = await imap_client(port)
    try:
        await client.select(mailbox)
        response = await client.fetch("1:*", "(FLAGS)")
        return [bytes(line).decode() for line in response.lines if b"FLAGS" in bytes(line)]
    finally:
        await client.logout()


async def clear_mailbox(
    port: int, mailbox: str = "INBOX", tls: ssl.SSLContext | None = None
) -> None:
    client = await imap_client(port, tls)
    try:
        selected = await client.select(mailbox)
        if selected.result != "OK":
            return  # no such folder: nothing to clear
        await client.store("1:*", "+FLAGS", "(\\Deleted)")
        await client.expunge()
    finally:
        await client.logout()


def mail(
    *,
    sender: str,
    subject: str,
    body: str,
    message_id: str = "<q1@client.example>",
    headers: dict[str, str] | None = None,
    to: str = IMAP_USER,
) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        "Date: Thu, 10 Jul 2003 08:00:00 -0700",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()
