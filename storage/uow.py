"""The unit of work: one session, one transaction, the repositories over it.

It implements the Protocol the services are typed against, :class:`bot.ports.UnitOfWork`
(``bot/storage_ports.py``); mypy checks that it does where the composition root hands it out
(``bot.runtime.bootstrap.App.uow``), and ``tests/storage/test_uow_contract.py`` checks it at run
time.

::

    uow = UnitOfWork(sessions)
    async with uow:
        await uow.employees.upsert_many(employees)
        await uow.audit.record(entry)
        await uow.commit()          # without this, leaving the block rolls everything back

A ``UnitOfWork`` object is a reusable recipe: each ``async with`` opens a fresh session. The
open session belongs to the asyncio task that entered the block (it is kept in a context
variable), so one object can be shared by concurrent handlers without them sharing a session.
Entering it again inside its own block raises :class:`~storage.errors.UnitOfWorkError`.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.records import OfferState
from storage.audience_repo import AudienceRepository
from storage.close_repo import CloseRunRepository
from storage.elections_repo import (
    AcceptedTenderRepository,
    ElectionRepository,
    HrTaskRepository,
    OutboxRepository,
)
from storage.errors import ConstraintViolationError, UnitOfWorkError, WriteConflictError
from storage.mail_repo import DeliveryRepository, InboxRepository
from storage.metrics_repo import MetricsRepository
from storage.offer_reads import WRITTEN as OFFER_STATE_WRITTEN
from storage.offer_reads import (
    QuickReadUnavailableError,
    offer_state_committed,
    offer_state_reads,
)
from storage.repositories import (
    AdjustmentRepository,
    AuditRepository,
    EmployeeRepository,
    GrantRepository,
    OfferStateRepository,
    QuestionRepository,
    is_lock_error,
)
from storage.scheduler_repo import AmendmentRepository, CommunicationRepository, JobRepository
from storage.slack_repo import SlackEventRepository, SlackUserRepository

__all__ = ["UnitOfWork"]


@dataclass(frozen=True, slots=True)
class _Open:
    session: AsyncSession
    offers: OfferStateRepository
    employees: EmployeeRepository
    grants: GrantRepository
    adjustments: AdjustmentRepository
    audit: AuditRepository
    questions: QuestionRepository
    elections: ElectionRepository
    hr_tasks: HrTaskRepository
    outbox: OutboxRepository
    accepted: AcceptedTenderRepository
    deliveries: DeliveryRepository
    inbox: InboxRepository
    jobs: JobRepository
    amendments: AmendmentRepository
    communications: CommunicationRepository
    audience: AudienceRepository
    metrics: MetricsRepository
    close_runs: CloseRunRepository
    slack_events: SlackEventRepository
    slack_users: SlackUserRepository

    @classmethod
    def over(cls, session: AsyncSession) -> _Open:
        return cls(
            session=session,
            offers=OfferStateRepository(session),
            employees=EmployeeRepository(session),
            grants=GrantRepository(session),
            adjustments=AdjustmentRepository(session),
            audit=AuditRepository(session),
            questions=QuestionRepository(session),
            elections=ElectionRepository(session),
            hr_tasks=HrTaskRepository(session),
            outbox=OutboxRepository(session),
            accepted=AcceptedTenderRepository(session),
            deliveries=DeliveryRepository(session),
            inbox=InboxRepository(session),
            jobs=JobRepository(session),
            amendments=AmendmentRepository(session),
            communications=CommunicationRepository(session),
            audience=AudienceRepository(session),
            metrics=MetricsRepository(session),
            close_runs=CloseRunRepository(session),
            slack_events=SlackEventRepository(session),
            slack_users=SlackUserRepository(session),
        )


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._current: ContextVar[_Open | None] = ContextVar(f"uow-{id(self):x}", default=None)
        self._tokens: ContextVar[Token[_Open | None] | None] = ContextVar(
            f"uow-token-{id(self):x}", default=None
        )

    async def __aenter__(self) -> UnitOfWork:
        if self._current.get() is not None:
            raise UnitOfWorkError("this unit of work is already open in this task")
        session = self._sessions()
        await session.begin()
        self._tokens.set(self._current.set(_Open.over(session)))
        return self

    def reads_beside_writes(self) -> bool:
        """True on PostgreSQL, where a block opened by another task (its own connection, its
        own server process) runs while this process's writes are at the database. False on
        SQLite: every block takes the one write lock at ``BEGIN`` (``storage.db``), and a
        deferred reader beside the writer was measured slower, not faster (the two connections
        invalidate each other's page cache; a reminder round took ~1 s longer)."""
        bind = self._sessions.kw.get("bind")
        return bind is not None and bind.dialect.name == "postgresql"

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        state = self._current.get()
        token = self._tokens.get()
        try:
            if state is not None:
                try:
                    await state.session.rollback()  # whatever was not committed
                finally:
                    await state.session.close()
        finally:
            self._tokens.set(None)
            if token is None:
                self._current.set(None)
            else:
                try:
                    self._current.reset(token)
                except ValueError:  # exited in another context than entered (a test fixture)
                    self._current.set(None)

    async def commit(self) -> None:
        """Make everything done in this block durable. The block may go on with new work."""
        session = self._open().session
        try:
            await session.commit()
        except IntegrityError as error:
            raise ConstraintViolationError(f"rejected by the database: {error.orig}") from error
        except OperationalError as error:
            if is_lock_error(error):
                raise WriteConflictError(f"a concurrent write won: {error.orig}") from error
            raise
        if session.info.pop(OFFER_STATE_WRITTEN, False):
            offer_state_committed()

    async def rollback(self) -> None:
        """Discard everything since the last commit; the block may go on with new work."""
        session = self._open().session
        session.info.pop(OFFER_STATE_WRITTEN, None)
        await session.rollback()

    async def read_offer_state(
        self, offer_id: str, *, for_question: bool = False
    ) -> OfferState | None:
        """The offer's committed state, in one statement and no transaction when no block is
        open (:mod:`storage.offer_reads`; ``for_question``: its kept copy where trusted);
        inside an open block, the block's own view. Falls back to a block of its own when the
        quick read cannot run (SQLite busy, a lost connection), which waits its turn as every
        unit of work does."""
        if self._current.get() is not None:
            return await self.offers.get(offer_id)
        reads = offer_state_reads(self._sessions)
        if reads is not None:
            try:
                return await reads.get(offer_id, cached=for_question)
            except QuickReadUnavailableError:
                pass
        async with self:
            return await self.offers.get(offer_id)

    @property
    def session(self) -> AsyncSession:
        """The open session, for repositories inside ``storage/`` only."""
        return self._open().session

    @property
    def offers(self) -> OfferStateRepository:
        return self._open().offers

    @property
    def employees(self) -> EmployeeRepository:
        return self._open().employees

    @property
    def grants(self) -> GrantRepository:
        return self._open().grants

    @property
    def adjustments(self) -> AdjustmentRepository:
        return self._open().adjustments

    @property
    def audit(self) -> AuditRepository:
        return self._open().audit

    @property
    def questions(self) -> QuestionRepository:
        return self._open().questions

    @property
    def elections(self) -> ElectionRepository:
        return self._open().elections

    @property
    def hr_tasks(self) -> HrTaskRepository:
        return self._open().hr_tasks

    @property
    def outbox(self) -> OutboxRepository:
        return self._open().outbox

    @property
    def accepted(self) -> AcceptedTenderRepository:
        return self._open().accepted

    @property
    def deliveries(self) -> DeliveryRepository:
        return self._open().deliveries

    @property
    def inbox(self) -> InboxRepository:
        return self._open().inbox

    @property
    def jobs(self) -> JobRepository:
        return self._open().jobs

    @property
    def amendments(self) -> AmendmentRepository:
        return self._open().amendments

    @property
    def communications(self) -> CommunicationRepository:
        return self._open().communications

    @property
    def audience(self) -> AudienceRepository:
        """Bulk reads of the whole roster (reminders, broadcasts)."""
        return self._open().audience

    @property
    def metrics(self) -> MetricsRepository:
        """Counts for operations and the database ping of ``/healthz``."""
        return self._open().metrics

    @property
    def close_runs(self) -> CloseRunRepository:
        """``hr close``: the run's durable progress and each batch's bulk reads and writes."""
        return self._open().close_runs

    @property
    def slack_events(self) -> SlackEventRepository:
        """Handled Slack deliveries (dedupe) and event replies waiting to be posted."""
        return self._open().slack_events

    @property
    def slack_users(self) -> SlackUserRepository:
        """The Slack user → roster cache and the bot's DM channels."""
        return self._open().slack_users

    def _open(self) -> _Open:
        state = self._current.get()
        if state is None:
            raise UnitOfWorkError("use the unit of work inside `async with uow:`")
        return state
