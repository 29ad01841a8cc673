"""Glued junk: a generator that fuses junk onto held-out news paragraphs, and the evaluation
of how well the cleaner cuts it off again.

The generator takes whole documents of one split, so the cleaner sees each glued paragraph in
its page, as it would in use. It glues a fragment of another kind (a spam, teaser or
boilerplate paragraph of the same split, never one seen in training) onto the start or the end
of some news paragraphs, the way scrapers join neighbouring elements: mostly with no space
("…every Friday!Officials said…"), sometimes without the fragment's final punctuation
("…every FridayOfficials said…"), and sometimes with a plain space, which no splitting rule can
see (that case costs recall, on purpose). Where a fragment goes follows docs/labels.md: promos
mostly at the start, links mostly at the end.

``evaluate`` scores, at the character level (whitespace not counted):

- ``strip_precision`` / ``strip_recall`` / ``strip_f1``: stripped characters that were junk,
  junk characters stripped, over glued paragraphs the cleaner classed as news;
- ``false_strip_rate``: share of clean (unglued) news paragraphs classed as news that lost any
  text, and ``false_strip_char_rate``: the share of their characters lost;
- ``glued_dropped_rate`` / ``clean_dropped_rate``: news paragraphs the paragraph model did not
  keep as news at all, with and without junk (the junk's cost before any stripping);
- ``clean_f1``: page-level shingle F1 (``newsclean.ml.metrics.page_f1``) of each cleaned document
  against its news paragraphs without the junk: the cleaner's end-to-end metric.

``tune`` chooses the segment mode and the two thresholds on the validation split: the best
``strip_f1`` among settings whose ``false_strip_rate`` stays within ``MAX_FALSE_STRIP_RATE``.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from newsclean.clean.cleaner import Cleaner, paragraph_frame
from newsclean.clean.inputs import Article
from newsclean.clean.junk import (
    STRIPPER_FEATURES,
    candidate_features,
    junk_candidates,
    junk_probabilities,
    may_hold_glued_junk,
    spans_from_decision,
)
from newsclean.clean.settings import SEGMENT_MODES, CleanerSettings
from newsclean.segmentation import HTML_COLUMNS, Block

JUNK_KINDS = ("spam", "teaser", "boilerplate")
# P(fragment at the start of the paragraph) per junk kind; the rest go at the end.
START_SHARE = {"spam": 0.75, "teaser": 0.2, "boilerplate": 0.5}
# How the fragment is joined: no space (the scraper's join), no space and no final punctuation
# on the fragment, a plain space (undetectable by design).
JOIN_STYLES = (("tight", 0.6), ("no_punct", 0.25), ("space", 0.15))
MIN_JUNK_CHARS, MAX_JUNK_CHARS = 3, 240
MIN_NEWS_CHARS = 40
GLUE_RATE = 0.3
MAX_FALSE_STRIP_RATE = 0.01
THRESHOLD_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)
# For joins with a space, "never" too: only a join with no space may then be cut.
NEVER = 1.01
DOCS_PER_SOURCE = 150


@dataclass
class GluedCorpus:
    """Documents of one split as articles, with what was glued where."""

    articles: list[Article]
    # One row per paragraph: article, position, gold kind, original text, glued text and the
    # junk's character range in the glued text (-1 when nothing was glued).
    paragraphs: pd.DataFrame


def junk_pool(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Fragments to glue: non-news paragraphs of known kind in ``split``, short enough to be a
    fragment, without line breaks."""
    rows = frame[(frame["split"] == split) & frame["kind"].isin(JUNK_KINDS)]
    lengths = rows["text"].str.len()
    rows = rows[(lengths >= MIN_JUNK_CHARS) & (lengths <= MAX_JUNK_CHARS)]
    rows = rows[~rows["text"].str.contains("\n", regex=False)]
    return rows[["text", "kind"]].drop_duplicates("text").reset_index(drop=True)


