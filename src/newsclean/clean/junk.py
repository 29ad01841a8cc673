"""Glued junk: a promo or teaser glued onto a news paragraph ("…up to £500!Officials said…").

A paragraph is split into segments at sentence boundaries and at joins with no space
(``split_segments``); its edge segments are classified, and leading / trailing runs of junk
segments are cut off (``spans_from_decision``): by the learned junk stripper
(``junk_probabilities`` over ``STRIPPER_FEATURES``) or, without one, by thresholds on the
segment's non-news probability (``strip_decision``). The stripper is fitted in training
(``newsclean.train.glued_junk``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from newsclean.clean.results import RemovedSpan
from newsclean.config import KINDS
from newsclean.ml.features import SHALLOW_NAMES, shallow_features

if TYPE_CHECKING:
    from newsclean.clean.settings import CleanerSettings

NON_NEWS = tuple(k for k in KINDS if k != "news")


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
MAYBE_GLUED_RE = re.compile(r"[a-z0-9)\]”%][.!?…]*[\"'”’)\]]*[A-Z][a-z]")


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


def may_hold_glued_junk(segments: Sequence[Segment]) -> bool:
    """The junk gate's cheap test: does the paragraph hold a join without a space ("…up to
    £500!Officials said…")? Junk joined with a plain space is left to the model only when the
    gate is off (``CleanerSettings.junk_gate``)."""
    return any(segment.glued_before for segment in segments)


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
