"""Getting undelivered messages out after all: HR's alerts, the outbox list, and resending.

A message the outbox sender gave up on is ``failed`` (refused, or out of attempts) or
``ambiguous`` (the connection died after the final "." — maybe delivered). Three things make
sure none of them is lost without anyone knowing, or for good:

* :func:`hr_alerts` — what the sender queues when it gives up on a message: an e-mail to HR's
  mailbox and, for an e-mail that failed when Slack is configured, the same alert as a DM to
  each HR admin (a relay that refuses everything refuses HR's alert too). Each give-up after a
  resend raises an alert of its own.
* :func:`list_undelivered` — ``offerbot hr outbox``: the rows given up on, by state and kind.
* :func:`resend` — ``offerbot hr outbox resend``: back in the queue, due now, with a fresh
  attempt budget and their original Message-ID (a receiving server that saw the first attempt
  can drop the copy); an audit row names who did it.

The sender itself retries an ambiguous legal notice once (see
:attr:`bot.domain.hr_records.MessageKind.retried_when_ambiguous`), after
``OFFERBOT_OUTBOX_AMBIGUOUS_RETRY_MINUTES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bot.domain.hr_records import DeliveryState, MessageKind, OutboxMessage
from bot.domain.records import AuditEntry
from bot.ports import UnitOfWork
from bot.services.access import require_operator
from bot.services.elections.intents import HR_RECIPIENT, hr_alert_messages
from bot.services.errors import InvalidRequestError
from bot.services.identity import Identity
from bot.services.retry import retry_on_conflict

__all__ = [
    "GIVEN_UP",
    "ResendResult",
    "hr_alerts",
    "list_undelivered",
    "resend",
    "undelivered_json",
]

GIVEN_UP = (DeliveryState.FAILED, DeliveryState.AMBIGUOUS)


def hr_alerts(
    message: OutboxMessage,
    *,
    state: DeliveryState,
    error: str,
    now: datetime,
    hr_slack_ids: Sequence[str] = (),
) -> list[OutboxMessage]:
    """HR's alerts that ``message`` ended ``state`` (none for HR's own mail and for alerts:
    no alert about an alert). ``hr_slack_ids``: the HR admins to DM as well, for an e-mail
    (pass them only when Slack is configured)."""
    if message.recipient == HR_RECIPIENT or message.kind is MessageKind.HR_ALERT:
        return []
    what = (
        "may or may not have been delivered"
        if state is DeliveryState.AMBIGUOUS
        else "could not be delivered"
    )
    round_ = f":r{message.requeues}" if message.requeues else ""  # each give-up after a resend
    subject = f"offerbot: a message {what} ({message.kind.value})"
    body = (
        f"The {message.kind.value} message to {message.recipient} "
        f"(subject: {message.subject!r}, employee {message.employee_id or 'n/a'}) {what} "
        f"after {message.attempts} attempt(s).\nLast error: {error}\n"
        f"Message-ID: {message.message_id or 'n/a'}; outbox key {message.idempotency_key}"
        f" (row {message.id}). Please reach the person another way, or send it again with "
        f"`offerbot hr outbox resend --id {message.id}` once the cause is fixed."
    )
    return hr_alert_messages(
        key=f"hr_alert:{state.value}:{message.idempotency_key}{round_}",
        subject=subject,
        body=body,
        employee_id=message.employee_id,
        now=now,
        # a broken relay: tell HR where it still works
        slack_admins=hr_slack_ids if message.channel == "email" else (),
    )


async def list_undelivered(
    *, uow: UnitOfWork, state: DeliveryState | None = None, kind: MessageKind | None = None
) -> list[OutboxMessage]:
    """The messages given up on (``failed`` and ``ambiguous``, or one ``state``), oldest first."""
    states = GIVEN_UP if state is None else (_given_up_state(state),)
    async with uow:
        found: list[OutboxMessage] = await uow.deliveries.undelivered(
            states=states, kinds=None if kind is None else [kind]
        )
    return found


@dataclass(frozen=True, slots=True)
class ResendResult:
    requeued: list[OutboxMessage]  # as they were before (state, attempts, last error)
    not_found: list[int]  # ids asked for that are not failed or ambiguous (or of another kind)


async def resend(
    *,
    uow: UnitOfWork,
    identity: Identity,
    now: datetime,
    ids: Sequence[int] = (),
    all_failed: bool = False,
    kind: MessageKind | None = None,
) -> ResendResult:
    """Put messages given up on back in the queue, due ``now``, with their original Message-ID.

    Either ``ids`` (failed or ambiguous rows) or ``all_failed`` (every ``failed`` row except
    HR's alerts about failures, which the resend is fixing — ``kind=HR_ALERT`` takes those;
    ambiguous rows only by id, since they may have arrived); ``kind`` narrows either. One
    transaction, one audit row (``outbox.resend``)."""
    require_operator(identity)
    if bool(ids) == all_failed:
        raise InvalidRequestError("Give either --all-failed or one or more --id N, not both.")
    wanted = list(dict.fromkeys(ids))

    async def attempt() -> ResendResult:
        async with uow:
            kinds = None if kind is None else [kind]
            if all_failed:
                if kind is None:  # alerts about the failures being fixed: only on request
                    kinds = [k for k in MessageKind if k is not MessageKind.HR_ALERT]
                found = await uow.deliveries.undelivered(states=[DeliveryState.FAILED], kinds=kinds)
            else:
                found = await uow.deliveries.undelivered(states=GIVEN_UP, kinds=kinds, ids=wanted)
            rows = [m.id for m in found if m.id is not None]
            await uow.deliveries.requeue(rows, at=now)
            if rows:
                await uow.audit.record(
                    AuditEntry(
                        at=now,
                        actor=identity.actor,
                        action="outbox.resend",
                        channel=identity.channel,
                        detail={
                            "ids": rows,
                            "all_failed": all_failed,
                            "kind": None if kind is None else kind.value,
                        },
                    )
                )
            await uow.commit()
        missing = sorted(set(wanted) - set(rows))
        return ResendResult(requeued=found, not_found=missing)

    result: ResendResult = await retry_on_conflict(attempt)
    return result


def _given_up_state(state: DeliveryState) -> DeliveryState:
    if state not in GIVEN_UP:
        raise InvalidRequestError("--state must be failed or ambiguous.")
    return state


def undelivered_json(messages: Sequence[OutboxMessage], *, zone: tzinfo) -> list[dict[str, Any]]:
    """One object per message, times in ``zone`` (the offer's)."""
    return [
        {
            "id": m.id,
            "state": m.state.value,
            "kind": m.kind.value,
            "channel": m.channel,
            "recipient": m.recipient,
            "employee_id": m.employee_id,
            "subject": m.subject,
            "attempts": m.attempts,
            "requeues": m.requeues,
            "last_error": m.last_error,
            "message_id": m.message_id,
            "key": m.idempotency_key,
            "created_at": m.created_at.astimezone(zone).isoformat(),
        }
        for m in messages
    ]