def glue(news: str, junk: str, where: str, style: str) -> tuple[str, int, int]:
    """Join ``junk`` to ``news``; return the text and the junk's [start, end) in it."""
    if style == "no_punct":
        junk = junk.rstrip(".!?…:;,") or junk
    sep = " " if style == "space" else ""
    if where == "start":
        return f"{junk}{sep}{news}", 0, len(junk)
    start = len(news) + len(sep)
    return f"{news}{sep}{junk}", start, start + len(junk)


def select_documents(
    frame: pd.DataFrame, split: str, seed: int, docs_per_source: int = DOCS_PER_SOURCE
) -> pd.DataFrame:
    """Rows of up to ``docs_per_source`` documents per source with at least one news paragraph
    of ``MIN_NEWS_CHARS`` or more, in page order."""
    rows = frame[frame["split"] == split]
    eligible = rows[rows["is_news"] & (rows["text"].str.len() >= MIN_NEWS_CHARS)]
    keys = eligible[["source", "doc_id"]].drop_duplicates()
    rng = np.random.default_rng(seed)
    chosen = []
    for _, group in keys.groupby("source", sort=True):
        order = rng.permutation(len(group))[:docs_per_source]
        chosen.append(group.iloc[np.sort(order)])
    if not chosen:
        return rows.iloc[:0]
    keys = pd.concat(chosen)
    out = rows.merge(keys, on=["source", "doc_id"], how="inner")
    return out.sort_values(["source", "doc_id", "position"], kind="stable").reset_index(drop=True)


def make_glued(
    frame: pd.DataFrame,
    split: str,
    seed: int,
    glue_rate: float = GLUE_RATE,
    docs_per_source: int = DOCS_PER_SOURCE,
) -> GluedCorpus:
    """Documents of ``split`` with junk of the same split glued onto ``glue_rate`` of their
    news paragraphs (seeded, so the same data gives the same cases)."""
    rng = np.random.default_rng(seed)
    documents = select_documents(frame, split, seed, docs_per_source)
    pool = junk_pool(frame, split)
    by_kind = {k: pool.loc[pool["kind"] == k, "text"].tolist() for k in JUNK_KINDS}
    kinds = [k for k in JUNK_KINDS if by_kind[k]]
    styles, weights = zip(*JOIN_STYLES, strict=True)
    records, articles = [], []
    for article_number, ((source, doc_id), part) in enumerate(
        documents.groupby(["source", "doc_id"], sort=False)
    ):
        blocks = []
        for row in part.itertuples(index=False):
            text, junk_kind, where, style, start, end = row.text, None, None, None, -1, -1
            if (
                kinds
                and row.is_news
                and len(row.text) >= MIN_NEWS_CHARS
                and rng.random() < glue_rate
            ):
                junk_kind = kinds[rng.integers(len(kinds))]
                fragment = by_kind[junk_kind][rng.integers(len(by_kind[junk_kind]))]
                where = "start" if rng.random() < START_SHARE[junk_kind] else "end"
                style = styles[rng.choice(len(styles), p=np.array(weights))]
                text, start, end = glue(row.text, fragment, where, style)
            columns = {name: _none(getattr(row, name, None)) for name in HTML_COLUMNS}
            blocks.append(Block.from_columns(text, columns))
            records.append(
                {
                    "article": article_number,
                    "source": source,
                    "doc_id": doc_id,
                    "position": len(blocks) - 1,
                    "gold_kind": row.kind if isinstance(row.kind, str) else None,
                    "is_news": bool(row.is_news),
                    "original": row.text,
                    "text": text,
                    "junk_kind": junk_kind,
                    "where": where,
                    "style": style,
                    "junk_start": start,
                    "junk_end": end,
                }
            )
        articles.append(Article(f"{source}/{doc_id}", blocks))
    return GluedCorpus(articles, pd.DataFrame(records))


