"""Page-level decisions: a page's blocks looked at together, in document order.

The kind model decides block by block (with its neighbours as features). Two page-level
mistakes remain that no single block shows:

- **Islands and holes.** A lone menu line kept far from the article, or a short body
  paragraph dropped in the middle of it. ``contiguous_news`` smooths the keep/drop decision
  over the page: the most probable keep/drop sequence (Viterbi over two states) where each
  block scores ``log p(news) - log max p(other kind) + bias`` for keep and each switch
  between keep and drop costs ``penalty``. With ``penalty == 0`` and ``bias == 0`` it is
  exactly the model's argmax; a negative ``bias`` asks more evidence of news.
- **Empty articles.** A page whose article the model did not trust at all comes back empty.
  When the kept text is below ``min_chars`` on a page long enough to hold an article (at least
  ``FALLBACK_PAGE_FACTOR`` times ``min_chars``), ``fallback_run`` keeps the contiguous run of
  blocks with the largest ``sum((p(news) - floor) * chars)`` instead, if one has a positive
  sum: the most probable article-like run. A short input (a promo, two lines) is never
  rescued into news.

The pass decides kinds, not only keep/drop: a block it keeps becomes ``news``, a news block it
drops takes its most probable other kind. Its settings live in
``newsclean.clean.settings.CleanerSettings``: each ``make train`` chooses the penalty and the
bias on the validation pages, for HTML and for text input (``newsclean.train.page_pass``); the
defaults (chosen once with ``scripts/page_pass_sweep.py``) serve cleaners logged before.
``page_confidence`` summarises how sure the decisions of a page were, for users who triage;
``ArticlePageModel`` turns ``page_figures`` (what was decided on the page as a whole) into
p(the page is an article page), fitted in training on today's pages of every type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from newsclean.config import KINDS

# log() of a probability the model gave as 0 (trees and calibrated models can).
_EPS = 1e-6
# The fallback only runs on pages with at least this many times ``min_chars`` characters.
FALLBACK_PAGE_FACTOR = 5


def keep_scores(proba: np.ndarray, news_column: int = 0) -> np.ndarray:
    """Per block, ``log p(news) - log max p(other)``: not negative where news is the argmax
    (a tie goes to news, as ``argmax`` gives the first kind)."""
    proba = np.clip(np.asarray(proba, dtype=np.float64), _EPS, 1.0)
    others = np.delete(proba, news_column, axis=1).max(axis=1)
    return np.log(proba[:, news_column]) - np.log(others)


def contiguous_news(scores: np.ndarray, penalty: float) -> np.ndarray:
    """The keep (True) / drop sequence maximising ``sum(scores[kept]) - penalty * switches``
    (Viterbi over two states). A block whose score is exactly 0 (news tied with another kind)
    counts as news, as in the model's argmax; two paths of equal total keep the earlier
    block's state."""
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if penalty <= 0:
        return scores >= 0
    scores = np.where(scores == 0, 1e-9, scores)  # a tie is news: let the path say so too
    # best[s]: best total of a path over blocks 0..i ending in state s (0 drop, 1 keep)
    back = np.zeros((n, 2), dtype=np.int8)
    best = np.array([0.0, scores[0]])
    for i in range(1, n):
        stay_drop, from_keep = best[0], best[1] - penalty
        stay_keep, from_drop = best[1], best[0] - penalty
        back[i, 0] = 0 if stay_drop >= from_keep else 1
        back[i, 1] = 1 if stay_keep >= from_drop else 0
        best = np.array([max(stay_drop, from_keep), max(stay_keep, from_drop) + scores[i]])
    state = int(best[1] > best[0] or (best[1] == best[0] and scores[-1] >= 0))
    path = np.zeros(n, dtype=bool)
    for i in range(n - 1, -1, -1):
        path[i] = bool(state)
        state = int(back[i, state]) if i else state
    return path


def fallback_run(p_news: np.ndarray, chars: np.ndarray, floor: float) -> tuple[int, int] | None:
    """The contiguous run ``[start, end)`` with the largest ``sum((p_news - floor) * chars)``,
    or None when no run has a positive sum (Kadane's maximum subarray)."""
    gains = (np.asarray(p_news, dtype=np.float64) - floor) * np.asarray(chars, dtype=np.float64)
    best, best_run = 0.0, None
    total, start = 0.0, 0
    for i, gain in enumerate(gains):
        if total <= 0:
            total, start = 0.0, i
        total += gain
        if total > best:
            best, best_run = total, (start, i + 1)
    return best_run


@dataclass(frozen=True)
class PageDecision:
    """One page's keep mask and what the page-level pass did to it."""

    keep: np.ndarray
    flipped_to_keep: int = 0
    flipped_to_drop: int = 0
    fell_back: bool = False


