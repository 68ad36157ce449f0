"""An extension announced by e-mail, end to end through a real aiosmtpd server: every eligible
employee gets it exactly once, the ineligible nobody; a sender that dies between sending and
marking resends after the lease only what it had not marked, under the same Message-IDs."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.ports import OutboxTransport
from bot.runtime.bootstrap import App
from bot.runtime.scheduler import run_due_jobs
from bot.services.messaging.outbox import drain_outbox
from bot.services.offer.extension import extend_offer
from handlers.email.assembly import message_id_factory
from tests.email.servers import SmtpRecorder
from tests.services.elections_setup import HR, option, person

PACIFIC = ZoneInfo("America/Los_Angeles")
EXTRA = [person(f"E{n}", f"Person Number{n}") for n in range(10, 40)]
EXTRA_GRANTS = [option(f"X{n}", f"E{n}", "4.00", 100) for n in range(10, 40)]
ELIGIBLE = {f"e{n}@example.com" for n in [1, 2, *range(10, 40)]}  # not E3, an officer


@pytest.fixture
async def announced(smtp_app: App) -> App:
    """The roster grown to 32 eligible people, an extension, and its broadcast job run."""
    async with smtp_app.uow() as uow:
        await uow.employees.upsert_many(EXTRA)
        await uow.grants.upsert_many(EXTRA_GRANTS)
        await uow.commit()
    await extend_offer(
        uow=smtp_app.uow(),
        base_terms=smtp_app.base_terms,
        settings=smtp_app.settings,
        identity=HR,
        new_expiration=smtp_app.base_terms.original_expiration + timedelta(days=7),
        announce=True,
        message="An information session is on Monday.",
        now=smtp_app.clock.now(),
    )
    report = await run_due_jobs(
        uow=smtp_app.uow(),
        clock=smtp_app.clock,
        settings=smtp_app.settings,
        base_terms=smtp_app.base_terms,
        kinds=["broadcast"],
    )
    assert list(report.outcomes.values()) == ["done"]
    return smtp_app


def _announcements(recorder: SmtpRecorder) -> list[tuple[str, str]]:
    """(recipient, Message-ID) of each announcement the server accepted."""
    found = []
    for message in recorder.messages():
        if "extended" in str(message["Subject"]):
            found.append((str(message["To"]), str(message["Message-ID"])))
    return found


async def _announcement_rows(app: App) -> list[OutboxMessage]:
    async with app.uow() as uow:
        return await uow.outbox.by_kind(MessageKind.EXTENSION_ANNOUNCEMENT)


async def test_every_eligible_employee_gets_the_announcement_exactly_once(
    announced: App, smtp: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp
    await drain_outbox(
        uow=announced.uow(),
        transports=announced.outbox_transports(),
        clock=announced.clock,
        message_id_for=message_id_factory(announced),  # type: ignore[arg-type]
        concurrency=4,
        mark_every=5,
    )
    got = _announcements(recorder)
    assert Counter(to for to, _ in got) == Counter(ELIGIBLE)  # once each, E3 never
    assert len({mid for _, mid in got}) == len(got)
    rows = await _announcement_rows(announced)
    assert all(r.state is DeliveryState.SENT and r.sent_at is not None for r in rows)
    [mine] = recorder.to("e10@example.com")
    plain, html = mine.get_body(("plain",)), mine.get_body(("html",))
    assert plain is not None and html is not None
    text = plain.get_content()
    assert "Dear Person Number10," in text and "An information session is on Monday." in text
    assert "5:00 p.m. Pacific Time on Thursday, July 31, 2003" in text
    assert ">Dear Person Number10,</p>" in html.get_content()  # a paragraph of the layout


class _Killed(BaseException):
    """The process dies (kill -9): nothing after this runs, no finally writes to the database."""


class DyingTransport:
    """The real SMTP transport; the process dies right after the ``fatal``-th message left."""

    channel = "email"

    def __init__(self, inner: OutboxTransport, fatal: int) -> None:
        self.inner, self.fatal, self.sent = inner, fatal, 0

    async def send(self, message: OutboxMessage) -> str | None:
        delivered = await self.inner.send(message)
        self.sent += 1
        if self.sent >= self.fatal:
            raise _Killed()
        return delivered


async def test_a_sender_killed_between_sending_and_marking_resends_only_the_unmarked(
    announced: App, smtp: tuple[SmtpRecorder, int], clock: ManualClock
) -> None:
    recorder, _ = smtp
    email = announced.outbox_transports()["email"]
    drain = dict(
        uow=announced.uow(),
        clock=clock,
        message_id_for=message_id_factory(announced),
        concurrency=3,
        mark_every=4,
    )
    with pytest.raises(BaseExceptionGroup) as died:
        await drain_outbox(transports={"email": DyingTransport(email, fatal=15)}, **drain)  # type: ignore[arg-type]
    assert died.group_contains(_Killed)
    at_crash = _announcements(recorder)
    marked = [r for r in await _announcement_rows(announced) if r.state is DeliveryState.SENT]
    unmarked_at_crash = len(at_crash) - len(marked)
    assert 15 <= len(at_crash) < len(ELIGIBLE) and unmarked_at_crash > 0

    assert (await drain_outbox(transports={"email": email}, **drain)).outcomes == {}  # type: ignore[arg-type]  # leased still
    clock.advance(minutes=11)  # the dead sender's leases run out
    await drain_outbox(transports={"email": email}, **drain)  # type: ignore[arg-type]

    got = _announcements(recorder)
    copies = Counter(to for to, _ in got)
    assert set(copies) == ELIGIBLE  # nobody lost
    duplicated = sum(n - 1 for n in copies.values())
    assert duplicated == unmarked_at_crash  # only what was sent and not yet marked, again
    assert duplicated <= 2 * 4 + 3 - 1  # the cap: 2 × mark_every + concurrency - 1
    by_to: dict[str, set[str]] = {}
    for to, mid in got:
        by_to.setdefault(to, set()).add(mid)
    assert all(len(ids) == 1 for ids in by_to.values())  # a resend keeps its Message-ID
    rows = await _announcement_rows(announced)
    assert all(r.state is DeliveryState.SENT for r in rows)
