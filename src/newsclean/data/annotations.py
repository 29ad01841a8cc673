"""Our own ``kind`` annotations of page blocks, joined onto the dataset in the build. Sampling,
batch export, merging and the interactive tool are ``newsclean.tools.annotate``; the guideline
is docs/annotation.md.

Annotations live in the repository as data (``data/annotations/*.csv``), never with text::

    source,doc_id,position,text_sha1,kind,guideline_version,pass,annotator

- ``(source, doc_id, position)`` names the block (``position`` is its stable index in the
  document), ``text_sha1`` is :func:`newsclean.text.text_sha1` of the text the annotator saw.
- ``kind`` is news / teaser / spam / boilerplate, or ``unclear`` (stored, never applied).
- ``pass`` 1 holds the labels the build uses; ``pass`` 2 is the independent second pass over
  a subset, used only to measure agreement (Cohen's kappa).

The build (:func:`apply_annotations`) joins pass-1 labels onto rows whose kind is unknown. An
annotation whose hash no longer matches its row, whose kind is unknown or whose row is gone is
reported in the build log and skipped; it never relabels a block silently. An annotation of a
block the corpus already labels is not applied: it is compared with the corpus label instead
(this is how agreement with L3S's own labels is measured).
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from newsclean.config import KINDS
from newsclean.data.sources import SOURCES
from newsclean.data.sources.base import BuildLog

if TYPE_CHECKING:
    pass

GUIDELINE_VERSION = "v1"
UNCLEAR = "unclear"
ANNOTATION_KINDS = (*KINDS, UNCLEAR)
CSV_COLUMNS = [
    "source",
    "doc_id",
    "position",
    "text_sha1",
    "kind",
    "guideline_version",
    "pass",
    "annotator",
]
KEY = ["source", "doc_id", "position"]
# Corpus kinds L3S derives from its assessors' spans that the agreement check samples.
L3S_CHECK_KINDS = ("teaser", "boilerplate")


# ------------------------------------------------------------------ reading and writing


def read_annotation_files(annotations_dir: Path) -> pd.DataFrame:
    """Every row of every ``*.csv`` in the folder, with ``file`` and 1-based ``line`` added.

    Values are kept as strings; validation is the caller's job (so it can report each row).
    """
    rows = []
    for path in sorted(Path(annotations_dir).glob("*.csv")) if annotations_dir else []:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                rows.append({"file": path.name, "line": 1, "error": f"missing columns {missing}"})
                continue
            for line, record in enumerate(reader, start=2):
                row = {c: (record.get(c) or "").strip() for c in CSV_COLUMNS}
                row.update(file=path.name, line=line, error="")
                rows.append(row)
    columns = [*CSV_COLUMNS, "file", "line", "error"]
    return pd.DataFrame(rows, columns=columns).fillna("")


def write_annotation_csv(path: Path, rows: pd.DataFrame) -> None:
    """Write annotation rows sorted by (pass, source, doc_id, position): one diff per change."""
    out = rows[CSV_COLUMNS].copy()
    out["position"] = out["position"].astype(int)
    out["pass"] = out["pass"].astype(int)
    out = out.sort_values(["pass", "source", "doc_id", "position", "annotator"], kind="stable")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(out.itertuples(index=False, name=None))


def normalise_kind(raw: str) -> str | None:
    """A kind from a label file: a full name or its one-letter code; None when unknown."""
    value = str(raw).strip().lower()
    value = KEY_CODES.get(value, value)
    return value if value in ANNOTATION_KINDS else None


# ------------------------------------------------------------------ the build join


def _fmt_confusion(pairs: Iterable[tuple[str, str]], arrow: str = "→") -> str:
    counts = Counter(pairs)
    return "; ".join(f"{a}{arrow}{b} {n}" for (a, b), n in sorted(counts.items(), key=_by_count))


def _by_count(item: tuple[tuple[str, str], int]) -> tuple[int, str, str]:
    (a, b), n = item
    return (-n, a, b)


def cohen_kappa(first: list[str], second: list[str]) -> float | None:
    """Cohen's kappa (scikit-learn); None when it is undefined (fewer than 2 pairs)."""
    if len(first) < 2:
        return None
    if len(set(first) | set(second)) == 1:
        return 1.0  # both raters used one and the same label throughout: perfect agreement
    from sklearn.metrics import cohen_kappa_score

    value = float(cohen_kappa_score(first, second))
    return None if math.isnan(value) else round(value, 4)


