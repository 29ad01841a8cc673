"""Features: how a paragraph table becomes model input (scikit-learn transformers).

Model input is a DataFrame with a ``text`` column; ``doc_id`` and ``position`` give the page
order (neighbours matter, as boilerpipe showed) and the HTML columns from segmentation
(``html_tag``, ``link_density``, ``dom_depth``, ``css_tokens``, ``container_share``,
``in_main_container``, ``parent_id``, ``grandparent_id``) are optional: the same model serves
HTML and plain-text input, where they are missing.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import (
    ENGLISH_STOP_WORDS,
    CountVectorizer,
    HashingVectorizer,
    TfidfVectorizer,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from newsclean import segmentation
from newsclean.config import ModelConfig
from newsclean.segmentation import CONTAINER_FIELDS

INPUT_COLUMNS = ["text"]
PAGE_COLUMNS = [
    "doc_id",
    "position",
    "text",
    "html_tag",
    "link_density",
    "dom_depth",
    "css_tokens",
    *CONTAINER_FIELDS,
]
# The numeric HTML columns (NaN for text input). The two ids are not features themselves:
# ``models.NeighbourStack`` pools probabilities over blocks that share a container.
HTML_NUMBERS = list(segmentation.HTML_NUMBERS)
BLOCK_TAG_GROUPS = {
    "p": "p",
    "div": "div",
    "li": "li",
    "td": "td",
    "th": "td",
    "h1": "h1",
    "h2": "h",
    "h3": "h",
    "h4": "h",
    "h5": "h",
    "h6": "h",
    "span": "inline",
    "a": "inline",
    "figcaption": "caption",
    "caption": "caption",
    "blockquote": "quote",
    "pre": "pre",
    "dd": "dl",
    "dt": "dl",
    "option": "form",
    "label": "form",
    "button": "form",
    "form": "form",
    "select": "form",
    "textarea": "form",
    "br": "br",
    "title": "title",
    "header": "section",
    "footer": "section",
    "nav": "section",
    "aside": "section",
    "section": "section",
    "article": "section",
    "main": "section",
    "body": "body",
    "html": "body",
    "table": "table",
    "tr": "table",
    "ul": "list",
    "ol": "list",
}
TAG_GROUPS = sorted(set(BLOCK_TAG_GROUPS.values()) | {"other", "none"})

_STOPWORDS = frozenset(ENGLISH_STOP_WORDS)
_PATTERNS = {
    "ends_ellipsis": r"(?:\.\.\.|…)\s*$",
    "starts_copyright": r"^\s*(?:©|\(c\)|copyright\b)",
    "starts_photo": r"^\s*(?:photo|photograph|image|picture|video|credit|caption)s?\s*[:/|]",
    "starts_by": r"^\s*by\s+[A-Z]",
    "ends_sentence": r"[.!?\"'”’)]\s*$",
    "has_separator": r"[|•›»·]",
    "has_url": r"https?://|www\.|\.com\b",
    "has_time": r"\b\d{1,2}[:.]\d{2}\b|\b[ap]\.?m\.?\b|\bgmt\b|\butc\b",
    "has_date": r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b"
    r"|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|\b(?:19|20)\d{2}\b",
    "has_currency": r"[$£€¥₹]|\b(?:usd|eur|gbp)\b",
    "has_percent": r"%",
    "has_promo": r"\b(?:bonus|casino|bet(?:ting)?|free spins?|deposit|jackpot|odds|offer|deal|"
    r"discount|coupon|promo|sponsored|advert\w*|buy now|shop|sale|win)\b",
    "has_readmore": r"\b(?:read more|related|more from|see also|recommended|most read|"
    r"popular|trending|also on|you may like|next story|previous)\b",
    "has_prompt": r"\b(?:sign up|subscribe|newsletter|cookies?|share|follow us|log ?in|"
    r"register|comment|reply|print|email)\b",
    "glued_join": r"[a-z0-9][.!?]?[A-Z][a-z]",
}
# Case-sensitive patterns run on the text; the others, compiled without IGNORECASE (which
# makes Python's regex engine several times slower), on the lower-cased text.
_CASE_SENSITIVE = frozenset({"glued_join"})
_COMPILED = {
    name: re.compile(p if name in _CASE_SENSITIVE else p.replace("[A-Z]", "[a-z]"))
    for name, p in _PATTERNS.items()
}
SHALLOW_NAMES = [
    "log_chars",
    "log_words",
    "mean_word_len",
    "frac_upper",
    "frac_title_words",
    "frac_digits",
    "frac_punct",
    "stopword_density",
    "n_exclaim",
    *_PATTERNS,
]
NEIGHBOUR_NAMES = [
    "log_chars",
    "log_words",
    "stopword_density",
    "frac_title_words",
    "ends_sentence",
    "ends_ellipsis",
    "has_readmore",
    "has_promo",
]


def ensure_page_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Add missing optional columns (plain-text input): one document, rows in given order."""
    frame = frame.copy()
    if "doc_id" not in frame:
        frame["doc_id"] = "document"
    if "position" not in frame:
        frame["position"] = frame.groupby("doc_id", sort=False).cumcount()
    for column in ("html_tag", "css_tokens"):
        if column not in frame:
            frame[column] = None
    for column in HTML_NUMBERS:
        if column not in frame:
            frame[column] = np.nan
    frame["text"] = frame["text"].fillna("").astype(str)
    return frame