def _none(value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return value


# ------------------------------------------------------------------ evaluation


@dataclass
class Prepared:
    """Everything the threshold search needs, computed once per corpus (and segment mode)."""

    corpus: GluedCorpus
    kinds: np.ndarray
    news_rows: np.ndarray
    segments: dict[tuple[str, bool], list]
    proba: np.ndarray | None = None  # paragraph kind probabilities (KINDS order)
    _prefixes: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)

    def prefix(self, row: int) -> np.ndarray:
        if row not in self._prefixes:
            self._prefixes[row] = _non_space_prefix(self.corpus.paragraphs["text"].iat[row])
        return self._prefixes[row]


def prepare(
    cleaner: Cleaner, corpus: GluedCorpus, modes=SEGMENT_MODES, html=(True, False)
) -> Prepared:
    frame = paragraph_frame(corpus.articles)
    texts = corpus.paragraphs["text"].tolist()
    kinds, proba = cleaner.decide_kinds(texts, frame)
    news_rows = np.flatnonzero(kinds == "news")
    news_texts = [texts[i] for i in news_rows]
    news_frame = frame.iloc[news_rows].reset_index(drop=True)
    segments = {}
    for mode, with_html in itertools.product(modes, html):
        probe = cleaner.with_settings(segment_mode=mode, segment_html=with_html)
        segments[(mode, with_html)] = probe.segment_probabilities(news_texts, news_frame)
    return Prepared(corpus, kinds, news_rows, segments, proba)


def _non_space_prefix(text: str) -> np.ndarray:
    """prefix[i] = non-space characters in text[:i]."""
    counts = np.fromiter((not c.isspace() for c in text), dtype=np.int64, count=len(text))
    return np.concatenate([[0], np.cumsum(counts)])


def _count(prefix: np.ndarray, start: int, end: int) -> int:
    start, end = max(start, 0), min(end, len(prefix) - 1)
    return int(prefix[end] - prefix[start]) if end > start else 0


def score(
    prepared: Prepared,
    settings: CleanerSettings,
    page_level: bool = False,
    junk_p: list[dict] | None = None,
) -> dict:
    """The metrics of the module docstring for one setting (``clean_f1`` with
    ``page_level``: it costs a page-level pass over every document). ``junk_p``: a learned
    stripper's probabilities (``stripper_probabilities``); without, the thresholds decide."""
    table = prepared.corpus.paragraphs
    texts = table["text"].to_numpy(dtype=object)
    kept_range: dict[int, tuple[int, int]] = {}
    for number, (row, (segments, seg_proba)) in enumerate(
        zip(
            prepared.news_rows,
            prepared.segments[(settings.segment_mode, settings.segment_html)],
            strict=True,
        )
    ):
        if len(segments) >= 2 and (not settings.junk_gate or may_hold_glued_junk(segments)):
            bounds, _ = spans_from_decision(
                texts[row],
                segments,
                seg_proba,
                settings,
                None if junk_p is None else junk_p[number],
            )
            if bounds is not None:
                kept_range[int(row)] = bounds
    predicted_news = prepared.kinds == "news"
    glued = (table["junk_start"] >= 0).to_numpy()
    gold_news = table["is_news"].to_numpy(dtype=bool)
    junk_start = table["junk_start"].to_numpy()
    junk_end = table["junk_end"].to_numpy()
    tp = stripped = junk_total = 0
    false_strips = clean_news = clean_chars = clean_lost = 0
    for row in np.flatnonzero(gold_news & predicted_news):
        prefix = prepared.prefix(row)
        length = len(prefix) - 1
        start, end = kept_range.get(int(row), (0, length))
        lost = _count(prefix, 0, start) + _count(prefix, end, length)
        if glued[row]:
            js, je = junk_start[row], junk_end[row]
            tp += _count(prefix, js, min(je, start)) + _count(prefix, max(js, end), je)
            stripped += lost
            junk_total += _count(prefix, js, je)
        else:
            clean_news += 1
            clean_chars += int(prefix[-1])
            clean_lost += lost
            false_strips += lost > 0
    precision = tp / stripped if stripped else 1.0
    recall = tp / junk_total if junk_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    metrics = {
        "strip_precision": precision,
        "strip_recall": recall,
        "strip_f1": f1,
        "false_strip_rate": false_strips / clean_news if clean_news else 0.0,
        "false_strip_char_rate": clean_lost / clean_chars if clean_chars else 0.0,
        "glued_paragraphs": int((glued & gold_news).sum()),
        "clean_news_paragraphs": int((~glued & gold_news).sum()),
        "glued_dropped_rate": _rate(~predicted_news & glued & gold_news, glued & gold_news),
        "clean_dropped_rate": _rate(~predicted_news & ~glued & gold_news, ~glued & gold_news),
    }
    if page_level:
        metrics["clean_f1"] = clean_page_f1(prepared, kept_range, settings)
    return metrics


