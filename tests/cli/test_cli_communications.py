"""`offerbot hr communications --out DIR` as HR runs it (in this process, :mod:`tests.cli.runner`)
over a SQLite file that holds communications and their outbox copies."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.communications import Communication
from bot.domain.hr_records import MessageKind, OutboxMessage
from storage.db import create_engine, session_factory
from storage.uow import UnitOfWork
from tests.cli.runner import offerbot

T0 = datetime(2003, 7, 21, 16, 0, tzinfo=UTC)


async def _record(db: Path) -> None:
    """What the extension flow leaves behind: the template once, a copy per person, delivered."""
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    uow = UnitOfWork(session_factory(engine))
    try:
        async with uow:
            comm = await uow.communications.record(
                Communication(
                    key="extension:1",
                    kind="extension_announcement",
                    subject="The offer is extended",
                    body="Dear {name},\nthe offer now expires on July 31, 2003.",
                    created_at=T0,
                    channel_post="The offer is extended to July 31, 2003.",
                )
            )
            people = [("email", "e1@example.com"), ("email", "e2@example.com"), ("slack", "U1")]
            await uow.outbox.enqueue_many(
                OutboxMessage(
                    idempotency_key=f"extension:1:{channel}:{to}",
                    channel=channel,
                    recipient=to,
                    kind=MessageKind.EXTENSION_ANNOUNCEMENT,
                    subject=comm.subject,
                    body_text=comm.body,
                    created_at=T0,
                    due_at=T0,
                    reference=comm.reference,
                )
                for channel, to in people
            )
            for n, (channel, to) in enumerate(people):
                await uow.outbox.mark_sent(
                    f"extension:1:{channel}:{to}", at=T0 + timedelta(minutes=n)
                )
            await uow.commit()
    finally:
        await engine.dispose()


def test_hr_communications_exports_the_log_idempotently(tmp_path: Path) -> None:
    offerbot(tmp_path, "init", "--json")
    asyncio.run(_record(tmp_path / ".offerbot" / "offerbot.db"))
    out = tmp_path / "filing"

    data = json.loads(
        offerbot(tmp_path, "hr", "communications", "--out", str(out), "--json").stdout
    )
    assert data["count"] == 1 and data["index"] == ["index.csv", "index.json"]
    [row] = data["communications"]
    assert row["file"] == "001-extension_announcement-2003-07-21.txt"
    assert row["channels"] == ["email", "slack"] and row["sent"] == row["queued"] == 3
    assert row["first_sent_at"] == "2003-07-21T09:00:00-07:00"  # the offer's zone
    text = (out / row["file"]).read_text(encoding="utf-8")
    assert "Key: extension:1" in text and "Recipients reached by channel: email 2, slack 1" in text
    assert "Dear {name},\nthe offer now expires on July 31, 2003.\n" in text
    assert "----- announcement-channel post -----\nThe offer is extended" in text
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(first) == [row["file"], "index.csv", "index.json"]

    again = offerbot(tmp_path, "hr", "communications", "--out", str(out))
    assert "Wrote 1 communication(s)" in again.stdout
    assert "sent 3 of 3 (email, slack)" in again.stdout
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