_NOT_ASCII_LETTER = bytes(b for b in range(256) if not chr(b).isascii() or not chr(b).isalpha())
_DIGIT_RE = re.compile(r"\d")
_PUNCT_RE = re.compile(r"[^\w\s]")
_STRIP_CHARS = ".,;:!?\"'()"


_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_DIGIT = b"0123456789"
# ASCII characters that ``\w`` or ``\s`` match (``\s`` includes \x1c-\x1f, as str.isspace).
_ASCII_WORD_OR_SPACE = bytes(
    c for c in range(128) if chr(c).isalnum() or chr(c) == "_" or chr(c).isspace()
)
_SPACE_THEN_UPPER_RE = re.compile(r"\s[A-Z]")
_CURRENCY_SYMBOLS = "$£€¥₹"
_CURRENCY_WORDS = ("usd", "eur", "gbp")


def _ascii_or_regex_counts(
    table: bytes, pattern: re.Pattern, texts: list[str], encoded: list[bytes], keep: bool
) -> np.ndarray:
    """Per text, how many characters ``pattern`` (one character class) matches: on ASCII text
    by deleting bytes (``keep``: count the bytes in ``table``; else those outside it), which
    is several times faster than ``findall``; other text goes to ``pattern``."""
    findall = pattern.findall

    def count(text: str, data: bytes) -> int:
        if len(data) != len(text):  # not ASCII: Unicode classes differ
            return len(findall(text))
        rest = len(data.translate(None, table))
        return len(data) - rest if keep else rest

    return np.fromiter(map(count, texts, encoded), dtype=np.float32, count=len(texts))


def _title_words(texts: list[str]) -> np.ndarray:
    r"""Per text, the matches of ``(?:^|\s)[A-Z]`` (words starting with a capital), counted
    without the ``^`` alternative, which makes the regex engine try every position."""
    search = _SPACE_THEN_UPPER_RE.findall
    return np.fromiter(
        (len(search(t)) + ("A" <= t[:1] <= "Z") for t in texts), np.float32, count=len(texts)
    )


def _has_currency(text: str) -> bool:
    """``_PATTERNS["has_currency"]`` on lower-cased text, searching only when it can match."""
    if any(symbol in text for symbol in _CURRENCY_SYMBOLS):
        return True
    return (
        any(w in text for w in _CURRENCY_WORDS)
        and _COMPILED["has_currency"].search(text) is not None
    )


def _as_strings(texts) -> list[str]:
    return ["" if not isinstance(t, str) else t for t in texts]


def _flags(pattern: re.Pattern, texts: list[str]) -> np.ndarray:
    search = pattern.search
    return np.fromiter((search(t) is not None for t in texts), dtype=np.float32, count=len(texts))


