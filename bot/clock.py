"""The one source of "now".

Everything that depends on time takes a :class:`Clock` (see ``bot.ports``). Production uses
:class:`SystemClock`; the demo uses :class:`SimulatedClock` (``OFFERBOT_NOW``), which starts at
a chosen instant inside the historical offer window and advances in real time; tests use
:class:`ManualClock` and move it by hand — never ``sleep``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

__all__ = ["ManualClock", "SimulatedClock", "SystemClock", "parse_instant"]


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with an offset (or ``Z``); a naive time is refused."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset; write e.g. 2003-07-10T09:00:00-07:00")
    return value


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """Starts at ``start`` and advances with the machine's monotonic clock."""

    def __init__(self, start: datetime, *, monotonic: object = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._start = start.astimezone(UTC)
        self._monotonic = monotonic
        self._origin = self._monotonic()  # type: ignore[operator]

    def now(self) -> datetime:
        elapsed = self._monotonic() - self._origin  # type: ignore[operator]
        return self._start + timedelta(seconds=elapsed)


class AnchoredClock:
    """Simulated time shared by several processes: it stood at ``start`` at the real instant
    ``anchor`` and advances with the system clock. The demo writes both, so an `hr extend` and
    a `worker --once` run one after the other agree on what "now" is (a per-process
    :class:`SimulatedClock` restarts at ``start`` in each process)."""

    def __init__(self, start: datetime, anchor: datetime) -> None:
        if start.tzinfo is None or anchor.tzinfo is None:
            raise ValueError("start and anchor must be timezone-aware")
        self._offset = start.astimezone(UTC) - anchor.astimezone(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        self._now = instant.astimezone(UTC)
