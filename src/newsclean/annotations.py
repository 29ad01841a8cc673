"""Our own ``kind`` annotations of page blocks: sampling, batch export, merging, the build join
and the interactive ``newsclean annotate`` tool. The guideline is docs/annotation.md.

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

Batch files for annotators hold text and are written outside git, under ``data/interim/``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pandas as pd

from newsclean.config import KINDS
from newsclean.sources import SOURCES
from newsclean.sources.base import BuildLog
from newsclean.text import unit_hash

if TYPE_CHECKING:
    from newsclean.config import Config

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
PAGE_SOURCES = tuple(name for name, info in SOURCES.items() if info.kind == "pages")
# One-letter codes used by the batch label files and the interactive tool.
KEY_CODES = {"n": "news", "t": "teaser", "s": "spam", "b": "boilerplate", "u": UNCLEAR}
CONTEXT_BLOCKS = 2
CONTEXT_CHARS = 300
# Corpus kinds L3S derives from its assessors' spans that the agreement check samples.
L3S_CHECK_KINDS = ("teaser", "boilerplate")


def default_interim_dir(config: Config) -> Path:
    """Where batch files with text go: ``data/interim/annotation`` (gitignored)."""
    return config.paths.processed_dir.parent / "interim" / "annotation"


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
    return _score(_unknown_blocks(frame, sources))


def _unknown_blocks(frame: pd.DataFrame, sources: Iterable[str] | None = None) -> pd.DataFrame:
    """Page-corpus blocks of unknown kind with at least two letters (not scored)."""
    wanted = set(sources or PAGE_SOURCES) & set(PAGE_SOURCES)
    pool = frame[frame["source"].isin(wanted) & frame["kind"].isna()]
    return pool[_letters(pool["text"]) >= 2]


def _score(pool: pd.DataFrame) -> pd.DataFrame:
    pool = pool[_letters(pool["text"]) >= 2].copy()
    pool["promo_score"] = promo_score(pool["text"], pool["css_tokens"])
    pool["link_score"] = link_list_score(pool)
    pool["promo_bucket"] = pool["promo_score"].clip(upper=2)
    pool["link_bucket"] = (pool["link_score"] >= 3).astype("int64")
    pool["stratum"] = (
        "promo" + pool["promo_bucket"].astype(str) + "-link" + pool["link_bucket"].astype(str)
    )
    return pool


# Share of a corpus's sample per stratum: promotional blocks heavily oversampled.
STRATUM_WEIGHTS = {
    "promo2-link0": 0.3,
    "promo2-link1": 0.1,
    "promo1-link0": 0.15,
    "promo1-link1": 0.15,
    "promo0-link0": 0.15,
    "promo0-link1": 0.15,
}


def allocate(total: int, capacity: dict[str, int], weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` across cells by weight without exceeding any cell's capacity.

    What a full cell cannot take goes to the others by their weights; largest remainders
    round, ties broken by name, so the result is deterministic.
    """
    result = {cell: 0 for cell in capacity}
    remaining = min(total, sum(capacity.values()))
    open_cells = {c for c in capacity if capacity[c] > 0 and weights.get(c, 0) > 0}
    while remaining > 0 and open_cells:
        weight_sum = sum(weights[c] for c in open_cells)
        shares = {c: remaining * weights[c] / weight_sum for c in open_cells}
        floors = {c: min(int(shares[c]), capacity[c] - result[c]) for c in open_cells}
        given = sum(floors.values())
        if given == 0:  # hand out single units by largest remainder
            for cell in sorted(open_cells, key=lambda c: (-(shares[c] % 1), c)):
                if remaining == 0:
                    break
                result[cell] += 1
                remaining -= 1
        else:
            for cell, amount in floors.items():
                result[cell] += amount
            remaining -= given
        open_cells = {c for c in open_cells if result[c] < capacity[c]}
    return result


