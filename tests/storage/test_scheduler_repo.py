"""Jobs, amendments and communications on SQLite and PostgreSQL (migration 0007)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.amendments import AmendmentKind, AmendmentStatus, OfferAmendment
from bot.domain.communications import Communication
from bot.domain.hr_records import MessageKind, OutboxMessage
from bot.domain.jobs import Job, JobState
from storage.uow import UnitOfWork

T0 = datetime(2003, 7, 10, 16, 0, tzinfo=UTC)


async def test_schedule_is_idempotent_and_replace_moves_only_pending(uow: UnitOfWork) -> None:
    async with uow:
        assert await uow.jobs.schedule(Job("r:1", "reminder", T0, {"n": 1}), now=T0)
        assert not await uow.jobs.schedule(Job("r:1", "reminder", T0, {"n": 2}), now=T0)
        await uow.commit()
    async with uow:
        job = await uow.jobs.get("r:1")
        assert job is not None and job.payload == {"n": 1}
        later = T0 + timedelta(days=1)
        assert not await uow.jobs.schedule(
            Job("r:1", "reminder", later, {"n": 3}), now=T0, replace=True
        )
        await uow.commit()
    async with uow:
        job = await uow.jobs.get("r:1")
        assert job is not None and job.due_at == T0 + timedelta(days=1) and job.payload == {"n": 3}


async def test_claim_leases_due_jobs_once_until_the_lease_runs_out(uow: UnitOfWork) -> None:
    async with uow:
        await uow.jobs.schedule(Job("a", "digest", T0), now=T0)
        await uow.jobs.schedule(Job("b", "digest", T0 + timedelta(hours=1)), now=T0)
        await uow.commit()
    async with uow:
        claimed = await uow.jobs.claim_due(now=T0, owner="w1", lease=timedelta(minutes=5))
        await uow.commit()
    assert [j.key for j in claimed] == ["a"] and claimed[0].attempts == 1
    async with uow:  # leased: nobody else gets it
        assert await uow.jobs.claim_due(now=T0, owner="w2", lease=timedelta(minutes=5)) == []
        await uow.commit()
    async with uow:  # the first runner died: after the lease, another takes it (and "b")
        again = await uow.jobs.claim_due(
            now=T0 + timedelta(hours=2), owner="w2", lease=timedelta(minutes=5)
        )
        await uow.commit()
    assert [j.key for j in again] == ["a", "b"] and again[0].attempts == 2
    async with uow:
        assert again[0].id is not None and again[1].id is not None
        await uow.jobs.complete(again[0].id, at=T0 + timedelta(hours=2))
        await uow.jobs.retry_at(again[1].id, when=T0 + timedelta(hours=3), error="smtp down")
        await uow.commit()
    async with uow:
        assert (await uow.jobs.get("a")).state is JobState.DONE  # type: ignore[union-attr]
        assert await uow.jobs.next_due() == T0 + timedelta(hours=3)
        assert (
            await uow.jobs.claim_due(
                now=T0 + timedelta(hours=2, minutes=30), owner="w3", lease=timedelta(minutes=5)
            )
            == []
        )


async def test_cancel_pending_keeps_named_keys(uow: UnitOfWork) -> None:
    async with uow:
        for key in ("reminder:x:1", "reminder:x:2", "reminder:x:3"):
            await uow.jobs.schedule(Job(key, "reminder", T0), now=T0)
        await uow.jobs.schedule(Job("digest:1", "digest", T0), now=T0)
        cancelled = await uow.jobs.cancel_pending(
            kind="reminder", key_prefix="reminder:x:", keep=["reminder:x:2"], at=T0
        )
        await uow.commit()
    assert cancelled == 2
    async with uow:
        pending = await uow.jobs.list(state=JobState.PENDING)
    assert sorted(j.key for j in pending) == ["digest:1", "reminder:x:2"]


async def test_amendment_moves_forward_only(uow: UnitOfWork) -> None:
    amendment = OfferAmendment(
        offer_id="o",
        kind=AmendmentKind.EXTENSION,
        previous_expiration=T0,
        new_expiration=T0 + timedelta(days=14),
        description="extension",
        message="",
        announce=True,
        requested_by="cli:alice",
        requested_at=T0,
        status=AmendmentStatus.AWAITING_APPROVAL,
    )
    async with uow:
        stored = await uow.amendments.add(amendment)
        await uow.commit()
    assert stored.id is not None
    async with uow:
        applied = await uow.amendments.set_status(
            stored.id, status=AmendmentStatus.APPLIED, approved_by="cli:bob", applied_at=T0
        )
        await uow.commit()
    assert applied.approved_by == "cli:bob" and applied.status is AmendmentStatus.APPLIED
    async with uow:
        with pytest.raises(ValueError, match="already applied"):
            await uow.amendments.set_status(stored.id, status=AmendmentStatus.REJECTED)
    async with uow:
        assert [a.id for a in await uow.amendments.list_all("o")] == [stored.id]


async def test_communication_kept_once_and_counted_from_outbox(uow: UnitOfWork) -> None:
    async with uow:
        comm = await uow.communications.record(
            Communication("ext:1", "extension_announcement", "Extended", "Dear {name}", T0)
        )
        again = await uow.communications.record(
            Communication("ext:1", "extension_announcement", "other", "other", T0)
        )
        assert again.id == comm.id and again.body == "Dear {name}"
        messages = [
            OutboxMessage(
                idempotency_key=f"ext:1:{i}:{channel}",
                channel=channel,
                recipient=f"e{i}@example.com" if channel == "email" else f"U{i}",
                kind=MessageKind.EXTENSION_ANNOUNCEMENT,
                subject="Extended",
                body_text=f"Dear {i}",
                created_at=T0,
                due_at=T0,
                employee_id=None,
                reference=comm.reference,
            )
            for i in range(3)
            for channel in ("email", "slack")
        ]
        assert await uow.outbox.enqueue_many(messages) == 6
        assert await uow.outbox.enqueue_many(messages) == 0  # a restarted broadcast adds nothing
        await uow.outbox.mark_sent("ext:1:0:email", at=T0 + timedelta(minutes=1))
        await uow.outbox.mark_sent("ext:1:1:email", at=T0 + timedelta(minutes=2))
        await uow.commit()
    async with uow:
        stats = (await uow.communications.stats([comm.reference]))[comm.reference]
    assert (stats.queued, stats.sent, stats.failed) == (6, 2, 0)
    assert stats.by_channel == {"email": 2, "slack": 0}
    assert stats.first_sent_at == T0 + timedelta(minutes=1)
    assert stats.last_sent_at == T0 + timedelta(minutes=2)
