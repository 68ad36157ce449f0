"""Does answering a message part by part put the right entry first? Out of fold, on the bank.

    python3 bench/split_questions.py [--seed 0]

``knowledge.intents.split_questions`` splits a message at question marks and at "and
how/what/when…"; ``knowledge.answerer._several`` then answers the parts one by one when they are
different questions. Many single questions split too ("who's richard donnelly? wasnt he at GM"),
and a fragment loses the context that placed the whole. This script trains one model per fold
(grouped 5-fold, as ``offerbot eval --cv``) and, for every held-out bank line that splits into two
or more parts, asks which entry the reply cites first — the entry the line's writer meant, or
not — three ways:

* never splitting (the whole message routed);
* splitting whenever two parts are different answerable questions (before the condition);
* the answerer as it is (the condition in ``_several``, the whole message's entry cited first).

No evaluation set takes part. About 15 s on 2 idle cores.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.answerer import Answer, KnowledgeBase, _routed, _several, answer, knowledge_base
from knowledge.bank import OUT_OF_SCOPE, Example, load_bank
from knowledge.calibration import LabelFolds, groups_of
from knowledge.evaluation import family
from knowledge.fitting import Analysed, Hyper, fit, training_set
from knowledge.intents import split_questions
from knowledge.offer_terms import bundled_offer_dir, load_offer_terms
from knowledge.router import Routing
from knowledge.training import to_router

WAYS = ("never split", "split whenever parts differ", "as the answerer does")


def _right(example: Example, reply: Answer) -> bool:
    if example.label == OUT_OF_SCOPE:
        return reply.abstained
    if reply.label == example.label:  # advice, a personal intent, or one entry
        return True
    first = reply.sources[0].id if reply.sources else None
    return first is not None and family(first) == family(example.label)


def measure(seed: int = 0) -> tuple[int, dict[str, int], int]:
    """(lines that split, right per way, lines answered part by part by the answerer)."""
    offer_dir = bundled_offer_dir()
    kb, terms = knowledge_base(offer_dir), load_offer_terms()
    examples = list(load_bank(offer_dir).examples)
    labels = [e.label for e in examples]
    hyper = Hyper()
    analysed = Analysed.of(training_set(examples, kb.entries, hyper).texts)
    splitting = {i for i, e in enumerate(examples) if len(split_questions(e.text)) > 1}
    anything = Routing("", 0.0, ())  # every part is surer than this: the old rule

    def one_fold(train: Sequence[int], test: Sequence[int]) -> list[tuple[bool, bool, bool, bool]]:
        fitted = fit(training_set([examples[i] for i in train], kb.entries, hyper), hyper, analysed)
        router = to_router(
            fitted,
            hyper,
            temperature=kb.router.temperature,
            threshold=kb.router.threshold,
            key="fold",
            meta={},
        )
        fold_kb = KnowledgeBase(kb.entries, router, by_id=kb.by_id)
        rows = []
        for i in (i for i in test if i in splitting):
            text, example = examples[i].text, examples[i]
            whole = _routed(text, router.route(text), fold_kb, terms)
            old = _several(split_questions(text), anything, fold_kb, terms) or whole
            now = answer(text, kb=fold_kb, terms=terms)
            rows.append(
                (
                    _right(example, whole),
                    _right(example, old),
                    _right(example, now),
                    now.label.startswith("several:"),
                )
            )
        return rows

    folds = LabelFolds(5, shuffle=True, random_state=seed).split(
        examples, labels, groups_of(examples)
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [row for rows in pool.map(lambda f: one_fold(*f), folds) for row in rows]
    right = {way: sum(r[k] for r in results) for k, way in enumerate(WAYS)}
    return len(results), right, sum(r[3] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    lines, right, parted = measure(args.seed)
    print(f"bank lines that split: {lines} (fold seed {args.seed}); entry cited first right:")
    for way in WAYS:
        print(f"  {way:<30} {right[way]:>4}")
    print(f"answered part by part by the answerer: {parted}")


if __name__ == "__main__":
    main()
