"""The progress record of one ``offerbot hr close`` run (pure data; storage keeps it durable).

A close accepts tenders in batches, each committed with the run's new ``cursor`` (the last
employee id it handled, employees taken in id order), so a run that stopped — a crash, a
``kill -9``, a lost database connection — resumes after the last committed batch and never
issues a letter twice. The issue time and the signer are fixed when the run starts, so a
resumed run's letters read exactly as the first batch's did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["CloseRun"]


@dataclass(frozen=True, slots=True)
class CloseRun:
    offer_id: str
    started_at: datetime
    issued_at: datetime  # the date on every letter; a rerun after a finished run keeps it
    actor: str
    signer_name: str
    signer_title: str
    signer_demo: bool
    batch_size: int
    total: int  # employees with a received form when the run started
    id: int | None = None
    cursor: str | None = None
    done: int = 0  # employees handled so far
    batches: int = 0
    accepted: int = 0  # employees whose tender was accepted
    rejected: int = 0
    withdrawn: int = 0
    letters: int = 0  # Promise to Grant letters queued (one per accepted employee)
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None
