"""The router's settings by grouped 5-fold cross-validation on the question bank (no eval set).

    python3 bench/qa_grid.py

Prints, per setting, the mean of answerable accuracy and out-of-scope abstention, and the two;
the best goes into ``knowledge.training.Hyper``. About a minute per setting on 2 cores.
"""

from __future__ import annotations

import itertools
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.bank import load_bank
from knowledge.calibration import cross_validate
from knowledge.offer_terms import bundled_offer_dir
from knowledge.parser import load_entries
from knowledge.training import Hyper


def main() -> None:
    offer_dir = bundled_offer_dir()
    entries = load_entries(offer_dir, "offer.txt", ("proxy-2003.txt",))
    bank = load_bank(offer_dir)
    rows = []
    print(f"{'score':>7} {'C':>5} {'chars':>6} {'docs':>5} {'answerable':>11} {'abstained':>10}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        for c, chars, docs in itertools.product([0.5, 1.0, 2.0], [0.5, 0.8, 1.2], [0.3, 0.5, 0.8]):
            report = cross_validate(
                bank, entries, Hyper(c=c, char_weight=chars, document_weight=docs), pool=pool
            )
            f = report.figures()
            score = (f["answerable"] + f["out_of_scope"]) / 2
            rows.append((score, c, chars, docs))
            print(
                f"{score:7.4f} {c:5.1f} {chars:6.1f} {docs:5.1f} "
                f"{f['answerable']:11.1%} {f['out_of_scope']:10.1%}",
                flush=True,
            )
    best = max(rows)
    print(f"best: C={best[1]}, char weight={best[2]}, document weight={best[3]} ({best[0]:.4f})")


if __name__ == "__main__":
    main()
