"""Choose the page-level pass's settings (``newsclean.clean.pagepass``) on validation pages,
one pair for HTML input and one for text input.

A page given as text has lost its HTML evidence, so the kind model's p(news) is less sure on
it and the best trade-off between a switch penalty and a news bias differs from HTML's. The
validation pages are cleaned once per input with the pass off; each grid point then only
re-runs the pass over the stored probabilities (a page as the cleaner would return it: the
kept blocks, news ones with their glued junk stripped, the rest as they were, kind rules
applied). The pair with the best mean page F1 wins; a tie keeps the cleaner's current
setting. Test pages are never looked at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from newsclean.clean.pagepass import decide_page
from newsclean.clean.settings import CleanerSettings
from newsclean.config import KINDS
from newsclean.kindrules import rule_for
from newsclean.ml.metrics import f1_of, page_shingle_scores
from newsclean.train.pages import (
    HTML_INPUT,
    clean_records,
    input_metric_name,
    page_input_names,
    page_inputs,
)

PENALTIES = (0.0, 0.75, 1.0, 1.25, 1.5, 2.0)
BIASES = (0.5, 0.25, 0.0, -0.25, -0.5, -0.75, -1.0)
# The lowest news bias for text input. Validation pages are whole pages, where a negative bias
# cuts doubtful menu and caption lines; a short article given as text ends on a body
# paragraph the model calls news at about p = 0.6 against boilerplate (log odds 0.36, the
# typical article of tests/clean/test_behaviour.py with kind champion v4), which a bias below
# -0.36 drops. Whole pages do not show that case, so the grid does not go below this.
TEXT_MIN_BIAS = -0.25


class _Page:
    """One cleaned page as the pass sees it: probabilities, lengths, the text of each block
    as the cleaner would return it (news with its glued junk stripped, the rest as it was),
    and its gold. Scores are cached per keep mask: most grid points keep the same blocks."""

    def __init__(self, cleaned, gold: str) -> None:
        paragraphs = cleaned.paragraphs if cleaned is not None else []
        self.proba = np.array([[p.probabilities[k] for k in KINDS] for p in paragraphs])
        self.chars = np.array([len(p.original) for p in paragraphs], dtype=np.float64)
        self.texts = [p.text if p.kind == "news" else p.original for p in paragraphs]
        self.ruled = np.array([bool(rule_for(p.original)) for p in paragraphs], dtype=bool)
        self.gold = gold
        self._scores: dict[bytes, tuple[float, float]] = {}

    def scores(self, settings: CleanerSettings, penalty: float, bias: float) -> tuple[float, float]:
        """Shingle precision and recall of the page with this pass."""
        if not self.texts:
            return page_shingle_scores("", self.gold)
        keep = (
            decide_page(
                self.proba,
                self.chars,
                penalty,
                settings.fallback_min_chars,
                settings.fallback_floor,
                bias,
            ).keep
            & ~self.ruled
        )
        key = np.packbits(keep).tobytes()
        if key not in self._scores:
            text = "\n\n".join(t for t, k in zip(self.texts, keep, strict=True) if k)
            self._scores[key] = page_shingle_scores(text, self.gold)
        return self._scores[key]


def _cleaned_pages(cleaner, pages: Sequence, input_name: str) -> list[_Page]:
    """The pages of one input cleaned with the pass off (and no topics)."""
    off = cleaner.with_settings(
        contiguity_penalty=0.0,
        news_bias=0.0,
        text_contiguity_penalty=None,
        text_news_bias=None,
        fallback_min_chars=0,
        topics=False,
    )
    records = [page_inputs(page.html, [input_name])[input_name][0] for page in pages]
    cleaned = clean_records(off, records)  # None: a page with no text keeps nothing
    return [_Page(c, p.gold) for c, p in zip(cleaned, pages, strict=True)]


def sweep(cleaner, pages: Sequence) -> pd.DataFrame:
    """Page F1 on ``pages`` (from the mean precision and recall, as ``page_f1``) per (input,
    penalty, bias), the cleaner's other settings as they are."""
    settings = cleaner.settings
    rows = []
    for name in page_input_names():
        cleaned = _cleaned_pages(cleaner, pages, name)
        for penalty in PENALTIES:
            for bias in BIASES:
                scores = np.array([page.scores(settings, penalty, bias) for page in cleaned])
                precision, recall = scores.mean(axis=0)
                rows.append(
                    {
                        "input": name,
                        "penalty": penalty,
                        "bias": bias,
                        "page_f1": f1_of(precision, recall),
                    }
                )
    return pd.DataFrame(rows)


def choose(grid: pd.DataFrame, settings: CleanerSettings) -> CleanerSettings:
    """``settings`` with the best (penalty, bias) for HTML and for text input (the text
    renderings' mean F1). A tie keeps the current pair, then the smaller change."""
    if grid.empty:
        return settings
    text = grid["input"] != HTML_INPUT
    chosen = {}
    for is_text, part in ((False, grid[~text]), (True, grid[text])):
        if part.empty:
            continue
        current = settings.page_pass(text_input=is_text)
        if is_text:
            part = part[part["bias"] >= TEXT_MIN_BIAS]
        scores = part.groupby(["penalty", "bias"], as_index=False)["page_f1"].mean()
        scores["distance"] = (scores["penalty"] - current[0]).abs() + (
            scores["bias"] - current[1]
        ).abs()
        scores["page_f1"] = scores["page_f1"].round(6)  # ties in float noise are ties
        best = scores.sort_values(["page_f1", "distance"], ascending=[False, True]).iloc[0]
        chosen[is_text] = (float(best["penalty"]), float(best["bias"]))
    html = chosen.get(False, settings.page_pass(text_input=False))
    text_pair = chosen.get(True, settings.page_pass(text_input=True))
    return dataclasses.replace(
        settings,
        contiguity_penalty=html[0],
        news_bias=html[1],
        text_contiguity_penalty=text_pair[0],
        text_news_bias=text_pair[1],
    )


def chosen_scores(grid: pd.DataFrame, settings: CleanerSettings) -> dict[str, float]:
    """Validation page F1 per input at the chosen pass (``val_page_f1_<input>``) and with the
    model's own decisions (``val_page_f1_<input>_no_pass``: penalty 0, bias 0)."""
    out = {}
    for name, part in grid.groupby("input", sort=False):
        key = f"val_{input_metric_name(name)}"
        penalty, bias = settings.page_pass(text_input=name != HTML_INPUT)
        row = part[(part["penalty"] == penalty) & (part["bias"] == bias)]
        if len(row):
            out[key] = float(row["page_f1"].iloc[0])
        plain = part[(part["penalty"] == 0) & (part["bias"] == 0)]
        if len(plain):
            out[f"{key}_no_pass"] = float(plain["page_f1"].iloc[0])
    return out


def tune(cleaner, pages: Sequence) -> tuple[CleanerSettings, pd.DataFrame]:
    """The cleaner's settings with the page pass chosen on ``pages`` (validation), and the
    grid it was chosen from (empty without pages)."""
    if not pages:
        return cleaner.settings, pd.DataFrame()
    grid = sweep(cleaner, pages)
    return choose(grid, cleaner.settings), grid
