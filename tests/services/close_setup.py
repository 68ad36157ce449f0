"""What the ``hr close`` tests share: a letter sink that keeps the PDFs in memory (the CLI's is a
folder) and a signer."""

from __future__ import annotations

from datetime import datetime

from bot.domain.terms import OfferTerms
from bot.services import elections
from bot.services.elections.close import CloseResult
from bot.services.identity import Identity
from knowledge.offer_terms import OfferSigner
from storage.uow import UnitOfWork

SIGNER = OfferSigner(name="Wade Welch", title="VP Finance")


class MemoryLetters:
    """Letters by file name; ``writes`` counts every write (a rerun rewrites a name)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.writes = 0
        self.flushes = 0

    def write(self, filename: str, content: bytes) -> None:
        self.files[filename] = content
        self.writes += 1

    def flush(self) -> None:
        self.flushes += 1


async def close(
    uow: UnitOfWork,
    terms: OfferTerms,
    *,
    identity: Identity,
    now: datetime,
    letters: MemoryLetters | None = None,
    batch_size: int = 250,
) -> CloseResult:
    return await elections.close_offer(
        uow=uow,
        terms=terms,
        identity=identity,
        now=now,
        signer=SIGNER,
        letters=letters if letters is not None else MemoryLetters(),
        batch_size=batch_size,
    )
