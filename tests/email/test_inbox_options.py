"""Inbox options against the real Dovecot and SMTP servers: the DMARC check of
``Authentication-Results`` from a trusted server (OFFERBOT_MAIL_TRUSTED_AUTHSERV_ID) and
moving processed mail to a folder (OFFERBOT_IMAP_PROCESSED=move:FOLDER)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aioimaplib
import pytest

from bot.clock import ManualClock
from bot.runtime.bootstrap import App
from bot.runtime.worker import run_worker
from tests.email.conftest import mail_settings, make_app
from tests.email.servers import SmtpRecorder, clear_mailbox, deliver, flags_of, imap_client, mail

E1 = "e1@example.com"
TRUSTED = "mx.capstone.example"
PROCESSED = "Offerbot-Processed"


@asynccontextmanager
async def _app(
    tmp_path: Path, clock: ManualClock, smtp_port: int, imap_port: int, **extra: Any
) -> AsyncIterator[App]:
    app = await make_app(
        mail_settings(tmp_path, smtp_port=smtp_port, imap_port=imap_port, **extra), clock
    )
    try:
        yield app
    finally:
        await app.aclose()


async def _uids(port: int, mailbox: str) -> list[str]:
    client = await imap_client(port)
    try:
        selected = await client.select(mailbox)
        if selected.result != "OK":
            return []
        found = await client.uid_search("ALL")
        return [t.decode() for line in found.lines[:-1] for t in bytes(line).split() if t.isdigit()]
    finally:
        await client.logout()


async def _drop_folder(port: int, folder: str) -> None:
    await clear_mailbox(port, folder)
    client = await imap_client(port)
    try:
        await client.delete(folder)
    finally:
        await client.logout()


# --- DMARC ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "verified"),
    [
        ([f"{TRUSTED}; spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=e.com"], True),
        ([f"{TRUSTED}; dmarc=fail (p=reject) header.from=example.com"], False),
        ([], False),  # absent
        (["evil.example; dmarc=pass header.from=example.com"], False),  # untrusted server
        (  # a second, forged header does not outvote ours
            [
                f"{TRUSTED}; dmarc=fail header.from=example.com",
                "mallory.example; dmarc=pass header.from=example.com",
            ],
            False,
        ),
        (  # our server's verdict is the topmost one; a forged pass under our id is ignored
            [
                f"{TRUSTED}; dmarc=fail header.from=example.com",
                f"{TRUSTED}; dmarc=pass header.from=example.com",
            ],
            False,
        ),
        ([f"{TRUSTED} 1; dmarc=pass header.from=example.com"], True),  # with a version
    ],
    ids=[
        "pass",
        "fail",
        "absent",
        "pass-from-untrusted-server",
        "fail-plus-forged-pass",
        "fail-plus-forged-trusted-pass",
        "pass-with-version",
    ],
)
async def test_dmarc_required_from_the_trusted_server(
    tmp_path: Path,
    clock: ManualClock,
    smtp: tuple[SmtpRecorder, int],
    imap_port: int,
    results: list[str],
    verified: bool,
) -> None:
    recorder, smtp_port = smtp
    headers = "".join(f"Authentication-Results: {r}\r\n" for r in results)
    raw = mail(sender=E1, subject="grants", body="show my grants", message_id="<d1@x>")
    await deliver(imap_port, headers.encode() + raw)
    async with _app(tmp_path, clock, smtp_port, imap_port, mail_trusted_authserv_id=TRUSTED) as app:
        await run_worker(app, once=True)
        [reply] = recorder.to(E1)
        text = reply.get_body(("plain",)).get_content()
        async with app.uow() as uow:
            [record] = await uow.inbox.outcomes()
            [answer] = await uow.outbox.for_employee("E1") if verified else [None]
    assert ("G2" in text) is verified, text  # E1's grant: personal data only when verified
    assert record.outcome == "answered"
    assert (record.employee_id == "E1") is verified
    if verified:
        assert answer is not None and answer.recipient == E1


async def test_without_a_trusted_server_the_address_on_file_suffices(
    tmp_path: Path, clock: ManualClock, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, smtp_port = smtp
    await deliver(imap_port, mail(sender=E1, subject="grants", body="show my grants"))
    async with _app(tmp_path, clock, smtp_port, imap_port) as app:
        await run_worker(app, once=True)
    [reply] = recorder.to(E1)
    assert "G2" in reply.get_body(("plain",)).get_content()


# --- move:FOLDER ------------------------------------------------------------------------------


async def test_processed_mail_is_moved_to_the_folder(
    tmp_path: Path, clock: ManualClock, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, smtp_port = smtp
    client = await imap_client(imap_port)
    try:
        await client.create(PROCESSED)
    finally:
        await client.logout()
    try:
        await deliver(imap_port, mail(sender=E1, subject="q", body="When does the offer expire?"))
        await deliver(
            imap_port,
            mail(sender=E1, subject="q2", body="What is the ratio?", message_id="<m2@x>"),
        )
        async with _app(
            tmp_path, clock, smtp_port, imap_port, imap_processed=f"move:{PROCESSED}"
        ) as app:
            await run_worker(app, once=True)
            await run_worker(app, once=True)
        assert len(recorder.to(E1)) == 2  # each answered once
        assert await _uids(imap_port, "INBOX") == []
        assert len(await _uids(imap_port, PROCESSED)) == 2
    finally:
        await _drop_folder(imap_port, PROCESSED)


async def test_a_missing_folder_is_created_on_the_first_move(
    tmp_path: Path, clock: ManualClock, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, smtp_port = smtp
    await _drop_folder(imap_port, PROCESSED)
    await deliver(imap_port, mail(sender=E1, subject="q", body="When does the offer expire?"))
    try:
        async with _app(
            tmp_path, clock, smtp_port, imap_port, imap_processed=f"move:{PROCESSED}"
        ) as app:
            await run_worker(app, once=True)
        assert len(recorder.to(E1)) == 1
        assert await _uids(imap_port, "INBOX") == []
        assert len(await _uids(imap_port, PROCESSED)) == 1
    finally:
        await _drop_folder(imap_port, PROCESSED)


async def test_move_without_the_move_extension_copies_and_expunges(
    tmp_path: Path,
    clock: ManualClock,
    smtp: tuple[SmtpRecorder, int],
    imap_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server without RFC 6851 MOVE (hidden from the client here): COPY + \\Deleted +
    UID EXPUNGE (UIDPLUS) instead."""
    recorder, smtp_port = smtp
    has_capability = aioimaplib.IMAP4.has_capability
    monkeypatch.setattr(
        aioimaplib.IMAP4, "has_capability", lambda self, c: c != "MOVE" and has_capability(self, c)
    )
    await deliver(imap_port, mail(sender=E1, subject="q", body="When does the offer expire?"))
    await deliver(
        imap_port,
        mail(sender=E1, subject="q2", body="What is the ratio?", message_id="<m3@x>"),
    )
    try:
        async with _app(
            tmp_path, clock, smtp_port, imap_port, imap_processed=f"move:{PROCESSED}"
        ) as app:
            await run_worker(app, once=True)
            await run_worker(app, once=True)
        assert len(recorder.to(E1)) == 2
        assert len(await _uids(imap_port, PROCESSED)) == 2
        assert await _uids(imap_port, "INBOX") == []
    finally:
        await _drop_folder(imap_port, PROCESSED)


async def test_an_unusable_folder_falls_back_to_flagging(
    tmp_path: Path, clock: ManualClock, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    """A folder name the server rejects: the message is flagged instead and not reread."""
    recorder, smtp_port = smtp
    await deliver(imap_port, mail(sender=E1, subject="q", body="When does the offer expire?"))
    async with _app(tmp_path, clock, smtp_port, imap_port, imap_processed="move:Bad/../%*") as app:
        await run_worker(app, once=True)
        await run_worker(app, once=True)
    assert len(recorder.to(E1)) == 1
    assert len(await _uids(imap_port, "INBOX")) == 1
    assert any("$Offerbot" in f for f in await flags_of(imap_port))
