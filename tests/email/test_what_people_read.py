"""What employees and HR read in their mailbox (issue 17, items 6-9), checked on the e-mails a
real SMTP server (aiosmtpd) accepted from the outbox sender, parsed back from MIME.

Set ``OFFERBOT_EMAIL_PREVIEW_DIR`` to keep each HTML part there, to look at it in a browser.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.domain.elections import Delivery, FormKind
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.jobs import Job
from bot.runtime.bootstrap import App
from bot.runtime.scheduler import JobContext, run_due_jobs
from bot.services import elections
from bot.services.messaging.digest import plan_digests
from bot.services.messaging.reminders import plan_reminders, run_reminder_job
from handlers.email.render import render_message
from tests.email.conftest import HR
from tests.email.servers import SmtpRecorder
from tests.services.elections_setup import HR as HR_DESK
from tests.services.elections_setup import employee_identity

PACIFIC = ZoneInfo("America/Los_Angeles")
# Words that would recommend whether to tender (the offer forbids it).
RECOMMENDING = re.compile(r"\b(should|recommend (that|you)|we advise|you ought|best to)\b", re.I)


def pacific(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2003, 7, day, hour, minute, tzinfo=PACIFIC)


class _Visible(HTMLParser):
    """The words a reader sees in an HTML part (no <head>, no tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("head", "style", "title"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("head", "style", "title"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.words.append(data)


def visible(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.words).split())


def parts(mail: EmailMessage) -> tuple[str, str]:
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def keep_preview(name: str, text: str, html: str) -> None:
    folder = os.environ.get("OFFERBOT_EMAIL_PREVIEW_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.html").write_text(html, encoding="utf-8")
        (Path(folder) / f"{name}.txt").write_text(text, encoding="utf-8")


def assert_layout(text: str, html: str, *, company: str = "Capstone") -> None:
    """The one layout: company, dark-mode safe, nothing remote, one call to action at most,
    a plain-text part without Markdown marks or HTML."""
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "prefers-color-scheme: dark" in html and '<html lang="en">' in html
    assert f"{company} · Option exchange" in html
    assert not re.search(r"<img|url\(|@import|<link|<script", html, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html, re.I)
    assert html.count('class="ob-action"') <= 1
    # every element that sets a text colour also sets its background (no white on white)
    for style in re.findall(r'class="ob-(?:highlight|action)"[^>]*style="([^"]*)"', html):
        assert "background-color" in style and "color" in style
    assert not re.search(r"^>", text, re.M) and "<p" not in text
    assert f"{company} option exchange assistant" in text


async def _drain(app: App) -> None:
    from bot.runtime.worker import _drain as drain

    await drain(app, app.outbox_transports())


async def test_receipt_confirmation_says_what_hr_received_and_that_it_is_not_acceptance(
    smtp_app: App, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> None:
    recorder, _ = smtp
    terms = smtp_app.base_terms
    uow = smtp_app.uow()
    await elections.record_intent(
        uow=uow,
        terms=terms,
        employee_id="E1",
        grant_numbers=["G2", "G3"],
        identity=employee_identity("E1"),
        now=clock.now(),
    )
    clock.set(pacific(10, 11))
    await elections.record_receipt(
        uow=uow,
        terms=terms,
        employee_id="E1",
        form=FormKind.ELECTION,
        version=1,
        received_at=pacific(10, 10, 30),
        via=Delivery.FAX,
        identity=HR_DESK,
        now=clock.now(),
    )
    await _drain(smtp_app)
    mails = {m["Subject"]: m for m in recorder.to("e1@example.com")}
    receipt = mails["Capstone option exchange: HR received your signed Election Form (version 1)"]
    text, html = parts(receipt)
    keep_preview("B-receipt", text, html)
    for words in (text, visible(html)):
        assert "HR received your signed Election Form, version 1." in words
        assert "Received: 10:30 a.m. PDT on Thursday, July 10, 2003, by fax" in words
        assert "The form lists 2 grants" in words
        assert (
            "Grant G2: granted November 1, 2001, exercise price $3.33, 1,000 unexercised shares"
            in words
        )
        assert (
            "Grant G3: granted April 15, 2002, exercise price $2.50, 2,000 unexercised shares"
            in words
        )
        assert "Receipt is not acceptance" in words
        assert "5:00 p.m. PDT on Thursday, July 24, 2003" in words
        # no internal bookkeeping, no footer contradicting the message
        assert "Confirmation due" not in words and "only a signed form" not in words
        assert not RECOMMENDING.search(words)
    assert_layout(text, html)
    assert html.count('class="ob-action"') == 1 and 'class="ob-highlight"' in html

    # The e-mail with the pre-filled form: grants as a list, the deadline highlighted.
    confirmation = mails["Capstone option exchange: sign your Election Form (version 1)"]
    text, html = parts(confirmation)
    keep_preview("B-intent-confirmation", text, html)
    assert "Deadline: 5:00 p.m. PDT on Thursday, July 24, 2003 (14 days, 8 hours left when" in text
    assert "- Grant G2: granted November 1, 2001" in text
    assert_layout(text, html)
    # HR's notice names the employee next to the id.
    [notice] = [m for m in recorder.to(HR) if "Expect a signed" in m["Subject"]]
    text, html = parts(notice)
    keep_preview("B-hr-notice", text, html)
    assert "Rosalind Ashcombe (E1) recorded an intent to tender" in text
    assert_layout(text, html)


async def _remind(app: App, settings: Settings, at: datetime) -> None:
    """Run the reminder round due at ``at`` with ``settings`` (reminders turned on)."""
    async with app.uow() as uow:
        await plan_reminders(uow, terms=app.base_terms, settings=settings, now=at)
        await uow.commit()
    app.clock.set(at)  # type: ignore[attr-defined]
    async with app.uow() as uow:
        due = [j for j in await uow.jobs.list(kind="reminder") if j.due_at <= at]
    job: Job = max(due, key=lambda j: j.due_at)
    ctx = JobContext(
        uow=app.uow(), clock=app.clock, settings=settings, base_terms=app.base_terms, owner="t"
    )
    await run_reminder_job(job, ctx)
    await _drain(app)


@pytest.mark.parametrize("inbox", [False, True], ids=["no-inbox", "inbox"])
async def test_a_reminder_is_personal_with_a_neutral_subject(
    smtp_app: App, smtp: tuple[SmtpRecorder, int], inbox: bool
) -> None:
    recorder, _ = smtp
    settings = smtp_app.settings.model_copy(
        update={"reminders_enabled": True, "imap_host": "127.0.0.1" if inbox else None}
    )
    # E2 records an intent and has not delivered the signed form; E1 has recorded nothing.
    await elections.record_intent(
        uow=smtp_app.uow(),
        terms=smtp_app.base_terms,
        employee_id="E2",
        grant_numbers=["G5", "G6"],
        identity=employee_identity("E2"),
        now=smtp_app.clock.now(),
    )
    await _remind(smtp_app, settings, pacific(17, 9))  # the 5-business-day round
    [to_e1] = [m for m in recorder.to("e1@example.com") if "Confirmation" not in m["Subject"]]
    assert (
        to_e1["Subject"]
        == "Capstone option exchange: your eligible options and the July 24 deadline"
    )
    text, html = parts(to_e1)
    keep_preview(f"B-reminder-{'inbox' if inbox else 'no-inbox'}", text, html)
    for words in (text, visible(html)):
        assert words.count("Rosalind Ashcombe") == 1
        assert (
            "Deadline: the offer expires at 5:00 p.m. Pacific Time on Thursday, July 24, 2003"
            in words
        )
        assert "(7 days, 8 hours left)" in words
        assert "You have not recorded an intent to tender" in words
        assert "Grant G1: granted April 16, 2001, exercise price $29.07, 300 unexercised" in words
        assert "Grant G2: granted November 1, 2001, exercise price $3.33, 1,000" in words
        assert "Grant G3: granted April 15, 2002" in words
        assert "G4" not in words  # priced below the minimum: not eligible
        assert ("Reply 'grants'" in words) is inbox
        assert not RECOMMENDING.search(words)
    assert_layout(text, html)
    assert html.count('class="ob-action"') == 1
    assert "no election" not in to_e1["Subject"].lower()

    [to_e2] = [m for m in recorder.to("e2@example.com") if "reach" in m["Subject"]]
    assert to_e2["Subject"] == (
        "Capstone option exchange: your signed Election Form has not reached HR yet"
    )
    text, html = parts(to_e2)
    assert "Dorian Fallowby" in text and "Grant G5" in text and "Grant G6" in text
    assert "Rosalind" not in text and "Grant G2" not in text
    assert_layout(text, html)


async def test_after_an_outage_hr_gets_one_digest_covering_the_missed_days(
    tmp_path: Path, smtp_app: App, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> None:
    recorder, _ = smtp
    terms = smtp_app.base_terms
    settings = smtp_app.settings.model_copy(update={"digests_enabled": True})
    uow = smtp_app.uow()
    async with uow:
        await plan_digests(uow, terms=terms, settings=settings, now=clock.now())
        await uow.commit()
    await elections.record_intent(
        uow=uow,
        terms=terms,
        employee_id="E2",
        grant_numbers=["G5", "G6"],
        identity=employee_identity("E2"),
        now=pacific(10, 10),
    )
    run = {
        "uow": uow,
        "clock": clock,
        "settings": settings,
        "base_terms": terms,
        "kinds": ["digest"],
    }
    # Friday's digest goes out on time.
    clock.set(pacific(11, 8, 1))
    assert (await run_due_jobs(**run)).ran == 1  # type: ignore[arg-type]
    await _drain(smtp_app)
    digests = [m for m in recorder.to(HR) if "HR digest" in m["Subject"]]
    assert [m["Subject"] for m in digests] == [
        "Capstone option exchange: HR digest for Friday, July 11, 2003"
    ]
    text, html = parts(digests[0])
    keep_preview("B-digest-day", text, html)
    assert "- Dorian Fallowby (E2): tender v1 (G5, G6), 10:00 a.m. PDT" in text
    assert_layout(text, html)

    # The worker is down from Friday morning until Wednesday 10:00: the digests of Monday,
    # Tuesday and Wednesday are all due. One goes out, for the three days.
    await elections.record_intent(
        uow=uow,
        terms=terms,
        employee_id="E1",
        grant_numbers=["G2"],
        identity=employee_identity("E1"),
        now=pacific(14, 15),
    )
    clock.set(pacific(16, 10))
    report = await run_due_jobs(**run)  # type: ignore[arg-type]
    assert report.ran == 3 and set(report.outcomes.values()) == {"done"}
    await _drain(smtp_app)
    digests = [m for m in recorder.to(HR) if "HR digest" in m["Subject"]]
    assert len(digests) == 2
    latest = digests[-1]
    assert latest["Subject"] == (
        "Capstone option exchange: HR digest for Monday, July 14, 2003 to Wednesday, "
        "July 16, 2003 (3 business days)"
    )
    text, html = parts(latest)
    keep_preview("B-digest-outage", text, html)
    for words in (text, visible(html)):
        assert "This digest covers 3 business days" in words
        assert (
            "The digests of Monday, July 14, 2003 and Tuesday, July 15, 2003 were not sent when "
            "due (offerbot was not running); this one replaces them."
        ) in words
        # from Friday's digest (the last one sent) to Wednesday's
        assert "from 8:00 a.m. PDT on Friday, July 11, 2003 to 8:00 a.m. PDT on Wednesday" in words
        assert "Rosalind Ashcombe (E1): tender v1 (G2), 3:00 p.m. PDT on Monday" in words
        assert "Dorian Fallowby" not in words.split("New intents")[1].split("Signed forms")[0]
    assert_layout(text, html)

    # The next morning: Thursday's digest alone, from Wednesday's.
    clock.set(pacific(17, 8, 5))
    assert (await run_due_jobs(**run)).ran == 1  # type: ignore[arg-type]
    await _drain(smtp_app)
    digests = [m for m in recorder.to(HR) if "HR digest" in m["Subject"]]
    assert len(digests) == 3
    assert digests[-1]["Subject"].endswith("HR digest for Thursday, July 17, 2003")
    text, _ = parts(digests[-1])
    assert "from 8:00 a.m. PDT on Wednesday, July 16, 2003 to 8:00 a.m. PDT on Thursday" in text


@pytest.mark.parametrize("kind", list(MessageKind), ids=lambda k: k.value)
def test_every_kind_uses_the_one_layout(kind: MessageKind) -> None:
    now = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)
    body = (
        "Dear Ann <Lee> & co,\n\nA paragraph with *stars*, _underscores_ and #7.\n\n"
        "> Deadline: 5:00 p.m. PDT on Thursday, July 24, 2003\n\n"
        "Grants:\n- Grant G1\n- Grant G2\n\n> Next step: sign the form."
    )
    message = OutboxMessage(
        idempotency_key=f"k:{kind.value}",
        channel="email",
        recipient="a@example.com",
        kind=kind,
        subject="Subject <with> markup",
        body_text=body,
        created_at=now,
        due_at=now + timedelta(days=1),
    )
    text, html = render_message(message, company="Capstone")
    assert_layout(text, html)
    assert "Ann &lt;Lee&gt; &amp; co" in html and "<Lee>" not in html  # escaped
    assert "*stars*, _underscores_ and #7" in html  # no stray Markdown formatting
    assert "<li" in html and html.count('class="ob-highlight"') == 1
    assert html.count('class="ob-action"') == 1
    assert "<title>Subject &lt;with&gt; markup</title>" in html
    assert "Deadline: 5:00 p.m. PDT on Thursday, July 24, 2003\n" in text
    assert "Next step: sign the form." in text
    if kind is MessageKind.RECEIPT_CONFIRMATION:
        assert "only a signed form" not in text + html
    # Rendering the same row twice gives the same parts (the layout is cached per kind).
    assert render_message(replace(message), company="Capstone") == (text, html)
