"""Fixtures for the e-mail tests: a real SMTP server (aiosmtpd) and a real IMAP server
(Dovecot) on loopback, and an offerbot App wired to both over a fresh SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.runtime.bootstrap import App, build
from bot.services.offer.live_offer import load_offer
from tests.email.certs import ServerCerts, make_certs
from tests.email.servers import (
    IMAP_PASSWORD,
    IMAP_USER,
    Dovecot,
    SmtpRecorder,
    clear_mailbox,
    running_dovecot,
    start_smtp,
)
from tests.migrated import upgrade_fast
from tests.services.elections_setup import seed

NOW = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)  # 9:00 a.m. PDT, inside the offer window
BOT = "offerbot@capstone.example"
HR = "hr@capstone.example"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[SmtpRecorder, int]]:
    recorder = SmtpRecorder()
    server, port = await start_smtp(recorder)
    try:
        yield recorder, port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> ServerCerts:
    """A throwaway CA and a certificate for 127.0.0.1, for the TLS tests."""
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def dovecot_tls_server(certs: ServerCerts) -> Iterator[Dovecot]:
    """A second Dovecot: implicit TLS only (ssl = required), with the test certificate."""
    with running_dovecot(tls=(certs.cert_file, certs.key_file)) as server:
        yield server


@pytest.fixture
async def imaps_port(dovecot_tls_server: Dovecot, certs: ServerCerts) -> int:
    """The TLS Dovecot with an empty INBOX."""
    await clear_mailbox(dovecot_tls_server.port, tls=certs.client_context())
    return dovecot_tls_server.port


@pytest.fixture
async def imap_port(dovecot_server: Dovecot) -> int:
    """The session's Dovecot with an empty INBOX."""
    await clear_mailbox(dovecot_server.port)
    return dovecot_server.port


def mail_settings(
    tmp_path: Path, *, smtp_port: int, imap_port: int | None, **extra: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'mail.db'}",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_tls": "false",
        "smtp_timeout": 5.0,
        "mail_from": f"Capstone offer assistant <{BOT}>",
        "mail_hostname": "offerbot.test",
        "hr_mailbox": HR,
        # These tests count the mail of one flow; reminder rounds and HR digests (which the
        # worker would send at 9:00 a.m. on the demo day) are tested in tests/services.
        "reminders_enabled": False,
        "digests_enabled": False,
    }
    if imap_port is not None:
        values.update(
            imap_host="127.0.0.1",
            imap_port=imap_port,
            imap_user=IMAP_USER,
            imap_password=IMAP_PASSWORD,
            imap_tls=False,
        )
    values.update(extra)
    return Settings(**values)


async def make_app(settings: Settings, clock: ManualClock) -> App:
    app = build(settings, clock=clock)
    await upgrade_fast(app.engine)
    await load_offer(uow=app.uow(), terms=app.base_terms, digest=app.terms_digest, now=clock.now())
    await seed(app.uow())
    return app


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def smtp_app(
    tmp_path: Path, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> AsyncIterator[App]:
    """An App that sends through the test SMTP server (no inbox)."""
    app = await make_app(mail_settings(tmp_path, smtp_port=smtp[1], imap_port=None), clock)
    try:
        yield app
    finally:
        await app.aclose()


@pytest.fixture
async def mail_app(
    tmp_path: Path, smtp: tuple[SmtpRecorder, int], imap_port: int, clock: ManualClock
) -> AsyncIterator[App]:
    """An App reading the test Dovecot inbox and sending through the test SMTP server."""
    app = await make_app(mail_settings(tmp_path, smtp_port=smtp[1], imap_port=imap_port), clock)
    try:
        yield app
    finally:
        await app.aclose()
