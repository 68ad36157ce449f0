"""The router's settings by grouped 5-fold cross-validation on the question bank (no eval set).

    python3 bench/qa_grid.py

Prints, per setting, the mean of answerable accuracy and out-of-scope abstention, and the two:
first a grid of the TF-IDF model alone, then the sentence embedding's neighbour weight on top
of its best, then the number of closest texts averaged per label with a few weights; the best
goes into ``knowledge.fitting.Hyper``. About 15 s per setting on 2 idle cores.
"""

from __future__ import annotations

import itertools
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.bank import load_bank
from knowledge.calibration import CvReport, cross_validate
from knowledge.fitting import Hyper
from knowledge.offer_terms import bundled_offer_dir
from knowledge.parser import load_entries


def _score(report: CvReport) -> tuple[float, float, float]:
    f = report.figures()
    return (f["answerable"] + f["out_of_scope"]) / 2, f["answerable"], f["out_of_scope"]


def main() -> None:
    offer_dir = bundled_offer_dir()
    entries = load_entries(offer_dir, "offer.txt", ("proxy-2003.txt",))
    bank = load_bank(offer_dir)
    rows = []
    header = f"{'score':>7} {'C':>5} {'chars':>6} {'docs':>5} {'neigh':>6} {'answerable':>11}"
    print(header + f" {'abstained':>10}")
    with ThreadPoolExecutor(max_workers=2) as pool:

        def run(hyper: Hyper) -> float:
            score, answerable, abstained = _score(cross_validate(bank, entries, hyper, pool=pool))
            print(
                f"{score:7.4f} {hyper.c:5.1f} {hyper.char_weight:6.1f} "
                f"{hyper.document_weight:5.1f} {hyper.neighbour_weight:6.1f} "
                f"{answerable:11.1%} {abstained:10.1%}",
                flush=True,
            )
            return score

        # stage 1: the TF-IDF model alone
        grid = itertools.product([0.5, 1.0, 2.0], [0.5, 0.8, 1.2], [0.3, 0.5, 0.8])
        for c, chars, docs in grid:
            hyper = Hyper(c=c, char_weight=chars, document_weight=docs, neighbour_weight=0.0)
            rows.append((run(hyper), hyper))
        best = max(rows, key=lambda row: row[0])[1]
        # stage 2: the sentence embedding's neighbours on top of the best of stage 1
        hypers = [replace(best, neighbour_weight=w, nearest=1) for w in (0.0, 0.5, 1.0, 2.0)]
        # stage 3: how many of each label's closest texts the neighbour score averages (the
        # settings stage 2 already ran are not run again)
        for k, w in itertools.product((1, 3, 5, 8), (1.0, 1.5, 2.0)):
            if (hyper := replace(best, neighbour_weight=w, nearest=k)) not in hypers:
                hypers.append(hyper)
        neighbours = [(run(hyper), hyper) for hyper in hypers]
    score, chosen = max(neighbours, key=lambda row: row[0])
    print(
        f"best: C={chosen.c}, char weight={chosen.char_weight}, "
        f"document weight={chosen.document_weight}, neighbour weight={chosen.neighbour_weight}, "
        f"nearest={chosen.nearest} ({score:.4f})"
    )


if __name__ == "__main__":
    main()
