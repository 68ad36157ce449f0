"""The storage contract: the unit of work and the repositories it exposes, as Protocols.

Services take ``uow: UnitOfWork`` (re-exported by :mod:`bot.ports`) and reach the database only
through it::

    async with uow:
        employee = await uow.employees.get(employee_id)
        await uow.audit.record(entry)
        await uow.commit()          # without this, leaving the block rolls everything back

Why Protocols: mypy checks every ``uow.<repository>.<method>(…)`` call in the services against
these signatures, and :class:`storage.uow.UnitOfWork` against the Protocol where the
composition root hands it out (``bot.runtime.bootstrap.App.uow``), so a renamed or missing
repository
method fails ``mypy`` instead of a request at run time. Each Protocol lists only what code
outside ``storage/`` calls; the concrete repositories (named in each docstring) may have more
for tests and for ``storage/`` itself. The types they take and return are domain values
(``bot.domain``), except three small read records still defined beside their repository
(:class:`~storage.audience_repo.IntentHead`, :class:`~storage.metrics_repo.StoredCounts`,
:class:`~storage.close_repo.BatchInputs`), imported for type checking only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from bot.domain.amendments import AmendmentStatus, OfferAmendment
    from bot.domain.close_run import CloseRun
    from bot.domain.communications import Communication, CommunicationStats, PersonalCopy
    from bot.domain.elections import ElectionIntent, FormReceipt
    from bot.domain.hr_records import (
        AcceptedTender,
        DeliveryState,
        HrTask,
        MessageKind,
        OutboxMessage,
        TaskStatus,
    )
    from bot.domain.jobs import Job, JobState
    from bot.domain.mail_records import ImapPosition, InboundRecord
    from bot.domain.records import AuditEntry, OfferState, UnansweredQuestion, UpsertCounts
    from bot.domain.roster import CapitalizationAdjustment, Employee, Grant
    from bot.domain.slack_records import (
        SlackDelivery,
        SlackDeliveryState,
        SlackPost,
        SlackUser,
        Takeover,
    )
    from storage.audience_repo import IntentHead, RosterPage
    from storage.close_repo import BatchInputs
    from storage.metrics_repo import StoredCounts

__all__ = [
    "AcceptedTenders",
    "Adjustments",
    "Amendments",
    "Audience",
    "AuditLog",
    "CloseRuns",
    "Communications",
    "Deliveries",
    "Elections",
    "Employees",
    "Grants",
    "HrTasks",
    "Inbox",
    "Jobs",
    "Metrics",
    "OfferStates",
    "Outbox",
    "SlackEvents",
    "SlackUsers",
    "UnansweredQuestions",
    "UnitOfWork",
]


class UnitOfWork(Protocol):
    """One transaction over the repositories; implemented by :class:`storage.uow.UnitOfWork`.

    ``async with uow:`` opens it (a fresh session each time; the open one belongs to the
    asyncio task that entered); :meth:`commit` makes the work durable (raises
    :class:`~storage.errors.ConstraintViolationError` or
    :class:`~storage.errors.WriteConflictError`); leaving the block rolls back whatever was not
    committed. The repositories are reachable only inside the block.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def reads_beside_writes(self) -> bool:
        """Does a block opened by another task run alongside this process's writes? (PostgreSQL:
        yes, so a long job may read its next page meanwhile; SQLite: no, one write lock.)"""
        ...

    async def commit(self) -> None:
        """Make everything done in this block durable; the block may go on with new work."""
        ...

    async def rollback(self) -> None:
        """Discard everything since the last commit; the block may go on with new work."""
        ...

    async def read_offer_state(
        self, offer_id: str, *, for_question: bool = False
    ) -> OfferState | None:
        """The offer's latest committed state, read in one statement outside any block (no
        transaction, no write lock); inside a block, its view. ``for_question``: answering a
        question, which may use the copy kept while the database notifies every change
        (PostgreSQL, ``storage/offer_reads.py``); never for anything that decides."""
        ...

    @property
    def offers(self) -> OfferStates: ...

    @property
    def employees(self) -> Employees: ...

    @property
    def grants(self) -> Grants: ...

    @property
    def adjustments(self) -> Adjustments: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def questions(self) -> UnansweredQuestions: ...

    @property
    def elections(self) -> Elections: ...

    @property
    def hr_tasks(self) -> HrTasks: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def accepted(self) -> AcceptedTenders: ...

    @property
    def deliveries(self) -> Deliveries: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def amendments(self) -> Amendments: ...

    @property
    def communications(self) -> Communications: ...

    @property
    def audience(self) -> Audience: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def close_runs(self) -> CloseRuns: ...

    @property
    def slack_events(self) -> SlackEvents: ...

    @property
    def slack_users(self) -> SlackUsers: ...