def _valid_records(raw: pd.DataFrame, log: BuildLog) -> pd.DataFrame:
    """Rows with a known kind, a known pass and an integer position; the rest reported."""
    keep = []
    for row in raw.itertuples(index=False):
        source = row.source or "annotations"
        if row.error:
            log.drop(source, row.file, f"line {row.line}", f"annotation file: {row.error}")
            continue
        if row.kind not in ANNOTATION_KINDS:
            log.drop(source, row.file, f"line {row.line}", f"unknown annotation kind {row.kind!r}")
            continue
        if row.pass_ not in {"1", "2"}:
            log.drop(source, row.file, f"line {row.line}", f"unknown annotation pass {row.pass_!r}")
            continue
        if not (row.source and row.doc_id and row.text_sha1 and row.position.lstrip("-").isdigit()):
            log.drop(source, row.file, f"line {row.line}", "malformed annotation row")
            continue
        keep.append(row)
    frame = pd.DataFrame(keep, columns=raw.columns)
    frame["position"] = frame["position"].astype(int)
    return frame


def _resolve_duplicates(records: pd.DataFrame, log: BuildLog) -> pd.DataFrame:
    """One label per (block, hash, pass): identical repeats merge, conflicting ones are skipped."""
    keys = [*KEY, "text_sha1", "pass_"]
    kinds_per_key = records.groupby(keys)["kind"].nunique()
    conflicting = kinds_per_key[kinds_per_key > 1].index
    if len(conflicting):
        marked = records.set_index(keys).index.isin(conflicting)
        for row in records[marked].itertuples(index=False):
            log.drop(row.source, row.file, f"line {row.line}", "conflicting annotations")
        records = records[~marked]
    return records.drop_duplicates(keys, keep="first")


def apply_annotations(frame: pd.DataFrame, annotations_dir: Path, log: BuildLog) -> pd.DataFrame:
    """Join pass-1 annotations onto blocks of unknown kind; report everything else.

    Returns a new frame: annotated rows get ``kind`` and ``is_news = kind == "news"``. Notes
    (``annotation.*``) record what was applied per source and kind, what was skipped and why,
    kappa between the passes and agreement with the corpus's own labels where they overlap.
    """
    raw = read_annotation_files(annotations_dir).rename(columns={"pass": "pass_"})
    if raw.empty:
        return frame
    files = Counter(raw["file"])
    log.note("annotation.files", ", ".join(f"{f} ({n:,} rows)" for f, n in sorted(files.items())))
    records = _resolve_duplicates(_valid_records(raw, log), log)
    versions = Counter(records["guideline_version"])
    log.note("annotation.guideline_versions", ", ".join(f"{v}: {n:,}" for v, n in versions.items()))

    _note_kappa(records, log)

    first = records[records["pass_"] == "1"]
    built_sources = set(frame["source"].unique())
    absent = ~first["source"].isin(built_sources)
    if absent.any():
        log.note("annotation.skipped_source_not_built", int(absent.sum()))
    first = first[~absent]

    rows = frame[[*KEY, "text_sha1", "kind"]].copy()
    rows["position"] = rows["position"].astype(int)
    rows["_row"] = np.arange(len(frame))
    rows = rows.rename(columns={"text_sha1": "row_sha1", "kind": "row_kind"})
    joined = first.merge(rows, on=KEY, how="left", validate="many_to_one")

    missing = joined["_row"].isna()
    for row in joined[missing].itertuples(index=False):
        log.drop(
            row.source,
            row.file,
            f"line {row.line}",
            "annotation points at no row (document or block not in the build)",
        )
    joined = joined[~missing]
    stale = joined["text_sha1"] != joined["row_sha1"]
    for row in joined[stale].itertuples(index=False):
        log.drop(row.source, row.file, f"line {row.line}", "stale annotation: text hash changed")
    joined = joined[~stale]
    # Two pass-1 records for one block that both survive (different hashes cannot both match).
    joined = joined.drop_duplicates(KEY, keep="first")

    log.note("annotation.missing_row", int(missing.sum()))
    log.note("annotation.stale", int(stale.sum()))

    _note_estimates(frame, joined[joined["row_kind"].isna()], log)

    unclear = joined["kind"] == UNCLEAR
    for source, count in joined[unclear].groupby("source").size().items():
        log.note(f"annotation.{source}.unclear", int(count))
    log.note("annotation.unclear", int(unclear.sum()))
    joined = joined[~unclear]

    known = joined["row_kind"].notna()
    _note_corpus_agreement(joined[known], log)
    to_apply = joined[~known]

    out = frame.copy()
    positions = to_apply["_row"].astype(int).to_numpy()
    kind_col = out.columns.get_loc("kind")
    news_col = out.columns.get_loc("is_news")
    out.iloc[positions, kind_col] = to_apply["kind"].to_numpy()
    out.iloc[positions, news_col] = (to_apply["kind"] == "news").to_numpy()
    out["is_news"] = out["is_news"].astype(bool)

    for (source, kind), count in to_apply.groupby(["source", "kind"]).size().items():
        log.note(f"annotation.{source}.applied.{kind}", int(count))
    log.note("annotation.applied", int(len(to_apply)))
    return out


