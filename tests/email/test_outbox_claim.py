"""Claiming outbox rows: leases, attempts and the Message-IDs fixed in the leasing statement."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.domain.hr_records import Attachment, MessageKind, OutboxMessage
from bot.runtime.bootstrap import App
from handlers.email.assembly import message_id_factory
from tests.email.conftest import mail_settings, make_app

LEASE = timedelta(minutes=10)


@pytest.fixture
async def app(tmp_path: Path, clock: ManualClock) -> AsyncIterator[App]:
    made = await make_app(mail_settings(tmp_path, smtp_port=1, imap_port=None), clock)
    try:
        yield made
    finally:
        await made.aclose()


def _message(app: App, key: str, channel: str = "email", **extra: object) -> OutboxMessage:
    now = app.clock.now()
    values: dict[str, object] = {
        "idempotency_key": key,
        "channel": channel,
        "recipient": "e1@example.com" if channel == "email" else "U1",
        "kind": MessageKind.REMINDER,
        "subject": f"subject {key}",
        "body_text": f"body of {key}",
        "created_at": now,
        "due_at": now,
    }
    values.update(extra)
    return OutboxMessage(**values)  # type: ignore[arg-type]


async def _claim(
    app: App, message_id_for: Callable[[OutboxMessage], str | None], **extra: object
) -> list[OutboxMessage]:
    async with app.uow() as uow:
        claimed: list[OutboxMessage] = await uow.deliveries.claim_due(
            now=app.clock.now(),
            owner="sender-test",
            lease=LEASE,
            limit=extra.pop("limit", 50),  # type: ignore[arg-type]
            channels=extra.pop("channels", ["email", "slack"]),  # type: ignore[arg-type]
            message_id_for=message_id_for,
        )
        await uow.commit()
    return claimed


async def _stored(app: App, key: str) -> OutboxMessage:
    async with app.uow() as uow:
        found = await uow.deliveries.get(key)
    assert found is not None
    return found


async def _enqueue(app: App, *messages: OutboxMessage) -> None:
    async with app.uow() as uow:
        for m in messages:
            await uow.outbox.enqueue(m)
        await uow.commit()


async def test_each_row_gets_its_own_message_id_stored_with_the_lease(app: App) -> None:
    await _enqueue(app, *(_message(app, f"m{i}") for i in range(5)), _message(app, "dm", "slack"))
    claimed = await _claim(app, message_id_factory(app))  # type: ignore[arg-type]
    email = [m for m in claimed if m.channel == "email"]
    assert len(email) == 5 and len({m.message_id for m in email}) == 5
    for m in email:
        assert m.message_id is not None
        assert re.fullmatch(rf"<[^<>@\s]+\.{m.id}@offerbot\.test>", m.message_id)
        stored = await _stored(app, m.idempotency_key)
        assert (stored.message_id, stored.attempts, m.attempts) == (m.message_id, 1, 1)
    [dm] = [m for m in claimed if m.channel == "slack"]
    assert dm.message_id is None and (await _stored(app, "dm")).message_id is None


async def test_a_claimed_row_is_not_claimed_again_until_its_lease_is_over(
    app: App, clock: ManualClock
) -> None:
    await _enqueue(app, _message(app, "once"))
    [first] = await _claim(app, message_id_factory(app))  # type: ignore[arg-type]
    assert await _claim(app, message_id_factory(app)) == []  # type: ignore[arg-type]
    clock.advance(LEASE + timedelta(seconds=1))
    [again] = await _claim(app, message_id_factory(app))  # type: ignore[arg-type]
    assert again.message_id == first.message_id and again.attempts == 2  # kept, counted


async def test_transactional_rows_first_then_oldest_and_the_limit_holds(app: App) -> None:
    await _enqueue(
        app,
        *(_message(app, f"bulk{i}", kind=MessageKind.EXTENSION_ANNOUNCEMENT) for i in range(3)),
        _message(app, "receipt", kind=MessageKind.RECEIPT_CONFIRMATION),
    )
    claimed = await _claim(app, message_id_factory(app), limit=3)  # type: ignore[arg-type]
    assert [m.idempotency_key for m in claimed] == ["receipt", "bulk0", "bulk1"]


async def test_an_answer_not_shaped_left_at_right_is_used_as_it_is(app: App) -> None:
    await _enqueue(app, _message(app, "a"), _message(app, "b"))
    answers = iter(["custom-1", "custom-2"])
    claimed = await _claim(app, lambda _m: next(answers))
    assert [m.message_id for m in claimed] == ["custom-1", "custom-2"]
    assert [(await _stored(app, k)).message_id for k in ("a", "b")] == ["custom-1", "custom-2"]


async def test_rows_left_without_a_message_id_stay_without_one(app: App) -> None:
    """message_id_for may answer None for some rows of a channel and an id for others: the
    rows it named get theirs, the others none — in memory and in the table alike."""
    await _enqueue(app, _message(app, "skip"), _message(app, "name-me"), _message(app, "me-too"))

    def only_some(message: OutboxMessage) -> str | None:
        return None if message.idempotency_key == "skip" else "<fresh.token@offerbot.test>"

    claimed = {m.idempotency_key: m.message_id for m in await _claim(app, only_some)}
    assert claimed["skip"] is None
    assert claimed["name-me"] != claimed["me-too"]
    for key, message_id in claimed.items():
        assert (await _stored(app, key)).message_id == message_id


async def test_a_message_id_fixed_earlier_is_kept_and_attachments_come_along(app: App) -> None:
    pdf = Attachment("form.pdf", "application/pdf", b"%PDF-1.4 test")
    await _enqueue(
        app, _message(app, "fixed", message_id="<kept@offerbot.test>", attachments=(pdf,))
    )
    [claimed] = await _claim(app, message_id_factory(app))  # type: ignore[arg-type]
    assert claimed.message_id == "<kept@offerbot.test>" and claimed.attachments == (pdf,)
    assert (await _stored(app, "fixed")).message_id == "<kept@offerbot.test>"
