"""Question answering: router training, cached load, memory, p50/p99, accuracy vs plain BM25.

    python3 bench/qa.py [QUESTIONS.jsonl]

Prints, for the bundled offer: the time to train the router (cross-validation included, and the
final fit alone), the time to load it from the cache in a fresh process, the resident memory it
adds, the cross-validated figures on the bank, and — on the developer set (default
../shared/eval/dev_questions.jsonl, held out: never trained or tuned on) and on the earlier
sessions' validation questions (tests/knowledge/paraphrases*.jsonl) — top-1, abstention,
intents and latency beside plain BM25. :func:`qa_rows` gives ``bench/run.py`` its rows.
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
from knowledge.answerer import KnowledgeBase, answer, knowledge_base
from knowledge.bank import load_bank
from knowledge.evaluation import (
    EvalItem,
    evaluate,
    family,
    load_items,
    percentile,
)
from knowledge.index import PlainBM25
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
    ask = _ours(knowledge_base(bundled_offer_dir()))
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


def _fresh_process_load_ms() -> tuple[float, float]:
    """(ms to load the cached router in a new process, MB of resident memory it adds)."""
    import subprocess

    code = (
        "import re, time; from pathlib import Path;"
        "rss = lambda: int(re.search(r'VmRSS:\\s+(\\d+)', Path('/proc/self/status')"
        ".read_text()).group(1));"
        "before = rss(); t = time.perf_counter();"
        "import knowledge.answerer as a; from knowledge.offer_terms import bundled_offer_dir;"
        "a.knowledge_base(bundled_offer_dir());"
        "ms = (time.perf_counter() - t) * 1000;"
        "print(ms, (rss() - before) / 1024)"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    ms, mb = result.stdout.split()
    return float(ms), float(mb)


def main() -> None:
    import tempfile

    from knowledge.training import CALIBRATION_FOLDS, Hyper, fit, train_router, training_set

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    offer_dir = bundled_offer_dir()
    entries = load_entries(offer_dir, "offer.txt", ("proxy-2003.txt",))
    bank = load_bank(offer_dir)
    hyper = Hyper()
    started = time.perf_counter()
    router = train_router(bank, entries, key="bench", hyper=hyper)
    with_cv = time.perf_counter() - started
    started = time.perf_counter()
    fit(training_set(bank.examples, entries, hyper), hyper)
    final_fit = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        router.save(Path(folder) / "r.npz")
        size_mb = (Path(folder) / "r.npz").stat().st_size / 1e6
    knowledge_base(offer_dir)  # make sure the cache exists
    load_ms, rss_mb = _fresh_process_load_ms()
    print(f"bank: {len(bank.examples)} examples, {len(router.labels)} labels")
    print(
        f"training: {with_cv:.1f} s with {CALIBRATION_FOLDS}-fold cross-validation, "
        f"final fit {final_fit:.1f} s"
    )
    print(f"cached model: {size_mb:.1f} MB on disk; fresh-process import + load {load_ms:.0f} ms")
    print(f"resident memory added by importing and loading knowledge + router: {rss_mb:.0f} MB")
    cv = router.meta["cv"]
    assert isinstance(cv, dict)
    print(
        f"the training's {cv['folds']}-fold cross-validation on the bank (threshold "
        f"{cv['threshold']}, T {cv['temperature']}; `offerbot eval --cv` reports with 5):"
    )
    for kind, value in cv["figures"].items():
        print(f"  {kind:24}{value:8.1%}   (exact family only: {cv['strict'][kind]:.1%})")

    kb = knowledge_base(offer_dir)
    ours = _ours(kb)
    bm25 = PlainBM25.of_entries(kb.entries)

    def baseline(q: str) -> dict:
        entry = bm25.best(q)
        if entry is None:
            return {"intent": "faq", "answer": "", "sources": [], "abstained": True}
        return {
            "intent": "faq",
            "answer": entry.text[:900],
            "sources": [{"id": entry.id, "title": entry.title, "pages": entry.pages}],
            "abstained": False,
        }

    here = Path(__file__).resolve().parents[1] / "tests" / "knowledge"
    sets = [(path.name, load_items(path))] if path.is_file() else []
    validation = [i for p in sorted(here.glob("paraphrases*.jsonl")) for i in load_items(p)]
    sets.append(("earlier validation questions", validation))
    from bench.blind_eval import blind_items  # imports this module: not at the top

    sets.append(("blind sets (bench/blind)", blind_items()))
    print(f"{'':32}{'offerbot':>12}{'plain BM25':>12}")
    for label, subset in sets:
        a, b = evaluate(subset, ours), evaluate(subset, baseline)
        print(f"{label} (n={len(subset)})")
        print(f"  {'top-1 faq+advice':30}{a.top1:12.1%}{b.top1:12.1%}")
        print(f"  {'out-of-scope abstained':30}{a.abstention:12.1%}{b.abstention:12.1%}")
        print(
            f"  {'personal intent accuracy':30}{a.intent_accuracy:12.1%}{b.intent_accuracy:12.1%}"
        )
        print(f"  {'recommendations':30}{a.recommendations:12d}{b.recommendations:12d}")
    items = sets[0][1]
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
    print(f"  {'p50 ms':30}{percentile(runs_ours, 50):12.3f}{percentile(runs_base, 50):12.3f}")
    print(f"  {'p99 ms':30}{percentile(runs_ours, 99):12.3f}{percentile(runs_base, 99):12.3f}")
    _ = family, statistics, EvalItem


if __name__ == "__main__":
    main()
