"""Question answering speed and accuracy: index build, p50/p99 per question, vs. plain BM25.

    python3 bench/qa.py [QUESTIONS.jsonl]

Runs both in the same process over the developer set (default ../shared/eval/dev_questions.jsonl)
and prints the tuning / held-out split the thresholds were calibrated on (ids ≡ 0 mod 3 held out).
:func:`qa_rows` gives ``bench/run.py`` its rows (offerbot only, no baseline).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.table import NO_DB, Row, row
from knowledge.answerer import KnowledgeBase, answer, build_knowledge_base
from knowledge.evaluation import (
    EvalItem,
    evaluate,
    family,
    load_items,
    percentile,
)
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms
from knowledge.parser import load_entries

__all__ = ["DEFAULT", "QaFigures", "qa_figures", "qa_rows"]

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_questions.jsonl"


@dataclass(frozen=True, slots=True)
class QaFigures:
    questions: int
    asks: int  # questions × rounds
    top1: float  # faq+advice, 0..1
    p50_ms: float
    p99_ms: float


def _ours(kb: KnowledgeBase) -> Callable[[str], dict[str, Any]]:
    terms = load_offer_terms()

    def ask(question: str) -> dict[str, Any]:
        return answer(question, kb=kb, terms=terms).payload()

    return ask


def qa_figures(path: Path = DEFAULT, *, rounds: int = 20) -> QaFigures:
    """Top-1 accuracy over the file, and latency per question over ``rounds`` passes (after
    three warm-up passes, as a running bot has its typo-repair caches warm)."""
    items = load_items(path)
    ask = _ours(
        build_knowledge_base(load_entries(bundled_offer_dir(), "offer.txt", ("proxy-2003.txt",)))
    )
    for _ in range(3):
        for item in items:
            ask(item.question)
    report = evaluate(items, ask)
    latencies = []
    for _ in range(rounds):
        for item in items:
            started = time.perf_counter()
            ask(item.question)
            latencies.append((time.perf_counter() - started) * 1000)
    return QaFigures(
        questions=len(items),
        asks=len(latencies),
        top1=report.top1,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
    )


def qa_rows(quick: bool, path: Path = DEFAULT) -> list[Row]:
    """Question answering has no database and no target: p50, p99, top-1 accuracy."""
    figures = qa_figures(path, rounds=2 if quick else 20)
    note = f"{figures.questions} dev questions × {figures.asks // figures.questions} rounds"
    return [
        row("question answering p50", db=NO_DB, value=figures.p50_ms, unit="ms", note=note),
        row("question answering p99", db=NO_DB, value=figures.p99_ms, unit="ms", note=note),
        row(
            "question answering top-1 (faq+advice)",
            db=NO_DB,
            value=figures.top1 * 100,
            unit="%",
            note=path.name,
        ),
    ]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    items = load_items(path)
    offer_dir = bundled_offer_dir()

    builds = []
    for _ in range(5):
        started = time.perf_counter()
        kb = build_knowledge_base(load_entries(offer_dir, "offer.txt", ("proxy-2003.txt",)))
        builds.append((time.perf_counter() - started) * 1000)
    print(
        f"index build (parse + index, offer + proxy): median {statistics.median(builds):.0f} ms,"
        f" max {max(builds):.0f} ms"
    )
    ours = _ours(kb)

    def baseline(q: str) -> dict:
        ranked = kb.index.baseline(q)
        if not ranked:
            return {"intent": "faq", "answer": "", "sources": [], "abstained": True}
        entry = ranked[0][0]
        return {
            "intent": "faq",
            "answer": entry.text[:900],
            "sources": [{"id": entry.id, "title": entry.title, "pages": entry.pages}],
            "abstained": False,
        }

    for _ in range(3):  # warm caches (typo repair) the way a running bot has them
        for item in items:
            ours(item.question)
    print(f"{'':28}{'offerbot':>12}{'plain BM25':>12}")
    for label, subset in (
        ("all", items),
        ("tuning split", [i for i in items if _held(i) is False]),
        ("held-out split", [i for i in items if _held(i)]),
    ):
        a, b = evaluate(subset, ours), evaluate(subset, baseline)
        print(f"{label} (n={len(subset)})")
        print(f"  {'top-1 faq+advice':26}{a.top1:12.1%}{b.top1:12.1%}")
        print(f"  {'out-of-scope abstained':26}{a.abstention:12.1%}{b.abstention:12.1%}")
        print(
            f"  {'personal intent accuracy':26}{a.intent_accuracy:12.1%}{b.intent_accuracy:12.1%}"
        )
        print(f"  {'recommendations':26}{a.recommendations:12d}{b.recommendations:12d}")
    runs_ours, runs_base = [], []
    for _ in range(20):
        for item in items:
            started = time.perf_counter()
            ours(item.question)
            runs_ours.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            baseline(item.question)
            runs_base.append((time.perf_counter() - started) * 1000)
    print(f"latency per question over {len(runs_ours)} asks")
    print(f"  {'p50 ms':26}{percentile(runs_ours, 50):12.3f}{percentile(runs_base, 50):12.3f}")
    print(f"  {'p99 ms':26}{percentile(runs_ours, 99):12.3f}{percentile(runs_base, 99):12.3f}")
    _ = family


def _held(item: EvalItem) -> bool:
    digits = "".join(c for c in item.id if c.isdigit())
    return bool(digits) and int(digits) % 3 == 0


if __name__ == "__main__":
    main()
