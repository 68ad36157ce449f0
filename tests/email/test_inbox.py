"""Questions mailed to a real Dovecot inbox, answered through the real SMTP server."""

from __future__ import annotations

import re

from bot.runtime.bootstrap import App
from bot.runtime.worker import run_worker
from handlers.email.inbox import OWN_SUBJECT
from tests.email.conftest import BOT
from tests.email.servers import SmtpRecorder, deliver, flags_of, mail

E1 = "e1@example.com"
CITATION = re.compile(r"\[[A-Z][A-Z0-9-]* · .+ · p\. [0-9ivx-]+\]")


async def _outcomes(app: App) -> list[str]:
    async with app.uow() as uow:
        return [r.outcome for r in await uow.inbox.outcomes()]


async def test_a_question_is_answered_once_threaded_with_a_citation(
    mail_app: App, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, _ = smtp
    await deliver(
        imap_port,
        mail(
            sender="Rosalind <e1@example.com>",
            subject="Expiry",
            body="When does the offer expire?\n\n-- \nRosalind",
            message_id="<q1@client.example>",
        ),
    )
    await run_worker(mail_app, once=True)
    await run_worker(mail_app, once=True)
    [reply] = recorder.to(E1)
    assert reply["In-Reply-To"] == "<q1@client.example>"
    assert "<q1@client.example>" in reply["References"]
    assert reply["Subject"] == "Re: Expiry"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert BOT in reply["From"]
    text = reply.get_body(("plain",)).get_content()
    assert "July 24, 2003" in text
    assert CITATION.search(text), text
    assert "July 24, 2003" in reply.get_body(("html",)).get_content()
    assert await _outcomes(mail_app) == ["answered"]
    assert any("$Offerbot" in f for f in await flags_of(imap_port))


async def test_grants_go_only_to_the_address_on_file(
    mail_app: App, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, _ = smtp
    await deliver(
        imap_port,
        mail(sender="E1@Example.COM", subject="grants", body="show my grants", message_id="<g1@x>"),
    )
    await deliver(
        imap_port,
        mail(
            sender='"Rosalind Ashcombe e1@example.com" <mallory@evil.example>',
            subject="grants",
            body="show my grants",
            message_id="<g2@x>",
        ),
    )
    await deliver(
        imap_port,
        mail(
            sender="e1@example.com.evil.example",
            subject="grants",
            body="show my grants",
            message_id="<g3@x>",
        ),
    )
    await run_worker(mail_app, once=True)
    [mine] = recorder.to(E1)
    assert "G2" in mine.get_body(("plain",)).get_content()
    [spoofed] = recorder.to("mallory@evil.example")
    body = spoofed.get_body(("plain",)).get_content()
    assert "G2" not in body and "29.07" not in body
    assert "verified" in body
    [lookalike] = recorder.to("e1@example.com.evil.example")  # another address: general only
    assert "G2" not in lookalike.get_body(("plain",)).get_content()


async def test_auto_replies_lists_bounces_and_our_own_mail_are_not_answered(
    mail_app: App, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    recorder, _ = smtp
    cases = [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"List-Id": "<offer.lists.example>"},
        {"X-Autoreply": "yes"},
    ]
    for i, headers in enumerate(cases):
        await deliver(
            imap_port,
            mail(
                sender=E1,
                subject="Out of office",
                body="I am away",
                message_id=f"<a{i}@x>",
                headers=headers,
            ),
        )
    await deliver(
        imap_port,
        mail(
            sender="MAILER-DAEMON@example.com",
            subject="Undelivered",
            body="failed",
            message_id="<a8@x>",
        ),
    )
    await deliver(
        imap_port, mail(sender=BOT, subject="Re: Expiry", body="loop", message_id="<a9@x>")
    )
    await run_worker(mail_app, once=True)
    assert recorder.accepted == []
    assert sorted(await _outcomes(mail_app)) == sorted(
        [
            "ignored:auto-submitted",
            "ignored:precedence",
            "ignored:list",
            "ignored:auto-reply",
            "ignored:mailer-daemon",
            "ignored:own-address",
        ]
    )


async def test_an_election_by_email_is_not_an_election_but_records_the_intent_and_sends_the_form(
    mail_app: App, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    """The signed form the owner gets carries a version HR can match on receipt."""
    recorder, _ = smtp
    await deliver(
        imap_port,
        mail(sender=E1, subject="my election", body="I tender grant G2", message_id="<e1@x>"),
    )
    await run_worker(mail_app, once=True)
    sent = recorder.to(E1)
    # it carries E1's own grants and form: our subject, not threaded under the incoming one
    # (the From address alone vouches for the sender here; see tests/faults/test_spoofed_sender)
    replies = [m for m in sent if m["Subject"] == OWN_SUBJECT]
    assert len(replies) == 1 and replies[0]["In-Reply-To"] is None
    text = replies[0].get_body(("plain",)).get_content()
    assert "not an election" in text and "fax" in text and "version 1" in text
    pdfs = [
        p for m in sent for p in m.iter_attachments() if p.get_content_type() == "application/pdf"
    ]
    assert len(pdfs) == 1 and pdfs[0].get_content().startswith(b"%PDF")
    async with mail_app.uow() as uow:
        [intent] = await uow.elections.intents_for("E1")
        audit = await uow.audit.recent(subject="E1")
    assert intent.version == 1 and intent.channel == "email"
    [attempt] = [a for a in audit if a.action == "election.attempt_by_message"]
    assert attempt.detail["grants_named"] == ["G2"] and attempt.detail["recorded"] is True


async def test_a_uidvalidity_change_resyncs_without_answering_twice(
    mail_app: App, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    from storage.mail_repo import ImapPosition

    recorder, _ = smtp
    await deliver(
        imap_port,
        mail(sender=E1, subject="q", body="When does the offer expire?", message_id="<u1@x>"),
    )
    await run_worker(mail_app, once=True)
    async with mail_app.uow() as uow:  # as if the folder had been recreated
        await uow.inbox.advance(ImapPosition("INBOX", 1, 0), at=mail_app.clock.now())
        await uow.commit()
    await run_worker(mail_app, once=True)
    assert len(recorder.to(E1)) == 1
    assert await _outcomes(mail_app) == ["answered"]


async def test_a_corpus_of_malformed_messages_never_stops_the_inbox(
    mail_app: App, smtp: tuple[SmtpRecorder, int], imap_port: int
) -> None:
    from tests.email.corpus import MALFORMED

    recorder, _ = smtp
    for raw in MALFORMED.values():
        await deliver(imap_port, raw)
    await deliver(
        imap_port,
        mail(sender=E1, subject="q", body="When does the offer expire?", message_id="<last@x>"),
    )
    await run_worker(mail_app, once=True)
    outcomes = await _outcomes(mail_app)
    assert len(outcomes) == len(MALFORMED) + 1  # every message got an outcome
    assert outcomes[-1] == "answered"
    [reply] = recorder.to(E1)
    assert "July 24, 2003" in reply.get_body(("plain",)).get_content()
    html_only = recorder.to("a6@example.org")
    assert html_only and "alert(1)" not in html_only[0].get_body(("plain",)).get_content()
    assert "ignored:report" in outcomes and "ignored:no-sender" in outcomes


async def test_each_sender_gets_at_most_the_configured_replies_per_hour(
    tmp_path, smtp: tuple[SmtpRecorder, int], imap_port: int, clock
) -> None:
    """Loop and abuse protection: a flood from one address is not answered beyond the limit."""
    from datetime import timedelta

    from tests.email.conftest import mail_settings, make_app

    recorder, port = smtp
    app = await make_app(
        mail_settings(tmp_path, smtp_port=port, imap_port=imap_port, mail_rate_per_hour=2), clock
    )
    try:
        for n in range(3):
            await deliver(
                imap_port,
                mail(
                    sender=E1,
                    subject=f"q{n}",
                    body="When does the offer expire?",
                    message_id=f"<flood{n}@x>",
                ),
            )
        await run_worker(app, once=True)
        assert len(recorder.to(E1)) == 2

        clock.advance(timedelta(hours=1, minutes=1))
        await deliver(
            imap_port,
            mail(
                sender=E1,
                subject="later",
                body="When does the offer expire?",
                message_id="<later@x>",
            ),
        )
        await run_worker(app, once=True)
        assert len(recorder.to(E1)) == 3
        assert [m["In-Reply-To"] for m in recorder.to(E1)][-1] == "<later@x>"
    finally:
        await app.aclose()
