"""A forged From cannot put an employee's own data under a stranger's subject (issue 13, Also).

Without ``OFFERBOT_MAIL_TRUSTED_AUTHSERV_ID`` a sender is recognised by the address on file
alone, which anyone can forge. The answer still goes only to that address, but under the bot's
own subject and not threaded under the forged message. With a DMARC check configured, a
verified sender gets a normal "Re:" reply. Real Dovecot and SMTP servers.
"""

from __future__ import annotations

from pathlib import Path

from bot.clock import ManualClock
from bot.runtime.worker import run_worker
from handlers.email.inbox import OWN_SUBJECT
from tests.email import conftest as email_fixtures
from tests.email.conftest import mail_settings, make_app
from tests.email.servers import SmtpRecorder, deliver, mail

clock = email_fixtures.clock
dovecot_server = email_fixtures.dovecot_server
imap_port = email_fixtures.imap_port
smtp = email_fixtures.smtp

E1 = "e1@example.com"
TRUSTED = "mx.capstone.example"


async def test_a_reply_with_personal_data_uses_our_own_subject_when_only_the_address_vouches(
    tmp_path: Path, clock: ManualClock, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, smtp_port = smtp
    lure = "URGENT: confirm your grants at http://evil.example/login"
    await deliver(
        imap_port, mail(sender=E1, subject=lure, body="show my grants", message_id="<lure@x>")
    )
    app = await make_app(mail_settings(tmp_path, smtp_port=smtp_port, imap_port=imap_port), clock)
    try:
        await run_worker(app, once=True)
    finally:
        await app.aclose()
    [reply] = recorder.to(E1)
    assert "G2" in reply.get_body(("plain",)).get_content()  # still answered, to the owner
    assert reply["Subject"] == OWN_SUBJECT
    assert "evil.example" not in reply.as_string()
    assert reply["In-Reply-To"] is None and reply["References"] is None


async def test_a_dmarc_verified_sender_gets_a_threaded_reply(
    tmp_path: Path, clock: ManualClock, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, smtp_port = smtp
    header = f"Authentication-Results: {TRUSTED}; dmarc=pass header.from=example.com\r\n"
    raw = mail(sender=E1, subject="my grants", body="show my grants", message_id="<ok@x>")
    await deliver(imap_port, header.encode() + raw)
    settings = mail_settings(
        tmp_path, smtp_port=smtp_port, imap_port=imap_port, mail_trusted_authserv_id=TRUSTED
    )
    app = await make_app(settings, clock)
    try:
        await run_worker(app, once=True)
    finally:
        await app.aclose()
    [reply] = recorder.to(E1)
    assert "G2" in reply.get_body(("plain",)).get_content()
    assert reply["Subject"] == "Re: my grants"
    assert reply["In-Reply-To"] == "<ok@x>"