def estimate_kinds(frame: pd.DataFrame, labelled: pd.DataFrame) -> pd.DataFrame:
    """How many blocks of each kind the unknown-kind blocks of each page corpus hold.

    A stratified ratio estimate: in each (source, stratum) of :func:`candidate_blocks`, the
    share of each label among the labelled blocks times the stratum's size, summed per source.
    ``labelled`` has the key columns and ``kind`` (``unclear`` included, as its own label).
    Strata without any label are counted in ``unlabelled_strata_blocks``.
    """
    pool = candidate_blocks(frame, labelled["source"].unique())
    sizes = pool.groupby(["source", "stratum"]).size().rename("size")
    keyed = labelled[[*KEY, "kind"]].merge(pool[[*KEY, "stratum"]], on=KEY, how="inner")
    shares = keyed.groupby(["source", "stratum"])["kind"].value_counts(normalize=True)
    shares = shares.rename("share").reset_index()
    estimate = shares.merge(sizes.reset_index(), on=["source", "stratum"])
    estimate["blocks"] = estimate["share"] * estimate["size"]
    table = estimate.pivot_table(
        index="source", columns="kind", values="blocks", aggfunc="sum", fill_value=0
    )
    covered = set(zip(estimate["source"], estimate["stratum"], strict=True))
    table["unlabelled_strata_blocks"] = [
        sum(n for (s, stratum), n in sizes.items() if s == source and (s, stratum) not in covered)
        for source in table.index
    ]
    table["candidates"] = sizes.groupby(level="source").sum().reindex(table.index)
    return table.round().astype(int)


def _note_estimates(frame: pd.DataFrame, labelled: pd.DataFrame, log: BuildLog) -> None:
    if labelled.empty:
        return
    table = estimate_kinds(frame, labelled)
    for source, row in table.iterrows():
        parts = [f"{k} ~{int(row[k]):,}" for k in ANNOTATION_KINDS if k in row and row[k] > 0]
        log.note(
            f"annotation.{source}.estimated_in_corpus",
            f"{'; '.join(parts)} of {int(row['candidates']):,} unknown-kind blocks"
            + (
                f" ({int(row['unlabelled_strata_blocks']):,} in strata with no label)"
                if row["unlabelled_strata_blocks"]
                else ""
            ),
        )


