"""Text views of the page corpora: every page also as plain text, labelled like its blocks.

Users often hold a page as lines of text (menus, captions, bylines and teasers included), not
as HTML. A model that only ever sees pages with their HTML columns learns "no HTML means
news" from the text corpora. So the build adds, for each page, documents with the HTML
columns empty, in the renderings of ``segmentation.TEXT_RENDERINGS``:

- ``blocks``: the page's own labelled blocks, one per line (same labels, same positions);
- ``html-text``: the html-text library's whole-page rendering. A line equal to one of the
  page's blocks takes that block's labels; any other line is aligned (token 3-grams, the
  alignment's rule) to the page's news blocks, and else to its teaser, spam and boilerplate
  blocks; a line that aligns to none is left without a kind, as unlabelled blocks are.

Views are made after the split, annotations and label rules, from the final rows of their
page: a view always sits in its page's split. ``view`` says which one a row is (``html``,
``text`` for the text corpora, or the rendering). A seeded share of the pages of each split
(``data.text_view_share``) gets one rendering each, chosen by a seeded hash, so that training
time stays affordable; the page-level evaluation renders every test page in every rendering.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from newsclean.data.alignment import GoldIndex
from newsclean.data.sources.base import BuildLog, Document
from newsclean.segmentation import HTML_NUMBERS, TEXT_RENDERINGS
from newsclean.text import normalise, text_sha1, unit_hash

HTML_VIEW = "html"
TEXT_VIEW = "text"
VIEW_SEPARATOR = "|"
_HTML_OBJECT_COLUMNS = ("html_tag", "css_tokens")
NON_NEWS_KINDS = ("teaser", "spam", "boilerplate")


def view_doc_id(doc_id: str, rendering: str) -> str:
    """The document id of a page's text view (the page's own id, then the rendering)."""
    return f"{doc_id}{VIEW_SEPARATOR}{rendering}"


def page_doc_id(doc_id: str) -> str:
    """The page a document id belongs to (itself for HTML rows and text corpora)."""
    return doc_id.split(VIEW_SEPARATOR, 1)[0]


def chosen_renderings(
    key: tuple[str, str], renderings: tuple[str, ...], share: float, seed: int
) -> tuple[str, ...]:
    """Which renderings a page gets: one, for a seeded ``share`` of the pages of every split
    (the same page always gets the same one)."""
    if not renderings or unit_hash(seed, "text-view", *key) >= share:
        return ()
    pick = int(unit_hash(seed, "text-view-rendering", *key) * len(renderings))
    return (renderings[pick],)


def html_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows of pages given as HTML (not a text view, not a text corpus). A dataset built
    before the views has no ``view`` column: there, rows with an HTML tag."""
    return frame["view"] == HTML_VIEW if "view" in frame else frame["html_tag"].notna()


def _without_html(view: pd.DataFrame) -> pd.DataFrame:
    for column in _HTML_OBJECT_COLUMNS:
        view[column] = None
    for column in HTML_NUMBERS:
        view[column] = np.float32(np.nan)
    return view


def _blocks_view(rows: pd.DataFrame, rendering: str) -> pd.DataFrame:
    """The page's own rows, one per line, as text: same labels, same positions."""
    view = rows.copy()
    view["doc_id"] = view["doc_id"].map(lambda d: view_doc_id(d, rendering))
    view["view"] = rendering
    return _without_html(view)


def _lines_view(
    rows: pd.DataFrame,
    lines: list[str],
    rendering: str,
    owner_of: dict[str, str],
    config,
    log: BuildLog,
) -> pd.DataFrame | None:
    """A rendering's lines as the page's text view, labelled from the page's ``rows``; long
    lines that are another page's paragraph are dropped and counted."""
    source, doc_id = rows["source"].iloc[0], rows["doc_id"].iloc[0]
    kept_lines = []
    for number, line in enumerate(lines):
        key = text_sha1(line)
        owner = owner_of.get(key)
        if (
            owner is not None
            and owner != f"{source}\x1f{doc_id}"
            and len(normalise(line)) >= config.data.dedup_min_chars
        ):
            log.drop(
                source,
                view_doc_id(doc_id, rendering),
                f"line {number}",
                "duplicate of a paragraph in another document",
            )
            continue
        kept_lines.append((number, line, key))
    if not kept_lines:
        return None
    labels = label_lines([line for _, line, _ in kept_lines], rows, config.data.align_threshold)
    view = pd.DataFrame(
        {
            "source": source,
            "doc_id": view_doc_id(doc_id, rendering),
            "position": np.array([n for n, _, _ in kept_lines], dtype="int32"),
            "n_paragraphs": np.int32(len(kept_lines)),
            "text": [line for _, line, _ in kept_lines],
            "is_news": [label[0] for label in labels],
            "kind": [label[1] for label in labels],
            "topic": [label[2] for label in labels],
            "split": rows["split"].iloc[0],
            "gold_score": np.array([label[3] for label in labels], dtype="float32"),
            "text_sha1": [k for _, _, k in kept_lines],
            "view": rendering,
        }
    )
    return _without_html(view)