class OfferStates(Protocol):
    """``uow.offers`` (:class:`storage.repositories.OfferStateRepository`)."""

    async def get(self, offer_id: str) -> OfferState | None: ...

    async def lock(self, offer_id: str) -> OfferState | None:
        """The state, locked until the transaction ends (``SELECT … FOR UPDATE`` on PostgreSQL)."""
        ...

    async def save(self, state: OfferState) -> None:
        """Insert or replace the state of ``state.offer_id``."""
        ...


class Employees(Protocol):
    """``uow.employees`` (:class:`storage.repositories.EmployeeRepository`)."""

    async def get(self, employee_id: str) -> Employee | None: ...

    async def by_email(self, email: str) -> Employee | None:
        """Case-insensitive and blind to surrounding spaces."""
        ...

    async def by_slack_user_id(self, slack_user_id: str) -> Employee | None: ...

    async def get_many(self, ids: Iterable[str]) -> dict[str, Employee]:
        """The employees among ``ids``, by id, in one query."""
        ...

    async def list_all(self) -> list[Employee]: ...

    async def upsert_many(
        self, employees: Iterable[Employee], *, progress: Callable[[int], None] | None = ...
    ) -> UpsertCounts:
        """Insert new employees, update changed ones, leave equal ones alone (and count each)."""
        ...


class Grants(Protocol):
    """``uow.grants`` (:class:`storage.repositories.GrantRepository`)."""

    async def get(self, grant_number: str) -> Grant | None: ...

    async def for_employee(self, employee_id: str) -> list[Grant]: ...

    async def list_all(self) -> list[Grant]:
        """Every grant, by employee, then grant date and number."""
        ...

    async def upsert_many(
        self, grants: Iterable[Grant], *, progress: Callable[[int], None] | None = ...
    ) -> UpsertCounts:
        """Insert new grants, update changed ones, leave equal ones alone (and count each);
        ``progress`` as for :meth:`EmployeeRepository.upsert_many`."""
        ...


class Adjustments(Protocol):
    """``uow.adjustments`` (:class:`storage.repositories.AdjustmentRepository`)."""

    async def list_all(self) -> list[CapitalizationAdjustment]:
        """Oldest first, the order in which they apply."""
        ...

    async def add(self, adjustment: CapitalizationAdjustment) -> None: ...


class AuditLog(Protocol):
    """``uow.audit`` (:class:`storage.repositories.AuditRepository`)."""

    async def record(self, entry: AuditEntry) -> None: ...

    async def recent(self, limit: int = ..., subject: str | None = ...) -> list[AuditEntry]:
        """Newest first; only entries about ``subject`` when given."""
        ...

    async def with_action(self, action: str, *, before: datetime | None = ...) -> list[AuditEntry]:
        """Entries of one ``action`` (earlier than ``before`` when given), oldest first."""
        ...


class UnansweredQuestions(Protocol):
    """``uow.questions`` (:class:`storage.repositories.QuestionRepository`)."""

    async def record_unanswered(self, question: UnansweredQuestion) -> int: ...

    async def unanswered(self, limit: int = ...) -> list[UnansweredQuestion]:
        """Newest first."""
        ...


class Elections(Protocol):
    """``uow.elections`` (:class:`storage.elections_repo.ElectionRepository`)."""

    async def intents_for(self, employee_id: str) -> list[ElectionIntent]:
        """Oldest version first."""
        ...

    async def all_intents(self) -> list[ElectionIntent]: ...

    async def add_intent(self, intent: ElectionIntent) -> None:
        """Raises WriteConflictError when this version of this employee already exists."""
        ...

    async def receipts_for(self, employee_id: str) -> list[FormReceipt]: ...

    async def all_receipts(self) -> list[FormReceipt]: ...

    async def add_receipt(self, receipt: FormReceipt) -> None:
        """Raises WriteConflictError when this version's receipt was recorded concurrently."""
        ...


