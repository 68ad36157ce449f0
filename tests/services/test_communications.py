"""The communications log for the filing, from real communications and outbox rows (SQLite and
PostgreSQL): one verbatim file per communication, an index, the same bytes on every export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.domain.communications import Communication
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.services.messaging.communications import export_communications
from storage.uow import UnitOfWork

PACIFIC = ZoneInfo("America/Los_Angeles")
T0 = datetime(2003, 7, 21, 16, 0, tzinfo=UTC)  # 9:00 a.m. PDT, Monday, July 21
BODY = "Dear {name},\n\nThe offer now expires at 5:00 p.m. PDT on July 31, 2003.\n\n  — HR\n"
POST = ":mega: The option exchange offer is extended to July 31, 2003, 5:00 p.m. PDT."


def copies(comm: Communication, kind: MessageKind, people: list[tuple[str, str]]):
    return [
        OutboxMessage(
            idempotency_key=f"{comm.key}:{channel}:{recipient}",
            channel=channel,
            recipient=recipient,
            kind=kind,
            subject=comm.subject,
            body_text=comm.body.replace("{name}", recipient),
            created_at=comm.created_at,
            due_at=comm.created_at,
            reference=comm.reference,
        )
        for channel, recipient in people
    ]


async def record_two(uow: UnitOfWork) -> None:
    """An extension announcement (3 e-mails, 2 Slack DMs: 4 sent, 1 failed) and a reminder
    recorded the next day whose copies are all still queued."""
    async with uow:
        ext = await uow.communications.record(
            Communication(
                key="extension:1",
                kind="extension_announcement",
                subject="Capstone option exchange: the offer is extended",
                body=BODY,
                created_at=T0,
                channel_post=POST,
            )
        )
        people = [("email", f"e{i}@example.com") for i in (1, 2, 3)] + [
            ("slack", "U1"),
            ("slack", "U2"),
        ]
        assert await uow.outbox.enqueue_many(
            copies(ext, MessageKind.EXTENSION_ANNOUNCEMENT, people)
        ) == len(people)
        for n, (channel, recipient) in enumerate(people[:4]):
            await uow.outbox.mark_sent(
                f"extension:1:{channel}:{recipient}", at=T0 + timedelta(minutes=n + 1)
            )
        failed = await uow.deliveries.get("extension:1:slack:U2")
        assert failed is not None and failed.id is not None
        await uow.deliveries.give_up(failed.id, state=DeliveryState.FAILED, error="user_not_found")
        reminder = await uow.communications.record(
            Communication(
                key="reminder:2003-07-22T16:00:00+00:00",
                kind="reminder",
                subject="Two days left",
                body="Dear {name}, two days are left.",
                created_at=T0 + timedelta(days=1),
            )
        )
        await uow.outbox.enqueue_many(
            copies(reminder, MessageKind.REMINDER, [("email", "e1@example.com")])
        )
        await uow.commit()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


async def test_export_writes_each_communication_verbatim_with_an_index(
    uow: UnitOfWork, tmp_path: Path
) -> None:
    await record_two(uow)
    out = tmp_path / "filing"
    items = await export_communications(uow, out, zone=PACIFIC)
    assert [i.file for i in items] == [
        "001-extension_announcement-2003-07-21.txt",
        "002-reminder-2003-07-22.txt",
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "001-extension_announcement-2003-07-21.txt",
        "002-reminder-2003-07-22.txt",
        "index.csv",
        "index.json",
    ]
    text = (out / items[0].file).read_text(encoding="utf-8")
    header, rest = text.split("----- subject -----\n", 1)
    assert header.splitlines() == [
        "Communication 001",
        "Key: extension:1",
        "Kind: extension_announcement",
        "Recorded: 2003-07-21T09:00:00-07:00",
        "First sent: 2003-07-21T09:01:00-07:00",
        "Last sent: 2003-07-21T09:04:00-07:00",
        "Recipients reached by channel: email 3, slack 1",
        "Channels: email, slack",
        "Copies queued: 5; sent: 4; failed: 1; ambiguous: 0; pending: 0",
    ]
    # Subject, body (placeholders and all) and the channel post exactly as recorded.
    assert rest == (
        "Capstone option exchange: the offer is extended\n"
        f"----- body -----\n{BODY}\n"
        f"----- announcement-channel post -----\n{POST}\n"
    )
    reminder = (out / items[1].file).read_text(encoding="utf-8")
    assert "First sent: not sent" in reminder and "Channels: none" in reminder
    assert "Copies queued: 1; sent: 0; failed: 0; ambiguous: 0; pending: 1" in reminder
    assert reminder.endswith("----- body -----\nDear {name}, two days are left.\n")
    assert "announcement-channel post" not in reminder

    rows = list(csv.DictReader(io.StringIO((out / "index.csv").read_text(encoding="utf-8"))))
    assert [(r["number"], r["key"], r["channels"], r["sent_by_channel"]) for r in rows] == [
        ("1", "extension:1", "email;slack", "email=3;slack=1"),
        ("2", "reminder:2003-07-22T16:00:00+00:00", "", "email=0"),
    ]
    assert rows[0]["has_channel_post"] == "yes" and rows[1]["first_sent_at"] == ""
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert index["count"] == 2
    first = index["communications"][0]
    assert first["channels"] == ["email", "slack"]
    assert first["sent_by_channel"] == {"email": 3, "slack": 1}
    assert (first["queued"], first["sent"], first["failed"]) == (5, 4, 1)
    assert first["subject"] == "Capstone option exchange: the offer is extended"


async def test_export_again_rewrites_the_same_bytes(uow: UnitOfWork, tmp_path: Path) -> None:
    await record_two(uow)
    out = tmp_path / "filing"
    await export_communications(uow, out, zone=PACIFIC)
    before = snapshot(out)
    await export_communications(uow, out, zone=PACIFIC)
    assert snapshot(out) == before
    # Once the reminder goes out, its file and the index change; the announcement's does not.
    async with uow:
        await uow.outbox.mark_sent(
            "reminder:2003-07-22T16:00:00+00:00:email:e1@example.com",
            at=T0 + timedelta(days=1, minutes=3),
        )
        await uow.commit()
    await export_communications(uow, out, zone=PACIFIC)
    after = snapshot(out)
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == ["002-reminder-2003-07-22.txt", "index.csv", "index.json"]


async def test_export_of_an_empty_log(uow: UnitOfWork, tmp_path: Path) -> None:
    assert await export_communications(uow, tmp_path / "empty") == []
    assert json.loads((tmp_path / "empty" / "index.json").read_text()) == {
        "count": 0,
        "communications": [],
    }
    assert (tmp_path / "empty" / "index.csv").read_text().startswith("number,file,key,kind,")
