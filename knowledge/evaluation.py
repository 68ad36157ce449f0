"""Score question answering on a labelled set (the format of ``shared/eval/dev_questions.jsonl``).

* top-1 on ``faq`` + ``advice`` items: a hit when the first cited id — by family, so any
  ``RISK-n`` counts as ``RISKS`` and any ``PROXY-…`` as ``PROXY`` — is in ``accept_ids``, or
  when every ``facts`` string is in the answer (lower-cased, whitespace collapsed, answer at
  most 1,500 characters);
* abstention rate on ``out_of_scope`` items; intent accuracy on ``personal`` items;
* recommendations: answers (on every item) that read as a recommendation — must be zero;
* p50/p99 latency of the answer function.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.compose import RECOMMENDATION

__all__ = ["EvalItem", "EvalReport", "evaluate", "family", "is_hit", "load_items", "percentile"]


@dataclass(frozen=True, slots=True)
class EvalItem:
    id: str
    question: str
    category: str
    accept_ids: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    intent: str = ""


def load_items(path: Path) -> list[EvalItem]:
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        raw = json.loads(line)
        items.append(
            EvalItem(
                id=str(raw.get("id", f"line{number}")),
                question=raw["question"],
                category=raw.get("category", "faq"),
                accept_ids=tuple(raw.get("accept_ids", ())),
                facts=tuple(raw.get("facts", ())),
                intent=raw.get("intent", ""),
            )
        )
    return items


def family(entry_id: str) -> str:
    if entry_id.startswith("RISK"):
        return "RISKS"
    if entry_id.startswith("PROXY"):
        return "PROXY"
    return entry_id


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def is_hit(item: EvalItem, payload: Mapping[str, Any]) -> bool:
    sources = payload.get("sources") or []
    if sources and family(sources[0]["id"]) in item.accept_ids:
        return True
    answer = str(payload.get("answer", ""))
    if item.facts and len(answer) <= 1500:
        normalized = _norm(answer)
        return all(_norm(f) in normalized for f in item.facts)
    return False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class EvalReport:
    top1: float
    top1_n: int
    abstention: float
    abstention_n: int
    intent_accuracy: float
    intent_n: int
    recommendations: int
    advice_recommendations: int
    p50_ms: float
    p99_ms: float
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "top1": round(self.top1, 4),
            "top1_items": self.top1_n,
            "out_of_scope_abstained": round(self.abstention, 4),
            "out_of_scope_items": self.abstention_n,
            "personal_intent_accuracy": round(self.intent_accuracy, 4),
            "personal_items": self.intent_n,
            "recommendations": self.recommendations,
            "advice_recommendations": self.advice_recommendations,
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "failures": self.failures,
        }


def evaluate(items: Iterable[EvalItem], ask: Callable[[str], Mapping[str, Any]]) -> EvalReport:
    """Run ``ask`` (question → ``offerbot ask --json`` payload) over the items and score it."""
    hits = answered = abstained = oos = right = personal = recs = advice_recs = 0
    latencies: list[float] = []
    failures: list[dict[str, Any]] = []
    for item in items:
        started = time.perf_counter()
        payload = ask(item.question)
        latencies.append((time.perf_counter() - started) * 1000)
        text = str(payload.get("answer", ""))
        recommends = bool(RECOMMENDATION.search(text))
        recs += recommends
        first = (payload.get("sources") or [{}])[0].get("id")
        if item.category in {"faq", "advice"}:
            answered += 1
            ok = is_hit(item, payload)
            if item.category == "advice":
                advice_recs += recommends
                ok = ok and not recommends
            hits += ok
            if not ok:
                failures.append(
                    {
                        "id": item.id,
                        "question": item.question,
                        "got": first,
                        "abstained": payload.get("abstained"),
                        "expected": list(item.accept_ids),
                    }
                )
        elif item.category == "out_of_scope":
            oos += 1
            abstained += bool(payload.get("abstained"))
            if not payload.get("abstained"):
                failures.append(
                    {"id": item.id, "question": item.question, "got": first, "expected": "abstain"}
                )
        elif item.category == "personal":
            personal += 1
            right += payload.get("intent") == item.intent
            if payload.get("intent") != item.intent:
                failures.append(
                    {
                        "id": item.id,
                        "question": item.question,
                        "got": payload.get("intent"),
                        "expected": item.intent,
                    }
                )
    return EvalReport(
        top1=hits / answered if answered else 0.0,
        top1_n=answered,
        abstention=abstained / oos if oos else 0.0,
        abstention_n=oos,
        intent_accuracy=right / personal if personal else 0.0,
        intent_n=personal,
        recommendations=recs,
        advice_recommendations=advice_recs,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        failures=failures,
    )
