"""The durable record of an ``offerbot hr close`` run (migration 0010).

Imported at the end of :mod:`storage.models` so it belongs to the one ``Base.metadata``. One
row per run: when it started, who ran it and who signs its letters (so a resumed run signs and
dates every letter the same way), how far it got (``cursor``: the last employee id of the last
committed batch, and the running counts), and when it finished. Each batch's letters, accepted
tenders and audit rows commit in the same transaction as the row's new cursor, so after a crash
or ``kill -9`` the next ``hr close`` starts right after the last committed batch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.model_base import ID, TEXT, Base

__all__ = ["CloseRunRow"]


class CloseRunRow(Base):
    __tablename__ = "close_runs"
    __table_args__ = (
        CheckConstraint("batch_size > 0", name="batch_size_positive"),
        Index(None, "offer_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    offer_id: Mapped[str] = mapped_column(String(ID))
    started_at: Mapped[datetime]
    issued_at: Mapped[datetime]  # printed on every letter of the run (and of a rerun)
    actor: Mapped[str] = mapped_column(String(TEXT))
    signer_name: Mapped[str] = mapped_column(String(TEXT))
    signer_title: Mapped[str] = mapped_column(String(TEXT))
    signer_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    batch_size: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)  # employees with a received form at the start
    cursor: Mapped[str | None] = mapped_column(String(ID))  # last employee id done
    done: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    letters: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