def label_lines(
    lines: list[str], page_rows: pd.DataFrame, threshold: float
) -> list[tuple[bool, str | None, str | None, float]]:
    """(is_news, kind, topic, news score) of each line from its page's labelled blocks."""
    exact: dict[str, tuple] = {}
    texts_of: dict[str, list[str]] = {k: [] for k in ("news", *NON_NEWS_KINDS)}
    for text, kind, is_news, topic in zip(
        page_rows["text"], page_rows["kind"], page_rows["is_news"], page_rows["topic"], strict=True
    ):
        exact.setdefault(normalise(text), (bool(is_news), kind, topic))
        if is_news:
            texts_of["news"].append(text)
        elif kind in texts_of:
            texts_of[kind].append(text)
    indexes = {k: GoldIndex.from_text("\n".join(v)) for k, v in texts_of.items() if v}
    labels = []
    for line in lines:
        news_score = indexes["news"].score(line) if "news" in indexes else 0.0
        known = exact.get(normalise(line))
        if known is not None:
            labels.append((*known, news_score))
            continue
        if news_score >= threshold:
            labels.append((True, "news", None, news_score))
            continue
        scores = {k: indexes[k].score(line) for k in NON_NEWS_KINDS if k in indexes}
        best = max(scores, key=scores.get, default=None)
        kind = best if best is not None and scores[best] >= threshold else None
        labels.append((False, kind, None, news_score))
    return labels


def add_text_views(
    frame: pd.DataFrame, documents: list[Document], config, log: BuildLog
) -> pd.DataFrame:
    """``frame`` (the HTML and text-corpus rows) with the pages' text views appended."""
    frame = frame.assign(view=np.where(frame["html_tag"].notna(), HTML_VIEW, TEXT_VIEW))
    renderings = tuple(r.strip() for r in config.data.text_views.split(",") if r.strip())
    unknown = [r for r in renderings if r not in TEXT_RENDERINGS]
    if unknown:
        raise ValueError(f"unknown text rendering(s) {unknown}; known: {TEXT_RENDERINGS}")
    if not renderings:
        return frame
    rendered = {(d.source, d.doc_id): d.renderings for d in documents if d.renderings}
    pages = frame[html_rows(frame)]
    # Long lines that are some other page's paragraph stay out, as the dedup keeps them out of
    # the HTML rows (a test page's paragraph must not come back in a training page's view).
    owner_of = dict(
        zip(pages["text_sha1"], pages["source"] + "\x1f" + pages["doc_id"], strict=True)
    )
    seed = config.data.seed
    share = config.data.text_view_share
    views: list[pd.DataFrame] = []
    counts: Counter = Counter()
    for (source, doc_id), rows in pages.groupby(["source", "doc_id"], sort=True):
        for rendering in chosen_renderings((source, doc_id), renderings, share, seed):
            if rendering == "blocks":
                view = _blocks_view(rows, rendering)
            else:
                lines = rendered.get((source, doc_id), {}).get(rendering)
                if lines is None:
                    log.drop(source, doc_id, rendering, "no text rendering of the page")
                    continue
                view = _lines_view(rows, lines, rendering, owner_of, config, log)
                if view is None:
                    continue
                view = view[frame.columns]
            views.append(view)
            counts[(source, rendering, "pages")] += 1
            counts[(source, rendering, "rows")] += len(view)
            counts[(source, rendering, "news")] += int(view["is_news"].sum())
            counts[(source, rendering, "unknown_kind")] += int(view["kind"].isna().sum())
    for (source, rendering, what), value in sorted(counts.items()):
        log.note(f"text_views.{source}.{rendering}.{what}", value)
    if not views:
        return frame
    combined = pd.concat([frame, *views], ignore_index=True)
    for column in _HTML_OBJECT_COLUMNS + ("kind", "topic"):
        combined[column] = combined[column].astype(object).where(combined[column].notna(), None)
    return combined
