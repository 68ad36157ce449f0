"""The composition root: the one place that turns :class:`Settings` into running parts.

Nothing is created at import time. Tests call :func:`build` with their own settings and clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import SimulatedClock, SystemClock
from bot.config import Settings
from bot.domain.terms import OfferTerms
from bot.ports import Clock
from bot.services.conversation import ConversationDeps
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms, terms_digest
from storage.db import create_engine, session_factory
from storage.uow import UnitOfWork

__all__ = ["App", "build", "build_clock"]


def build_clock(settings: Settings) -> Clock:
    if settings.now is not None:
        return SimulatedClock(settings.now)
    return SystemClock()


@dataclass
class App:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    offer_dir: Path
    base_terms: OfferTerms
    terms_digest: str

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    def conversation(self) -> ConversationDeps:
        return ConversationDeps(
            uow=self.uow(), clock=self.clock, base_terms=self.base_terms, offer_dir=self.offer_dir
        )

    async def aclose(self) -> None:
        await self.engine.dispose()


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> App:
    settings = settings or Settings()
    offer_dir = settings.offer_dir or bundled_offer_dir()
    engine = create_engine(settings.database_url)
    return App(
        settings=settings,
        clock=clock or build_clock(settings),
        engine=engine,
        sessions=session_factory(engine),
        offer_dir=offer_dir,
        base_terms=load_offer_terms(offer_dir),
        terms_digest=terms_digest(offer_dir),
    )
