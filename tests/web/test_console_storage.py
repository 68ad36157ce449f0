"""The console's accounts, sessions, sign-in limits and answered questions on both backends
(SQLite and PostgreSQL), through the services the pages call."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import parse_instant
from bot.domain.records import AuditEntry, UnansweredQuestion
from bot.services.errors import InvalidRequestError
from bot.services.hr.web_accounts import (
    SignInRefusedError,
    add_account,
    remove_account,
    session_user,
    sign_in,
)
from bot.services.identity import Identity
from storage.hr_console_repo import hr_console
from storage.uow import UnitOfWork

NOW = parse_instant("2003-07-10T09:00:00-07:00")
CLI = Identity(channel="cli", actor="cli:test")
IDLE = timedelta(minutes=30)


async def test_accounts_sessions_idle_and_removal(uow: UnitOfWork) -> None:
    assert await add_account(
        uow=uow, email=" HR@Example.com ", role="admin", password="pw-123456789", actor=CLI,
        now=NOW,
    )  # fmt: skip
    with pytest.raises(InvalidRequestError, match="admin or viewer"):
        await add_account(
            uow=uow, email="x@example.com", role="root", password="pw-123456789", actor=CLI,
            now=NOW,
        )  # fmt: skip
    opened = await sign_in(
        uow=uow, email="hr@example.com", password="pw-123456789", address="127.0.0.1",
        now=NOW, max_failures=5,
    )  # fmt: skip
    assert opened.user.email == "hr@example.com" and opened.user.is_admin
    live = await session_user(uow=uow, token=opened.token, now=NOW + IDLE, idle=IDLE)
    assert live is not None and live.csrf_token == opened.csrf_token
    # seen at NOW + 30 min: still alive 30 minutes after that, gone after 31
    assert await session_user(uow=uow, token=opened.token, now=NOW + 2 * IDLE, idle=IDLE)
    assert await session_user(uow=uow, token="forged", now=NOW, idle=IDLE) is None
    # a new password ends the account's sessions
    await add_account(
        uow=uow, email="hr@example.com", role="viewer", password="pw-new-password", actor=CLI,
        now=NOW,
    )  # fmt: skip
    assert await session_user(uow=uow, token=opened.token, now=NOW, idle=IDLE) is None
    again = await sign_in(
        uow=uow, email="hr@example.com", password="pw-new-password", address="127.0.0.1",
        now=NOW, max_failures=5,
    )  # fmt: skip
    assert not again.user.is_admin
    assert await remove_account(uow=uow, email="hr@example.com", actor=CLI, now=NOW)
    assert await session_user(uow=uow, token=again.token, now=NOW, idle=IDLE) is None


async def test_failed_sign_ins_per_account_and_per_address(uow: UnitOfWork) -> None:
    for email in ("a@example.com", "b@example.com"):
        await add_account(
            uow=uow, email=email, role="viewer", password="pw-123456789", actor=CLI, now=NOW
        )
    for n in range(2):
        with pytest.raises(SignInRefusedError, match="do not match"):
            await sign_in(
                uow=uow, email="a@example.com", password="nope", address="10.0.0.1",
                now=NOW + timedelta(seconds=n), max_failures=2,
            )  # fmt: skip
    with pytest.raises(SignInRefusedError, match="Too many failed sign-ins"):
        await sign_in(
            uow=uow, email="a@example.com", password="pw-123456789", address="10.0.0.2",
            now=NOW, max_failures=2,
        )  # fmt: skip
    # an unknown account counts against the address: 8 = 2 × 4 failures from 10.0.0.9
    for n in range(8):
        with pytest.raises(SignInRefusedError, match="do not match"):
            await sign_in(
                uow=uow, email=f"nobody{n}@example.com", password="x", address="10.0.0.9",
                now=NOW, max_failures=2,
            )  # fmt: skip
    with pytest.raises(SignInRefusedError, match="Too many"):
        await sign_in(
            uow=uow, email="b@example.com", password="pw-123456789", address="10.0.0.9",
            now=NOW, max_failures=2,
        )  # fmt: skip
    later = NOW + timedelta(minutes=16)
    assert await sign_in(
        uow=uow, email="a@example.com", password="pw-123456789", address="10.0.0.9",
        now=later, max_failures=2,
    )  # fmt: skip


async def test_questions_answered_and_who_saw_their_grants(uow: UnitOfWork) -> None:
    async with uow:
        ids = [
            await uow.questions.record_unanswered(
                UnansweredQuestion(
                    asked_at=NOW + timedelta(minutes=n),
                    channel="email",
                    actor="a@example.com",
                    question=f"q{n}",
                    confidence=0.2,
                )
            )
            for n in range(3)
        ]
        for channel, subject in (("slack", "E1"), ("email", "E2"), ("cli", "E3"), ("slack", "E1")):
            await uow.audit.record(
                AuditEntry(at=NOW, actor="x", action="grants.view", channel=channel,
                           subject=subject, detail={})
            )  # fmt: skip
        await uow.commit()
    async with uow:
        repo = hr_console(uow)
        assert await repo.mark_answered(ids[0], at=NOW, by="web:hr@example.com")
        assert not await repo.mark_answered(ids[0], at=NOW, by="web:hr@example.com")
        assert not await repo.mark_answered(999_999, at=NOW, by="web:hr@example.com")
        await uow.commit()
    async with uow:
        repo = hr_console(uow)
        assert await repo.answered_question_ids() == {ids[0]}
        assert await repo.open_questions_since(NOW + timedelta(minutes=1)) == 2
        seen = await repo.employees_with_action("grants.view", excluding_channels={"cli"})
    assert seen == {"E1", "E2"}
