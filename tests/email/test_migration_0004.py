"""Migration 0004 keeps queued messages and their attachments (SQLite rebuilds the outbox)."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import create_engine
from storage.migrate import upgrade


async def test_0004_keeps_outbox_rows_and_attachments(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine, "0003")
        async with engine.begin() as c:
            await c.execute(
                text(
                    "INSERT INTO outbox (id, idempotency_key, channel, recipient, kind, subject, "
                    "body_text, created_at, due_at, sent_at, attempts) VALUES "
                    "(7, 'k1', 'email', 'a@example.com', 'hr_notice', 's', 'b', "
                    "'2003-07-10 16:00:00', '2003-07-10 16:00:00', NULL, 0), "
                    "(8, 'k2', 'email', 'a@example.com', 'hr_notice', 's', 'b', "
                    "'2003-07-10 16:00:00', '2003-07-10 16:00:00', '2003-07-10 16:01:00', 1)"
                )
            )
            await c.execute(
                text(
                    "INSERT INTO outbox_attachments (message_id, filename, content_type, content) "
                    "VALUES (7, 'f.pdf', 'application/pdf', :pdf)"
                ),
                {"pdf": b"%PDF-1.4"},
            )
        await upgrade(engine)
        async with engine.connect() as c:
            rows = (
                await c.execute(
                    text(  # through head: the delivery state is apart since 0014
                        "SELECT o.id, d.state, d.next_attempt_at = o.due_at FROM outbox o "
                        "JOIN outbox_delivery d ON d.id = o.id ORDER BY o.id"
                    )
                )
            ).all()
            attachments = (
                await c.execute(text("SELECT message_id, content FROM outbox_attachments"))
            ).all()
        assert [(r[0], r[1], bool(r[2])) for r in rows] == [
            (7, "pending", True),
            (8, "sent", True),
        ]
        assert [(a[0], bytes(a[1])) for a in attachments] == [(7, b"%PDF-1.4")]
    finally:
        await engine.dispose()