def _note_kappa(records: pd.DataFrame, log: BuildLog) -> None:
    """Kappa between pass 1 and pass 2 over blocks (same text hash) labelled in both passes.

    ``unclear`` counts as a label of its own (nothing is excluded); ``kappa_kinds`` is the same
    over the pairs where both passes chose one of the four kinds.
    """
    second = records[records["pass_"] == "2"]
    log.note("annotation.pass2_blocks", int(len(second)))
    if second.empty:
        return
    keys = [*KEY, "text_sha1"]
    pairs = records[records["pass_"] == "1"].merge(second, on=keys, suffixes=("_1", "_2"))
    a, b = pairs["kind_1"].tolist(), pairs["kind_2"].tolist()
    log.note("annotation.kappa_n", len(pairs))
    log.note("annotation.kappa", cohen_kappa(a, b))
    if pairs.empty:
        return
    log.note("annotation.pass_agreement", round(float(np.mean(np.equal(a, b))), 4))
    both = [(x, y) for x, y in zip(a, b, strict=True) if x != UNCLEAR and y != UNCLEAR]
    log.note("annotation.kappa_kinds_n", len(both))
    log.note("annotation.kappa_kinds", cohen_kappa([x for x, _ in both], [y for _, y in both]))
    log.note(
        "annotation.pass_disagreements",
        _fmt_confusion((x, y) for x, y in zip(a, b, strict=True) if x != y) or "none",
    )


def _note_corpus_agreement(overlap: pd.DataFrame, log: BuildLog) -> None:
    """Our labels vs the corpus's own kind on the same blocks (not applied: counted)."""
    for source, part in overlap.groupby("source"):
        theirs, ours = part["row_kind"].tolist(), part["kind"].tolist()
        agree = sum(x == y for x, y in zip(theirs, ours, strict=True))
        log.note(f"annotation.{source}.corpus_label_n", len(part))
        log.note(f"annotation.{source}.corpus_label_agreement", round(agree / len(part), 4))
        log.note(f"annotation.{source}.corpus_label_kappa", cohen_kappa(theirs, ours))
        log.note(
            f"annotation.{source}.corpus_label_confusion",
            "corpus→ours: " + _fmt_confusion(zip(theirs, ours, strict=True)),
        )


# ------------------------------------------------------------------ cheap scores for sampling


# ------------------------------------------------------------------ batch export


# ------------------------------------------------------------------ labelled batches → CSV


# ------------------------------------------------------------------ newsclean annotate


# One-letter codes used by the batch label files and the interactive tool.
KEY_CODES = {"n": "news", "t": "teaser", "s": "spam", "b": "boilerplate", "u": UNCLEAR}


_PROMO_PATTERNS = {
    "money": r"[$£€¥₹]\s?\d|\d[\d,.]*\s?(?:usd|eur|gbp|dollars|euros|pounds)\b",
    "percent": r"\d\s?%|\bper ?cent off\b",
    "gambling": r"\b(?:bonus|casino|poker|slots?|jackpot|bets?|betting|odds|bookmakers?|wager|"
    r"free spins|lottery|lotto)\b",
    "deal": r"\b(?:deals?|offers?|discounts?|coupons?|promo(?:tion)?s?|promo codes?|sale|"
    r"clearance|bargains?|cheap(?:est)?|save|savings|lowest prices?|% off)\b",
    "ad": r"\b(?:sponsored|sponsors?|advert\w*|ads|adchoices|promoted|partner content|"
    r"paid (?:content|post)|affiliate)\b",
    "buy": r"\b(?:buy|shop|order|purchase|prices?|checkout|cart|store)\b",
    "subscribe": r"\b(?:subscribe|subscription|subscriber|sign up|signup|newsletter|"
    r"membership|premium|trial)\b",
    "free": r"\b(?:free|win|winners?|prizes?|giveaway|claim|gift)\b",
    "finance": r"\b(?:loans?|credit|mortgage|insurance|cash|crypto|bitcoin|forex|trading|"
    r"invest\w*|dating|singles|weight loss|diet)\b",
    "call_to_action": r"\b(?:click here|learn more|shop now|buy now|order now|get it|apply now|"
    r"call now|book now|sign up now|try it|get started|book a demo)\b",
}


