"""Fitting the article-page model on described pages."""

from __future__ import annotations

import numpy as np
import pandas as pd

from newsclean.clean.pagepass import ARTICLE_PAGE_FIGURES
from newsclean.train.article_page import fit


def described(kept_shares: list[float], page_type: str) -> pd.DataFrame:
    rng = np.random.default_rng(len(kept_shares))
    table = pd.DataFrame(
        rng.normal(0.5, 0.1, (len(kept_shares), len(ARTICLE_PAGE_FIGURES))),
        columns=ARTICLE_PAGE_FIGURES,
    )
    return table.assign(kept_share_chars=kept_shares, fell_back=0.0, page_type=page_type)


def test_the_model_learns_that_article_pages_keep_more_of_the_page():
    dev = pd.concat(
        [described([0.5, 0.6, 0.7, 0.8], "article"), described([0.05, 0.1, 0.15, 0.2], "listing")]
    )
    model = fit(dev)
    figures = dev[list(ARTICLE_PAGE_FIGURES)].to_numpy()
    probabilities = [model.probability(row) for row in figures]
    assert min(probabilities[:4]) > 0.5 > max(probabilities[4:])
    # a constant figure (fell_back) gets scale 1, not a division by zero
    assert model.scale[ARTICLE_PAGE_FIGURES.index("fell_back")] == 1.0


def test_one_class_only_gives_no_model():
    assert fit(described([0.5, 0.6], "article")) is None
