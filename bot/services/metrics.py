"""Operational counters, for ``offerbot hr metrics`` and the ``/metrics`` endpoint alike.

Counts come from the database wherever the application already records the event (abstentions,
intents, signed forms, the outbox, processed e-mail): they are right whichever replica is asked
and survive restarts. Questions asked are recorded nowhere durable, so they are an in-process
counter (:mod:`bot.services.questions_asked`, counted by
:func:`bot.services.questions.answers.ask`) exposed as a Prometheus counter: each replica counts
its own, from its start — the Prometheus convention; sum over replicas.

Only counts leave this module — never a question, an address or a grant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.domain.elections import FormKind, IntentKind
from bot.domain.hr_records import DeliveryState
from bot.ports import Clock, UnitOfWork
from bot.services.questions_asked import count_question, questions_asked

__all__ = [
    "MetricsSnapshot",
    "collect_metrics",
    "count_question",
    "metrics_json",
    "metrics_registry",
]

CHANNELS = ("email", "slack")  # outbox channels
_FAILED = (DeliveryState.FAILED.value, DeliveryState.AMBIGUOUS.value)

_QUESTIONS_ASKED = (
    "Questions this process answered or abstained on since it started, by channel (per "
    "replica, in memory: sum over replicas; resets on restart)."
)


def _questions_asked() -> dict[str, int]:
    return {channel: count for channel, (count, _created) in questions_asked().items()}


class _QuestionsAskedCollector(Collector):
    """This process's question count as the ``Counter`` it used to be: ``_total`` and
    ``_created`` per channel."""

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "offerbot_questions_asked", _QUESTIONS_ASKED, labels=["channel"]
        )
        for channel, (count, created) in questions_asked().items():
            family.add_metric([channel], count, created=created)
        yield family


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    at: datetime
    abstentions: int
    intents: dict[str, int]  # intent kind (tender, withdraw) → versions recorded
    forms_received: dict[str, int]  # form (election, withdrawal) → signed forms received
    outbox_backlog: dict[str, int]  # channel → pending rows due now
    outbox_states: dict[tuple[str, str], int]  # (channel, state) → rows
    inbound_emails: dict[str, int]  # outcome (answered, ignored:…, unparseable) → messages
    questions_asked: dict[str, int] = field(default_factory=dict)  # this process, by channel

    @property
    def outbox_sent(self) -> dict[str, int]:
        return {c: self.outbox_states.get((c, DeliveryState.SENT.value), 0) for c in CHANNELS}

    @property
    def send_failures(self) -> dict[str, int]:
        """Rows given up on: ``failed`` (refused, retries exhausted) and ``ambiguous``."""
        return {
            state: sum(n for (_c, s), n in self.outbox_states.items() if s == state)
            for state in _FAILED
        }


async def collect_metrics(*, uow: UnitOfWork, clock: Clock) -> MetricsSnapshot:
    """Read every count in one transaction, plus this process's question counter."""
    now = clock.now()
    async with uow:
        stored = await uow.metrics.counts(now=now)
    return MetricsSnapshot(
        at=now,
        abstentions=stored.abstentions,
        intents={k.value: stored.intents.get(k.value, 0) for k in IntentKind},
        forms_received={k.value: stored.forms_received.get(k.value, 0) for k in FormKind},
        outbox_backlog={c: stored.outbox_due.get(c, 0) for c in CHANNELS},
        outbox_states=dict(stored.outbox),
        inbound_emails=dict(stored.inbound),
        questions_asked=_questions_asked(),
    )


def _with_total(counts: dict[str, int]) -> dict[str, int]:
    return {**counts, "total": sum(counts.values())}


def metrics_json(snapshot: MetricsSnapshot) -> dict[str, Any]:
    """``offerbot hr metrics --json``: the database counts (the same on every replica)."""
    return {
        "at": snapshot.at.isoformat(),
        "abstentions": snapshot.abstentions,
        "intents_recorded": _with_total(snapshot.intents),
        "signed_forms_received": _with_total(snapshot.forms_received),
        "outbox_backlog": _with_total(snapshot.outbox_backlog),
        "send_failures": _with_total(snapshot.send_failures),
        "outbox_sent": _with_total(snapshot.outbox_sent),
        "inbound_emails": _with_total(snapshot.inbound_emails),
    }


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _family(
            CounterMetricFamily,
            "offerbot_abstentions",
            "Questions the bot abstained on, recorded for HR (database, all replicas).",
            None,
            {(): s.abstentions},
        )
        yield _family(
            CounterMetricFamily,
            "offerbot_intents_recorded",
            "Election intent versions recorded, by kind (database). An intent is not an election.",
            "kind",
            s.intents,
        )
        yield _family(
            CounterMetricFamily,
            "offerbot_signed_forms_received",
            "Signed forms HR recorded as received, by form (database).",
            "form",
            s.forms_received,
        )
        yield _family(
            GaugeMetricFamily,
            "offerbot_outbox_backlog",
            "Outbox messages pending and due now, by channel (database).",
            "channel",
            s.outbox_backlog,
        )
        yield _family(
            GaugeMetricFamily,
            "offerbot_outbox_send_failures",
            "Outbox messages given up on, by state: failed (refused or retries exhausted) or "
            "ambiguous (timeout after DATA) (database; HR was alerted).",
            "state",
            s.send_failures,
        )
        yield _family(
            CounterMetricFamily,
            "offerbot_outbox_sent",
            "Outbox messages delivered, by channel (database).",
            "channel",
            s.outbox_sent,
        )
        yield _family(
            CounterMetricFamily,
            "offerbot_inbound_emails",
            "Inbound e-mails processed, by outcome (database).",
            "outcome",
            s.inbound_emails,
        )


def _family(kind: Any, name: str, documentation: str, label: str | None, values: Any) -> Metric:
    family = kind(name, documentation, labels=[label] if label else [])
    for key, value in sorted(values.items()):
        family.add_metric([key] if label else [], value)
    return family  # type: ignore[no-any-return]


def metrics_registry(snapshot: MetricsSnapshot) -> CollectorRegistry:
    """A registry for one scrape: the snapshot's counts and this process's question counter."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    registry.register(_QuestionsAskedCollector())
    return registry
