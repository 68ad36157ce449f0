"""The background work of a running offerbot: read the mailbox, run due jobs, drain the outbox.

``offerbot worker --once`` runs one pass and exits (tests, cron); ``offerbot run`` and
``offerbot serve`` run :func:`run_worker` until ``stop`` is set, next to the Slack listener.
"""

from __future__ import annotations

import asyncio

from bot.bootstrap import App

__all__ = ["run_worker"]


async def run_worker(app: App, *, once: bool = False, stop: asyncio.Event | None = None) -> None:
    """One pass (``once``) or passes until ``stop`` is set. Nothing to do yet."""
    if once:
        return
    await (stop or asyncio.Event()).wait()