class HrTasks(Protocol):
    """``uow.hr_tasks`` (:class:`storage.elections_repo.HrTaskRepository`)."""

    async def add(self, task: HrTask) -> None: ...

    async def for_employee(self, employee_id: str) -> list[HrTask]: ...

    async def open_tasks(self) -> list[HrTask]: ...

    async def close(
        self,
        employee_id: str,
        *,
        versions: Iterable[int],
        status: TaskStatus,
        at: datetime,
        only: Iterable[TaskStatus] = ...,
    ) -> list[int]:
        """Move the tasks of ``versions`` that are in one of ``only`` to ``status``; returns
        the versions changed."""
        ...


class Outbox(Protocol):
    """``uow.outbox`` (:class:`storage.elections_repo.OutboxRepository`)."""

    async def enqueue(self, message: OutboxMessage) -> bool:
        """Add ``message`` unless one with its key exists; True when it was added."""
        ...

    async def enqueue_many(self, messages: Iterable[OutboxMessage]) -> int:
        """Bulk :meth:`enqueue` for broadcasts (no attachments): keys already present are
        skipped, so a broadcast enqueued again after a crash adds only what is missing.
        Returns how many rows were added."""
        ...

    async def enqueue_copies(
        self,
        communication: Communication,
        copies: Sequence[PersonalCopy],
        *,
        kind: MessageKind,
        at: datetime,
    ) -> int:
        """Queue each person's copy of the stored ``communication`` (its text kept once, the
        personal fields per copy), due at ``at``; keys already present are skipped, as in
        :meth:`enqueue_many`. Returns how many were added."""
        ...

    async def for_employee(self, employee_id: str) -> list[OutboxMessage]:
        """Oldest first, with attachments."""
        ...

    async def by_kind(self, kind: MessageKind) -> list[OutboxMessage]:
        """Oldest first, without attachment contents loaded (reports need only the dates)."""
        ...


class AcceptedTenders(Protocol):
    """``uow.accepted`` (:class:`storage.elections_repo.AcceptedTenderRepository`)."""

    async def add_missing(self, tenders: Iterable[AcceptedTender]) -> int:
        """Insert the tenders whose grant is not accepted yet; returns how many were new."""
        ...

    async def list_all(self) -> list[AcceptedTender]: ...

    async def for_employee(self, employee_id: str) -> list[AcceptedTender]: ...