def sample_for_annotation(
    frame: pd.DataFrame,
    n: int,
    seed: int,
    n_check: int = 300,
    per_text_cap: int = 2,
    per_doc_stratum_cap: int = 4,
    sources: Iterable[str] | None = None,
    exclude: set[tuple[str, str, int]] | None = None,
) -> pd.DataFrame:
    """A deterministic, stratified sample of blocks to annotate.

    - ``n`` page-corpus blocks of unknown kind, split across corpora in proportion to the
      square root of their candidate counts (small corpora get a fair share), then across
      strata of promo score × link-list score by :data:`STRATUM_WEIGHTS` (rare kinds well
      represented).
    - ``n_check`` more L3S blocks whose kind L3S already gives (teaser, boilerplate; half each)
      for the agreement check; annotators see them like any other block.
    - At most ``per_text_cap`` blocks with the same normalised text and ``per_doc_stratum_cap``
      blocks of one page in one stratum (no page dominates a stratum), already-annotated keys
      (``exclude``) left out, trivially empty blocks (under two letters) left out.

    Returns the rows with the score columns, ``stratum`` and ``check`` (True for L3S checks).
    """
    pool = candidate_blocks(frame, sources)
    pool = _prepare(pool, seed, exclude, per_text_cap)
    if per_doc_stratum_cap:
        pool = pool[pool.groupby(["source", "doc_id", "stratum"]).cumcount() < per_doc_stratum_cap]
    by_source = {s: part for s, part in pool.groupby("source")}
    budget = allocate(
        n,
        {s: len(p) for s, p in by_source.items()},
        {s: math.sqrt(len(p)) for s, p in by_source.items()},
    )
    picked = []
    for source, part in sorted(by_source.items()):
        strata = {s: g for s, g in part.groupby("stratum")}
        quota = allocate(budget[source], {s: len(g) for s, g in strata.items()}, STRATUM_WEIGHTS)
        for stratum, group in sorted(strata.items()):
            picked.append(group.nsmallest(quota[stratum], "_key"))
    sample = pd.concat(picked) if picked else pool.head(0)
    sample = sample.assign(check=False)

    if n_check and (sources is None or "l3s-gn1" in set(sources)):
        known = frame[(frame["source"] == "l3s-gn1") & frame["kind"].isin(L3S_CHECK_KINDS)]
        known = _prepare(_score(known), seed, exclude, per_text_cap)
        if per_doc_stratum_cap:
            known = known[known.groupby(["doc_id", "kind"]).cumcount() < per_doc_stratum_cap]
        groups = {k: g for k, g in known.groupby("kind")}
        quota = allocate(
            n_check, {k: len(g) for k, g in groups.items()}, dict.fromkeys(groups, 1.0)
        )
        checks = [
            g.nsmallest(quota[k], "_key").assign(stratum="l3s-check") for k, g in groups.items()
        ]
        if checks:
            sample = pd.concat([sample, *[c.assign(check=True) for c in checks]])
    sample = sample.sort_values("_key", kind="stable")
    return sample.drop(columns=["_key"]).reset_index(drop=True)


def _prepare(pool: pd.DataFrame, seed: int, exclude: set | None, per_text_cap: int) -> pd.DataFrame:
    """Seeded random key per block, excluded keys removed, identical texts capped."""
    keys = [
        unit_hash(seed, "annotate", s, d, p)
        for s, d, p in zip(pool["source"], pool["doc_id"], pool["position"], strict=True)
    ]
    pool = pool.assign(_key=keys)
    if exclude:
        marks = [
            (s, d, int(p)) in exclude
            for s, d, p in zip(pool["source"], pool["doc_id"], pool["position"], strict=True)
        ]
        pool = pool[~np.array(marks, dtype=bool)]
    pool = pool.sort_values("_key", kind="stable")
    if per_text_cap:
        pool = pool[pool.groupby("text_sha1").cumcount() < per_text_cap]
    return pool


# ------------------------------------------------------------------ batch export