def _rate(hit: np.ndarray, base: np.ndarray) -> float:
    return float(hit.sum() / base.sum()) if base.sum() else 0.0


def clean_page_f1(
    prepared: Prepared, kept_range: dict[int, tuple[int, int]], settings: CleanerSettings
) -> float:
    """Page-level shingle F1 of the cleaned documents against their news without junk."""
    from newsclean.ml.metrics import page_f1

    table = prepared.corpus.paragraphs
    texts = table["text"].to_numpy(dtype=object)
    keep = np.isin(prepared.kinds, list(settings.keep))
    predicted: dict[int, list[str]] = {}
    gold: dict[int, list[str]] = {}
    for row, article in enumerate(table["article"].to_numpy()):
        predicted.setdefault(article, [])
        gold.setdefault(article, [])
        if keep[row]:
            start, end = kept_range.get(row, (0, len(texts[row])))
            predicted[article].append(texts[row][start:end])
        if table["is_news"].iat[row]:
            gold[article].append(table["original"].iat[row])
    pairs = [("\n".join(predicted[a]), "\n".join(gold[a])) for a in predicted]
    return page_f1(pairs)["f1"]


def tune(
    prepared: Prepared,
    base: CleanerSettings,
    max_false_strip_rate: float = MAX_FALSE_STRIP_RATE,
) -> tuple[CleanerSettings, pd.DataFrame]:
    """Best ``strip_f1`` within the false-strip budget; ties to the more careful setting.
    Returns the settings and the whole grid (for the report)."""
    rows = []
    for (mode, with_html), strip, glued_t in itertools.product(
        prepared.segments, (*THRESHOLD_GRID, NEVER), THRESHOLD_GRID
    ):
        if glued_t > strip:
            continue  # a join with no space is evidence: its threshold is never stricter
        settings = dataclasses.replace(
            base,
            segment_mode=mode,
            segment_html=with_html,
            strip_threshold=strip,
            glued_threshold=glued_t,
        )
        metrics = score(prepared, settings)
        rows.append(
            {
                "segment_mode": mode,
                "segment_html": with_html,
                "strip_threshold": strip,
                "glued_threshold": glued_t,
                **metrics,
            }
        )
    grid = pd.DataFrame(rows)
    within = grid[grid["false_strip_rate"] <= max_false_strip_rate]
    if within.empty:
        within = grid[grid["false_strip_rate"] == grid["false_strip_rate"].min()]
    best = within.sort_values(
        ["strip_f1", "false_strip_rate", "strip_threshold", "glued_threshold"],
        ascending=[False, True, False, False],
        kind="stable",
    ).iloc[0]
    chosen = dataclasses.replace(
        base,
        segment_mode=str(best["segment_mode"]),
        segment_html=bool(best["segment_html"]),
        strip_threshold=float(best["strip_threshold"]),
        glued_threshold=float(best["glued_threshold"]),
    )
    return chosen, grid


# ------------------------------------------------------------------ learned stripper

JUNK_THRESHOLD_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
STRIPPER_FOLDS = 5


