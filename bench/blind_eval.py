"""Question answering on the blind sets: questions written by someone who never saw the bank.

    python3 bench/blind_eval.py            # figures: the open half, the sealed half, both
    python3 bench/blind_eval.py --misses   # and every miss of the OPEN half (never the sealed)

Cross-validation on the question bank scores the router against lines written by the same
hands as its training lines; the developer set (``../shared/eval``) has 90 questions, 7 of
them personal. ``bench/blind/*.jsonl`` were written for this repository by sessions that were
given the offer document and the evaluation format only — never the bank, the tests, the
developer set or the bot's answers (the brief is ``bench/blind/README.md``) — so they measure
what a new author's questions get.

Each set is split in two by a hash of the item's id. The *open* half may be read: its misses
are printed with ``--misses`` and may guide what the bank needs next (it then stops being
blind, and the figures say so). The *sealed* half is only ever scored: the gap between the
halves after such work shows how much of a gain was the open half's alone. Neither half is
ever bank data: ``tests/knowledge/test_bank.py`` (run by ``scripts/leak_check``) refuses a bank
line within ratio 85 of one, except the lines that were in the bank before the blind sets were
written (``bench/blind/bank-lines-before.txt``) — a real employee's question is often one the
bank already has, so those items stay, and the line "new wording" scores the items with no
bank line that close.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz import fuzz, process

from bench.qa import _ours
from knowledge.answerer import knowledge_base
from knowledge.bank import load_bank
from knowledge.evaluation import EvalItem, EvalReport, evaluate, load_items
from knowledge.offer_terms import bundled_offer_dir

__all__ = ["BLIND", "blind_items", "halves", "new_wording", "sealed"]

BLIND = Path(__file__).resolve().parent / "blind"


def blind_items(files: list[Path] | None = None) -> list[EvalItem]:
    """Every item of ``files`` (default: all the blind sets)."""
    return [item for path in files or sorted(BLIND.glob("*.jsonl")) for item in load_items(path)]


def sealed(item: EvalItem) -> bool:
    """Whether the item is in the sealed half: a fixed hash of its id, never of its text."""
    return hashlib.sha256(item.id.encode()).digest()[0] % 2 == 1


def halves(items: list[EvalItem]) -> tuple[list[EvalItem], list[EvalItem]]:
    return [i for i in items if not sealed(i)], [i for i in items if sealed(i)]


def new_wording(items: list[EvalItem]) -> list[EvalItem]:
    """The items with no bank line within rapidfuzz ratio 85."""
    bank = [e.text.lower() for e in load_bank(bundled_offer_dir()).examples]
    scores = process.cdist(
        [i.question.lower() for i in items], bank, scorer=fuzz.ratio, score_cutoff=85
    )
    near = set(scores.nonzero()[0])
    return [item for n, item in enumerate(items) if n not in near]


def _line(name: str, report: EvalReport) -> str:
    return (
        f"{name:12}"
        f"{report.top1:8.1%} ({report.top1_n:3d})"
        f"{report.abstention:8.1%} ({report.abstention_n:3d})"
        f"{report.intent_accuracy:8.1%} ({report.intent_n:3d})"
        f"{report.recommendations:6d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--misses", action="store_true", help="print the open half's misses")
    parser.add_argument("files", nargs="*", type=Path, help="default: bench/blind/*.jsonl")
    args = parser.parse_args()
    items = blind_items(args.files)
    open_half, sealed_half = halves(items)
    ask = _ours(knowledge_base(bundled_offer_dir()))
    print(f"{'':12}{'faq+advice':>14}{'out of scope':>14}{'personal':>14}{'recs':>6}")
    reports = {}
    for name, subset in (
        ("open", open_half),
        ("sealed", sealed_half),
        ("all", items),
        ("new wording", new_wording(items)),
    ):
        reports[name] = evaluate(subset, ask)
        print(_line(name, reports[name]))
    if args.misses:
        print("\nmisses of the open half:")
        for failure in reports["open"].failures:
            print(
                f"  {failure['id']}: {failure['question']!r} → {failure.get('got')}"
                f" (expected {failure['expected']})"
            )


if __name__ == "__main__":
    main()