class Deliveries(Protocol):
    """``uow.deliveries`` (:class:`storage.mail_repo.DeliveryRepository`)."""

    async def claim_due(
        self,
        *,
        now: datetime,
        owner: str,
        lease: timedelta,
        limit: int,
        channels: Iterable[str],
        message_id_for: Callable[[OutboxMessage], str | None],
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` due pending rows, transactional before bulk, oldest first."""
        ...

    async def delivered_many(
        self, delivered: Sequence[tuple[int, str | None]], *, at: datetime
    ) -> None:
        """Mark rows ``sent`` at ``at``: (row id, delivery id) each."""
        ...

    async def retry_at(self, message_id: int, *, when: datetime, error: str) -> None:
        """A transient failure: pending again from ``when`` (the Message-ID stays)."""
        ...

    async def give_up(self, message_id: int, *, state: DeliveryState, error: str) -> None:
        """``failed`` (refused, or out of attempts) or ``ambiguous`` (maybe delivered)."""
        ...

    async def retry_after_ambiguity(self, message_id: int, *, when: datetime, error: str) -> None:
        """An ambiguous attempt of a notice worth a second one: pending again from ``when``
        under the same Message-ID, counted in ``requeues`` (so it happens once)."""
        ...

    async def undelivered(
        self,
        *,
        states: Iterable[DeliveryState] = ...,
        kinds: Iterable[MessageKind] | None = ...,
        ids: Iterable[int] | None = ...,
    ) -> list[OutboxMessage]:
        """Rows given up on (``failed``/``ambiguous``), oldest first, without attachment
        contents; only of ``kinds`` and only ``ids`` when given."""
        ...

    async def requeue(self, message_ids: Iterable[int], *, at: datetime) -> int:
        """Put ``failed``/``ambiguous`` rows back in the queue (at ``at``): due at once — at
        their first queue time, so no clock difference between HR's host and the sender's
        delays them, and they go out in their original order — with a fresh attempt budget,
        the same Message-ID (fixed at the first claim, never changed), ``requeues`` counted.
        Rows in another state are left alone. Returns how many were requeued."""
        ...

    async def get(self, idempotency_key: str) -> OutboxMessage | None: ...

    async def count_due(self, *, now: datetime, channels: Iterable[str]) -> int: ...


class Inbox(Protocol):
    """``uow.inbox`` (:class:`storage.mail_repo.InboxRepository`)."""

    async def position(self, mailbox: str) -> ImapPosition | None: ...

    async def advance(self, position: ImapPosition, *, at: datetime) -> None:
        """Set the position (never backwards under the same UIDVALIDITY)."""
        ...

    async def seen(self, *, mailbox: str, uidvalidity: int, uid: int, content_hash: str) -> bool:
        """Processed already: the same UID under this UIDVALIDITY, or the same bytes."""
        ...

    async def record(self, record: InboundRecord) -> None: ...

    async def answered_since(self, sender: str, since: datetime) -> int:
        """How many messages from ``sender`` were answered since ``since`` (the rate limit)."""
        ...


class Jobs(Protocol):
    """``uow.jobs`` (:class:`storage.scheduler_repo.JobRepository`)."""

    async def schedule(self, job: Job, *, now: datetime, replace: bool = ...) -> bool:
        """Add ``job`` unless one with its key exists; True when added."""
        ...

    async def claim_due(
        self,
        *,
        now: datetime,
        owner: str,
        lease: timedelta,
        limit: int = ...,
        kinds: Iterable[str] | None = ...,
    ) -> list[Job]:
        """Lease up to ``limit`` due pending jobs, oldest due first; each claim is an attempt."""
        ...

    async def renew(self, job_id: int, *, owner: str, until: datetime) -> bool:
        """Extend a lease still held by ``owner`` (a long broadcast); False if it was lost."""
        ...

    async def complete(self, job_id: int, *, at: datetime) -> None: ...

    async def retry_at(self, job_id: int, *, when: datetime, error: str) -> None: ...

    async def fail(self, job_id: int, *, at: datetime, error: str) -> None: ...

    async def cancel_pending(
        self, *, kind: str, key_prefix: str = ..., keep: Iterable[str] = ..., at: datetime
    ) -> int:
        """Cancel pending jobs of ``kind`` (whose key starts with ``key_prefix``) except the
        keys in ``keep``; returns how many. Used when a plan is made again."""
        ...

    async def list(
        self, *, kind: str | None = ..., state: JobState | None = ..., limit: int = ...
    ) -> list[Job]: ...


class Amendments(Protocol):
    """``uow.amendments`` (:class:`storage.scheduler_repo.AmendmentRepository`)."""

    async def add(self, amendment: OfferAmendment) -> OfferAmendment:
        """Store a new amendment; returns it with its id."""
        ...

    async def get(self, amendment_id: int) -> OfferAmendment | None: ...

    async def set_status(
        self,
        amendment_id: int,
        *,
        status: AmendmentStatus,
        approved_by: str | None = ...,
        applied_at: datetime | None = ...,
    ) -> OfferAmendment:
        """Move an amendment forward (awaiting approval → applied or rejected)."""
        ...

    async def list_all(self, offer_id: str) -> list[OfferAmendment]:
        """Oldest first."""
        ...


class Communications(Protocol):
    """``uow.communications`` (:class:`storage.scheduler_repo.CommunicationRepository`)."""

    async def record(self, communication: Communication) -> Communication:
        """Keep ``communication`` once per key; returns the stored one (with its id)."""
        ...

    async def get(self, key: str) -> Communication | None: ...

    async def list_all(self) -> list[Communication]: ...

    async def stats(self, references: Iterable[str]) -> dict[str, CommunicationStats]:
        """Delivery counts per ``reference`` ("comm:<id>") from the outbox copies."""
        ...


class Audience(Protocol):
    """``uow.audience`` (:class:`storage.audience_repo.AudienceRepository`)."""

    async def employees(self) -> list[Employee]:
        """Every employee (in no particular order)."""
        ...

    async def grants(self, *, skip: Callable[[str], bool] | None = ...) -> Iterator[Grant]:
        """Every grant, built lazily from one read: a grant whose employee id ``skip`` refuses
        (asked as the caller consumes the iterator) is never built. Cheaper than a large
        ``IN`` list, and lets the caller stop caring about a person once they are settled."""
        ...

    async def intent_heads(self) -> list[IntentHead]:
        """Every intent version's employee, number and kind (no grant lines)."""
        ...

    async def page(self, *, after: str | None, limit: int) -> RosterPage:
        """The next ``limit`` employees after ``after``, with their grants, intents, receipts."""
        ...

    async def employee_count(self) -> int:
        """How many employees the roster holds."""
        ...

    async def received_versions(self) -> set[tuple[str, int]]:
        """(employee id, version) of every signed form HR recorded as received."""
        ...


class Metrics(Protocol):
    """``uow.metrics`` (:class:`storage.metrics_repo.MetricsRepository`)."""

    async def ping(self) -> None:
        """``SELECT 1``: raises if the database cannot be reached."""
        ...

    async def counts(self, *, now: datetime) -> StoredCounts:
        """Everything in one read transaction (six grouped counts)."""
        ...


class CloseRuns(Protocol):
    """``uow.close_runs`` (:class:`storage.close_repo.CloseRunRepository`): ``hr close``'s
    durable progress and each batch's bulk reads and writes."""

    async def unfinished(self, offer_id: str) -> CloseRun | None: ...

    async def latest(self, offer_id: str) -> CloseRun | None: ...

    async def start(self, run: CloseRun) -> CloseRun:
        """Insert the run; returned with its id."""
        ...

    async def lock(self, run_id: int) -> CloseRun | None: ...

    async def save(self, run: CloseRun, *, at: datetime) -> None: ...

    async def count_with_receipts(self) -> int: ...

    async def next_with_receipts(self, *, after: str | None, limit: int) -> list[str]: ...

    async def batch_inputs(self, employee_ids: Sequence[str]) -> BatchInputs: ...

    async def add_accepted(self, tenders: Sequence[AcceptedTender]) -> dict[str, int]: ...

    async def enqueue_letters(self, messages: Sequence[OutboxMessage]) -> int: ...

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None: ...


class SlackEvents(Protocol):
    """``uow.slack_events`` (:class:`storage.slack_repo.SlackEventRepository`): which Slack
    deliveries were handled, and each event's reply on its way out (see
    :class:`~bot.domain.slack_records.SlackDeliveryState`). Every move is a compare-and-set on
    the state, so two deliveries racing on one row never both post."""

    async def claim(
        self,
        delivery_key: str,
        *,
        kind: str,
        user_id: str | None,
        at: datetime,
        state: SlackDeliveryState = ...,
    ) -> None:
        """Record the delivery in the open transaction; raise
        :class:`~storage.slack_repo.DuplicateDeliveryError` if it was recorded before."""
        ...

    async def get(self, delivery_key: str) -> SlackDelivery | None: ...

    async def seen(self, delivery_key: str) -> bool: ...

    async def waiting(
        self,
        *,
        parked_before: datetime,
        stale_before: datetime,
        overdue_before: datetime,
        limit: int,
    ) -> list[SlackDelivery]:
        """Deliveries the worker's sweep has something to do with, oldest first."""
        ...

    async def park(
        self,
        delivery_key: str,
        reply: SlackPost,
        *,
        at: datetime,
        taken_at: datetime | None = ...,
    ) -> bool:
        """Keep a reply whose post failed for the next delivery; False if another took over."""
        ...

    async def take(
        self, delivery_key: str, *, at: datetime, stale_before: datetime
    ) -> Takeover | None:
        """Compare-and-set to ``posting`` for one later delivery of the event."""
        ...

    async def take_parked(
        self, delivery_key: str, *, at: datetime, parked_before: datetime, stale_before: datetime
    ) -> Takeover | None:
        """The worker's :meth:`take`, narrowed to replies parked before ``parked_before``."""
        ...

    async def finish(
        self, delivery_key: str, *, at: datetime, taken_at: datetime | None = ...
    ) -> bool:
        """The reply is out (or given up): ``done``, its text forgotten."""
        ...

    async def prune(self, *, before: datetime) -> int:
        """Forget ``done`` deliveries received before ``before``; how many."""
        ...


class SlackUsers(Protocol):
    """``uow.slack_users`` (:class:`storage.slack_repo.SlackUserRepository`): what users.info
    said about each Slack user, the roster employee it maps to, and the bot's DM channel."""

    async def get(self, slack_user_id: str) -> SlackUser | None: ...

    async def save(self, user: SlackUser) -> None:
        """Insert or refresh (a DM channel already kept is not lost)."""
        ...

    async def dm_channels(self, slack_user_ids: Iterable[str]) -> dict[str, str]:
        """{user id: DM channel id} for those whose DM was opened."""
        ...

    async def roster_users_without_dm(self, *, limit: int) -> list[str]:
        """Slack user ids of roster employees whose DM is not opened yet, in id order."""
        ...

    async def remember_dm_channel(self, slack_user_id: str, channel: str) -> None: ...

    async def mark_dm_refused(self, slack_user_id: str) -> None:
        """Slack refused to open a DM with this user: skip them when opening DMs ahead."""
        ...
