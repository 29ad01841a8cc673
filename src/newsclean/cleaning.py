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
   junk glued on (``newsclean.junk``); without one, by thresholds on the segment's non-news
   probability (``strip_threshold``, or ``glued_threshold`` when the join had no space). What
   stays must hold a segment the model calls news, and single short words are never cut;
3. topics for the kept news and teaser paragraphs, from the topic model on the cleaned text.

The stripper, its threshold and the segment mode are chosen on validation data with junk glued
on and stored with the model (``CleanerSettings``); the false-strip rate on clean news
paragraphs is capped there (``junk.MAX_FALSE_STRIP_RATE``).
"""

from __future__ import annotations

import dataclasses
import gc
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from newsclean.config import KINDS, TOPICS
from newsclean.features import HTML_NUMBERS, SHALLOW_NAMES, fast_tfidf, shallow_features
from newsclean.inputs import Article, InputError, RawArticle, to_article
from newsclean.kindrules import rule_for
from newsclean.pagepass import decide_page, page_confidence

CLEANER_MODEL_NAME = "newsclean-cleaner"
DEFAULT_MODEL_URI = f"models:/{CLEANER_MODEL_NAME}@champion"
NON_NEWS = tuple(k for k in KINDS if k != "news")
SEGMENT_MODES = ("mini-document", "individual")
# Paragraphs longer than this are classified on their first and last half of it (the output
# keeps the whole text): a multi-megabyte "paragraph" must not stall a batch.
MAX_CLASSIFY_CHARS = 20_000


class ModelNotFoundError(RuntimeError):
    """No trained cleaner where we looked: the user has to run ``make train``."""


# ------------------------------------------------------------------ results


@dataclass
class RemovedSpan:
    """Junk cut off a news paragraph: ``original[start:end] == text``."""

    text: str
    kind: str
    where: str  # "start" or "end"
    start: int
    end: int
    # How sure the cleaner was: the stripper's junk probability of the segment (or, without a
    # stripper, the kind model's probability of ``kind``).
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class CleanedParagraph:
    text: str  # the paragraph without its removed spans
    kind: str  # the decision: the model's, then the glued-junk rescue, the page pass, kindrules
    probabilities: dict[str, float]
    topics: list[str]
    kept: bool
    removed_spans: list[RemovedSpan] = field(default_factory=list)
    original: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "probabilities": self.probabilities,
            "topics": self.topics,
            "kept": self.kept,
            "removed_spans": [s.to_dict() for s in self.removed_spans],
        }


@dataclass
class CleanedArticle:
    id: str
    path: str | None
    paragraphs: list[CleanedParagraph]
    # How sure the page's keep/drop decisions were (``pagepass.page_confidence``: the
    # character-weighted probability of each block's own decision), and whether the page-level
    # fallback chose the kept run because the model kept almost nothing.
    confidence: float | None = None
    fell_back: bool = False

    @property
    def text(self) -> str:
        """The kept paragraphs, a blank line between them."""
        return "\n\n".join(p.text for p in self.paragraphs if p.kept)

    @property
    def kept(self) -> list[CleanedParagraph]:
        return [p for p in self.paragraphs if p.kept]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "text": self.text,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "fell_back": self.fell_back,
            "paragraphs": [p.to_dict() for p in self.paragraphs],
        }


@dataclass(frozen=True)
class CleanerSettings:
    """How the cleaner decides; stored with the logged model (``to_dict`` / ``from_dict``)."""

    keep: tuple[str, ...] = ("news",)
    segment_mode: str = "mini-document"
    # Segments carry their paragraph's HTML columns (tag, link density, depth, class tokens).
    segment_html: bool = True
    strip_threshold: float = 0.9
    glued_threshold: float = 0.7
    # With a learned junk stripper: a segment goes when its junk probability reaches this.
    junk_threshold: float = 0.7
    max_edge_segments: int = 3
    # Page-level pass (``pagepass``): the cost of each switch between kept and dropped blocks
    # in document order (0 = the model's own decisions); a shift of each block's keep score
    # (log odds of news against the likeliest other kind; negative asks more evidence of news);
    # and the fallback to the most article-like run of blocks when less than
    # ``fallback_min_chars`` characters are kept (0 = never), each block scoring p(news) -
    # ``fallback_floor``. Chosen on the 324 validation pages with kind champion v1
    # (scripts/page_pass_sweep.py); page F1 without the pass -> with it: HTML 0.9201 -> 0.9218,
    # text:blocks 0.8731 -> 0.8933, text:html-text 0.8671 -> 0.8879. A bias of -0.5 (penalty
    # 1.0) scored higher still on those pages (0.9261, 0.8982, 0.8911) but drops a body
    # paragraph whose news probability ties with another kind at the end of an article (the
    # sample-trained cleaner's case in tests/test_behaviour.py), so it is not the default.
    contiguity_penalty: float = 1.25
    news_bias: float = 0.0
    fallback_min_chars: int = 200
    fallback_floor: float = 0.2
    # Tag kept news and every teaser with topics; False skips the topic model (users who only
    # want clean text; ``newsclean clean --no-topics``).
    topics: bool = True
    # Only for topic models without their own threshold (TopicTagger has one).
    topic_threshold: float = 0.5
    max_topics: int = 2

    def __post_init__(self):
        bad = [k for k in self.keep if k not in KINDS]
        if bad:
            raise ValueError(f"unknown kind(s) to keep: {', '.join(bad)} (kinds: {KINDS})")
        if self.segment_mode not in SEGMENT_MODES:
            raise ValueError(f"segment_mode must be one of {SEGMENT_MODES}")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["keep"] = list(self.keep)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CleanerSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
        if "keep" in known:
            known["keep"] = parse_keep(known["keep"])
        return cls(**known)


def parse_keep(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"news,teaser"`` or a list → a tuple of kinds (checked)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds = tuple(dict.fromkeys(str(k).strip().lower() for k in items if str(k).strip()))
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(
            f"kinds to keep must be among {', '.join(KINDS)}; got {', '.join(bad) or 'nothing'}"
        )
    return kinds


# ------------------------------------------------------------------ segments

_ABBREVIATIONS = frozenset(
    (  # noqa: SIM905 - a word list reads better than 60 quoted strings
        "mr mrs ms mx dr prof st jr sr gen gov sen rep lt col sgt capt cpl mt ft no nos vs v "
        "etc inc ltd co corp bros jan feb mar apr jun jul aug sep sept oct nov dec fig approx "
        "dept est ave rd blvd univ assn u.s u.k u.n e.u e.g i.e a.m p.m ph.d"
    ).split()
)
_SENTENCE_END_RE = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s*)")
_OPENERS = "\"'“‘([«"
_WORD_BEFORE_RE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_LIST_MARKER_RE = re.compile(r"\s*[(\[]?(?:\d{1,3}|[ivxlc]{1,5}|[a-z])$", re.IGNORECASE)
_GLUE_RE = re.compile(r"(?<=[a-z0-9)\]”%])(?=[A-Z][a-z])")
# A cheap test for a join without a space (inside a word, or after a sentence end): only the
# paragraphs it finds are split into segments when looking for glued junk on non-news.
_MAYBE_GLUED_RE = re.compile(r"[a-z0-9)\]”%][.!?…]*[\"'”’)\]]*[A-Z][a-z]")
_URL_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|gov|edu|io|co|uk|de|fr)\b\S*",
    re.IGNORECASE,
)
_URL_TLDS = ("com", "org", "net", "gov", "edu", "io", "co", "uk", "de", "fr")  # as in _URL_RE
# An ASCII text holds a match of _URL_RE only if it holds one of these (the regex is slow).
_URL_MARKERS = ("://", "www.", *(f".{tld}" for tld in _URL_TLDS))


def url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every URL-like token; the regex runs only where one can be."""
    if text.isascii():
        lowered = text.lower()
        if not any(marker in lowered for marker in _URL_MARKERS):
            return []
    return [m.span() for m in _URL_RE.finditer(text)]


