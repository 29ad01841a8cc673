"""Metrics, named the same way for every model and baseline: classification metrics of the
kind and topic models, the kind selection score, the topic tagger's tagging metrics
(utility, calibration), news-vs-rest F1, and the page-level shingle F1 of extracted text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from newsclean.config import KINDS, TOPICS


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


# Every right tag earns 1, every wrong tag costs WRONG_TAG_COST, no tag earns nothing. The
# threshold that maximises this utility on validation is the one the tagger uses.
WRONG_TAG_COST = 1.0


# -- scoring ---------------------------------------------------------------------------------
def macro_f1(y_true, y_pred) -> float:
    """Macro-F1 over the topics present in the truth (as ``evaluation`` does)."""
    present = [t for t in TOPICS if t in set(y_true)]
    return float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))


def tag_utility(y_true, tags: list[list[str]]) -> float:
    """Mean per paragraph of (right tags − WRONG_TAG_COST × wrong tags); no tag scores 0.

    With one true topic per paragraph a tag is worth giving when it is right more often than
    not, so a second tag only pays where the data really has two topics."""
    total = 0.0
    for truth, predicted in zip(y_true, tags, strict=True):
        right = truth in predicted
        total += right - WRONG_TAG_COST * (len(predicted) - right)
    return total / max(len(tags), 1)


def expected_calibration_error(y_true, proba: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-1 probability (equal-width bins)."""
    y_true = np.asarray(y_true, dtype=object)
    confidence = proba.max(axis=1)
    correct = np.asarray(TOPICS, dtype=object)[proba.argmax(axis=1)] == y_true
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def mean_log_loss(y_true, proba: np.ndarray) -> float:
    """Mean negative log-probability of the true topic (columns in TOPICS order)."""
    index = np.array([TOPICS.index(t) for t in y_true])
    picked = proba[np.arange(len(index)), index]
    return float(-np.log(np.clip(picked, 1e-12, 1)).mean())


def kind_selection_score(frame: pd.DataFrame, proba: np.ndarray) -> float:
    """What candidates are chosen by: mean of macro-F1 (known kinds) and news F1 (all)."""
    from sklearn.metrics import f1_score

    predicted = np.array(KINDS, dtype=object)[proba.argmax(axis=1)]
    known = frame["kind"].notna().to_numpy()
    truth = frame["kind"].to_numpy(dtype=object)[known]
    present = [k for k in KINDS if k in set(truth)]
    macro = f1_score(truth, predicted[known], labels=present, average="macro", zero_division=0)
    news = f1_score(frame["is_news"].to_numpy(dtype=bool), predicted == "news", zero_division=0)
    return float((macro + news) / 2)
