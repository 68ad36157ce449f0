"""The offer's question bank: labelled example questions as employees write them.

The bank lives beside the offer document (``knowledge/offers/<offer>/questions/*.txt``) and is
data, reviewed in a diff like the Rasa NLU files it imitates::

    # Q21: how to tender — signed Election Form by fax or hand; e-mail not accepted
    [Q21]
    can i just email the form in
    fax number for the election form?

A ``[LABEL]`` line starts a block; every other non-blank line that does not start with ``#`` is
one example of that label. A label is a knowledge-entry id (``Q21``, ``S4``, ``RISK-3``,
``PROXY-12``, ``COVER``, ``SCHED-A``), ``advice``, ``out_of_scope``, ``personal:<intent>`` or
``smalltalk:<kind>``. :func:`check_bank` validates every label against the parsed knowledge base
and counts examples per label (``offerbot kb check``).

The bank is training data for the router (``knowledge.router``). It must never contain an
evaluation set's questions or paraphrases of them: ``tests/knowledge/test_bank.py`` holds the
bank against the held-out developer set.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ADVICE",
    "MIN_PER_LABEL",
    "OUT_OF_SCOPE",
    "PERSONAL_INTENTS",
    "SMALLTALK_KINDS",
    "Bank",
    "BankCheck",
    "BankError",
    "Example",
    "check_bank",
    "load_bank",
]

ADVICE = "advice"
OUT_OF_SCOPE = "out_of_scope"
PERSONAL_INTENTS = ("grants", "status", "elect", "withdraw", "deadline", "help")
# "unclear": a message with nothing to answer ("hmm", "yes", "lol", "test") — asked what the
# person would like to know, never filed for HR as an unanswered question
SMALLTALK_KINDS = ("greeting", "thanks", "goodbye", "identity", "capabilities", "unclear")
# what the issue that introduced the bank asks of it: per entry, and per special label
MIN_PER_LABEL = {"entry": 20, ADVICE: 100, OUT_OF_SCOPE: 200, "personal": 30, "smalltalk": 20}

_LABEL = re.compile(r"\[\s*([A-Za-z0-9_:-]+)\s*\]")


class BankError(ValueError):
    """A bank file that cannot be read: the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    file: str  # the file's name, for messages and grouping
    line: int


@dataclass(frozen=True, slots=True)
class Bank:
    examples: tuple[Example, ...]
    digest: str  # sha256 of the files' names and bytes, in order

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({e.label for e in self.examples}))

    def counts(self) -> Counter[str]:
        return Counter(e.label for e in self.examples)


def special_labels() -> tuple[str, ...]:
    """Every label that is not a knowledge entry."""
    return (
        ADVICE,
        OUT_OF_SCOPE,
        *(f"personal:{p}" for p in PERSONAL_INTENTS),
        *(f"smalltalk:{s}" for s in SMALLTALK_KINDS),
    )


def parse_bank_text(text: str, *, file: str) -> list[Example]:
    """The examples of one bank file (see the module docstring for the format)."""
    examples: list[Example] = []
    label: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LABEL.fullmatch(line)
        if match:
            label = match.group(1)
            continue
        if label is None:
            raise BankError(f"{file}, line {number}: an example before any [LABEL] line")
        examples.append(Example(" ".join(line.split()), label, file, number))
    return examples


def load_bank(offer_dir: Path) -> Bank:
    """Every ``questions/*.txt`` file of the offer folder, in name order."""
    folder = Path(offer_dir) / "questions"
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    digest = hashlib.sha256()
    examples: list[Example] = []
    for path in files:
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data + b"\0")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BankError(f"{path.name}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
        examples += parse_bank_text(text, file=path.name)
    return Bank(tuple(examples), digest.hexdigest())


@dataclass(frozen=True, slots=True)
class BankCheck:
    counts: dict[str, int]  # every known label (entries and special labels), bank order
    unknown: tuple[Example, ...]  # examples whose label is no entry and no special label
    duplicates: tuple[tuple[Example, Example], ...]  # the same text twice (first, second)
    conflicts: tuple[tuple[Example, Example], ...]  # the same text under two labels
    short: tuple[str, ...]  # labels below their minimum

    @property
    def ok(self) -> bool:
        return not (self.unknown or self.conflicts or self.short)


def _minimum(label: str) -> int:
    if label in (ADVICE, OUT_OF_SCOPE):
        return MIN_PER_LABEL[label]
    if label.startswith(("personal:", "smalltalk:")):
        return MIN_PER_LABEL[label.split(":")[0]]
    return MIN_PER_LABEL["entry"]


def check_bank(bank: Bank, entry_ids: Sequence[str]) -> BankCheck:
    """Labels checked against the knowledge base; coverage per label; repeated examples."""
    known = [*entry_ids, *special_labels()]
    known_set = set(known)
    counts = dict.fromkeys(known, 0)
    unknown = []
    for example in bank.examples:
        if example.label in known_set:
            counts[example.label] += 1
        else:
            unknown.append(example)
    seen: dict[str, Example] = {}
    duplicates: list[tuple[Example, Example]] = []
    conflicts: list[tuple[Example, Example]] = []
    for example in bank.examples:
        key = _key(example.text)
        first = seen.setdefault(key, example)
        if first is example:
            continue
        (duplicates if first.label == example.label else conflicts).append((first, example))
    short = tuple(label for label, n in counts.items() if n < _minimum(label))
    return BankCheck(counts, tuple(unknown), tuple(duplicates), tuple(conflicts), short)


def _key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9$%]+", text.lower()))