# A non-news paragraph with junk glued on is read as news again (``_rescue_glued_news``) when
# it is this long, and what stays once the junk is cut is news by at least this mean
# probability and holds at least this share of its characters.
MIN_RESCUE_CHARS = 80
RESCUE_MIN_NEWS = 0.5
RESCUE_MIN_SHARE = 0.5
# A kept part must contain a segment whose non-news probability is below this.
NEWS_SEGMENT_MAX_NON_NEWS = 0.5
# A join inside one token needs this many letters before it (one fewer when they start in
# lower case, "oilTry"), so brand names ("YouTube", "McDonald", "iPhone", "PayPal") stay whole.
MIN_GLUE_PREFIX = 4
# A segment is only cut when it has two words or this many letters: single short words
# ("Play", "Hire", "188") are mostly pieces of names, rarely junk.
MIN_JUNK_LETTERS = 12


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    glued_before: bool  # the join before this segment had no space


def _sentence_boundaries(text: str, urls: list[tuple[int, int]]) -> Iterable[tuple[int, int, bool]]:
    for match in _SENTENCE_END_RE.finditer(text):
        cut, resume = match.end(1), match.end()
        if resume >= len(text) or any(a <= match.start() < b for a, b in urls):
            continue
        gap = match.group(2)
        following = text[resume]
        if following in _OPENERS and resume + 1 < len(text):
            following = text[resume + 1]
        before = text[match.start(1) - 1] if match.start(1) else ""
        if gap:
            if not (following.isupper() or following.isdigit()):
                continue
        elif not (following.isupper() or (following.isdigit() and before.isalpha())):
            continue  # "3.5" is a number; "hens.26 Phone…" is a join
        if _LIST_MARKER_RE.match(text, 0, match.start(1)) or _LIST_MARKER_RE.fullmatch(
            text[max(0, match.start(1) - 4) : match.start(1)].lstrip()
        ):
            continue  # "27. The best…", "(iii) …": a numbered item, not a sentence
        if match.group(1)[0] == ".":
            window = max(0, match.start(1) - 40)  # a local look back: linear on huge text
            word = _WORD_BEFORE_RE.search(text[window : match.start(1)])
            if word:
                token = word.group(1).lower().rstrip(".")
                if token in _ABBREVIATIONS or len(token) == 1 or "." in token:
                    continue
        yield cut, resume, not gap


