"""The communications log HR reads on ``/hr/communications`` and downloads for the filing.

What went out, when, to how many, and how delivery went (delivered / failed / pending), one row
per *group*: each broadcast, reminder round or notice recorded in ``communications`` (its outbox
copies carry ``reference = comm:<id>``), and every other message kind (receipt confirmations,
answers, HR notices …) as a group of its own. Counted in SQL
(:mod:`storage.communications_log_repo`) and paged, so the page costs the same with 100,000
outbox rows as with 100.

Two downloads, both CSV made safe for spreadsheets (as the employee export):

* :func:`delivery_log_csv` — one row per message: queued and sent time in Pacific with the
  zone abbreviation, channel, kind, group, recipient (the employee id when known), status and
  attempts. No subjects or bodies: the filing needs who was sent what and whether it arrived,
  and the text of each communication once —
* :func:`communications_csv` — one row per recorded communication: its text (subject, body,
  announcement-channel post) exactly as stored, and its delivery counts. Transactional notices
  have no row here; each is personal, and its template is the code's.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.domain.communications import Communication
from bot.domain.records import AuditEntry
from bot.ports import UnitOfWork
from bot.services.access import require_operator
from bot.services.identity import Identity
from bot.services.spreadsheet import spreadsheet_writer
from storage.communications_log_repo import LogGroup, communications_log

__all__ = [
    "COMMUNICATIONS_COLUMNS",
    "DELIVERY_COLUMNS",
    "KIND_LABELS",
    "LogPage",
    "communications_csv",
    "communications_page",
    "delivery_log_csv",
]

DELIVERY_COLUMNS = (
    "message_id",
    "queued_at",
    "sent_at",
    "channel",
    "kind",
    "group",
    "recipient",
    "status",
    "attempts",
)
COMMUNICATIONS_COLUMNS = (
    "group",
    "kind",
    "recorded_at",
    "first_sent_at",
    "last_sent_at",
    "messages",
    "delivered",
    "failed",
    "ambiguous",
    "pending",
    "subject",
    "body",
    "channel_post",
)
_BATCH = 5000

# What each group is called on the page (communications: their recorded kind).
KIND_LABELS = {
    "intent_confirmation": "Intent confirmations (with the pre-filled form)",
    "hr_notice": "HR notices",
    "receipt_confirmation": "Receipt confirmations",
    "promise_to_grant": "Promises to grant new options",
    "answer": "Answers to questions",
    "hr_alert": "HR alerts",
    "reminder": "Reminders",
    "extension_announcement": "Extension announcements",
    "amendment_notice": "Amendment notice",
    "deadline_follow_up": "Deadline follow-up",
}


@dataclass(frozen=True, slots=True)
class LogPage:
    groups: list[tuple[LogGroup, Communication | None]]
    total: int  # groups in all
    offset: int
    limit: int


@lru_cache(maxsize=4096)
def _local(instant: datetime | None, zone: ZoneInfo) -> str:
    """``2003-07-10 09:00:05 PDT``: a time a person filing reads without converting. Cached:
    a broadcast's copies share their queued time, and the sender marks batches at once."""
    if instant is None:
        return ""
    local = instant.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


async def communications_page(
    *, uow: UnitOfWork, identity: Identity, offset: int = 0, limit: int = 50
) -> LogPage:
    """One page of groups, newest first, each with its recorded communication (if any)."""
    require_operator(identity)
    async with uow:
        everything = await communications_log(uow).groups()
        recorded = {c.reference: c for c in await uow.communications.list_all()}
    groups = everything[offset : offset + limit]
    return LogPage(
        groups=[(g, recorded.get(g.key)) for g in groups],
        total=len(everything),
        offset=offset,
        limit=limit,
    )


async def _audit_export(uow: UnitOfWork, identity: Identity, now: datetime, what: str) -> None:
    async with uow:
        await uow.audit.record(
            AuditEntry(
                at=now,
                actor=identity.actor,
                action=f"hr_console.communications.{what}",
                channel=identity.channel,
                subject=None,
                detail={},
            )
        )
        await uow.commit()


async def delivery_log_csv(
    *, uow: UnitOfWork, identity: Identity, zone: ZoneInfo, now: datetime, group: str | None = None
) -> AsyncIterator[str]:
    """The per-message log as CSV text, in chunks (id order; each chunk reads one keyset batch
    in its own short transaction, so a 100,000-row download never holds the database)."""
    require_operator(identity)
    await _audit_export(uow, identity, now, "delivery_log")
    return _delivery_chunks(uow, zone, group)


async def _delivery_chunks(
    uow: UnitOfWork, zone: ZoneInfo, group: str | None
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = spreadsheet_writer(buffer)
    writer.writerow(DELIVERY_COLUMNS)
    after = 0
    while True:
        async with uow:
            batch = await communications_log(uow).messages(
                after_id=after, limit=_BATCH, group=group
            )
        writer.writerows(
            (
                m.id,
                _local(m.queued_at, zone),
                _local(m.sent_at, zone),
                m.channel,
                m.kind,
                m.group,
                m.employee_id or m.recipient,
                m.state,
                m.attempts,
            )
            for m in batch
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < _BATCH:
            return
        after = batch[-1].id


async def communications_csv(
    *, uow: UnitOfWork, identity: Identity, zone: ZoneInfo, now: datetime
) -> str:
    """Each recorded communication's text once, with its delivery counts."""
    require_operator(identity)
    async with uow:
        recorded = await uow.communications.list_all()
        stats = await uow.communications.stats([c.reference for c in recorded])
    await _audit_export(uow, identity, now, "texts")
    buffer = io.StringIO()
    writer = spreadsheet_writer(buffer)
    writer.writerow(COMMUNICATIONS_COLUMNS)
    for c in recorded:
        s = stats.get(c.reference)
        queued = s.queued if s else 0
        sent, failed, ambiguous = (s.sent, s.failed, s.ambiguous) if s else (0, 0, 0)
        writer.writerow(
            (
                c.reference,
                c.kind,
                _local(c.created_at, zone),
                _local(s.first_sent_at if s else None, zone),
                _local(s.last_sent_at if s else None, zone),
                queued,
                sent,
                failed,
                ambiguous,
                queued - sent - failed - ambiguous,
                c.subject,
                c.body,
                c.channel_post or "",
            )
        )
    return buffer.getvalue()
