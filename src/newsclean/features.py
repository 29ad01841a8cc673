"""Features: how a paragraph table becomes model input (scikit-learn transformers).

Model input is always a DataFrame with a ``text`` column; other columns (position, HTML facts)
are optional so the same model serves HTML and plain-text input.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer

from newsclean.config import ModelConfig

INPUT_COLUMNS = ["text"]


def word_tfidf(config: ModelConfig) -> TfidfVectorizer:
    """Word n-gram TF-IDF with a bounded vocabulary (an unbounded one made fits take minutes)."""
    return TfidfVectorizer(
        lowercase=True,
        ngram_range=(1, config.ngram_max),
        min_df=config.min_df,
        max_features=config.max_features,
        sublinear_tf=True,
        dtype="float32",
    )


def text_features(config: ModelConfig) -> ColumnTransformer:
    """The baseline feature set: word TF-IDF of the paragraph text."""
    return ColumnTransformer([("word_tfidf", word_tfidf(config), "text")])
