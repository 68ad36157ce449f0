"""SMTP (STARTTLS and implicit TLS, AUTH PLAIN and LOGIN) against a real aiosmtpd server, and
IMAP over implicit TLS against a real Dovecot (ssl = required), all on loopback with a
throwaway CA generated for the session; the clients verify the servers against that CA."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.runtime.bootstrap import App
from bot.runtime.worker import _drain, run_worker
from tests.email.certs import ServerCerts
from tests.email.conftest import mail_settings, make_app
from tests.email.servers import SmtpAuth, SmtpRecorder, deliver, mail
from tests.email.servers import start_smtp as start_smtp_server

E1 = "e1@example.com"
AUTH = SmtpAuth(user="offerbot", password="s3cret pass")


@asynccontextmanager
async def smtp_server(
    certs: ServerCerts, *, tls: str, auth: SmtpAuth | None
) -> AsyncIterator[tuple[SmtpRecorder, int]]:
    recorder = SmtpRecorder()
    server, port = await start_smtp_server(
        recorder, tls=tls, context=certs.server_context(), auth=auth
    )
    try:
        yield recorder, port
    finally:
        server.close()
        await server.wait_closed()


def _receipt(app: App, key: str = "r1") -> OutboxMessage:
    now = app.clock.now()
    return OutboxMessage(
        idempotency_key=key,
        channel="email",
        recipient=E1,
        kind=MessageKind.RECEIPT_CONFIRMATION,
        subject=f"subject {key}",
        body_text=f"body of {key}",
        created_at=now,
        due_at=now,
        employee_id="E1",
    )


async def _send_one(app: App) -> DeliveryState:
    async with app.uow() as uow:
        await uow.outbox.enqueue(_receipt(app))
        await uow.commit()
    await _drain(app, app.outbox_transports())
    async with app.uow() as uow:
        row = await uow.deliveries.get("r1")
    assert row is not None
    return row.state


@asynccontextmanager
async def _app(tmp_path: Path, clock: ManualClock, port: int, **extra: Any) -> AsyncIterator[App]:
    app = await make_app(mail_settings(tmp_path, smtp_port=port, imap_port=None, **extra), clock)
    try:
        yield app
    finally:
        await app.aclose()


async def test_smtp_starttls_with_auth_plain_verified_against_the_test_ca(
    tmp_path: Path, clock: ManualClock, certs: ServerCerts
) -> None:
    async with (
        smtp_server(certs, tls="starttls", auth=AUTH) as (recorder, port),
        _app(
            tmp_path,
            clock,
            port,
            smtp_tls="starttls",
            smtp_user=AUTH.user,
            smtp_password=AUTH.password,
            smtp_ca_file=str(certs.ca_file),
        ) as app,
    ):
        assert await _send_one(app) is DeliveryState.SENT
        assert [m["Subject"] for m in recorder.to(E1)] == ["subject r1"]
        assert recorder.logins == [("PLAIN", AUTH.user, True)]  # AUTH only after STARTTLS
        assert recorder.encrypted == [True]


async def test_smtp_implicit_tls_with_auth_login(
    tmp_path: Path, clock: ManualClock, certs: ServerCerts
) -> None:
    async with (
        smtp_server(
            certs, tls="implicit", auth=SmtpAuth(AUTH.user, AUTH.password, exclude=("PLAIN",))
        ) as (recorder, port),
        _app(
            tmp_path,
            clock,
            port,
            smtp_tls="implicit",
            smtp_user=AUTH.user,
            smtp_password=AUTH.password,
            smtp_ca_file=str(certs.ca_file),
        ) as app,
    ):
        assert await _send_one(app) is DeliveryState.SENT
        assert len(recorder.to(E1)) == 1
        assert recorder.logins == [("LOGIN", AUTH.user, True)]
        assert recorder.encrypted == [True]


async def test_smtp_refuses_a_certificate_outside_the_trusted_cas(
    tmp_path: Path, clock: ManualClock, certs: ServerCerts
) -> None:
    """Without OFFERBOT_SMTP_CA_FILE the system store is used: the test CA is not in it, so
    the handshake fails, nothing is sent (no password over an unverified channel), and the
    row stays pending for a retry."""
    for tls in ("starttls", "implicit"):
        async with (
            smtp_server(certs, tls=tls, auth=AUTH) as (recorder, port),
            _app(
                tmp_path / tls,
                clock,
                port,
                smtp_tls=tls,
                smtp_user=AUTH.user,
                smtp_password=AUTH.password,
            ) as app,
        ):
            assert await _send_one(app) is DeliveryState.PENDING
            assert recorder.accepted == [] and recorder.logins == []
            async with app.uow() as uow:
                row = await uow.deliveries.get("r1")
            assert row is not None and "certificate" in (row.last_error or "").lower(), row


async def test_smtp_wrong_password_sends_nothing(
    tmp_path: Path, clock: ManualClock, certs: ServerCerts
) -> None:
    async with (
        smtp_server(certs, tls="starttls", auth=AUTH) as (recorder, port),
        _app(
            tmp_path,
            clock,
            port,
            smtp_tls="starttls",
            smtp_user=AUTH.user,
            smtp_password="wrong",
            smtp_ca_file=str(certs.ca_file),
        ) as app,
    ):
        assert await _send_one(app) is DeliveryState.PENDING  # retried: may be a config fix
        assert recorder.accepted == []


def _imap_settings(certs: ServerCerts | None) -> dict[str, Any]:
    return {"imap_tls": True, "imap_ca_file": str(certs.ca_file) if certs else None}


async def test_imap_over_tls_answers_a_question(
    tmp_path: Path,
    clock: ManualClock,
    certs: ServerCerts,
    imaps_port: int,
    smtp: tuple[SmtpRecorder, int],
) -> None:
    recorder, smtp_port = smtp
    await deliver(
        imaps_port,
        mail(sender=E1, subject="Expiry", body="When does the offer expire?"),
        tls=certs.client_context(),
    )
    app = await make_app(
        mail_settings(tmp_path, smtp_port=smtp_port, imap_port=imaps_port, **_imap_settings(certs)),
        clock,
    )
    try:
        await run_worker(app, once=True)
        await run_worker(app, once=True)
        [reply] = recorder.to(E1)
        assert "July 24, 2003" in reply.get_body(("plain",)).get_content()
        async with app.uow() as uow:
            assert [r.outcome for r in await uow.inbox.outcomes()] == ["answered"]
    finally:
        await app.aclose()


async def test_imap_refuses_a_certificate_outside_the_trusted_cas(
    tmp_path: Path, clock: ManualClock, certs: ServerCerts, imaps_port: int
) -> None:
    app = await make_app(
        mail_settings(tmp_path, smtp_port=1, imap_port=imaps_port, **_imap_settings(None)),
        clock,
    )
    try:
        watcher = app.inbox_watcher()
        assert watcher is not None
        with pytest.raises(ssl.SSLCertVerificationError):
            await watcher.read_once()
    finally:
        await app.aclose()
