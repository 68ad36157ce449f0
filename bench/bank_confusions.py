"""Every question-bank line that grouped cross-validation gets wrong, grouped by confusion pair.

    python3 bench/bank_confusions.py [--seeds 0 1 2] [--pair PROXY out_of_scope] [--top 40]
    python3 bench/bank_confusions.py --figures-only --seeds 0 1 2
    python3 bench/bank_confusions.py --figures-only --paired --seeds 0 1 2 \
        --without weak-labels-3.txt --labels S12 Q7

Runs ``knowledge.calibration.cross_validate`` with the router's current settings
(``knowledge.fitting.Hyper()``) once per fold seed and prints, per (true → decided) pair of label
families, most frequent first, every misclassified line with its file and line number, its
label, the decided label, the out-of-fold probability and in how many seeds it was wrong. A line
wrong under every seed is a labelling question; one wrong under one seed is mostly noise.

It is the tool for auditing the bank's labels (is the line really answered by the other entry?
does it ask about a fact two entries share? is it answered at all?), not a benchmark: the
per-class figures it prints last (mean over the seeds) are the ones to compare before and after
an edit. No evaluation set takes part.

A round of new examples makes its labels' figures look better partly because there are more of
them; ``--without FILE`` prints the figures again on the lines outside FILE only (the lines
that were there before the round, when FILE is the round's new file), and ``--labels`` each
named label's right/n on those lines, summed over the seeds.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.answerer import offer_entries
from knowledge.bank import Example, load_bank
from knowledge.calibration import CvReport, cross_validate
from knowledge.evaluation import family
from knowledge.fitting import Hyper
from knowledge.offer_terms import bundled_offer_dir

__all__ = ["PairedFolds", "print_confusions"]


class PairedFolds:
    """A drop-in for ``StratifiedGroupKFold`` whose folds depend only on the examples' texts: a
    group goes to the fold its smallest text hashes to (mixed with the seed). Two runs of the bank
    before and after a relabelling then hold out the same questions in the same folds, so the
    difference between them is the edit's, not a reshuffle's (a few tenths of a point either way
    with the stratified splitter, whose folds move whenever a label's count does)."""

    def __init__(self, n_splits: int, shuffle: bool = True, random_state: int = 0) -> None:
        self.n_splits, self.seed = n_splits, random_state

    def split(
        self, examples: Sequence[Example], y: object, groups: Sequence[int]
    ) -> Iterator[tuple[list[int], list[int]]]:
        smallest: dict[int, str] = {}
        for example, group in zip(examples, groups, strict=True):
            text = example.text.lower()
            smallest[group] = min(smallest.get(group, text), text)
        fold = {
            g: int(hashlib.sha256(f"{self.seed}:{t}".encode()).hexdigest(), 16) % self.n_splits
            for g, t in smallest.items()
        }
        for k in range(self.n_splits):
            test = [i for i, g in enumerate(groups) if fold[g] == k]
            train = [i for i, g in enumerate(groups) if fold[g] != k]
            yield train, test


def _run(seeds: list[int], *, paired: bool = False) -> tuple[list[CvReport], list[Example]]:
    offer_dir = bundled_offer_dir()
    bank = load_bank(offer_dir)
    entries = offer_entries(offer_dir)
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = [
            cross_validate(
                bank, entries, Hyper(), seed=s, pool=pool, splitter=PairedFolds if paired else None
            )
            for s in seeds
        ]
    return reports, list(bank.examples)


def print_confusions(
    reports: list[CvReport], examples: list[Example], pair: tuple[str, str] | None, top: int
) -> None:
    first = reports[0]
    where = [f"{e.file}:{e.line}" for e in examples]
    wrong_in = [sum(not r.right(i) for r in reports) for i in range(len(first.truth))]
    by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, count in enumerate(wrong_in):
        if not count:
            continue
        # the pair of the first seed in which the line was wrong
        report = next(r for r in reports if not r.right(i))
        key = (family(report.truth[i]), family(report.decided(i)))
        by_pair[key].append(i)
    pairs = sorted(by_pair.items(), key=lambda kv: -len(kv[1]))
    if pair is not None:
        pairs = [(k, v) for k, v in pairs if k == pair]
    seeds = len(reports)
    for (truth, decided), members in pairs[:top]:
        print(f"\n== {truth} → {decided}: {len(members)} lines")
        members.sort(key=lambda i: (-wrong_in[i], first.truth[i], where[i]))
        for i in members:
            report = next(r for r in reports if not r.right(i))
            print(
                f"  {wrong_in[i]}/{seeds} {report.probability[i]:.2f} "
                f"{first.truth[i]:>14} → {report.predicted[i]:<14}"
                f"{'' if report.decided(i) == report.predicted[i] else ' (abstained)':<12} "
                f"{where[i]:<34} {examples[i].text}"
            )


def _print_figures(reports: list[CvReport]) -> None:
    kinds = sorted(reports[0].figures())
    print(f"\nper class, mean of fold seeds ({len(reports)}):")
    for kind in kinds:
        values = [r.figures()[kind] for r in reports]
        spread = " ".join(f"{v:.1%}" for v in values)
        print(f"  {kind:<14} {statistics.mean(values):6.1%}   ({spread})")
    score = [(r.figures()["answerable"] + r.figures()["out_of_scope"]) / 2 for r in reports]
    print(f"  {'score':<14} {statistics.mean(score):.4f}   (answerable + out_of_scope) / 2")
    print(f"  thresholds {[r.threshold for r in reports]}, examples {len(reports[0].truth)}")


def _print_kept_figures(
    reports: list[CvReport], examples: list[Example], without: set[str], labels: list[str]
) -> None:
    kept = [i for i, e in enumerate(examples) if e.file not in without]
    print(f"\non the {len(kept)} lines outside {sorted(without)}, mean of fold seeds:")
    kinds: dict[str, list[float]] = defaultdict(list)
    for r in reports:
        by_kind: dict[str, list[bool]] = defaultdict(list)
        for i in kept:
            kind = "out_of_scope" if r.truth[i] == "out_of_scope" else "answerable"
            by_kind[kind].append(r.right(i))
        for kind, rights in by_kind.items():
            kinds[kind].append(sum(rights) / len(rights))
    for kind, values in sorted(kinds.items()):
        spread = " ".join(f"{v:.1%}" for v in values)
        print(f"  {kind:<14} {statistics.mean(values):6.1%}   ({spread})")
    for label in labels:
        mine = [i for i in kept if examples[i].label == label]
        right = sum(r.right(i) for r in reports for i in mine)
        print(f"  {label:<14} {right}/{len(mine) * len(reports)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--pair", nargs=2, metavar=("TRUE", "DECIDED"))
    parser.add_argument("--top", type=int, default=40, help="pairs to print")
    parser.add_argument("--figures-only", action="store_true")
    parser.add_argument(
        "--paired",
        action="store_true",
        help="folds by a hash of the texts, so that runs before and after an edit compare",
    )
    parser.add_argument(
        "--without",
        nargs="+",
        default=[],
        metavar="FILE",
        help="also print the figures on the lines outside these bank files",
    )
    parser.add_argument("--labels", nargs="+", default=[], help="with --without: right/n per label")
    args = parser.parse_args()
    reports, examples = _run(args.seeds, paired=args.paired)
    if not args.figures_only:
        print_confusions(reports, examples, tuple(args.pair) if args.pair else None, args.top)
    _print_figures(reports)
    if args.without:
        _print_kept_figures(reports, examples, set(args.without), args.labels)


if __name__ == "__main__":
    main()
