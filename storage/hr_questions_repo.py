"""The HR console's question work: one unanswered question by id, and the question-bank
suggestions HR proposes from them (migration 0012). Reached through :func:`hr_questions` over
an open unit of work, like :func:`storage.hr_console_repo.hr_console`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.records import UnansweredQuestion
from storage.hr_console_models import HrBankSuggestionRow
from storage.models import UnansweredQuestionRow
from storage.repositories import _flush, unanswered_question

__all__ = ["BankSuggestion", "HrQuestionsRepository", "hr_questions"]


@dataclass(frozen=True, slots=True)
class BankSuggestion:
    text: str
    label: str
    status: str  # "pending" | "accepted" | "rejected"
    proposed_at: datetime
    proposed_by: str
    question_id: int | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    id: int | None = None


def _suggestion(row: HrBankSuggestionRow) -> BankSuggestion:
    return BankSuggestion(
        id=row.id,
        question_id=row.question_id,
        text=row.text,
        label=row.label,
        status=row.status,
        proposed_at=row.proposed_at,
        proposed_by=row.proposed_by,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )


@dataclass(slots=True)
class HrQuestionsRepository:
    session: AsyncSession

    async def question(self, question_id: int) -> UnansweredQuestion | None:
        row = await self.session.get(UnansweredQuestionRow, question_id)
        return None if row is None else unanswered_question(row)

    async def add_suggestion(self, s: BankSuggestion) -> int:
        row = HrBankSuggestionRow(
            question_id=s.question_id,
            text=s.text,
            label=s.label,
            status=s.status,
            proposed_at=s.proposed_at,
            proposed_by=s.proposed_by,
        )
        self.session.add(row)
        await _flush(self.session)
        return row.id

    async def suggestion(self, suggestion_id: int) -> BankSuggestion | None:
        row = await self.session.get(HrBankSuggestionRow, suggestion_id)
        return None if row is None else _suggestion(row)

    async def find_suggestion(self, text: str) -> BankSuggestion | None:
        """A pending or accepted suggestion of the same text (compared case-insensitively)."""
        row = await self.session.scalar(
            select(HrBankSuggestionRow)
            .where(
                func.lower(HrBankSuggestionRow.text) == text.lower(),
                HrBankSuggestionRow.status != "rejected",
            )
            .limit(1)
        )
        return None if row is None else _suggestion(row)

    async def decide_suggestion(
        self, suggestion_id: int, *, status: str, at: datetime, by: str
    ) -> bool:
        """Accept or reject a pending suggestion; False when there is no pending one."""
        row = await self.session.get(HrBankSuggestionRow, suggestion_id)
        if row is None or row.status != "pending":
            return False
        row.status, row.decided_at, row.decided_by = status, at, by
        await _flush(self.session)
        return True

    async def suggestions(
        self, *, status: str | None = None, limit: int = 500
    ) -> list[BankSuggestion]:
        """Newest first; ``status`` filters."""
        query = select(HrBankSuggestionRow)
        if status is not None:
            query = query.where(HrBankSuggestionRow.status == status)
        query = query.order_by(
            HrBankSuggestionRow.proposed_at.desc(), HrBankSuggestionRow.id.desc()
        ).limit(limit)
        return [_suggestion(r) for r in await self.session.scalars(query)]

    async def accepted_suggestions(self) -> list[BankSuggestion]:
        """Every accepted suggestion, by label then in the order they were proposed (the
        export's order, so exporting twice writes the same bytes)."""
        rows = await self.session.scalars(
            select(HrBankSuggestionRow)
            .where(HrBankSuggestionRow.status == "accepted")
            .order_by(HrBankSuggestionRow.label, HrBankSuggestionRow.id)
        )
        return [_suggestion(r) for r in rows]


def hr_questions(uow: Any) -> HrQuestionsRepository:
    """The repository inside ``uow``'s open transaction."""
    return HrQuestionsRepository(uow.session)
