"""Model builders: each returns an unfitted scikit-learn estimator that takes a paragraph table."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from newsclean.config import ModelConfig
from newsclean.features import text_features


def tfidf_logreg(config: ModelConfig, seed: int) -> Pipeline:
    """Baseline: word TF-IDF + multinomial logistic regression (class-balanced)."""
    return Pipeline(
        [
            ("features", text_features(config)),
            (
                "classifier",
                LogisticRegression(
                    C=config.C,
                    max_iter=config.max_iter,
                    class_weight="balanced",
                    random_state=seed,
                ),
            ),
        ]
    )
