"""The label-audit script: folds keyed by the texts, and the misclassified lines by confusion pair.

The cross-validation itself (minutes on the whole bank) is not run here: the splitter is tested on
a small bank and the listing on a report built by hand, the shape ``cross_validate`` returns.
"""

from __future__ import annotations

import pytest

from bench.bank_confusions import PairedFolds, print_confusions
from knowledge.bank import Example
from knowledge.calibration import CvReport, groups_of


def _bank(labels: dict[str, str]) -> list[Example]:
    return [Example(text, label, "t.txt", i) for i, (text, label) in enumerate(labels.items(), 1)]


QUESTIONS = {
    "when does the offer close": "Q20",
    "deadline?": "Q20",
    "can capstone extend the offer": "Q20",
    "what time on july 24 is the cutoff": "Q20",
    "is the 5pm cutoff pacific time": "Q20",
    "how will we hear about an extension": "Q20",
    "how do i send in my election form": "Q21",
    "can i email the form": "Q21",
    "fax number for elections?": "Q21",
    "where do i drop off the paperwork": "Q21",
    "does debbie bernard take hand delivery": "Q21",
    "what must the election form include": "Q21",
    "will it rain in LA this weekend": "out_of_scope",
    "whens payday": "out_of_scope",
    "how do i reset my vpn password": "out_of_scope",
    "best sushi near the office": "out_of_scope",
    "is eliot protsch married": "out_of_scope",
    "what is a bear market": "out_of_scope",
    "is the board going to meet again soon": "out_of_scope",
    "is the board going to meet again soon?": "out_of_scope",  # a near-duplicate: one group
}


def _folds(examples: list[Example], seed: int = 0) -> dict[str, int]:
    splitter = PairedFolds(n_splits=5, shuffle=True, random_state=seed)
    fold_of: dict[str, int] = {}
    for k, (train, test) in enumerate(
        splitter.split(examples, [e.label for e in examples], groups_of(examples))
    ):
        assert not set(train) & set(test)
        assert len(train) + len(test) == len(examples)
        fold_of |= {examples[i].text: k for i in test}
    return fold_of


def test_every_example_is_held_out_once_and_near_duplicates_together() -> None:
    examples = _bank(QUESTIONS)
    fold_of = _folds(examples)
    assert set(fold_of) == set(QUESTIONS)
    assert (
        fold_of["is the board going to meet again soon"]
        == fold_of["is the board going to meet again soon?"]
    )
    assert len(set(fold_of.values())) > 1


def test_a_relabelled_line_leaves_every_other_question_in_its_fold() -> None:
    before = _bank(QUESTIONS)
    moved = dict(QUESTIONS)
    moved["where do i drop off the paperwork"] = "S4"  # the label audit moves one line
    del moved["deadline?"]  # and deletes another
    after = _folds(_bank(moved))
    assert after == {t: k for t, k in _folds(before).items() if t in after}
    assert len(after) == len(QUESTIONS) - 1
    assert _folds(before, seed=1) != _folds(before, seed=0)  # the seed still reshuffles


def test_wrong_lines_are_listed_under_their_confusion_pair(
    capsys: pytest.CaptureFixture[str],
) -> None:
    examples = [
        Example("who are our CPAs", "PROXY-10", "proxy.txt", 257),
        Example("market cap about $63 million?", "PROXY-22", "proxy.txt", 568),
        Example("is eliot protsch married", "out_of_scope", "contrasts.txt", 289),
        Example("how do i fax the form", "Q21", "term-sheet-2.txt", 150),
    ]
    report = CvReport(
        labels=["PROXY-10", "PROXY-12", "PROXY-22", "Q21", "out_of_scope"],
        truth=[e.label for e in examples],
        predicted=["out_of_scope", "PROXY-10", "PROXY-12", "Q21"],
        probability=[0.99, 0.05, 0.9, 0.8],
        temperature=1.0,
        threshold=0.1,
        folds=5,
    )
    print_confusions([report], examples, None, top=10)
    out = capsys.readouterr().out
    proxy_oos = out.split("== PROXY → out_of_scope: 2 lines")[1].split("==")[0]
    assert "0.99       PROXY-10 → out_of_scope" in proxy_oos and "proxy.txt:257" in proxy_oos
    # below the threshold: decided out of scope, and the listing says it abstained
    assert "PROXY-22 → PROXY-10       (abstained) proxy.txt:568" in proxy_oos
    oos_proxy = out.split("== out_of_scope → PROXY: 1 lines")[1]
    assert "contrasts.txt:289" in oos_proxy and "is eliot protsch married" in oos_proxy
    assert "term-sheet-2.txt:150" not in out  # right answers are not listed
