"""Counting a training run's texts once gives scikit-learn's TF-IDF for every subset of them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.bank import load_bank
from knowledge.features import analyze_chars, analyze_words
from knowledge.offer_terms import bundled_offer_dir
from knowledge.term_counts import Counted


@pytest.mark.parametrize("analyzer", [analyze_words, analyze_chars], ids=["words", "chars"])
@pytest.mark.parametrize("min_df", [1, 2])
def test_a_fit_on_some_rows_is_tfidf_vectorizer_on_those_texts(
    analyzer: Callable[[str], tuple[str, ...]], min_df: int
) -> None:
    texts = [e.text for e in load_bank(bundled_offer_dir()).examples][:1500]
    rng = np.random.default_rng(3)
    chosen = rng.random(len(texts)) < 0.8
    train = [t for t, keep in zip(texts, chosen, strict=True) if keep]
    held_out = [t for t, keep in zip(texts, chosen, strict=True) if not keep]
    train += train[:5]  # a text twice counts twice, as scikit-learn counts it
    space, matrix = Counted.of(texts, analyzer).fit_transform(train, min_df=min_df)

    reference = TfidfVectorizer(
        analyzer=analyzer, sublinear_tf=True, min_df=min_df, dtype=np.float32
    )
    expected = reference.fit_transform(train)
    assert space.vocabulary == reference.vocabulary_
    assert np.allclose(space.idf, reference.idf_, atol=1e-6)
    assert matrix.shape == expected.shape
    assert abs(matrix - expected).max() < 1e-6
    assert abs(space.transform(held_out) - reference.transform(held_out)).max() < 1e-6
    unseen = ["a question none of these texts asks, with zzyzx"]
    assert abs(space.transform(unseen) - reference.transform(unseen)).max() < 1e-6
