"""How many questions this process has answered, by channel: the in-memory count behind the
``offerbot_questions_asked`` counter (:mod:`bot.services.metrics` exposes it).

Why not a ``prometheus_client.Counter`` here: :func:`count_question` is called for every
question (:func:`bot.services.questions.answers.ask`), so whatever this module imports, a fresh
``offerbot ask`` process imports — and ``prometheus_client`` cost it 45 ms of CPU, for a count
that process never exposes. The count and the time each channel's first question was counted
(Prometheus's ``_created``) are kept here; the metrics module turns them into the same
samples a ``Counter`` gave.
"""

from __future__ import annotations

import threading
import time

__all__ = ["count_question", "questions_asked"]

_LOCK = threading.Lock()
_COUNTS: dict[str, tuple[int, float]] = {}  # channel → (questions, first counted, Unix time)


def count_question(*, channel: str) -> None:
    """One question reached the answerer on ``channel`` (console, cli, slack, email)."""
    with _LOCK:
        count, created = _COUNTS.get(channel) or (0, time.time())
        _COUNTS[channel] = (count + 1, created)


def questions_asked() -> dict[str, tuple[int, float]]:
    """{channel: (questions, when the first was counted)}, in the order channels first came."""
    with _LOCK:
        return dict(_COUNTS)
