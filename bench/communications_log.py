"""The HR console's communications log at scale: server time of ``GET /hr/communications`` and
of the per-message CSV download with ``--messages`` outbox rows.

Builds a fresh database (SQLite, or PostgreSQL: a throwaway server, or OFFERBOT_BENCH_PG_URL),
records 30 reminder rounds and one extension announcement and queues ``--messages`` outbox
copies (90% of them marked delivered, 1% failed), plus transactional notices, signs in over
loopback HTTP and times the page (first and a later page of groups) and the full download.
Prints p50/p95 (milliseconds, client-side over loopback). Issue 16 asks that the page stay
fast with 100,000 outbox rows.

    python -m bench.communications_log --db postgresql --messages 100000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

from bench.databases import Databases
from bench.hr_console import NOW, time_console_gets
from bot.clock import ManualClock, parse_instant
from bot.config import Settings
from bot.domain.communications import Communication
from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.runtime.bootstrap import App, build
from bot.services.hr.web_accounts import add_account
from bot.services.identity import Identity
from storage.migrate import upgrade

PAGES = ("/hr/communications", "/hr/communications?start=20")
DOWNLOAD = "/hr/communications/delivery-log.csv"
ROUNDS = 31
_KINDS = (MessageKind.RECEIPT_CONFIRMATION, MessageKind.INTENT_CONFIRMATION, MessageKind.HR_NOTICE)


async def _fill(app: App, messages: int) -> None:
    now = app.clock.now()
    bulk = int(messages * 0.9)
    per_round = bulk // ROUNDS
    rows: list[OutboxMessage] = []
    async with app.uow() as uow:
        refs = []
        for n in range(ROUNDS):
            kind = "extension_announcement" if n == ROUNDS - 1 else "reminder"
            c = await uow.communications.record(
                Communication(
                    key=f"{kind}:{n}", kind=kind, subject=f"Round {n}", body="Hello {name}",
                    created_at=now - timedelta(days=ROUNDS - n),
                )
            )  # fmt: skip
            refs.append((c.reference, kind, c.created_at))
        await uow.commit()
    for n in range(messages):
        if n < per_round * ROUNDS:
            ref, kind, at = refs[n // per_round]
            mk = MessageKind(kind)
        else:
            ref, mk, at = None, _KINDS[n % 3], now - timedelta(minutes=n % 5000)
        rows.append(
            OutboxMessage(
                idempotency_key=f"bench:{n}", channel="email" if n % 4 else "slack",
                recipient=f"e{n % 20000}@example.com", kind=mk, subject="s", body_text="b" * 400,
                created_at=at, due_at=at, employee_id=f"E{10000 + n % 20000}", reference=ref,
            )
        )  # fmt: skip
    for start in range(0, len(rows), 5000):
        async with app.uow() as uow:
            await uow.outbox.enqueue_many(rows[start : start + 5000])
            await uow.commit()
    from sqlalchemy import update

    from storage.outbox_models import OutboxDeliveryRow as Delivery

    async with app.uow() as uow:  # delivery outcomes in bulk (the sender's own path is per row)
        session = uow.session  # type: ignore[attr-defined]
        sent = DeliveryState.SENT.value
        # the delivery state has its own table (migration 0014): update it, not the join
        await session.execute(
            update(Delivery).where(Delivery.id % 10 != 0).values(state=sent, sent_at=now)
        )
        failed = DeliveryState.FAILED.value
        await session.execute(update(Delivery).where(Delivery.id % 100 == 0).values(state=failed))
        await uow.commit()


async def measure(backend: str, messages: int, requests: int) -> dict[str, tuple[float, float]]:
    async with (
        Databases(Path(tempfile.mkdtemp(prefix="bench-comms-"))) as databases,
        databases.fresh(backend, "comms-log") as url,
    ):
        settings = Settings(_env_file=None, database_url=url, hr_console_secure_cookie=False)  # type: ignore[call-arg]
        clock = ManualClock(parse_instant(NOW))
        app = build(settings, clock=clock)
        try:
            await upgrade(app.engine)
            await _fill(app, messages)
            await add_account(
                uow=app.uow(), email="bench@example.com", role="viewer",
                password="bench-password-1", actor=Identity("cli", "bench"), now=clock.now(),
            )  # fmt: skip
            return await _time(app, requests)
        finally:
            await app.aclose()


async def _time(app: App, requests: int) -> dict[str, tuple[float, float]]:
    plan = [*((p, requests) for p in PAGES), (DOWNLOAD, max(3, requests // 5))]
    timed = await time_console_gets(app, plan)
    return {f"{path} ({size:,} bytes)": (p50, p95) for path, (p50, p95, size) in timed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    results = asyncio.run(measure(args.db, args.messages, args.requests))
    print(f"Communications log, {args.messages:,} outbox rows, {args.db}")
    for path, (p50, p95) in results.items():
        print(f"  GET {path:<62} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")


if __name__ == "__main__":
    main()