def decide_page(
    proba: np.ndarray,
    chars: np.ndarray,
    penalty: float,
    min_chars: int,
    floor: float,
    bias: float = 0.0,
    news_column: int = 0,
) -> PageDecision:
    """Keep mask of one page's blocks (document order): the model's argmax, shifted by
    ``bias`` and smoothed by ``contiguous_news``, and ``fallback_run`` when what is kept is
    under ``min_chars``."""
    scores = keep_scores(proba, news_column)
    argmax = scores >= 0
    keep = contiguous_news(scores + bias, penalty)
    fell_back = False
    if (
        min_chars > 0
        and chars[keep].sum() < min_chars
        and chars.sum() >= FALLBACK_PAGE_FACTOR * min_chars
    ):
        run = fallback_run(proba[:, news_column], chars, floor)
        if run is not None and chars[run[0] : run[1]].sum() > chars[keep].sum():
            keep = np.zeros(len(keep), dtype=bool)
            keep[run[0] : run[1]] = True
            fell_back = True
    return PageDecision(
        keep,
        flipped_to_keep=int((keep & ~argmax).sum()),
        flipped_to_drop=int((~keep & argmax).sum()),
        fell_back=fell_back,
    )


def page_confidence(p_news: np.ndarray, keep: np.ndarray, chars: np.ndarray) -> float | None:
    """How sure the page's decisions were: the character-weighted mean probability of each
    block's own decision (p(news) where kept as news, 1 - p(news) where not). None for a page
    without text (nothing was decided)."""
    chars = np.asarray(chars, dtype=np.float64)
    if not len(chars) or chars.sum() <= 0:
        return None
    sure = np.where(keep, p_news, 1.0 - np.asarray(p_news, dtype=np.float64))
    return float((sure * chars).sum() / chars.sum())


# What the cleaner's decisions say about a page as a whole (``page_figures``), the inputs of
# the article-page model: listing, product and service pages come back as short runs of
# glued teasers, which a user who wants articles should be able to tell.
ARTICLE_PAGE_FIGURES = (
    "confidence",
    "log_kept_chars",
    "log_total_chars",
    "kept_share_chars",
    "kept_share_blocks",
    "log_blocks",
    "mean_p_news",
    "longest_kept_run_share",
    "mean_kept_words",
    *(f"share_{kind}" for kind in KINDS),
    "fell_back",
)


def page_figures(
    proba: np.ndarray,
    kinds: np.ndarray,
    kept: np.ndarray,
    chars: np.ndarray,
    words: np.ndarray,
    fell_back: bool,
) -> np.ndarray:
    """One page's ``ARTICLE_PAGE_FIGURES``: its blocks' probabilities over ``KINDS``, decided
    kinds, kept mask, characters and words, and whether the page fell back."""
    chars = np.asarray(chars, dtype=np.float64)
    kept = np.asarray(kept, dtype=bool)
    n = len(chars)
    total = max(chars.sum(), 1.0)
    run = best = 0.0
    for size, is_kept in zip(chars, kept, strict=True):
        run = run + size if is_kept else 0.0
        best = max(best, run)
    confidence = page_confidence(proba[:, 0], kinds == "news", chars) if n else None
    return np.array(
        [
            confidence or 0.0,
            np.log1p(chars[kept].sum()),
            np.log1p(chars.sum()),
            chars[kept].sum() / total,
            kept.mean() if n else 0.0,
            np.log1p(n),
            proba[:, 0].mean() if n else 0.0,
            best / total,
            np.asarray(words, dtype=np.float64)[kept].mean() if kept.any() else 0.0,
            *((kinds == kind).mean() if n else 0.0 for kind in KINDS),
            float(fell_back),
        ],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class ArticlePageModel:
    """p(the page is an article page) from ``page_figures``: a standardised logistic
    regression, fitted in ``make train`` (``newsclean.train.article_page``) and stored with
    the cleaner's settings as plain numbers."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    names: tuple[str, ...] = ARTICLE_PAGE_FIGURES

    def probability(self, figures: np.ndarray) -> float:
        z = (np.asarray(figures, dtype=np.float64) - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept))))

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, values: dict) -> ArticlePageModel:
        names = tuple(values["names"])
        if names != ARTICLE_PAGE_FIGURES:
            raise ValueError(f"article-page model over other figures: {names}")
        return cls(
            tuple(map(float, values["mean"])),
            tuple(map(float, values["scale"])),
            tuple(map(float, values["coef"])),
            float(values["intercept"]),
            names,
        )


def article_figures(cleaned) -> np.ndarray:
    """``page_figures`` of a ``CleanedArticle`` (what the cleaner computed them from)."""
    paragraphs = cleaned.paragraphs
    proba = np.array(
        [[p.probabilities[k] for k in KINDS] for p in paragraphs], dtype=np.float64
    ).reshape(len(paragraphs), len(KINDS))
    return page_figures(
        proba,
        np.array([p.kind for p in paragraphs], dtype=object),
        np.array([p.kept for p in paragraphs], dtype=bool),
        np.array([len(p.original) for p in paragraphs], dtype=np.float64),
        np.array([len(p.text.split()) for p in paragraphs], dtype=np.float64),
        cleaned.fell_back,
    )
