"""Is a learned "is this an article page" signal better than the cleaner's ``confidence``?

Cleans WCXB pages with the champion cleaner (HTML input) and describes each page by what the
cleaner returned: its confidence, how much and how many blocks it kept, how its blocks split
between the kinds, the mean p(news), whether it fell back. A logistic regression on those
figures is fitted on WCXB's dev pages (``dev-articles`` against ``dev-other``: today's pages,
none of them in the test split) and scored on the 505 test pages of every type, beside
``confidence`` alone: ROC AUC of article vs not. An experiment for issue #22, not part of
``make train``; the dev articles may sit in the kind model's training split, which flatters
their figures a little.

    .venv/bin/python scripts/article_page_signal.py
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from newsclean.clean.cleaner import Cleaner
from newsclean.clean.inputs import InputError, to_article
from newsclean.config import KINDS, load_config
from newsclean.data.sources.pages import wcxb_pages
from newsclean.text import decode_bytes

FEATURES = [
    "confidence",
    "log_kept_chars",
    "log_total_chars",
    "kept_share_chars",
    "kept_share_blocks",
    "log_blocks",
    "mean_p_news",
    "longest_kept_run_share",
    "mean_kept_words",
    *[f"share_{kind}" for kind in KINDS],
    "fell_back",
]


def page_figures(cleaned) -> dict[str, float]:
    """What the cleaner's output says about the page as a whole."""
    paragraphs = cleaned.paragraphs
    chars = np.array([len(p.original or p.text) for p in paragraphs], dtype=float)
    kept = np.array([p.kept for p in paragraphs], dtype=bool)
    total = max(chars.sum(), 1.0)
    run = best = 0.0
    for size, is_kept in zip(chars, kept, strict=True):
        run = run + size if is_kept else 0.0
        best = max(best, run)
    kinds = [p.kind for p in paragraphs]
    words = [len(p.text.split()) for p in paragraphs if p.kept]
    return {
        "confidence": cleaned.confidence if cleaned.confidence is not None else 0.0,
        "log_kept_chars": math.log1p(chars[kept].sum()),
        "log_total_chars": math.log1p(chars.sum()),
        "kept_share_chars": chars[kept].sum() / total,
        "kept_share_blocks": kept.mean() if len(kept) else 0.0,
        "log_blocks": math.log1p(len(paragraphs)),
        "mean_p_news": float(np.mean([p.probabilities.get("news", 0.0) for p in paragraphs]))
        if paragraphs
        else 0.0,
        "longest_kept_run_share": best / total,
        "mean_kept_words": float(np.mean(words)) if words else 0.0,
        **{f"share_{k}": kinds.count(k) / max(len(kinds), 1) for k in KINDS},
        "fell_back": float(cleaned.fell_back),
    }


def describe(cleaner: Cleaner, pages: list) -> pd.DataFrame:
    rows = []
    for page in pages:
        try:
            article = to_article({"id": page.doc_id, "html": decode_bytes(page.html)[0]})
        except InputError:
            continue
        cleaned = cleaner.clean_many([article])[0]
        rows.append({"doc_id": page.doc_id, "page_type": page.page_type, **page_figures(cleaned)})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="cleaner model URI (default: the champion)")
    args = parser.parse_args()
    config = load_config()
    cleaner = Cleaner.load(args.model, config).with_settings(topics=False)
    started = time.perf_counter()
    corpora = config.paths.corpora_dir
    dev = pd.concat(
        [
            describe(cleaner, wcxb_pages(corpora, "dev-articles")),
            describe(cleaner, wcxb_pages(corpora, "dev-other")),
        ]
    )
    test = describe(cleaner, wcxb_pages(corpora, "test"))
    dev_y = (dev["page_type"] == "article").to_numpy()
    test_y = (test["page_type"] == "article").to_numpy()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(dev[FEATURES].to_numpy(), dev_y)
    learned = model.predict_proba(test[FEATURES].to_numpy())[:, 1]
    print(
        f"dev pages: {len(dev)} ({dev_y.sum()} articles); test pages: {len(test)} "
        f"({test_y.sum()} articles); {time.perf_counter() - started:.0f} s"
    )
    print(
        "ROC AUC on WCXB test, article vs not: "
        f"confidence {roc_auc_score(test_y, test['confidence']):.3f}, "
        f"kept chars {roc_auc_score(test_y, test['log_kept_chars']):.3f}, "
        f"learned (logistic, dev-fitted) {roc_auc_score(test_y, learned):.3f}"
    )
    test = test.assign(learned=learned)
    for kind, part in test.groupby("page_type"):
        print(
            f"  {kind:14s} pages {len(part):3d}  mean confidence {part['confidence'].mean():.3f}  "
            f"mean learned p(article) {part['learned'].mean():.3f}"
        )
    weights = model[-1].coef_[0]
    order = np.argsort(-np.abs(weights))
    print(
        "largest weights (standardised):",
        ", ".join(f"{FEATURES[i]} {weights[i]:+.2f}" for i in order[:6]),
    )


if __name__ == "__main__":
    main()