def _context(frame: pd.DataFrame, sample: pd.DataFrame) -> dict[tuple, tuple[list, list, list]]:
    """(source, doc_id, position) → (up to 2 block texts before, up to 2 after, and the first
    2 blocks of the page's article as the corpus marks it: what "this article" is)."""
    docs = set(zip(sample["source"], sample["doc_id"], strict=True))
    mask = [(s, d) in docs for s, d in zip(frame["source"], frame["doc_id"], strict=True)]
    part = frame.loc[np.array(mask, dtype=bool), [*KEY, "text", "is_news"]].sort_values(KEY)
    out: dict[tuple, tuple[list, list, list]] = {}
    for (source, doc_id), group in part.groupby(["source", "doc_id"], sort=False):
        texts = [_clip(t) for t in group["text"]]
        article = [t for t, news in zip(texts, group["is_news"], strict=True) if news][:2]
        for i, position in enumerate(group["position"]):
            before = texts[max(0, i - CONTEXT_BLOCKS) : i]
            after = texts[i + 1 : i + 1 + CONTEXT_BLOCKS]
            out[(source, doc_id, int(position))] = (before, after, article)
    return out


def _clip(text: str, limit: int = CONTEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _record(row, block_id: str, context: dict) -> dict:
    before, after, article = context.get((row.source, row.doc_id, int(row.position)), ([], [], []))
    density = row.link_density
    return {
        "id": block_id,
        "source": row.source,
        "doc_id": row.doc_id,
        "position": int(row.position),
        "text_sha1": row.text_sha1,
        "text": row.text,
        "context_before": before,
        "context_after": after,
        "html_tag": row.html_tag if isinstance(row.html_tag, str) else None,
        "link_density": None if pd.isna(density) else round(float(density), 3),
        "css_tokens": row.css_tokens if isinstance(row.css_tokens, str) else None,
        "page_article": article,
    }


def _write_jsonl(path: Path, records: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def export_batches(
    frame: pd.DataFrame,
    sample: pd.DataFrame,
    out_dir: Path,
    n_batches: int = 6,
    n_pass2: int = 300,
    seed: int = 13,
    force: bool = False,
) -> dict:
    """Write ``batch_NN.jsonl`` (pass 1), ``pass2.jsonl`` and ``manifest.json`` to ``out_dir``.

    Batches are a seeded random split of the sample; inside a batch, blocks of one page follow
    each other in page order (context is read once). Pass 2 is a subset of the pass-1 sample
    spread over batches and corpora, with its own ids and order, so it can be labelled blind.
    Refuses to overwrite batches that already have label files, unless ``force``.
    """
    out_dir = Path(out_dir)
    labelled = sorted(out_dir.glob("labels_*.csv")) if out_dir.is_dir() else []
    if labelled and not force:
        raise FileExistsError(
            f"{out_dir} already has label files ({', '.join(p.name for p in labelled)}); "
            "merge them first, or pass force=True (--force): their ids would point at other blocks"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in list(out_dir.glob("batch_*.jsonl")) + list(out_dir.glob("pass2.jsonl")):
        old.unlink()
    context = _context(frame, sample)
    order = sample.assign(
        _k=[
            unit_hash(seed, "batch", s, d, p)
            for s, d, p in zip(sample["source"], sample["doc_id"], sample["position"], strict=True)
        ]
    ).sort_values("_k", kind="stable")
    order["batch"] = np.arange(len(order)) % n_batches + 1
    order["_doc"] = [
        unit_hash(seed, "doc", s, d) for s, d in zip(order["source"], order["doc_id"], strict=True)
    ]
    manifest = {
        "guideline_version": GUIDELINE_VERSION,
        "seed": seed,
        "blocks": len(order),
        "batches": {},
        "per_source": order.groupby("source").size().to_dict(),
    }
    ids: dict[tuple, str] = {}
    for batch, group in order.groupby("batch"):
        group = group.sort_values(["_doc", "position"], kind="stable")
        records = []
        for i, row in enumerate(group.itertuples(index=False), start=1):
            block_id = f"b{batch:02d}-{i:04d}"
            ids[(row.source, row.doc_id, int(row.position))] = block_id
            records.append(_record(row, block_id, context))
        path = out_dir / f"batch_{batch:02d}.jsonl"
        _write_jsonl(path, records)
        manifest["batches"][path.name] = len(records)

    # Pass 2: n_pass2 blocks spread over (batch, source) cells in proportion to their size.
    cells = {f"{b}|{s}": g for (b, s), g in order.groupby(["batch", "source"])}
    quota = allocate(
        n_pass2, {c: len(g) for c, g in cells.items()}, {c: float(len(g)) for c, g in cells.items()}
    )
    chosen = []
    for cell, group in sorted(cells.items()):
        keyed = group.assign(
            _p2=[
                unit_hash(seed, "pass2", s, d, p)
                for s, d, p in zip(group["source"], group["doc_id"], group["position"], strict=True)
            ]
        )
        chosen.append(keyed.nsmallest(quota[cell], "_p2"))
    second = pd.concat(chosen).sort_values("_p2", kind="stable") if chosen else order.head(0)
    records = [
        _record(row, f"p2-{i:04d}", context)
        for i, row in enumerate(second.itertuples(index=False), start=1)
    ]
    _write_jsonl(out_dir / "pass2.jsonl", records)
    manifest["pass2"] = {
        "blocks": len(records),
        "per_source": second.groupby("source").size().to_dict() if len(second) else {},
        "per_batch": {
            f"batch_{int(b):02d}": int(n) for b, n in second.groupby("batch").size().items()
        },
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=int) + "\n")
    return manifest


def candidate_report(frame: pd.DataFrame) -> pd.DataFrame:
    """Per page corpus: candidate blocks and how many look promotional (a rough spam bound)."""
    pool = candidate_blocks(frame)
    report = pool.groupby("source").agg(
        candidates=("text", "size"),
        promo_1_signal=("promo_bucket", lambda s: int((s == 1).sum())),
        promo_2_plus=("promo_bucket", lambda s: int((s == 2).sum())),
        link_list_like=("link_bucket", "sum"),
    )
    known = frame[(frame["source"] == "l3s-gn1") & frame["kind"].isin(L3S_CHECK_KINDS)]
    report.loc["l3s-gn1", "l3s_known_teaser_boilerplate"] = len(known)
    return report.fillna(0).astype(int)


# ------------------------------------------------------------------ labelled batches → CSV


def _read_jsonl_keys(path: Path) -> dict[str, tuple[str, str, int, str]]:
    keys = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                r = json.loads(line)
                keys[r["id"]] = (r["source"], r["doc_id"], int(r["position"]), r["text_sha1"])
    return keys


def merge_labels(
    interim_dir: Path,
    out_csv: Path,
    pass_: int,
    annotator: str,
    guideline_version: str = GUIDELINE_VERSION,
) -> dict:
    """Turn annotators' ``labels_batch_NN.csv`` (pass 1) or ``labels_pass2.csv`` (pass 2), each
    ``id,kind``, into rows of ``out_csv`` keyed by block and text hash, with no text.

    Kinds may be full names or one-letter codes (n/t/s/b/u). Unknown ids or kinds and an id
    labelled twice with different kinds are errors (nothing is written). Rows of the same pass
    for the same blocks are replaced; the file stays sorted, so re-running is idempotent.
    """
    interim_dir = Path(interim_dir)
    if pass_ == 1:
        pairs = [
            (interim_dir / f"batch_{p.stem.removeprefix('labels_batch_')}.jsonl", p)
            for p in sorted(interim_dir.glob("labels_batch_*.csv"))
        ]
    elif pass_ == 2:
        pairs = [(interim_dir / "pass2.jsonl", interim_dir / "labels_pass2.csv")]
        pairs = [(j, lab) for j, lab in pairs if lab.exists()]
    else:
        raise ValueError(f"pass must be 1 or 2, not {pass_!r}")
    if not pairs:
        raise FileNotFoundError(f"no label files for pass {pass_} in {interim_dir}")
    if not annotator.strip():
        raise ValueError("annotator must be named")

    rows: dict[tuple, dict] = {}
    errors: list[str] = []
    shown = 0
    for jsonl, labels in pairs:
        if not jsonl.exists():
            raise FileNotFoundError(f"{labels.name} has no batch file {jsonl.name}")
        keys = _read_jsonl_keys(jsonl)
        shown += len(keys)
        with labels.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not {"id", "kind"} <= set(reader.fieldnames or []):
                raise ValueError(f"{labels}: needs columns id,kind")
            for line, record in enumerate(reader, start=2):
                block_id = (record.get("id") or "").strip()
                kind = normalise_kind(record.get("kind") or "")
                where = f"{labels.name} line {line}"
                if not block_id and not (record.get("kind") or "").strip():
                    continue  # blank line
                if block_id not in keys:
                    errors.append(f"{where}: unknown id {block_id!r}")
                    continue
                if kind is None:
                    errors.append(f"{where}: unknown kind {record.get('kind')!r}")
                    continue
                source, doc_id, position, sha1 = keys[block_id]
                key = (source, doc_id, position)
                if key in rows and rows[key]["kind"] != kind:
                    errors.append(f"{where}: id {block_id} labelled twice, differently")
                    continue
                rows[key] = {
                    "source": source,
                    "doc_id": doc_id,
                    "position": position,
                    "text_sha1": sha1,
                    "kind": kind,
                    "guideline_version": guideline_version,
                    "pass": pass_,
                    "annotator": annotator.strip(),
                }
    if errors:
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise ValueError(
            "label files have errors; nothing written:\n" + "\n".join(errors[:10]) + more
        )

    new = pd.DataFrame(list(rows.values()), columns=CSV_COLUMNS)
    replaced = same_annotator = 0
    if Path(out_csv).exists():
        old = pd.read_csv(out_csv, dtype=str, keep_default_na=False)
        old["position"] = old["position"].astype(int)
        old["pass"] = old["pass"].astype(int)
        same = old.set_index(["source", "doc_id", "position", "pass"]).index.isin(
            [(*k, pass_) for k in rows]
        )
        replaced = int(same.sum())
        # The second pass must be independent: the same person on the same blocks is not.
        other_pass = old[(old["pass"] != pass_) & (old["annotator"] == annotator.strip())]
        same_annotator = int(
            other_pass.set_index(KEY).index.isin(list(rows)).sum() if len(other_pass) else 0
        )
        new = pd.concat([old[~same][CSV_COLUMNS], new], ignore_index=True)
    write_annotation_csv(Path(out_csv), new)
    return {
        "written": len(rows),
        "replaced": replaced,
        "same_annotator_both_passes": same_annotator,
        "unlabelled": shown - len(rows),
        "kinds": dict(Counter(r["kind"] for r in rows.values())),
        "out": str(out_csv),
    }


# ------------------------------------------------------------------ newsclean annotate

HELP = (
    "  n = news (the article's own text)   t = teaser (points to another story)\n"
    "  s = spam (ad, sponsored, offer)     b = boilerplate (navigation, bylines, comments...)\n"
    "  u = unclear (stored, not used)      k = skip   q = quit   ? = this help\n"
    "  Guideline: docs/annotation.md"
)


def annotated_keys(paths: Iterable[Path]) -> set[tuple[str, str, int]]:
    """(source, doc_id, position) of every block already in the given annotation files."""
    keys = set()
    for path in paths:
        if path.exists():
            with path.open(newline="", encoding="utf-8") as handle:
                for record in csv.DictReader(handle):
                    position = (record.get("position") or "").strip()
                    if position.lstrip("-").isdigit():
                        keys.add((record["source"], record["doc_id"], int(position)))
    return keys


def annotate_interactive(
    config: Config,
    source: str | None = None,
    limit: int = 50,
    annotator: str | None = None,
    out_path: Path | None = None,
    input: IO[str] | None = None,  # noqa: A002 - the name the CLI and tests use
    output: IO[str] | None = None,
    frame: pd.DataFrame | None = None,
) -> int:
    """Show unlabelled page blocks with their page context and record a kind for each.

    Blocks are page-corpus blocks of unknown kind not yet in any annotation file, in a seeded
    random order (optionally of one source). Each answer is appended at once to ``out_path`` in
    the annotation CSV format (pass 1, this guideline version), so quitting loses nothing.
    Returns the number of rows written.
    """
    from newsclean import dataset

    input = input or sys.stdin
    output = output or sys.stdout
    annotator = (annotator or os.environ.get("USER") or "unknown").strip()
    annotations_dir = config.paths.annotations_dir
    out_path = Path(out_path or annotations_dir / "kind_user.csv")
    if source is not None and source not in PAGE_SOURCES:
        raise ValueError(f"--source must be a page corpus: {', '.join(PAGE_SOURCES)}")
    frame = dataset.load(config.paths.processed_dir) if frame is None else frame
    done = annotated_keys([*sorted(Path(annotations_dir).glob("*.csv")), out_path])
    pool = _unknown_blocks(frame, [source] if source else None)
    pool = _prepare(pool, config.data.seed, done, per_text_cap=0)
    todo = pool.head(max(limit, 0))
    if todo.empty:
        print("no unlabelled blocks left to annotate", file=output)
        return 0
    context = _context(frame, todo)
    new_file = not out_path.exists() or out_path.stat().st_size == 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    print(f"{len(todo)} blocks; answers go to {out_path}\n{HELP}", file=output)
    with out_path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if new_file:
            writer.writerow(CSV_COLUMNS)
            handle.flush()
        for number, row in enumerate(todo.itertuples(index=False), start=1):
            _show(row, number, len(todo), context, output)
            kind = _ask(input, output)
            if kind == "quit":
                break
            if kind == "skip":
                continue
            writer.writerow(
                [
                    row.source,
                    row.doc_id,
                    int(row.position),
                    row.text_sha1,
                    kind,
                    GUIDELINE_VERSION,
                    1,
                    annotator,
                ]
            )
            handle.flush()
            written += 1
    print(f"{written} annotations written to {out_path}", file=output)
    return written


def _show(row, number: int, total: int, context: dict, output: IO[str]) -> None:
    before, after, article = context.get((row.source, row.doc_id, int(row.position)), ([], [], []))
    density = "?" if pd.isna(row.link_density) else f"{float(row.link_density):.2f}"
    print(
        f"\n[{number}/{total}] {row.source} · doc {row.doc_id} · block {int(row.position)}"
        f" · <{row.html_tag or '?'}> links {density} · depth {row.dom_depth}"
        f" · css: {row.css_tokens or '-'}",
        file=output,
    )
    print(f"  page's article: {' / '.join(article) or '(none marked)'}", file=output)
    for offset, text in zip(range(-len(before), 0), before, strict=True):
        print(f"   {offset:+d} | {text}", file=output)
    print(f"  >>> | {row.text}", file=output)
    for offset, text in enumerate(after, start=1):
        print(f"   {offset:+d} | {text}", file=output)


def _ask(input: IO[str], output: IO[str]) -> str:  # noqa: A002
    while True:
        print("kind [n/t/s/b/u, k skip, q quit, ? help]: ", end="", file=output)
        output.flush()
        line = input.readline()
        if not line:  # end of input
            return "quit"
        answer = line.strip().lower()
        if answer in {"q", "quit"}:
            return "quit"
        if answer in {"k", "skip"}:
            return "skip"
        kind = normalise_kind(answer)
        if kind is not None and answer:
            return kind
        print(HELP, file=output)


__all__ = [
    "ANNOTATION_KINDS",
    "CSV_COLUMNS",
    "GUIDELINE_VERSION",
    "annotate_interactive",
    "apply_annotations",
    "candidate_blocks",
    "candidate_report",
    "cohen_kappa",
    "estimate_kinds",
    "export_batches",
    "merge_labels",
    "sample_for_annotation",
]
