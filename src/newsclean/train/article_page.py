"""Fit the cleaner's article-page model (``newsclean.clean.pagepass.ArticlePageModel``).

Extractor users ask whether a page is an article at all: listing, product, service and forum
pages come back as short runs of glued teasers. The model reads what the cleaner decided on
a page (``pagepass.page_figures``: its confidence, how much and how contiguously it kept,
how its blocks split between the kinds) and is fitted on WCXB's dev pages, today's pages:
``dev-articles`` against ``dev-other`` (service, listing, forum, product, documentation,
collection). It is scored on every WCXB test page, beside the page ``confidence`` alone. The
dev articles may sit in the kind model's training split, which flatters their figures a
little; no test page is used for fitting or choosing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from newsclean.clean.pagepass import ARTICLE_PAGE_FIGURES, ArticlePageModel, article_figures
from newsclean.config import Config
from newsclean.train.pages import HTML_INPUT, clean_records, page_inputs

ARTICLE = "article"


def describe(cleaner, pages: Sequence) -> pd.DataFrame:
    """One row per page: its ``ARTICLE_PAGE_FIGURES`` as the cleaner (HTML input, no topics)
    returns them, its page type and its confidence. Pages without text are left out."""
    quick = cleaner.with_settings(topics=False, article_page=None)
    records = [page_inputs(page.html, [HTML_INPUT])[HTML_INPUT][0] for page in pages]
    cleaned = clean_records(quick, records)
    kept = [(c, p.page_type) for c, p in zip(cleaned, pages, strict=True) if c is not None]
    table = pd.DataFrame(
        np.array([article_figures(c) for c, _ in kept]).reshape(len(kept), -1),
        columns=ARTICLE_PAGE_FIGURES,
    )
    return table.assign(page_type=[page_type for _, page_type in kept])


def fit(dev: pd.DataFrame) -> ArticlePageModel | None:
    """A standardised logistic regression of article vs not on ``describe`` rows (None when
    the rows hold one class only)."""
    from sklearn.linear_model import LogisticRegression

    y = (dev["page_type"] == ARTICLE).to_numpy()
    if y.all() or not y.any():
        return None
    X = dev[list(ARTICLE_PAGE_FIGURES)].to_numpy(dtype=np.float64)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model = LogisticRegression(C=1.0, max_iter=2000).fit((X - mean) / scale, y)
    return ArticlePageModel(
        tuple(mean.tolist()),
        tuple(scale.tolist()),
        tuple(model.coef_[0].tolist()),
        float(model.intercept_[0]),
    )


def fit_and_score(cleaner, config: Config) -> tuple[ArticlePageModel | None, dict, pd.DataFrame]:
    """The model fitted on WCXB's dev pages; ROC AUC on WCXB's test pages of the learned
    probability and of ``confidence`` (article vs not); mean p(article) per page type."""
    from sklearn.metrics import roc_auc_score

    from newsclean.data.sources.pages import wcxb_pages

    corpora = config.paths.corpora_dir
    if corpora is None or not (Path(corpora) / "wcxb").is_dir():
        return None, {}, pd.DataFrame()
    dev = pd.concat(
        [describe(cleaner, wcxb_pages(corpora, f)) for f in ("dev-articles", "dev-other")],
        ignore_index=True,
    )
    model = fit(dev)
    if model is None:
        return None, {}, pd.DataFrame()
    test = describe(cleaner, wcxb_pages(corpora, "test"))
    learned = np.array(
        [model.probability(row) for row in test[list(ARTICLE_PAGE_FIGURES)].to_numpy()]
    )
    test = test.assign(article_probability=learned)
    is_article = (test["page_type"] == ARTICLE).to_numpy()
    metrics = {"article_page_dev_pages": float(len(dev))}
    if is_article.any() and not is_article.all():
        metrics["wcxb_article_auc_learned"] = float(roc_auc_score(is_article, learned))
        metrics["wcxb_article_auc_confidence"] = float(
            roc_auc_score(is_article, test["confidence"])
        )
    by_type = (
        test.groupby("page_type")
        .agg(pages=("confidence", "size"), confidence=("confidence", "mean"))
        .join(test.groupby("page_type")["article_probability"].mean())
        .reset_index()
    )
    return model, metrics, by_type
