"""Evaluation: the same metrics, named the same way, for every model and baseline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)


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


def confusion_figure(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str], title: str
):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(y_true, y_pred, labels=list(labels))
    figure, axis = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.1 * len(labels) + 1.5))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            axis.text(
                j,
                i,
                f"{matrix[i, j]:,}",
                ha="center",
                va="center",
                color="white" if matrix[i, j] > matrix.max() / 2 else "black",
                fontsize=8,
            )
    figure.tight_layout()
    return figure


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


# ------------------------------------------------------------ page level

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


def trafilatura_extract(html_bytes: bytes) -> str:
    import trafilatura

    from newsclean.text import decode_bytes

    return trafilatura.extract(decode_bytes(html_bytes)[0]) or ""


def justext_extract(html_bytes: bytes) -> str:
    import justext

    try:
        paragraphs = justext.justext(html_bytes, justext.get_stoplist("English"))
    except Exception:  # noqa: BLE001 - jusText raises on some broken pages; score as empty
        return ""
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def boilerpipe_extract(html_bytes: bytes) -> str:
    """boilerpipe's ArticleExtractor (the boilerpy3 port), the extractor L3S-GN1 was made for.
    A page it cannot parse scores as empty, as for jusText; its own traceback log is muted."""
    import logging

    from boilerpy3 import extractors

    from newsclean.text import decode_bytes

    logging.getLogger("boilerpy3").setLevel(logging.CRITICAL)
    try:
        return extractors.ArticleExtractor().get_content(decode_bytes(html_bytes)[0])
    except Exception:  # noqa: BLE001 - boilerpy3 raises on some broken pages; score as empty
        return ""


def keep_everything(html_bytes: bytes) -> str:
    from newsclean.segmentation import segment_html

    return "\n".join(b.text for b in segment_html(html_bytes))


PEERS = {
    "trafilatura": trafilatura_extract,
    "justext": justext_extract,
    "boilerpipe": boilerpipe_extract,
    "keep-all": keep_everything,
}


# The inputs the page-level evaluation gives every system: the raw page, and the page as plain
# text in each of ``segmentation.TEXT_RENDERINGS`` (what users who hold text have).
HTML_INPUT = "html"
# Pages cleaned per ``clean_many`` call in the page-level evaluation (the CLI's chunk size).
PAGES_PER_BATCH = 16


def page_input_names() -> tuple[str, ...]:
    from newsclean.segmentation import TEXT_RENDERINGS

    return (HTML_INPUT, *(f"text:{r}" for r in TEXT_RENDERINGS))


def lines_as_html(text: str) -> bytes:
    """Plain text as the minimal page a peer can read: each non-blank line wrapped as ``<p>``
    (how peers are given the same lines as newsclean)."""
    from html import escape

    from newsclean.segmentation import segment_text

    body = "".join(f"<p>{escape(b.text)}</p>\n" for b in segment_text(text))
    return f"<html><body>\n{body}</body></html>".encode()


def page_inputs(html_bytes: bytes, names: Sequence[str]) -> dict[str, tuple[dict, bytes]]:
    """Per input name: (the record the cleaner gets, the bytes a peer gets)."""
    from newsclean.segmentation import render_text
    from newsclean.text import decode_bytes

    out = {}
    for name in names:
        if name == HTML_INPUT:
            out[name] = ({"html": decode_bytes(html_bytes)[0]}, html_bytes)
        else:
            text = render_text(html_bytes, name.removeprefix("text:"))
            out[name] = ({"text": text}, lines_as_html(text))
    return out


def metric_name(corpus: str) -> str:
    """A corpus as MLflow metric keys spell it: ``-`` as ``_`` (``l3s-gn1`` → ``l3s_gn1``),
    the one spelling in every key."""
    return corpus.replace("-", "_")


def page_metric_name(input_name: str, corpus: str) -> str:
    """Stable MLflow key: ``page_f1_<corpus>`` for HTML, ``page_f1_text_<rendering>_<corpus>``
    for text input, with every ``-`` as ``_``."""
    prefix = "page_f1" if input_name == HTML_INPUT else f"page_f1_{input_name.replace(':', '_')}"
    return metric_name(f"{prefix}_{corpus}")


def score_pages(
    cleaner, pages: Sequence, inputs: Sequence[str] | None = None, peers: dict | None = None
) -> pd.DataFrame:
    """Per-page shingle precision and recall, one row per (system, input, page): newsclean
    through ``cleaner`` (a ``cleaning.Cleaner``, as users run it) and every peer on the same
    input. ``pages`` are ``sources.pages.PageCase``-like (``corpus``, ``doc_id``, ``html``,
    ``gold``; ``page_type`` and ``language`` when they have them). Each row also has the
    characters kept and, for newsclean, the page's ``confidence``. Seconds per (system,
    input) are in ``attrs["seconds"]``."""
    import time

    from newsclean.inputs import InputError, to_article

    inputs = tuple(inputs or page_input_names())
    peers = PEERS if peers is None else peers
    rows, seconds = [], {}
    for name in inputs:
        prepared = [page_inputs(p.html, [name])[name] for p in pages]
        outputs: dict[str, list[str]] = {}
        started = time.perf_counter()
        texts = [""] * len(prepared)  # a page with no text keeps nothing
        confidence = [float("nan")] * len(prepared)
        articles, owners = [], []
        for page_number, (record, _) in enumerate(prepared):
            try:
                articles.append(to_article({"id": str(page_number), **record}))
                owners.append(page_number)
            except InputError:
                continue
        for start in range(0, len(articles), PAGES_PER_BATCH):  # as ``newsclean clean`` does
            batch = cleaner.clean_many(articles[start : start + PAGES_PER_BATCH])
            for owner, cleaned in zip(owners[start : start + PAGES_PER_BATCH], batch, strict=True):
                texts[owner] = cleaned.text
                confidence[owner] = cleaned.confidence
        outputs["newsclean"] = texts
        seconds[("newsclean", name)] = time.perf_counter() - started
        for system, extract in peers.items():
            started = time.perf_counter()
            outputs[system] = [extract(peer_bytes) for _, peer_bytes in prepared]
            seconds[(system, name)] = time.perf_counter() - started
        for system, texts in outputs.items():
            for number, (text, page) in enumerate(zip(texts, pages, strict=True)):
                precision, recall = page_shingle_scores(text, page.gold)
                rows.append(
                    {
                        "system": system,
                        "input": name,
                        "corpus": page.corpus,
                        "doc_id": getattr(page, "doc_id", str(number)),
                        "page_type": getattr(page, "page_type", ""),
                        "language": getattr(page, "language", ""),
                        "precision": precision,
                        "recall": recall,
                        "kept_chars": len(text),
                        "confidence": confidence[number] if system == "newsclean" else np.nan,
                    }
                )
    table = pd.DataFrame(rows)
    table.attrs["seconds"] = seconds
    return table


def summarise_pages(scores: pd.DataFrame, by: str = "corpus") -> pd.DataFrame:
    """Page F1 (from the mean precision and recall, as ``page_f1``) per (system, input, ``by``)
    and overall (``by == "all"``), with pages/s where ``scores.attrs`` has the seconds."""
    if scores.empty:
        return pd.DataFrame(columns=["system", "input", by, "precision", "recall", "f1", "pages"])
    seconds = scores.attrs.get("seconds", {})
    rows = []
    for (system, name), part in scores.groupby(["system", "input"], sort=False):
        groups = [*part.groupby(by, sort=False), ("all", part)]
        for value, group in groups:
            precision, recall = group["precision"].mean(), group["recall"].mean()
            row = {
                "system": system,
                "input": name,
                by: value,
                "precision": float(precision),
                "recall": float(recall),
                "f1": float(f1_of(precision, recall)),
                "pages": len(group),
            }
            if value == "all" and (system, name) in seconds:
                row["pages_per_s"] = len(group) / max(seconds[(system, name)], 1e-9)
            rows.append(row)
    return pd.DataFrame(rows)


def evaluate_pages(
    cleaner, pages: Sequence, inputs: Sequence[str] | None = None, peers: dict | None = None
) -> pd.DataFrame:
    """Page shingle F1 per (system, input, corpus) and overall (``corpus == "all"``): the
    summary of ``score_pages``."""
    return summarise_pages(score_pages(cleaner, pages, inputs, peers))


def losses_to_peer(
    scores: pd.DataFrame, peer: str = "trafilatura", below: float = 0.5, peer_above: float = 0.8
) -> pd.DataFrame:
    """Pages where newsclean's F1 is under ``below`` while ``peer`` is over ``peer_above``, on
    the same input: the pages a user would switch extractors for."""
    if scores.empty:
        return pd.DataFrame()
    pairs = zip(scores["precision"], scores["recall"], strict=True)
    f1 = scores.assign(f1=[f1_of(p, r) for p, r in pairs])
    keys = ["input", "corpus", "doc_id"]
    ours = f1[f1["system"] == "newsclean"].set_index(keys)["f1"]
    theirs = f1[f1["system"] == peer].set_index(keys)["f1"]
    both = pd.DataFrame({"newsclean": ours, peer: theirs}).dropna()
    lost = both[(both["newsclean"] < below) & (both[peer] > peer_above)]
    return lost.reset_index().round(4)


def page_table_figure(table: pd.DataFrame, title: str):
    """Grouped bars of page F1: one panel per input, corpora on the x axis, one bar per
    system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inputs = list(dict.fromkeys(table["input"]))
    figure, axes = plt.subplots(
        len(inputs), 1, figsize=(10, 3.2 * len(inputs)), squeeze=False, sharey=True
    )
    for axis, name in zip(axes[:, 0], inputs, strict=True):
        part = table[table["input"] == name]
        pivot = part.pivot(index="corpus", columns="system", values="f1")
        pivot.plot.bar(ax=axis, rot=0, width=0.8)
        axis.set_ylim(0, 1)
        axis.set_ylabel("page F1")
        axis.set_title(f"input: {name}", fontsize=10)
        axis.legend(fontsize=7, ncol=len(pivot.columns), loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def log_figure(figure, name: str) -> None:
    """Log a matplotlib figure to the active MLflow run and close it (figures are kept in
    memory by pyplot until closed)."""
    import matplotlib.pyplot as plt
    import mlflow

    mlflow.log_figure(figure, name)
    plt.close(figure)