def stripper_table(
    prepared: Prepared, settings: CleanerSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, tuple[int, str]]]]:
    """Training rows for the stripper: every candidate segment of the gold-news paragraphs
    the kind model calls news. Label 1 when the segment lies inside the glued junk.
    Returns X, y, groups (article) and owners (news-row number, candidate)."""
    table = prepared.corpus.paragraphs
    texts = table["text"].to_numpy(dtype=object)
    gold_news = table["is_news"].to_numpy(dtype=bool)
    starts, ends = table["junk_start"].to_numpy(), table["junk_end"].to_numpy()
    articles = table["article"].to_numpy()
    blocks, labels, groups, owners = [], [], [], []
    segments_by_row = prepared.segments[(settings.segment_mode, settings.segment_html)]
    for number, (row, (segments, seg_proba)) in enumerate(
        zip(prepared.news_rows, segments_by_row, strict=True)
    ):
        if not gold_news[row]:
            continue
        candidates = junk_candidates(segments, seg_proba, settings.max_edge_segments)
        if not candidates:
            continue
        text = texts[row]
        blocks.append(
            candidate_features(text, segments, seg_proba, prepared.proba[row], candidates)
        )
        for index, where in candidates:
            segment = segments[index]
            piece_start = (
                segment.start
                + len(text[segment.start : segment.end])
                - len(text[segment.start : segment.end].lstrip())
            )
            inside = (
                starts[row] >= 0 and piece_start >= starts[row] and segment.end <= ends[row] + 1
            )
            labels.append(int(inside))
            groups.append(articles[row])
            owners.append((number, (index, where)))
    if not blocks:
        return np.zeros((0, len(STRIPPER_FEATURES))), np.zeros(0), np.zeros(0), []
    return np.vstack(blocks), np.asarray(labels), np.asarray(groups), owners


def _stripper_model(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, random_state=seed, early_stopping=False
    )


def fit_stripper(
    prepared: Prepared,
    settings: CleanerSettings,
    seed: int,
    max_false_strip_rate: float = MAX_FALSE_STRIP_RATE,
) -> tuple[object | None, CleanerSettings, pd.DataFrame]:
    """Fit the junk stripper on ``prepared`` (validation data: the kind model never saw it)
    and choose ``junk_threshold`` on out-of-fold probabilities (folds by article): the best
    ``strip_f1`` within the false-strip budget. Returns (model or None, settings, grid)."""
    from sklearn.model_selection import GroupKFold

    X, y, groups, owners = stripper_table(prepared, settings)
    if len(np.unique(y)) < 2 or len(np.unique(groups)) < STRIPPER_FOLDS:
        return None, settings, pd.DataFrame()
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=STRIPPER_FOLDS).split(X, y, groups):
        if len(np.unique(y[train])) < 2:
            continue
        oof[test] = _stripper_model(seed).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
    junk_p: list[dict] = [{} for _ in prepared.news_rows]
    for (number, candidate), p in zip(owners, oof, strict=True):
        junk_p[number][candidate] = float(p)
    rows = []
    for threshold in JUNK_THRESHOLD_GRID:
        candidate = dataclasses.replace(settings, junk_threshold=threshold)
        rows.append({"junk_threshold": threshold, **score(prepared, candidate, junk_p=junk_p)})
    grid = pd.DataFrame(rows)
    within = grid[grid["false_strip_rate"] <= max_false_strip_rate]
    if within.empty:
        within = grid[grid["false_strip_rate"] == grid["false_strip_rate"].min()]
    best = within.sort_values(["strip_f1", "junk_threshold"], ascending=[False, False]).iloc[0]
    chosen = dataclasses.replace(settings, junk_threshold=float(best["junk_threshold"]))
    return _stripper_model(seed).fit(X, y), chosen, grid


def stripper_probabilities(prepared: Prepared, stripper, settings: CleanerSettings):
    """The stripper's probabilities for ``score``, computed as the Cleaner computes them."""
    texts = prepared.corpus.paragraphs["text"].to_numpy(dtype=object)
    return junk_probabilities(
        stripper,
        [texts[row] for row in prepared.news_rows],
        prepared.segments[(settings.segment_mode, settings.segment_html)],
        prepared.proba[prepared.news_rows],
        settings,
    )
