"""Choosing the page-level pass on validation pages: one pair for HTML, one for text."""

from __future__ import annotations

import pandas as pd

from newsclean.clean.settings import CleanerSettings
from newsclean.train.page_pass import choose, chosen_scores


def grid(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["input", "penalty", "bias", "page_f1"])


def test_html_and_text_get_their_own_best_pair():
    scores = grid(
        [
            ("html", 1.25, 0.0, 0.93),
            ("html", 1.0, -0.5, 0.92),
            ("text:blocks", 1.25, 0.0, 0.88),
            ("text:blocks", 1.0, -0.25, 0.90),
            ("text:html-text", 1.25, 0.0, 0.88),
            ("text:html-text", 1.0, -0.25, 0.89),
        ]
    )
    chosen = choose(scores, CleanerSettings())
    assert chosen.page_pass(text_input=False) == (1.25, 0.0)
    assert chosen.page_pass(text_input=True) == (1.0, -0.25)
    assert chosen_scores(scores, chosen) == {
        "val_page_f1_html": 0.93,
        "val_page_f1_text_blocks": 0.90,
        "val_page_f1_text_html_text": 0.89,
    }


def test_text_renderings_are_chosen_together_by_their_mean():
    scores = grid(
        [
            ("text:blocks", 1.0, 0.0, 0.95),
            ("text:html-text", 1.0, 0.0, 0.80),
            ("text:blocks", 2.0, 0.0, 0.90),
            ("text:html-text", 2.0, 0.0, 0.90),
        ]
    )
    assert choose(scores, CleanerSettings()).page_pass(text_input=True) == (2.0, 0.0)


def test_a_tie_keeps_the_current_setting():
    current = CleanerSettings(contiguity_penalty=1.25, news_bias=0.0)
    scores = grid([("html", 0.75, -1.0, 0.9), ("html", 1.25, 0.0, 0.9), ("html", 2.0, 0.5, 0.9)])
    assert choose(scores, current).page_pass(text_input=False) == (1.25, 0.0)


def test_no_pages_changes_nothing():
    settings = CleanerSettings(contiguity_penalty=0.5)
    assert choose(grid([]), settings) == settings


def test_text_input_never_gets_a_bias_that_drops_a_short_articles_last_paragraph():
    scores = grid([("text:blocks", 1.0, -1.0, 0.95), ("text:blocks", 1.0, 0.0, 0.90)])
    assert choose(scores, CleanerSettings()).page_pass(text_input=True) == (1.0, 0.0)