def shallow_features(texts) -> np.ndarray:
    """Cheap surface statistics of each paragraph (``SHALLOW_NAMES``).

    Plain loops over compiled patterns (pandas' ``.str`` methods cost about twice as much),
    byte counts on ASCII text and cheap prechecks before the slowest patterns: these run on
    every block the cleaner sees (twice: blocks and segments). Every shortcut gives exactly
    the plain regex definition's value (tests/test_features.py checks both ways agree).
    The last result is remembered, because a stacked model asks for the same texts twice.
    """
    values = _as_strings(texts)
    key = (len(values), hash(tuple(values)))
    if _SHALLOW_CACHE.get("key") == key:
        return _SHALLOW_CACHE["value"].copy()
    n = len(values)
    chars = np.fromiter((len(t) for t in values), dtype=np.float32, count=n)
    lowered = [t.lower() for t in values]
    # Lower-casing never moves a word boundary, so the lower-cased words are the words.
    words = [t.split() for t in lowered]
    n_words = np.fromiter((len(w) for w in words), dtype=np.float32, count=n)
    safe_chars = np.maximum(chars, 1)
    safe_words = np.maximum(n_words, 1)
    encoded = [t.encode("utf-8", "surrogatepass") for t in values]
    # UTF-8 writes ASCII as itself and everything else as bytes >= 0x80, which the table drops.
    letters = np.maximum(
        np.fromiter(
            (len(b.translate(None, _NOT_ASCII_LETTER)) for b in encoded), np.float32, count=n
        ),
        1,
    )
    stop = np.fromiter(
        (sum(w.strip(_STRIP_CHARS) in _STOPWORDS for w in ws) for ws in words),
        dtype=np.float32,
        count=n,
    )
    digits = _ascii_or_regex_counts(_ASCII_DIGIT, _DIGIT_RE, values, encoded, keep=True)
    columns = [
        np.log1p(chars),
        np.log1p(n_words),
        chars / safe_words,
        # [A-Z] is ASCII, and UTF-8 writes ASCII letters as themselves: count bytes.
        np.fromiter(
            (len(b) - len(b.translate(None, _ASCII_UPPER)) for b in encoded), np.float32, count=n
        )
        / letters,
        _title_words(values) / safe_words,
        digits / safe_chars,
        _ascii_or_regex_counts(_ASCII_WORD_OR_SPACE, _PUNCT_RE, values, encoded, keep=False)
        / safe_chars,
        stop / safe_words,
        np.minimum(np.fromiter((t.count("!") for t in values), np.float32, count=n), 5),
    ]
    for name, pattern in _COMPILED.items():
        source = values if name in _CASE_SENSITIVE else lowered
        if name == "has_date":  # every alternative holds a digit
            search = pattern.search
            flags = (d > 0 and search(t) is not None for t, d in zip(source, digits, strict=True))
            columns.append(np.fromiter(flags, dtype=np.float32, count=n))
        elif name == "has_currency":
            columns.append(np.fromiter(map(_has_currency, source), dtype=np.float32, count=n))
        else:
            columns.append(_flags(pattern, source))
    result = np.column_stack(columns).astype(np.float32)
    _SHALLOW_CACHE.update(key=key, value=result)
    return result.copy()


_SHALLOW_CACHE: dict[str, object] = {}


