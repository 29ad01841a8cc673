"""Refit and score the article-page model on a logged cleaner, outside ``make train``.

The cleaner's build fits it (``newsclean.train.article_page``: WCXB's dev pages, ``dev-articles``
against ``dev-other``) and logs its ROC AUC on WCXB's test pages beside ``confidence``. This
script does the same for any cleaner (default: the champion) and prints the figures, the mean
p(article) per page type and the largest standardised weights.

    .venv/bin/python scripts/article_page_signal.py [--model URI]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from newsclean.clean.cleaner import Cleaner
from newsclean.clean.pagepass import ARTICLE_PAGE_FIGURES
from newsclean.config import load_config
from newsclean.train.article_page import fit_and_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="cleaner model URI (default: the champion)")
    args = parser.parse_args()
    config = load_config()
    started = time.perf_counter()
    model, metrics, by_type = fit_and_score(Cleaner.load(args.model, config), config)
    if model is None:
        print("no WCXB pages of both kinds under the corpora directory")
        return
    print(f"{time.perf_counter() - started:.0f} s; {metrics}")
    print(by_type.round(3).to_string(index=False))
    order = np.argsort(-np.abs(model.coef))
    print(
        "largest weights (standardised):",
        ", ".join(f"{ARTICLE_PAGE_FIGURES[i]} {model.coef[i]:+.2f}" for i in order[:6]),
    )


if __name__ == "__main__":
    main()
