"""TF-IDF for one training run: every text counted once, each fit weighing the rows it trains on.

Training fits the TF-IDF spaces six times — once per cross-validation fold and once for the
final model — on subsets of the same texts. ``TfidfVectorizer.fit_transform`` analyses and
counts its texts and builds its vocabulary again each time: 0.5 s of Python per fold here,
all of it holding the GIL while the other folds' SVMs wait for a core. Instead
``CountVectorizer`` counts every text of the run once (:meth:`Counted.of`); a fit takes its
texts' rows, keeps the terms that occur in at least ``min_df`` of them, and scikit-learn's
``TfidfTransformer`` weighs them. ``TfidfVectorizer`` *is* ``CountVectorizer`` followed by
``TfidfTransformer``, and the vocabulary is the same sorted list of terms restricted to those
rows, so the matrices are the same numbers in the same columns (a test compares them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Counted", "Space"]

Analyzer = Callable[[str], Sequence[str]]


@dataclass(frozen=True, slots=True, eq=False)
class Space:
    """One fitted TF-IDF space: what ``TfidfVectorizer(sublinear_tf=True)`` would hold after
    fitting on the same texts (``vocabulary`` its ``vocabulary_``, ``idf`` its ``idf_``)."""

    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float32]
    count: Any = field(repr=False)  # a sklearn CountVectorizer over ``vocabulary``
    weigh: Any = field(repr=False)  # the fitted sklearn TfidfTransformer

    def transform(self, texts: Sequence[str]) -> Any:
        """(texts, terms) sparse float32: sublinear tf × idf, each row L2-normalised."""
        return self.weigh.transform(self.count.transform(texts))


@dataclass(frozen=True, slots=True, eq=False)
class Counted:
    """Every text of a training run, analysed and counted once."""

    rows: dict[str, int]  # text → its row in ``counts``
    counts: Any  # scipy CSR (texts, terms), float32 term counts
    terms: npt.NDArray[np.str_]  # column → term, sorted (as CountVectorizer sorts them)
    analyzer: Analyzer

    @classmethod
    def of(cls, texts: Sequence[str], analyzer: Analyzer) -> Counted:
        from sklearn.feature_extraction.text import CountVectorizer

        unique = list(dict.fromkeys(texts))
        counter = CountVectorizer(analyzer=analyzer, dtype=np.float32)
        counts = counter.fit_transform(unique).tocsr()
        return cls(
            {text: row for row, text in enumerate(unique)},
            counts,
            counter.get_feature_names_out(),
            analyzer,
        )

    def fit_transform(self, texts: Sequence[str], *, min_df: int = 1) -> tuple[Space, Any]:
        """The space fitted on ``texts`` (each one of this run's) and their TF-IDF matrix —
        ``TfidfVectorizer(analyzer, sublinear_tf=True, min_df=min_df).fit_transform(texts)``."""
        from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

        counts = self.counts[[self.rows[text] for text in texts]]
        document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
        kept = np.flatnonzero(document_frequency >= min_df)
        counts = counts[:, kept]
        weigh = TfidfTransformer(sublinear_tf=True)
        matrix = weigh.fit_transform(counts)
        vocabulary = {str(term): column for column, term in enumerate(self.terms[kept])}
        count = CountVectorizer(analyzer=self.analyzer, vocabulary=vocabulary, dtype=np.float32)
        return Space(vocabulary, weigh.idf_.astype(np.float32), count, weigh), matrix