def _document_order(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row order sorted by (document, position), and each sorted row's document code."""
    codes = pd.factorize(frame["doc_id"].astype(str))[0]
    positions = pd.to_numeric(frame["position"], errors="coerce").fillna(0).to_numpy()
    order = np.lexsort((positions, codes))
    return order, codes[order]


def _document_bounds(sorted_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row in document order, where its document starts and ends (exclusive)."""
    n = len(sorted_codes)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1] if n else np.zeros(0, int)
    sizes = np.diff(np.r_[starts, n])
    return np.repeat(starts, sizes), np.repeat(starts + sizes, sizes)


def neighbour_values(values: np.ndarray, frame: pd.DataFrame, offsets=(-1, 1)) -> np.ndarray:
    """Values of the previous/next paragraphs of the same document (zeros past the edges)."""
    order, sorted_codes = _document_order(frame)
    sorted_values = values[order]
    blocks = []
    for offset in offsets:
        shifted = np.zeros_like(sorted_values)
        same = np.zeros(len(order), dtype=bool)
        if offset < 0:
            shifted[-offset:] = sorted_values[:offset]
            same[-offset:] = sorted_codes[-offset:] == sorted_codes[:offset]
        else:
            shifted[:-offset] = sorted_values[offset:]
            same[:-offset] = sorted_codes[:-offset] == sorted_codes[offset:]
        shifted[~same] = 0
        blocks.append(np.column_stack([shifted.reshape(len(order), -1), same]))
    result = np.empty((len(order), sum(b.shape[1] for b in blocks)), dtype=np.float32)
    result[order] = np.hstack(blocks)
    return result


def container_means(values: np.ndarray, frame: pd.DataFrame, column: str) -> np.ndarray:
    """Mean of ``values`` over the rows of the same document and container (``column``, e.g.
    ``parent_id``), and the log of the container's size. Rows without the column (text input)
    pool over the rest of their document that lacks it too, i.e. the document's mean."""
    doc_codes = pd.factorize(frame["doc_id"].astype(str))[0].astype(np.int64)
    ids = pd.to_numeric(frame[column], errors="coerce") if column in frame else None
    ids = np.full(len(frame), -1, np.int64) if ids is None else ids.fillna(-1).to_numpy(np.int64)
    groups = pd.factorize(doc_codes * (ids.max(initial=0) + 2) + ids + 1)[0]
    sizes = np.bincount(groups).astype(np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(len(frame), -1)
    means = np.column_stack(
        [np.bincount(groups, weights=values[:, j]) / sizes for j in range(values.shape[1])]
    )
    return np.column_stack([means[groups], np.log1p(sizes[groups])]).astype(np.float32)


# How far (in blocks) the sequence features look for a likely-news block, and the width of
# the moving average: past ~50 blocks the page is somewhere else; 11 blocks is about a screen.
SEQUENCE_REACH = 50
SEQUENCE_WINDOW = 5


def sequence_features(p_news: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """Where a block sits relative to the page's likely article, from first-pass p(news).

    A comment thread or a footer comes after nearly all of the page's news text, a menu
    before it; the neighbours' probabilities alone cannot see that from two blocks away.
    Per block: the share of the page's news mass (p(news) x log length) before and after
    it, the distance to the nearest likely-news block (p > 0.5) before and after, the mean
    p(news) of the blocks within ``SEQUENCE_WINDOW`` either side, and whether the block is
    past the end or before the start of the news mass (share under 2%).
    """
    order, codes = _document_order(frame)
    n = len(order)
    if n == 0:
        return np.zeros((0, 7), dtype=np.float32)
    p = np.asarray(p_news, dtype=np.float64)[order]
    lengths = frame["text"].fillna("").astype(str).str.len().to_numpy()[order]
    mass = p * np.log1p(lengths)
    start_of, end_of = _document_bounds(codes)
    cumulative = np.r_[0.0, np.cumsum(mass)]
    total = cumulative[end_of] - cumulative[start_of] + 1e-9
    before = (cumulative[:-1] - cumulative[start_of]) / total
    after = (cumulative[end_of] - cumulative[1:]) / total
    index = np.arange(n)
    likely = p > 0.5
    # The last likely-news index at or before i, and the first at or after i, within the page.
    last = np.maximum.accumulate(np.where(likely, index, -1))
    following = np.where(likely, index, n)
    first = np.minimum.accumulate(following[::-1])[::-1]
    previous_hit = np.r_[-1, last[:-1]]
    next_hit = np.r_[first[1:], n]
    d_before = np.where(previous_hit >= start_of, index - previous_hit, SEQUENCE_REACH)
    d_after = np.where(next_hit < end_of, next_hit - index, SEQUENCE_REACH)
    window_start = np.maximum(index - SEQUENCE_WINDOW, start_of)
    window_end = np.minimum(index + SEQUENCE_WINDOW + 1, end_of)
    summed = np.r_[0.0, np.cumsum(p)]
    window_mean = (summed[window_end] - summed[window_start]) / (window_end - window_start)
    values = np.column_stack(
        [
            before,
            after,
            np.log1p(np.minimum(d_before, SEQUENCE_REACH)),
            np.log1p(np.minimum(d_after, SEQUENCE_REACH)),
            window_mean,
            after < 0.02,
            before < 0.02,
        ]
    )
    result = np.empty_like(values)
    result[order] = values
    return result.astype(np.float32)


# What a block's class/id names (its own and its ancestors', ``css_tokens``) say about it,
# as substrings: sites name the same things differently ("individualcomment", "commenttext",
# "comments-list"), so the CssTokens vocabulary, which learns whole tokens, misses a comment
# thread on a site it never saw. Readability's class-name cues work the same way.
CSS_CUES = {
    "comment": r"comment|disqus|repl(?:y|ies)|respon|discuss|talkback|shoutbox|forum",
    "navigation": r"nav|menu|breadcrumb|footer|header|masthead|sidebar|widget|toolbar|"
    r"pagination|pager|sitemap",
    "related": r"related|promo|recommend|popular|trending|outbrain|taboola|teaser|headlines|more",
    "advert": r"\bads?\b|advert|sponsor|banner|skyscraper|dfp|doubleclick|adsense|adslot|\bad\d",
    "share": r"share|social|sharing|facebook|twitter|print|email|subscribe|newsletter|signup|"
    r"\btags?\b|\bmeta\b",
    "media": r"caption|credit|photo|image|\bimg\b|gallery|video|figure|media",
    "byline": r"byline|author|date|time|posted|dateline|published",
    "article": r"article|story|entry|post|body|content|text|main|blog|hentry",
}
_CSS_CUE_PATTERNS = [re.compile(pattern) for pattern in CSS_CUES.values()]


def css_cue_flags(frame: pd.DataFrame) -> np.ndarray:
    """One 0/1 column per ``CSS_CUES`` entry: does the block's ``css_tokens`` name it (all
    zeros for text input)."""
    if "css_tokens" not in frame:
        return np.zeros((len(frame), len(CSS_CUES)), dtype=np.float32)
    # The blocks of a page repeat a few class strings: match each distinct one once.
    codes, distinct = pd.factorize(frame["css_tokens"].fillna("").astype(str))
    flags = np.array(
        [[p.search(css) is not None for p in _CSS_CUE_PATTERNS] for css in distinct],
        dtype=np.float32,
    ).reshape(len(distinct), len(CSS_CUES))
    return flags[codes]


SIMILARITY_FEATURES = 2**18


def page_similarity(p_news: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """How much a block talks about what the rest of its page talks about.

    A teaser for another story, a "most read" list or an unrelated promo looks like news
    line by line, but shares few words with the page's article; a caption or a comment
    shares many. Per block, the cosine between its word vector (hashed, stop words out,
    so nothing is fitted or stored) and the sum of the page's other blocks: weighted by
    their first-pass p(news) (the likely article), and unweighted. Single-block pages get 0.
    """
    n = len(frame)
    result = np.zeros((n, 2), dtype=np.float32)
    if n == 0:
        return result
    vectorizer = HashingVectorizer(
        n_features=SIMILARITY_FEATURES, alternate_sign=False, norm="l2", stop_words="english"
    )
    words = vectorizer.transform(frame["text"].fillna("").astype(str).tolist()).tocsr()
    has_words = np.diff(words.indptr) > 0
    order, codes = _document_order(frame)
    starts = np.r_[0, np.flatnonzero(np.diff(codes)) + 1]
    p = np.asarray(p_news, dtype=np.float64)
    for rows in np.split(order, starts[1:]):
        if len(rows) < 2:
            continue
        block = words[rows]
        for column, weights in enumerate((p[rows], np.ones(len(rows)))):
            centroid = np.asarray(block.T @ weights).ravel()
            dots = block @ centroid
            own = weights * has_words[rows]  # each unit vector's share of the centroid
            rest_norm = centroid @ centroid - 2 * own * dots + own**2
            result[rows, column] = (dots - own) / np.sqrt(np.maximum(rest_norm, 1e-12))
    return result


def context_features(frame: pd.DataFrame) -> np.ndarray:
    """Position in the document, relative position, document length."""
    order, sorted_codes = _document_order(frame)
    start_of, end_of = _document_bounds(sorted_codes)
    rank = np.empty(len(order), dtype=np.float32)
    size = np.empty(len(order), dtype=np.float32)
    rank[order] = np.arange(len(order)) - start_of
    size[order] = end_of - start_of
    relative = rank / np.maximum(size - 1, 1)
    return np.column_stack(
        [
            np.log1p(rank),
            relative,
            np.log1p(size),
            rank == 0,
            rank == size - 1,
        ]
    ).astype(np.float32)


def html_features(frame: pd.DataFrame) -> np.ndarray:
    tags = frame["html_tag"].fillna("none").astype(str).str.lower()
    groups = tags.map(lambda t: BLOCK_TAG_GROUPS.get(t, "none" if t == "none" else "other"))
    one_hot = np.column_stack([(groups == g).to_numpy() for g in TAG_GROUPS])
    link = pd.to_numeric(frame["link_density"], errors="coerce")
    depth = pd.to_numeric(frame["dom_depth"], errors="coerce")
    container = [
        pd.to_numeric(frame[c], errors="coerce").fillna(0).to_numpy()
        for c in ("container_share", "in_main_container")
    ]
    has_html = link.notna().to_numpy()
    # link density stays the second-to-last column (DenseFeatures takes its neighbours).
    return np.column_stack(
        [
            one_hot,
            has_html,
            *container,
            link.fillna(0).to_numpy(),
            np.log1p(depth.fillna(0).to_numpy()),
        ]
    ).astype(np.float32)


class DenseFeatures(TransformerMixin, BaseEstimator):
    """Shallow text, context and HTML statistics of each paragraph and its neighbours."""

    def __init__(self, neighbours: bool = True, html: bool = True):
        self.neighbours = neighbours
        self.html = html

    def fit(self, frame: pd.DataFrame, y=None):
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        frame = ensure_page_columns(frame)
        shallow = shallow_features(frame["text"])
        parts = [shallow, context_features(frame)]
        if self.neighbours:
            index = [SHALLOW_NAMES.index(n) for n in NEIGHBOUR_NAMES]
            parts.append(neighbour_values(shallow[:, index], frame, offsets=(-2, -1, 1, 2)))
        if self.html:
            html = html_features(frame)
            parts.append(html)
            if self.neighbours:
                link = html[:, -2:-1]
                parts.append(neighbour_values(link, frame, offsets=(-1, 1)))
        return np.hstack(parts).astype(np.float32)


class FillText(TransformerMixin, BaseEstimator):
    """Select one text column as a list of strings, missing values as empty strings."""

    def __init__(self, column: str = "text"):
        self.column = column

    def fit(self, frame, y=None):
        return self

    def transform(self, frame: pd.DataFrame) -> list[str]:
        if self.column not in frame:
            return [""] * len(frame)
        return frame[self.column].fillna("").astype(str).tolist()


class _NumpyCountsTfidf(TfidfVectorizer):
    """A ``TfidfVectorizer`` whose transform counts n-grams with numpy (fitting is
    scikit-learn's own).

    scikit-learn builds every n-gram as a Python string and looks it up one at a time, the
    largest single cost of cleaning a page. Here the documents of a call become one array of
    unit codes (characters or tokens, numbered by the fitted vocabulary's units); each n-gram
    becomes one integer key, looked up in a hash index of the vocabulary's keys. An n-gram that
    scikit-learn would not produce, or that holds a unit the vocabulary never saw, has a key
    outside it. The matrix is scikit-learn's exactly (tested); settings this does not cover
    fall back to scikit-learn.
    """

    def _count_vocab(self, raw_documents, fixed_vocab):
        if not fixed_vocab or not self._numpy_counts_apply():
            return super()._count_vocab(raw_documents, fixed_vocab)
        documents = list(raw_documents)
        for document in documents:
            if not isinstance(document, str):
                raise ValueError(f"{type(self).__name__}: documents must be strings")
        index = self._index()
        if index is None:  # keys would overflow int64
            return super()._count_vocab(documents, fixed_vocab)
        return self.vocabulary_, self._numpy_counts(documents, index)

    def _numpy_counts_apply(self) -> bool:
        return (
            self.lowercase
            and self.strip_accents is None
            and self.preprocessor is None
            and self.tokenizer is None
            and self.stop_words is None
            and self.input == "content"
        )

    def _units_of(self, entry: str) -> list[str]:
        raise NotImplementedError

    def _encode(self, documents: list[str], code: dict) -> tuple[np.ndarray, np.ndarray]:
        """(unit codes of all documents in a row, 0 for unknown units; each unit's document)."""
        raise NotImplementedError

    def _index(self):
        """(unit codes, base, an index of the vocabulary's keys, their columns)."""
        # Models pickled by an earlier version hold "_index_cache", sorted keys: not used now.
        self.__dict__.pop("_index_cache", None)
        cached = getattr(self, "_hash_index_cache", None)
        if cached is not None and cached[0] is self.vocabulary_:
            return cached[1]
        units = sorted({u for entry in self.vocabulary_ for u in self._units_of(entry)})
        code = {u: i + 1 for i, u in enumerate(units)}
        base = len(units) + 1  # 0: a unit the vocabulary never saw
        index = None
        if base ** self.ngram_range[1] * 8 < 2**62:
            keys, columns = [], []
            for entry, column in self.vocabulary_.items():
                key = 0
                parts = self._units_of(entry)
                for unit in parts:
                    key = key * base + code[unit]
                keys.append(key * 8 + len(parts))
                columns.append(column)
            # A hash index: looking n-grams up costs a fifth of a binary search in sorted keys.
            index = (code, base, pd.Index(np.asarray(keys, np.int64)), np.asarray(columns))
        self._hash_index_cache = (self.vocabulary_, index)
        return index

    def _numpy_counts(self, documents: list[str], index):
        from scipy import sparse

        code, base, keys, columns = index
        shape = (len(documents), len(self.vocabulary_))
        codes, owner = self._encode(documents, code)
        rows, cols = [], []
        total = len(codes)
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            if total < n or not len(keys):
                break
            starts = total - n + 1
            key = codes[:starts].copy()
            for offset in range(1, n):
                key = key * base + codes[offset : offset + starts]
            key = key * 8 + n
            slot = keys.get_indexer(key)  # -1: not in the vocabulary
            hit = (slot >= 0) & (owner[:starts] == owner[n - 1 : n - 1 + starts])
            rows.append(owner[:starts][hit])
            cols.append(columns[slot[hit]])
        if not rows:
            return sparse.csr_matrix(shape, dtype=self.dtype)
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        counts = sparse.coo_matrix(
            (np.ones(len(rows), dtype=self.dtype), (rows, cols)), shape=shape
        ).tocsr()
        counts.sum_duplicates()
        counts.sort_indices()
        return counts


class CharTfidf(_NumpyCountsTfidf):
    """``TfidfVectorizer(analyzer="char_wb")``, transforming with numpy (see the base class)."""

    def _numpy_counts_apply(self) -> bool:
        return (
            super()._numpy_counts_apply()
            and self.analyzer == "char_wb"
            and self.ngram_range[0] >= 2
        )

    def _units_of(self, entry: str) -> list[str]:
        return list(entry)

    def _encode(self, documents: list[str], code: dict) -> tuple[np.ndarray, np.ndarray]:
        # char_wb pads each word with one space; words joined by single spaces give the same
        # grams, plus grams across a gap, which are never in the vocabulary.
        texts = [f" {' '.join(d.lower().split())} " if d.strip() else "" for d in documents]
        lengths = np.fromiter((len(t) for t in texts), np.int64, count=len(texts))
        points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
        points = points.astype(np.int64)
        alphabet = np.array(sorted(ord(c) for c in code), dtype=np.int64)
        if not len(alphabet):
            return np.zeros(len(points), np.int64), np.repeat(np.arange(len(texts)), lengths)
        slot = np.minimum(np.searchsorted(alphabet, points), len(alphabet) - 1)
        # alphabet is sorted by code point, as ``code`` numbers the sorted characters
        codes = np.where(alphabet[slot] == points, slot + 1, 0)
        return codes, np.repeat(np.arange(len(texts)), lengths)


class WordTfidf(_NumpyCountsTfidf):
    """``TfidfVectorizer(analyzer="word")`` (token n-grams), transforming with numpy: tokens
    are found by the same pattern and numbered by the vocabulary's tokens."""

    def _numpy_counts_apply(self) -> bool:
        return super()._numpy_counts_apply() and self.analyzer == "word"

    def _units_of(self, entry: str) -> list[str]:
        return entry.split(" ")

    def _encode(self, documents: list[str], code: dict) -> tuple[np.ndarray, np.ndarray]:
        findall = re.compile(self.token_pattern).findall
        get = code.get
        per_document = [[get(t, 0) for t in findall(d.lower())] for d in documents]
        lengths = np.fromiter((len(t) for t in per_document), np.int64, count=len(documents))
        codes = np.fromiter(
            (c for t in per_document for c in t), dtype=np.int64, count=int(lengths.sum())
        )
        return codes, np.repeat(np.arange(len(documents)), lengths)


def fast_tfidf(estimator):
    """Swap every fitted scikit-learn ``TfidfVectorizer`` inside ``estimator`` (pipelines,
    column transformers, our meta-estimators, lists and dicts of them) for ``WordTfidf`` or
    ``CharTfidf`` with the same fitted state: the same output, faster. Returns how many."""
    seen: set[int] = set()
    faster = {"word": WordTfidf, "char_wb": CharTfidf}

    def visit(value) -> int:
        if id(value) in seen or isinstance(value, (str, bytes, int, float, np.ndarray)):
            return 0
        seen.add(id(value))
        if isinstance(value, TfidfVectorizer):
            if type(value) is TfidfVectorizer and value.analyzer in faster:
                value.__class__ = faster[value.analyzer]
                return 1
            return 0
        if isinstance(value, dict):
            return sum(visit(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return sum(visit(v) for v in value)
        if hasattr(value, "__dict__") and type(value).__module__.split(".")[0] in {
            "sklearn",
            "newsclean",
        }:
            return sum(visit(v) for v in vars(value).values())
        return 0

    return visit(estimator)


def word_tfidf(config: ModelConfig) -> TfidfVectorizer:
    """Word n-gram TF-IDF with a bounded vocabulary (an unbounded one made fits take minutes)."""
    return WordTfidf(
        lowercase=True,
        ngram_range=(1, config.ngram_max),
        min_df=config.min_df,
        max_features=config.max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )


def char_tfidf(config: ModelConfig) -> TfidfVectorizer:
    return CharTfidf(
        analyzer="char_wb",
        ngram_range=(2, 4),
        min_df=config.min_df,
        max_features=config.char_max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )


def _clip(values: np.ndarray) -> np.ndarray:
    return np.clip(values, -DENSE_CLIP, DENSE_CLIP)


DENSE_CLIP = 5.0


def dense_pipeline(neighbours: bool = True, html: bool = True) -> Pipeline:
    """Dense statistics, standardised and clipped: a rare flag divided by a tiny standard
    deviation would otherwise reach values in the hundreds and make the model overconfident."""
    return Pipeline(
        [
            ("stats", DenseFeatures(neighbours=neighbours, html=html)),
            ("scale", StandardScaler()),
            ("clip", FunctionTransformer(_clip)),
        ]
    )


def kind_features(
    config: ModelConfig, html: bool = True, neighbours: bool = True, chars: bool = True
) -> Pipeline:
    """The full kind feature set: word and char TF-IDF, dense statistics, CSS tokens."""
    transformers = [
        (
            "word_tfidf",
            Pipeline([("text", FillText("text")), ("tfidf", word_tfidf(config))]),
            ["text"],
        ),
        ("dense", dense_pipeline(neighbours=neighbours, html=html), PAGE_COLUMNS),
    ]
    if chars:
        transformers.insert(
            1,
            (
                "char_tfidf",
                Pipeline([("text", FillText("text")), ("tfidf", char_tfidf(config))]),
                ["text"],
            ),
        )
    if html:
        transformers.append(("css_tokens", CssTokens(), ["css_tokens"]))
    return Pipeline(
        [
            ("columns", _EnsureColumns()),
            ("features", ColumnTransformer(transformers)),
        ]
    )


class CssTokens(TransformerMixin, BaseEstimator):
    """Binary class/id tokens; an all-empty column (text-only data) gives one zero column."""

    def __init__(self, min_df: int = 5, max_features: int = 3000):
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, frame: pd.DataFrame, y=None):
        texts = FillText("css_tokens").transform(frame)
        self.vectorizer_ = CountVectorizer(
            binary=True, min_df=self.min_df, max_features=self.max_features, dtype=np.float32
        )
        try:
            self.vectorizer_.fit(texts)
        except ValueError:  # empty vocabulary: no HTML in the training data
            self.vectorizer_ = None
        return self

    def transform(self, frame: pd.DataFrame):
        from scipy import sparse

        if self.vectorizer_ is None:
            return sparse.csr_matrix((len(frame), 1), dtype=np.float32)
        # The blocks of a page repeat a few class strings: vectorise each distinct one once.
        codes, distinct = pd.factorize(pd.Series(FillText("css_tokens").transform(frame)))
        return self.vectorizer_.transform(list(distinct))[codes]


class _EnsureColumns(TransformerMixin, BaseEstimator):
    def fit(self, frame, y=None):
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return ensure_page_columns(frame)
