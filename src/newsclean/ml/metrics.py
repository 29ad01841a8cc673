"""Metrics, named the same way for every model and baseline: classification metrics of the
kind and topic models, news-vs-rest F1, and the page-level shingle F1 of extracted text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], prefix: str
) -> dict[str, float]:
    """accuracy, macro-F1 and per-class precision/recall/F1 as ``<prefix>_<name>``."""
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    present = [label for label in labels if label in set(y_true)]
    metrics = {
        f"{prefix}_accuracy": float(accuracy_score(y_true, y_pred)),
        f"{prefix}_macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
    }
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=list(labels), zero_division=0
    )
    for label, p, r, f in zip(labels, precision, recall, f1, strict=True):
        metrics[f"{prefix}_precision_{label}"] = float(p)
        metrics[f"{prefix}_recall_{label}"] = float(r)
        metrics[f"{prefix}_f1_{label}"] = float(f)
    return metrics


def news_f1(y_true: Sequence[str], y_pred: Sequence[str], weights=None) -> float:
    """F1 of the news class against everything else (what a cleaner keeps). With
    ``weights`` (e.g. each block's length), how much of the text is kept or dropped rightly,
    where an unweighted F1 counts a three-word menu item as much as a long paragraph."""
    truth = np.asarray(y_true, dtype=object) == "news"
    predicted = np.asarray(y_pred, dtype=object) == "news"
    return float(f1_score(truth, predicted, sample_weight=weights, zero_division=0))


def per_source_report(
    frame: pd.DataFrame, truth: str, predicted: str, labels: Sequence[str]
) -> pd.DataFrame:
    """Rows, accuracy and macro-F1 per source."""
    rows = []
    for source, part in frame.groupby("source"):
        present = [label for label in labels if label in set(part[truth])]
        rows.append(
            {
                "source": source,
                "rows": len(part),
                "accuracy": accuracy_score(part[truth], part[predicted]),
                "macro_f1": f1_score(
                    part[truth], part[predicted], labels=present, average="macro", zero_division=0
                ),
            }
        )
    return pd.DataFrame(rows).round(4)


def worst_errors(
    frame: pd.DataFrame,
    truth: str,
    predicted: str,
    probability: np.ndarray,
    classes: Sequence[str],
    limit: int = 200,
) -> pd.DataFrame:
    """The most confident mistakes: text, true, predicted and the predicted probability."""
    wrong = frame[truth].to_numpy() != frame[predicted].to_numpy()
    confidence = probability.max(axis=1)
    table = frame.loc[wrong, ["source", "doc_id", "text", truth, predicted]].copy()
    table["probability"] = confidence[wrong]
    table["text"] = table["text"].str.slice(0, 300)
    table = table.rename(columns={truth: "true", predicted: "predicted"})
    return table.sort_values("probability", ascending=False).head(limit)


THRESHOLD_GRID = tuple(float(round(t, 2)) for t in np.linspace(0.05, 0.95, 91))


def news_threshold_sweep(
    is_news: Sequence[bool],
    p_news: Sequence[float],
    predicted_news: Sequence[bool],
    groups: Sequence[str],
) -> pd.DataFrame:
    """Per group (corpus): news-vs-rest F1 as the model decides (``predicted_news``) and at
    the group's own best threshold on p(news) (``THRESHOLD_GRID``).

    One model serves every corpus with one decision rule; where the corpora's gold text puts
    the news / not-news boundary in different places, their best thresholds part. The best
    threshold's F1 is also the most this model's ranking of blocks can give that group, so a
    goal above it needs a better ranking, not a better threshold. Groups without a news block
    are left out. For analysis on validation, never for choosing a model.
    """
    truth = np.asarray(is_news, dtype=bool)
    scores = np.asarray(p_news, dtype=np.float64)
    decided = np.asarray(predicted_news, dtype=bool)
    labels = np.asarray(groups, dtype=object)
    rows = []
    for group in sorted(set(labels)):
        mask = labels == group
        if not truth[mask].any():
            continue
        f1s = [f1_score(truth[mask], scores[mask] >= t, zero_division=0) for t in THRESHOLD_GRID]
        best = int(np.argmax(f1s))
        rows.append(
            {
                "group": group,
                "blocks": int(mask.sum()),
                "news_f1": float(f1_score(truth[mask], decided[mask], zero_division=0)),
                "best_threshold": THRESHOLD_GRID[best],
                "news_f1_at_best": float(f1s[best]),
            }
        )
    return pd.DataFrame(rows)


SHINGLE_SIZE = 4


def _shingle_counts(text: str) -> Counter:
    from newsclean.text import shingles, tokens

    return Counter(shingles(tokens(text), SHINGLE_SIZE))


def page_shingle_scores(predicted: str, gold: str) -> tuple[float, float]:
    """Per-page precision and recall of 4-token shingles (multiset matching).

    An empty extraction of an empty gold scores 1/1; an empty extraction of a non-empty gold
    scores precision 0 and recall 0 (it kept nothing, so it helped nothing).
    """
    predicted_counts, gold_counts = _shingle_counts(predicted), _shingle_counts(gold)
    n_predicted, n_gold = sum(predicted_counts.values()), sum(gold_counts.values())
    if not n_gold and not n_predicted:
        return 1.0, 1.0
    tp = sum((predicted_counts & gold_counts).values())
    precision = tp / n_predicted if n_predicted else 0.0
    recall = tp / n_gold if n_gold else 0.0
    return precision, recall


def f1_of(precision: float, recall: float) -> float:
    """F1 of a precision and a recall (0 when both are 0)."""
    return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0


def page_f1(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Precision and recall averaged over pages, F1 from the two averages."""
    if not pairs:
        return {"precision": float("nan"), "recall": float("nan"), "f1": float("nan"), "pages": 0}
    scores = np.array([page_shingle_scores(p, g) for p, g in pairs])
    precision, recall = scores.mean(axis=0)
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1_of(precision, recall)),
        "pages": len(pairs),
    }
