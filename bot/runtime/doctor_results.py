"""What one `offerbot doctor` check found: a :class:`CheckResult` with a :class:`Status`.

Its own module so the local checks (:mod:`bot.runtime.doctor`) and the network checks
(:mod:`bot.runtime.doctor_network`) share it without importing each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CheckResult", "Status"]


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    hint: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "hint": self.hint,
        }
