"""Question answering speed and accuracy: index build, p50/p99 per question, vs. plain BM25.

    python3 bench/qa.py [QUESTIONS.jsonl]

Runs both in the same process over the developer set (default ../shared/eval/dev_questions.jsonl)
and prints the tuning / held-out split the thresholds were calibrated on (ids ≡ 0 mod 3 held out).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from knowledge.answerer import answer, build_knowledge_base
from knowledge.evaluation import EvalItem, evaluate, family, load_items, percentile
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms
from knowledge.parser import load_entries

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_questions.jsonl"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    items = load_items(path)
    offer_dir = bundled_offer_dir()
    terms = load_offer_terms()

    builds = []
    for _ in range(5):
        started = time.perf_counter()
        kb = build_knowledge_base(load_entries(offer_dir, "offer.txt", ("proxy-2003.txt",)))
        builds.append((time.perf_counter() - started) * 1000)
    print(
        f"index build (parse + index, offer + proxy): median {statistics.median(builds):.0f} ms,"
        f" max {max(builds):.0f} ms"
    )

    def ours(q: str) -> dict:
        return answer(q, kb=kb, terms=terms).payload()

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
