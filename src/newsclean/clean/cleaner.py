"""The cleaner: articles in, clean articles out, with the registered kind and topic models.

``Cleaner.clean_many`` runs, for a batch of articles at once:

1. article → paragraphs table (one row per paragraph, the HTML columns where the paragraph
   came from a page) → kind probabilities, the whole article in one table so the context
   features (position, neighbours) work as in training;
2. glued junk: each paragraph classified ``news`` is split into segments (sentence boundaries
   and joins with no space, ``split_segments``); its first and last few segments are classified
   with the same kind model, and leading / trailing runs of junk segments are cut off and
   reported as ``removed_spans``. Which segments are junk is decided by the junk stripper, a
   small classifier over each edge segment's kind probabilities, its paragraph's, the kind of
   join and surface features (``STRIPPER_FEATURES``), fitted on validation documents with
   junk glued on (``newsclean.train.glued_junk``); without one, by thresholds on the segment's
   non-news probability (``strip_threshold``, or ``glued_threshold`` when the join had no
   space). What stays must hold a segment the model calls news, and single short words are
   never cut (``newsclean.clean.junk``);
3. topics for the kept news and teaser paragraphs, from the topic model on the cleaned text.

The stripper, its threshold and the segment mode are chosen on validation data with junk glued
on and stored with the model (``CleanerSettings``); the false-strip rate on clean news
paragraphs is capped there (``newsclean.train.glued_junk.MAX_FALSE_STRIP_RATE``).
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from newsclean.clean import registry
from newsclean.clean.inputs import Article, InputError, RawArticle, to_article
from newsclean.clean.junk import (
    MAYBE_GLUED_RE,
    MIN_RESCUE_CHARS,
    NON_NEWS,
    RESCUE_MIN_NEWS,
    RESCUE_MIN_SHARE,
    Segment,
    edge_indices,
    junk_probabilities,
    may_hold_glued_junk,
    spans_from_decision,
    split_segments,
    strip_decision,
    strippable,
)
from newsclean.clean.pagepass import ArticlePageModel, decide_page, page_confidence, page_figures
from newsclean.clean.results import (
    CleanedArticle,
    CleanedParagraph,
    ModelNotFoundError,
    RemovedSpan,
)
from newsclean.clean.settings import CleanerSettings, parse_keep
from newsclean.config import KINDS, TOPICS
from newsclean.kindrules import rule_for
from newsclean.ml.features import fast_tfidf
from newsclean.segmentation import HTML_COLUMNS, HTML_NUMBERS

# Paragraphs longer than this are classified on their first and last half of it (the output
# keeps the whole text): a multi-megabyte "paragraph" must not stall a batch.
MAX_CLASSIFY_CHARS = 20_000


# ------------------------------------------------------------------ results


# ------------------------------------------------------------------ segments


# ------------------------------------------------------------------ model helpers


def ordered_proba(model, frame: pd.DataFrame, labels: Sequence[str]) -> np.ndarray:
    """``model.predict_proba`` with columns in ``labels`` order (by ``model.classes_``)."""
    proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
    classes = [str(c) for c in getattr(model, "classes_", labels)]
    if classes == list(labels):
        return proba
    out = np.zeros((proba.shape[0], len(labels)))
    for j, label in enumerate(classes):
        if label in labels:
            out[:, list(labels).index(label)] = proba[:, j]
    return out


def _classify_text(text: str) -> str:
    if len(text) <= MAX_CLASSIFY_CHARS:
        return text
    half = MAX_CLASSIFY_CHARS // 2
    return f"{text[:half]} {text[-half:]}"


def paragraph_frame(articles: Sequence[Article]) -> pd.DataFrame:
    """One row per paragraph, articles one after another (``doc_id`` = article index), with
    the columns the kind model reads (``Block.columns``; missing HTML numbers as NaN)."""
    doc_ids, positions, texts = [], [], []
    columns: dict[str, list] = {name: [] for name in HTML_COLUMNS}
    for number, article in enumerate(articles):
        for position, block in enumerate(article.blocks):
            doc_ids.append(str(number))
            positions.append(position)
            texts.append(_classify_text(block.text))
            for name, value in block.columns().items():
                columns[name].append(value)
    numbers = {
        name: np.array([np.nan if v is None else float(v) for v in columns[name]], dtype=np.float64)
        for name in HTML_NUMBERS
    }
    return pd.DataFrame(
        {
            "doc_id": pd.Series(doc_ids, dtype=object),
            "position": np.asarray(positions, dtype=np.int64),
            "text": pd.Series(texts, dtype=object),
            "html_tag": pd.Series(columns["html_tag"], dtype=object),
            **numbers,
            "css_tokens": pd.Series(columns["css_tokens"], dtype=object),
        }
    )


# ------------------------------------------------------------------ the cleaner


# Young-generation threshold of the cyclic garbage collector while cleaning (Python's default
# is 700 allocations; see settle_garbage_collector).
GC_THRESHOLDS = (50_000, 50, 1_000)


def settle_garbage_collector() -> None:
    """Take the loaded models out of the cyclic garbage collector's reach (``gc.freeze``) and
    make its collections rarer. A loaded cleaner holds millions of objects (vocabularies,
    trees) that never become garbage, and cleaning allocates many short-lived ones, so with
    Python's defaults the collector ran about 2,000 times per 500 pages and took 7% of the
    time; on 129 test pages this made cleaning about 15% faster. Called once a logged cleaner
    is loaded (CLI, REST service, Spark, ``Cleaner.load``): it affects the whole process."""
    gc.collect()
    gc.freeze()
    current = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(current, GC_THRESHOLDS, strict=True)))


_THREADPOOLS: Any = None


def one_thread():
    """A context in which OpenMP and BLAS run one thread: the cleaner's models work on small
    batches, where gradient boosting starts a parallel region per tree (1,000 per call for
    the kind champion) and its threads spin against every other process on the machine. On
    40 test pages beside a training on this 2-core machine, cleaning took 58 s with the
    default threads and 2.6 s with one. Parallelism comes from worker processes
    (``--workers``, Spark executors). The controller is made once (about 2.5 ms) and each
    use costs about 15 µs."""
    global _THREADPOOLS
    if _THREADPOOLS is None:
        import sklearn.ensemble  # noqa: F401 - load scikit-learn's OpenMP runtime first
        from threadpoolctl import ThreadpoolController

        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS.limit(limits=1)


class Cleaner:
    """Kind model + topic model + segmentation = clean articles.

    ``kind_model.predict_proba(frame)`` gives probabilities over ``KINDS`` (re-ordered by its
    ``classes_`` when needed); ``topic_model`` (optional) over ``TOPICS``, with ``tag`` or
    ``tags_from_proba`` when it is a ``TopicTagger``.
    """

    def __init__(
        self,
        kind_model,
        topic_model=None,
        settings: CleanerSettings | None = None,
        info: dict[str, Any] | None = None,
        stripper=None,
    ):
        # Models trained with scikit-learn's TfidfVectorizer get the numpy transform of
        # features.WordTfidf / CharTfidf (the same output; swapped in place).
        fast_tfidf(kind_model)
        fast_tfidf(topic_model)
        self.kind_model = kind_model
        self.topic_model = topic_model
        self.settings = settings or CleanerSettings()
        self.info = dict(info or {})
        # A classifier over ``STRIPPER_FEATURES`` (newsclean.train.glued_junk.fit_stripper);
        # without one, the thresholds on the segments' non-news probability decide.
        self.stripper = stripper
        self._article_page = (
            ArticlePageModel.from_dict(self.settings.article_page)
            if self.settings.article_page
            else None
        )
        # Seconds spent per stage since creation (the benchmark reads them).
        self.stage_seconds: dict[str, float] = {}

    def _tick(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + now - since
        return now

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, uri: str | None = None, config=None, profile: str | None = None) -> Cleaner:
        """The registered cleaner (default ``models:/newsclean-cleaner@champion`` in the
        project's tracking store; ``profile="fast"``: the one with the ``fast`` alias), or
        any pyfunc model URI / path of a logged cleaner. Loading settles the process's
        garbage collector (``settle_garbage_collector``)."""
        uri = registry.profile_uri(profile, uri)
        python_model = registry.load_python_model(uri, config)
        cleaner = getattr(python_model, "cleaner", None)
        if not isinstance(cleaner, Cleaner):
            raise ModelNotFoundError(f"{uri} is not a newsclean cleaner model")
        return cleaner

    @classmethod
    def from_champions(
        cls,
        config=None,
        settings: CleanerSettings | None = None,
        kind_uri: str | None = None,
        topic_uri: str | None = None,
    ) -> Cleaner:
        """The kind and topic models straight from the registry (default: the champions; no
        cleaner model needed)."""
        kind, topic, info = registry.champion_models(config, kind_uri, topic_uri)
        return cls(kind, topic, settings, info=info)

    def with_settings(self, **changes: Any) -> Cleaner:
        return Cleaner(
            self.kind_model,
            self.topic_model,
            dataclasses.replace(self.settings, **changes),
            self.info,
            self.stripper,
        )

    # -- cleaning --------------------------------------------------------------------------
    def clean(
        self, article: Any, keep: str | Iterable[str] | None = None, id: str | None = None
    ) -> CleanedArticle:
        """Clean one article: a text or HTML string, bytes, a list of paragraphs, a record
        ``{"id", "text" | "paragraphs" | "html"}``, an ``inputs.Article`` or ``RawArticle``.
        Raises ``InputError`` when it has no text."""
        parsed = to_article(article, id or "article")
        if id is not None:
            parsed.id = id
        return self.clean_many([parsed], keep=keep)[0]

    def clean_many(
        self, articles: Iterable[Any], keep: str | Iterable[str] | None = None
    ) -> list[CleanedArticle]:
        """Clean a batch in one pass of each model (faster than one article at a time), on
        one thread (``one_thread``)."""
        with one_thread():
            return self._clean_many(articles, keep)

    def _clean_many(
        self, articles: Iterable[Any], keep: str | Iterable[str] | None
    ) -> list[CleanedArticle]:
        parsed = [
            a
            if isinstance(a, Article)
            else a.to_article()
            if isinstance(a, RawArticle)
            else to_article(a, f"article-{i}")
            for i, a in enumerate(articles)
        ]
        keep_kinds = self.settings.keep if keep is None else parse_keep(keep)
        if not parsed:
            return []
        clock = time.perf_counter()
        frame = paragraph_frame(parsed)
        if frame.empty:
            return [CleanedArticle(a.id, a.path, []) for a in parsed]
        texts = [b.text for a in parsed for b in a.blocks]
        kinds, proba, fell_back = self._decide(texts, frame)
        clock = self._tick("kind", clock)
        spans = self._strip_junk(texts, kinds, frame, proba)
        clock = self._tick("junk", clock)
        cleaned_texts = [
            text[bounds[0] : bounds[1]] if bounds else text
            for text, (bounds, _) in zip(texts, spans, strict=True)
        ]
        kept = np.isin(kinds, list(keep_kinds))
        topics = self._topics(frame, cleaned_texts, kinds, kept)
        clock = self._tick("topics", clock)
        results, row = [], 0
        chars = np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts))
        article_page = self._article_page
        words = (
            np.fromiter((len(t.split()) for t in cleaned_texts), np.float64, len(cleaned_texts))
            if article_page is not None
            else None
        )
        for article in parsed:
            paragraphs = []
            rows = slice(row, row + len(article.blocks))
            for _ in article.blocks:
                paragraphs.append(
                    CleanedParagraph(
                        text=cleaned_texts[row],
                        kind=str(kinds[row]),
                        probabilities={
                            k: round(float(p), 4) for k, p in zip(KINDS, proba[row], strict=True)
                        },
                        topics=topics[row],
                        kept=bool(kept[row]),
                        removed_spans=spans[row][1],
                        original=texts[row],
                    )
                )
                row += 1
            results.append(
                CleanedArticle(
                    article.id,
                    article.path,
                    paragraphs,
                    confidence=page_confidence(proba[rows, 0], kinds[rows] == "news", chars[rows]),
                    fell_back=bool(fell_back[rows].any()),
                    article_probability=None
                    if article_page is None or not article.blocks
                    else article_page.probability(
                        page_figures(
                            proba[rows],
                            kinds[rows],
                            kept[rows],
                            chars[rows],
                            words[rows],
                            bool(fell_back[rows].any()),
                        )
                    ),
                )
            )
        return results

    # -- glued junk ------------------------------------------------------------------------
    def segment_probabilities(
        self, texts: Sequence[str], frame: pd.DataFrame | None = None, mode: str | None = None
    ) -> list[tuple[list[Segment], np.ndarray]]:
        """Split each paragraph into segments and classify its edge segments.

        Returns, per paragraph, its segments and an array (segments × KINDS) of probabilities,
        NaN rows for the segments not classified (the middle of long paragraphs, and every
        segment of a one-segment paragraph). ``frame`` (the paragraphs' table) gives segments
        their paragraph's HTML columns; ``mode`` is ``mini-document`` (a paragraph's
        segments form one document, so context features see their neighbours) or
        ``individual`` (each segment alone)."""
        mode = mode or self.settings.segment_mode
        max_edge = self.settings.max_edge_segments
        out: list[tuple[list[Segment], np.ndarray]] = []
        rows: list[dict[str, Any]] = []
        owners: list[tuple[int, int]] = []
        html_rows = (  # one conversion, not a pandas row lookup per paragraph
            frame[[c for c in HTML_COLUMNS if c in frame]].to_dict("records")
            if frame is not None and self.settings.segment_html
            else None
        )
        for number, text in enumerate(texts):
            segments = split_segments(text)
            out.append((segments, np.full((len(segments), len(KINDS)), np.nan)))
            if len(segments) < 2:
                continue
            html = html_rows[number] if html_rows is not None else {}
            for index in edge_indices(len(segments), max_edge):
                segment = segments[index]
                doc = f"{number}" if mode == "mini-document" else f"{number}:{index}"
                rows.append(
                    {
                        "doc_id": doc,
                        "position": index if mode == "mini-document" else 0,
                        "text": _classify_text(text[segment.start : segment.end].strip()),
                        **html,
                    }
                )
                owners.append((number, index))
        if rows:
            seg_frame = pd.DataFrame(rows)
            for column, dtype in (("html_tag", object), ("css_tokens", object)):
                if column not in seg_frame:
                    seg_frame[column] = pd.Series([None] * len(seg_frame), dtype=dtype)
            for column in HTML_NUMBERS:
                if column not in seg_frame:
                    seg_frame[column] = np.nan
                seg_frame[column] = pd.to_numeric(seg_frame[column], errors="coerce")
            proba = ordered_proba(self.kind_model, seg_frame, KINDS)
            for (number, index), row in zip(owners, proba, strict=True):
                out[number][1][index] = row
        return out

    def decide_kinds(
        self, texts: Sequence[str], frame: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each paragraph's kind and probabilities as the cleaner decides them: the model's
        most probable kind, then the glued-junk rescue, the page-level pass (``pagepass``),
        then ``kindrules``. ``texts`` are the paragraphs, ``frame`` their table
        (``paragraph_frame``); the glued-junk evaluation
        (``newsclean.train.glued_junk.prepare``) decides through here too."""
        kinds, proba, _ = self._decide(texts, frame)
        return kinds, proba

    def _decide(
        self, texts: Sequence[str], frame: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``decide_kinds``, and per row whether its page's fallback chose what is kept."""
        proba = ordered_proba(self.kind_model, frame, KINDS)
        kinds = np.array(KINDS, dtype=object)[proba.argmax(axis=1)]
        self._rescue_glued_news(texts, kinds, frame, proba)
        fell_back = self._page_pass(texts, frame, kinds, proba)
        apply_kind_rules(texts, kinds)
        return kinds, proba, fell_back

    def _page_pass(
        self, texts: Sequence[str], frame: pd.DataFrame, kinds: np.ndarray, proba: np.ndarray
    ) -> np.ndarray:
        """Smooth each page's keep/drop decisions in document order and fall back to its most
        article-like run when it kept almost nothing (``pagepass``). A block that becomes
        news is then stripped of glued junk like any news paragraph; one that stops being
        news takes its most probable other kind. ``kinds`` changes in place; returns, per row,
        whether its page fell back."""
        settings = self.settings
        fell_back = np.zeros(len(texts), dtype=bool)
        passes = {settings.page_pass(text_input=False), settings.page_pass(text_input=True)}
        if settings.fallback_min_chars <= 0 and all(p <= 0 and b == 0 for p, b in passes):
            return fell_back
        chars = np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts))
        starts = np.flatnonzero(
            np.r_[True, frame["doc_id"].to_numpy()[1:] != frame["doc_id"].to_numpy()[:-1]]
        )
        ends = np.r_[starts[1:], len(texts)]
        # A page given as text has no HTML columns (its first block has no tag).
        text_input = frame["html_tag"].isna().to_numpy()
        for start, end in zip(starts, ends, strict=True):
            penalty, bias = settings.page_pass(text_input=bool(text_input[start]))
            decision = decide_page(
                proba[start:end],  # rows the glued-junk rescue made news have news as argmax
                chars[start:end],
                penalty,
                settings.fallback_min_chars,
                settings.fallback_floor,
                bias,
            )
            fell_back[start:end] = decision.fell_back
            page_kinds = kinds[start:end]
            page_kinds[decision.keep] = "news"
            dropped = ~decision.keep & (page_kinds == "news")
            if dropped.any():
                others = proba[start:end][dropped, 1:].argmax(axis=1)
                page_kinds[dropped] = np.array(NON_NEWS, dtype=object)[others]
        return fell_back

    def _rescue_glued_news(
        self, texts: Sequence[str], kinds: np.ndarray, frame: pd.DataFrame, proba: np.ndarray
    ) -> None:
        """Turn a non-news paragraph back into news when junk glued onto it decided its kind:
        a casino promo glued onto a body paragraph ("…up to £500!Officials said…") makes the
        whole paragraph look like spam. Only paragraphs with a join without a space are
        looked at (a cheap test); one is rescued when, with its junk edges cut as for news
        paragraphs, the rest is mostly news by its own segments and holds most of the text.
        ``kinds`` and ``proba`` (the kept part's mean segment probabilities) change in place;
        the junk is then stripped and reported as for any news paragraph."""
        rows = [
            i
            for i in np.flatnonzero(kinds != "news")
            if len(texts[i]) >= MIN_RESCUE_CHARS and MAYBE_GLUED_RE.search(texts[i])
        ]
        if not rows:
            return
        part = frame.iloc[rows].reset_index(drop=True)
        probabilities = self.segment_probabilities([texts[i] for i in rows], part)
        for row, (segments, seg_proba) in zip(rows, probabilities, strict=True):
            text = texts[row]
            if len(segments) < 2 or not any(s.glued_before for s in segments):
                continue
            can_cut = [strippable(text, segment) for segment in segments]
            first, last = strip_decision(1.0 - seg_proba[:, 0], segments, self.settings, can_cut)
            joins = [segments[first].glued_before if first else False]
            joins.append(segments[last].glued_before if last < len(segments) else False)
            if (first == 0 and last == len(segments)) or not any(joins):
                continue
            kept = seg_proba[first:last]
            kept = kept[~np.isnan(kept[:, 0])]
            kept_chars = segments[last - 1].end - segments[first].start
            if (
                len(kept)
                and kept[:, 0].mean() >= RESCUE_MIN_NEWS
                and kept_chars >= RESCUE_MIN_SHARE * len(text)
            ):
                kinds[row] = "news"
                proba[row] = kept.mean(axis=0)

    def _strip_junk(
        self, texts: Sequence[str], kinds: np.ndarray, frame: pd.DataFrame, proba: np.ndarray
    ) -> list[tuple[tuple[int, int] | None, list[RemovedSpan]]]:
        """Per paragraph: (kept character range or None, removed spans)."""
        result: list[tuple[tuple[int, int] | None, list[RemovedSpan]]] = [(None, [])] * len(texts)
        news_rows = np.flatnonzero(kinds == "news")
        if self.settings.junk_gate:
            news_rows = np.array(
                [i for i in news_rows if may_hold_glued_junk(split_segments(texts[i]))], dtype=int
            )
        if not len(news_rows):
            return result
        news_texts = [texts[i] for i in news_rows]
        news_frame = frame.iloc[news_rows].reset_index(drop=True)
        probabilities = self.segment_probabilities(news_texts, news_frame)
        junk_p = junk_probabilities(
            self.stripper, news_texts, probabilities, proba[news_rows], self.settings
        )
        for number, (row, text, (segments, seg_proba)) in enumerate(
            zip(news_rows, news_texts, probabilities, strict=True)
        ):
            if len(segments) < 2:
                continue
            result[row] = spans_from_decision(
                text, segments, seg_proba, self.settings, None if junk_p is None else junk_p[number]
            )
        return result

    # -- topics ----------------------------------------------------------------------------
    def _topics(
        self, frame: pd.DataFrame, texts: list[str], kinds: np.ndarray, kept: np.ndarray
    ) -> list[list[str]]:
        topics: list[list[str]] = [[] for _ in texts]
        if self.topic_model is None or not self.settings.topics:
            return topics
        # Kept news and teaser paragraphs, and every teaser even when dropped: users want to
        # know what the page links to.
        rows = np.flatnonzero((kept & (kinds == "news")) | (kinds == "teaser"))
        if not len(rows):
            return topics
        part = pd.DataFrame(
            {
                "text": pd.Series([_classify_text(texts[i]) for i in rows], dtype=object),
                "doc_id": frame["doc_id"].to_numpy(dtype=object)[rows],
                "kind": kinds[rows],
            }
        )
        proba = ordered_proba(self.topic_model, part, TOPICS)
        if hasattr(self.topic_model, "tags_from_proba"):
            tags = self.topic_model.tags_from_proba(proba)
        else:
            from newsclean.ml.topic import tags_from_proba

            tags = tags_from_proba(proba, self.settings.topic_threshold, self.settings.max_topics)
        for row, tag_list in zip(rows, tags, strict=True):
            topics[row] = [str(t) for t in tag_list]
        return topics


def apply_kind_rules(texts: Sequence[str], kinds: np.ndarray) -> None:
    """A paragraph that is only a byline, a timestamp or a picture credit is boilerplate
    whatever the model says (``kindrules``, the definition the training labels follow): in a
    two-paragraph article the model has little context, and these lines must still go.
    ``kinds`` changes in place; the model's probabilities are reported as they were."""
    for row, text in enumerate(texts):
        if kinds[row] != "boilerplate" and rule_for(text):  # None at once for long text
            kinds[row] = "boilerplate"


# ------------------------------------------------------------------ learned junk stripper


__all__ = [
    "Cleaner",
    "CleanerSettings",
    "CleanedArticle",
    "CleanedParagraph",
    "RemovedSpan",
    "InputError",
    "ModelNotFoundError",
    "split_segments",
    "parse_keep",
]