def _glue_boundaries(text: str, urls: list[tuple[int, int]]) -> Iterable[tuple[int, int, bool]]:
    for match in _GLUE_RE.finditer(text):
        position = match.start()
        if any(a <= position < b for a, b in urls):
            continue
        token_start = max(text.rfind(" ", 0, position), text.rfind("\n", 0, position)) + 1
        prefix = text[token_start:position]
        letters = sum(c.isalpha() for c in prefix)
        needed = MIN_GLUE_PREFIX - 1 if prefix[:1].islower() else MIN_GLUE_PREFIX
        if text[position - 1].isalpha() and letters < needed:
            continue
        yield position, position, True


def split_segments(text: str) -> list[Segment]:
    """Segments of a paragraph: sentences, and pieces joined with no space between a digit or
    lower-case letter and a capital ("…every Friday!Officials", "…£500Officials")."""
    if len(text) < 2:
        return [Segment(0, len(text), False)] if text else []
    urls = url_spans(text)
    cuts = sorted(set(_sentence_boundaries(text, urls)) | set(_glue_boundaries(text, urls)))
    segments: list[Segment] = []
    start, glued = 0, False
    for cut, resume, no_space in cuts:
        if cut <= start:
            continue
        if text[start:cut].strip():
            segments.append(Segment(start, cut, glued))
            start, glued = resume, no_space
    if text[start:].strip():
        segments.append(Segment(start, len(text), glued))
    elif segments:  # trailing whitespace only: extend the last segment
        last = segments[-1]
        segments[-1] = Segment(last.start, len(text.rstrip()), last.glued_before)
    return segments


def edge_indices(n_segments: int, max_edge: int) -> list[int]:
    """The first and last ``max_edge`` segment indices (all when the paragraph is short)."""
    if n_segments <= 2 * max_edge:
        return list(range(n_segments))
    return list(range(max_edge)) + list(range(n_segments - max_edge, n_segments))


def strippable(text: str, segment: Segment) -> bool:
    """Whether a segment is big enough to be cut as junk (see ``MIN_JUNK_LETTERS``)."""
    piece = text[segment.start : segment.end]
    return len(piece.split()) >= 2 or sum(c.isalpha() for c in piece) >= MIN_JUNK_LETTERS


