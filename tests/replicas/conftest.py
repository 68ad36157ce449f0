"""Fixtures for the replica tests: a fresh PostgreSQL database each, a slow-ish SMTP server,
and the real servers of the e-mail and Slack tests (Dovecot, the fake Slack Web API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.email.conftest import dovecot_server, imap_port  # noqa: F401  (fixtures)
from tests.email.servers import SmtpRecorder, start_smtp
from tests.servers import PostgresServer
from tests.slack.conftest import fake_slack  # noqa: F401  (fixture)


@dataclass
class SlowSmtp(SmtpRecorder):
    """The test SMTP server, taking ``latency`` seconds per message before it answers "250".

    The message is kept once the server is done with it, whether or not the client is still
    there to read the "250" — as a real MTA does — so a client killed mid-DATA can cause a
    duplicate, which the replica test counts.
    """

    latency: float = 0.0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.latency:
            await asyncio.sleep(self.latency)  # the server's work, not a test's wait
        return await super().handle_DATA(server, session, envelope)

    def message_ids(self) -> list[str]:
        parser = BytesHeaderParser()
        return [str(parser.parsebytes(data)["Message-ID"]) for _, _, data in self.accepted]


@pytest.fixture
async def slow_smtp() -> AsyncIterator[tuple[SlowSmtp, int]]:
    recorder = SlowSmtp()
    server, port = await start_smtp(recorder)
    try:
        yield recorder, port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def pg_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (the session's server); dropped afterwards."""
    name = await postgres_server.create_database("replicas")
    try:
        yield postgres_server.url(name)
    finally:
        await postgres_server.drop_database(name)