PROMO_RES = {name: re.compile(p, re.IGNORECASE) for name, p in _PROMO_PATTERNS.items()}


# class/id tokens of ad, sponsored-content and shop widgets (trc = Taboola, ob = Outbrain).
PROMO_CSS_RE = re.compile(
    r"\b(?:ad|ads|adv|advert\w*|ad\w*(?:box|slot|spot|text|unit|label)|adsense|sponsor\w*|"
    r"promo\w*|commercial|partners?|trc|taboola|outbrain|ob|dfp|gpt|affiliate|deals?|shop\w*|"
    r"products?|price\w*|classifieds?|store\w*)\b",
    re.IGNORECASE,
)


_SEPARATOR_RE = re.compile(r"[|•·›»▪►]")


_LIST_TAGS = {"li", "option", "a", "nav", "menu", "dt", "dd"}


def promo_score(texts: pd.Series, css: pd.Series) -> pd.Series:
    """How promotional a block looks: one point per kind of promo signal (0 to 11)."""
    score = pd.Series(0, index=texts.index, dtype="int64")
    for pattern in PROMO_RES.values():
        score += texts.str.contains(pattern, regex=True).astype("int64")
    score += css.fillna("").str.contains(PROMO_CSS_RE, regex=True).astype("int64")
    return score


def link_list_score(frame: pd.DataFrame) -> pd.Series:
    """How much a block looks like one item of a link list or menu (0 to 4)."""
    texts = frame["text"]
    words = texts.str.split()
    n_words = words.str.len().fillna(0)

    def title_case_share(parts: list[str]) -> float:
        alpha = [w for w in parts if w[:1].isalpha()]
        return sum(w[:1].isupper() for w in alpha) / len(alpha) if len(alpha) >= 2 else 0.0

    title = words.map(title_case_share)
    score = (frame["link_density"].fillna(0) >= 0.75).astype("int64")
    score += (n_words <= 6).astype("int64")
    score += ((title >= 0.6) | texts.str.contains(_SEPARATOR_RE, regex=True)).astype("int64")
    score += frame["html_tag"].fillna("").isin(_LIST_TAGS).astype("int64")
    return score


def _letters(texts: pd.Series) -> pd.Series:
    return texts.map(lambda t: sum(ch.isalpha() for ch in t))


def candidate_blocks(frame: pd.DataFrame, sources: Iterable[str] | None = None) -> pd.DataFrame:
    """Page-corpus blocks of unknown kind with at least two letters, scored and stratified.

    Adds ``promo_score``, ``link_score``, ``promo_bucket`` (0, 1, 2 = two signals or more),
    ``link_bucket`` (0, 1 = looks like a link-list item) and ``stratum``.
    """
    return scored_candidates(unknown_blocks(frame, sources))


def unknown_blocks(frame: pd.DataFrame, sources: Iterable[str] | None = None) -> pd.DataFrame:
    """Page-corpus blocks of unknown kind with at least two letters (not scored)."""
    wanted = set(sources or PAGE_SOURCES) & set(PAGE_SOURCES)
    pool = frame[frame["source"].isin(wanted) & frame["kind"].isna()]
    return pool[_letters(pool["text"]) >= 2]


def scored_candidates(pool: pd.DataFrame) -> pd.DataFrame:
    pool = pool[_letters(pool["text"]) >= 2].copy()
    pool["promo_score"] = promo_score(pool["text"], pool["css_tokens"])
    pool["link_score"] = link_list_score(pool)
    pool["promo_bucket"] = pool["promo_score"].clip(upper=2)
    pool["link_bucket"] = (pool["link_score"] >= 3).astype("int64")
    pool["stratum"] = (
        "promo" + pool["promo_bucket"].astype(str) + "-link" + pool["link_bucket"].astype(str)
    )
    return pool


PAGE_SOURCES = tuple(name for name, info in SOURCES.items() if info.kind == "pages")