def strip_decision(
    non_news: np.ndarray,
    segments: Sequence[Segment],
    settings: CleanerSettings,
    can_cut: Sequence[bool] | None = None,
) -> tuple[int, int]:
    """(first kept segment, one past the last kept segment) for one paragraph.

    ``non_news[i]`` is segment i's non-news probability (NaN when it was not classified).
    A leading segment goes when its probability reaches the threshold of the join after it;
    a trailing one, of the join before it. What stays must hold a segment the model calls
    news (non-news probability below ``NEWS_SEGMENT_MAX_NON_NEWS``; a segment it did not
    classify counts as news), or nothing is cut."""
    n = len(segments)
    first, last = 0, n
    can_cut = [True] * n if can_cut is None else can_cut

    def threshold(join_index: int) -> float:
        glued = segments[join_index].glued_before
        return settings.glued_threshold if glued else settings.strip_threshold

    while (
        first < min(settings.max_edge_segments, n - 1)
        and can_cut[first]
        and non_news[first] >= threshold(first + 1)  # NaN compares False
    ):
        first += 1
    while (
        last - 1 > first
        and n - last < settings.max_edge_segments
        and can_cut[last - 1]
        and non_news[last - 1] >= threshold(last - 1)
    ):
        last -= 1
    if (first or last < n) and not any(
        not non_news[i] >= NEWS_SEGMENT_MAX_NON_NEWS for i in range(first, last)
    ):
        # Every segment left looks like junk too: the model sees no news in its segments,
        # while it called the whole paragraph news. Trust the paragraph; cut nothing.
        return 0, n
    return first, last


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
    """One row per paragraph, articles one after another (``doc_id`` = article index)."""
    doc_ids, positions, texts, tags, css = [], [], [], [], []
    numbers: dict[str, list[float]] = {name: [] for name in HTML_NUMBERS}
    for number, article in enumerate(articles):
        for position, block in enumerate(article.blocks):
            doc_ids.append(str(number))
            positions.append(position)
            texts.append(_classify_text(block.text))
            tags.append(block.tag)
            css.append(block.css_tokens)
            for name, values in numbers.items():
                value = getattr(block, name)
                values.append(np.nan if value is None else float(value))
    return pd.DataFrame(
        {
            "doc_id": pd.Series(doc_ids, dtype=object),
            "position": np.asarray(positions, dtype=np.int64),
            "text": pd.Series(texts, dtype=object),
            "html_tag": pd.Series(tags, dtype=object),
            **{name: np.asarray(values, dtype=np.float64) for name, values in numbers.items()},
            "css_tokens": pd.Series(css, dtype=object),
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
        # A classifier over ``STRIPPER_FEATURES`` (newsclean.junk.fit_stripper); without one,
        # the thresholds on the segments' non-news probability decide.
        self.stripper = stripper
        # Seconds spent per stage since creation (the benchmark reads them).
        self.stage_seconds: dict[str, float] = {}

    def _tick(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + now - since
        return now

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, uri: str | None = None, config=None) -> Cleaner:
        """The registered cleaner (default ``models:/newsclean-cleaner@champion`` in the
        project's tracking store), or any pyfunc model URI / path logged by ``serving``.
        Loading settles the process's garbage collector (``settle_garbage_collector``)."""
        from newsclean import serving

        return serving.load_cleaner(uri, config)

    @classmethod
    def from_champions(cls, config=None, settings: CleanerSettings | None = None) -> Cleaner:
        """The kind and topic champions straight from the registry (no cleaner model needed)."""
        from newsclean import serving

        return serving.cleaner_from_registry(config, settings=settings)

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
        """Clean a batch in one pass of each model (faster than one article at a time)."""
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
            frame[[c for c in ("html_tag", "css_tokens", *HTML_NUMBERS) if c in frame]].to_dict(
                "records"
            )
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
        (``paragraph_frame``); the glued-junk evaluation (``junk.prepare``) decides through
        here too."""
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
        if (
            settings.contiguity_penalty <= 0
            and settings.fallback_min_chars <= 0
            and settings.news_bias == 0
        ):
            return fell_back
        chars = np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts))
        starts = np.flatnonzero(
            np.r_[True, frame["doc_id"].to_numpy()[1:] != frame["doc_id"].to_numpy()[:-1]]
        )
        ends = np.r_[starts[1:], len(texts)]
        for start, end in zip(starts, ends, strict=True):
            decision = decide_page(
                proba[start:end],  # rows the glued-junk rescue made news have news as argmax
                chars[start:end],
                settings.contiguity_penalty,
                settings.fallback_min_chars,
                settings.fallback_floor,
                settings.news_bias,
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
            if len(texts[i]) >= MIN_RESCUE_CHARS and _MAYBE_GLUED_RE.search(texts[i])
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
            from newsclean.topics import tags_from_proba

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


def spans_from_decision(
    text: str,
    segments: Sequence[Segment],
    seg_proba: np.ndarray,
    settings: CleanerSettings,
    junk_p: dict[tuple[int, str], float] | None = None,
) -> tuple[tuple[int, int] | None, list[RemovedSpan]]:
    """Decide for one paragraph (``learned_decision`` with the stripper's probabilities
    ``junk_p``, else ``strip_decision``): its kept range and removed spans."""
    non_news = 1.0 - seg_proba[:, 0]
    can_cut = [strippable(text, segment) for segment in segments]
    if junk_p is None:
        first, last = strip_decision(non_news, segments, settings, can_cut)
    else:
        first, last = learned_decision(len(segments), junk_p, settings, can_cut)
    if first == 0 and last == len(segments):
        return None, []
    spans = []
    for index, where in [(i, "start") for i in range(first)] + [
        (i, "end") for i in range(last, len(segments))
    ]:
        segment = segments[index]
        rest = seg_proba[index, 1:]
        kind_index = int(np.nanargmax(rest))
        probability = (
            float(rest[kind_index]) if junk_p is None else float(junk_p.get((index, where), 0.0))
        )
        start = segment.start + (
            len(text[segment.start : segment.end]) - len(text[segment.start : segment.end].lstrip())
        )
        end = segment.start + len(text[segment.start : segment.end].rstrip())
        spans.append(
            RemovedSpan(
                text=text[start:end],
                kind=NON_NEWS[kind_index],
                where=where,
                start=start,
                end=end,
                probability=round(probability, 4),
            )
        )
    spans = _merge_spans(text, spans)
    keep_start = segments[first].start
    keep_end = segments[last - 1].end
    while keep_start < keep_end and text[keep_start].isspace():
        keep_start += 1
    while keep_end > keep_start and text[keep_end - 1].isspace():
        keep_end -= 1
    return (keep_start, keep_end), spans


def _merge_spans(text: str, spans: list[RemovedSpan]) -> list[RemovedSpan]:
    """One span per edge: the segments cut off at the start (or end) form one glued fragment.
    Its kind is the one covering most characters; its probability the least sure piece's."""
    merged = []
    for where in ("start", "end"):
        pieces = [s for s in spans if s.where == where]
        if not pieces:
            continue
        if len(pieces) == 1:
            merged.append(pieces[0])
            continue
        sizes: dict[str, int] = {}
        for piece in pieces:
            sizes[piece.kind] = sizes.get(piece.kind, 0) + piece.end - piece.start
        start, end = pieces[0].start, pieces[-1].end
        merged.append(
            RemovedSpan(
                text=text[start:end],
                kind=max(sizes, key=sizes.get),
                where=where,
                start=start,
                end=end,
                probability=min(p.probability for p in pieces),
            )
        )
    return merged


# ------------------------------------------------------------------ learned junk stripper

STRIPPER_FEATURES = [
    *(f"segment_p_{k}" for k in KINDS),
    *(f"paragraph_p_{k}" for k in KINDS),
    "neighbour_p_news",  # the segment next to it, towards the middle
    "join_without_space",
    "at_start",
    "from_edge",
    "segments",
    "share_of_paragraph",
    "can_cut",
    *(f"shallow_{name}" for name in SHALLOW_NAMES),
]


def junk_candidates(segments: Sequence[Segment], seg_proba: np.ndarray, max_edge: int):
    """(segment index, "start" | "end") of every classified segment near an edge."""
    n = len(segments)
    out: list[tuple[int, str]] = []
    if n < 2:
        return out
    for index in range(n):
        if np.isnan(seg_proba[index, 0]):
            continue
        if index < max_edge and index < n - 1:
            out.append((index, "start"))
        if n - 1 - index < max_edge and index > 0:
            out.append((index, "end"))
    return out


def candidate_features(
    text: str,
    segments: Sequence[Segment],
    seg_proba: np.ndarray,
    paragraph_proba: np.ndarray,
    candidates: Sequence[tuple[int, str]],
    surface: np.ndarray | None = None,
) -> np.ndarray:
    """One row of ``STRIPPER_FEATURES`` per candidate segment (``surface``: the candidates'
    ``shallow_features`` when already computed in a batch)."""
    if not candidates:
        return np.zeros((0, len(STRIPPER_FEATURES)))
    pieces = [text[segments[i].start : segments[i].end].strip() for i, _ in candidates]
    if surface is None:
        surface = shallow_features(pd.Series(pieces, dtype=object))
    rows = []
    for (index, where), piece, shallow in zip(candidates, pieces, surface, strict=True):
        at_start = where == "start"
        join = segments[index + 1].glued_before if at_start else segments[index].glued_before
        neighbour = seg_proba[index + 1 if at_start else index - 1, 0]
        rows.append(
            [
                *seg_proba[index],
                *paragraph_proba,
                neighbour,
                float(join),
                float(at_start),
                float(index if at_start else len(segments) - 1 - index),
                float(len(segments)),
                len(piece) / max(len(text), 1),
                float(strippable(text, segments[index])),
                *shallow,
            ]
        )
    return np.asarray(rows, dtype=np.float64)


def junk_probabilities(
    stripper,
    texts: Sequence[str],
    probabilities: Sequence[tuple[list[Segment], np.ndarray]],
    paragraph_proba: np.ndarray,
    settings: CleanerSettings,
) -> list[dict[tuple[int, str], float]] | None:
    """The stripper's junk probability of each candidate segment, per paragraph (one batch)."""
    if stripper is None:
        return None
    out: list[dict[tuple[int, str], float]] = [{} for _ in texts]
    jobs = []
    for number, (segments, seg_proba) in enumerate(probabilities):
        candidates = junk_candidates(segments, seg_proba, settings.max_edge_segments)
        if candidates:
            jobs.append((number, candidates))
    if not jobs:
        return out
    pieces = [
        texts[n][probabilities[n][0][i].start : probabilities[n][0][i].end].strip()
        for n, candidates in jobs
        for i, _ in candidates
    ]
    surface = shallow_features(pd.Series(pieces, dtype=object))  # one pass: pandas is slow per call
    blocks, owners, offset = [], [], 0
    for number, candidates in jobs:
        segments, seg_proba = probabilities[number]
        blocks.append(
            candidate_features(
                texts[number],
                segments,
                seg_proba,
                paragraph_proba[number],
                candidates,
                surface[offset : offset + len(candidates)],
            )
        )
        offset += len(candidates)
        owners += [(number, c) for c in candidates]
    p_junk = stripper.predict_proba(np.vstack(blocks))[:, 1]
    for (number, candidate), p in zip(owners, p_junk, strict=True):
        out[number][candidate] = float(p)
    return out


def learned_decision(
    n: int, junk_p: dict[tuple[int, str], float], settings: CleanerSettings, can_cut
) -> tuple[int, int]:
    """Leading and trailing runs of segments whose junk probability reaches
    ``junk_threshold`` (and that are big enough to cut); at least one segment stays."""
    threshold = settings.junk_threshold
    first, last = 0, n
    while (
        first < min(settings.max_edge_segments, n - 1)
        and can_cut[first]
        and junk_p.get((first, "start"), 0.0) >= threshold
    ):
        first += 1
    while (
        last - 1 > first
        and n - last < settings.max_edge_segments
        and can_cut[last - 1]
        and junk_p.get((last - 1, "end"), 0.0) >= threshold
    ):
        last -= 1
    return first, last


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
