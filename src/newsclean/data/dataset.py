"""Build the labelled-paragraph dataset: sources → checks → dedup → split → save → data card.

One row per paragraph: ``source, doc_id, position, n_paragraphs, text, is_news, kind, topic,
split`` plus the HTML columns where known. ``position`` is the paragraph's index in its
document as segmented (stable, with gaps where the build dropped a row); ``n_paragraphs``
counts the rows the document keeps. Splits are by document (and by document group),
stratified, and deterministic from the seed: a document's split is a function of
(seed, source, stratum, group id) only, so adding a source never moves another's documents.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from newsclean.config import SPLITS, Config
from newsclean.data.annotations import apply_annotations
from newsclean.data.labels import apply_label_rules
from newsclean.data.sources import SOURCES, BuildLog, Document, iter_documents, select_sources
from newsclean.data.sources.base import check_labels
from newsclean.data.textviews import add_text_views
from newsclean.progress import steps
from newsclean.segmentation import CONTAINER_FIELDS
from newsclean.text import normalise, text_sha1, unit_hash

COLUMNS = [
    "source",
    "doc_id",
    "position",
    "n_paragraphs",
    "text",
    "is_news",
    "kind",
    "topic",
    "split",
    "html_tag",
    "link_density",
    "dom_depth",
    "css_tokens",
    *CONTAINER_FIELDS,
    "gold_score",
    "text_sha1",
    "view",
]


def assign_splits(documents: list[Document], config: Config) -> dict[tuple[str, str], str]:
    """Split documents by group, stratified by (source, stratum), keeping official splits.

    Within each stratum, groups are ordered by a seeded hash and cut at the ratios, so every
    stratum gets its share of validation and test documents.
    """
    val, test = config.data.validation_ratio, config.data.test_ratio
    seed = config.data.seed
    strata: dict[tuple[str, str, str | None], list[str]] = defaultdict(list)
    group_of: dict[tuple[str, str], str] = {}
    for doc in documents:
        group = doc.group or doc.doc_id
        group_of[(doc.source, doc.doc_id)] = group
        key = (doc.source, doc.stratum, doc.official_split)
        if group not in strata[key]:
            strata[key].append(group)
    group_split: dict[tuple[str, str], str] = {}
    for (source, stratum, official), groups in strata.items():
        ordered = sorted(groups, key=lambda g: unit_hash(seed, source, stratum, g))
        n = len(ordered)
        if official == "test":
            cuts = {g: "test" for g in ordered}
        elif official == "train":
            n_val = round(n * val / (1 - test)) if n > 1 else 0
            cuts = {g: ("validation" if i < n_val else "train") for i, g in enumerate(ordered)}
        else:
            n_test = round(n * test) if n > 2 else 0
            n_val = round(n * val) if n > 2 else 0
            cuts = {
                g: "test" if i < n_test else "validation" if i < n_test + n_val else "train"
                for i, g in enumerate(ordered)
            }
        for group, split in cuts.items():
            group_split.setdefault((source, group), split)
    return {key: group_split[(key[0], group)] for key, group in group_of.items()}


COMMON_PARAGRAPH_DOCS = 20


def deduplicate(documents: list[Document], config: Config, log: BuildLog) -> list[Document]:
    """Drop exact and near-duplicate documents, then long paragraphs seen in another document.

    Near duplicates: documents whose sets of distinctive paragraph hashes (found in at most
    ``COMMON_PARAGRAPH_DOCS`` documents) overlap with Jaccard ≥ ``near_dup_jaccard``, found
    through an inverted index; for one-paragraph documents that is the exact normalised text.
    The first one in source order is kept.
    """
    hashed = [[text_sha1(p.text) for p in doc.paragraphs] for doc in documents]
    # Paragraphs found on many pages ("Home", "Share") say nothing about duplication; compare
    # documents on their distinctive paragraphs only, so the result does not depend on them.
    frequency = Counter(h for hashes in hashed for h in set(hashes))
    kept: list[Document] = []
    exact_seen: set[str] = set()
    index: dict[str, list[int]] = defaultdict(list)  # distinctive hash → kept doc positions
    kept_sets: list[set[str]] = []
    threshold = config.data.near_dup_jaccard
    for doc, hashes in zip(documents, hashed, strict=True):
        doc_hash = hashlib.sha1("\n".join(hashes).encode()).hexdigest()
        if doc_hash in exact_seen:
            log.drop(doc.source, doc.doc_id, "document", "exact duplicate document")
            continue
        own = {h for h in hashes if frequency[h] <= COMMON_PARAGRAPH_DOCS} or set(hashes)
        candidates = Counter(i for h in own for i in index.get(h, ()))
        duplicate = any(
            overlap / (len(own) + len(kept_sets[i]) - overlap) >= threshold
            for i, overlap in candidates.items()
            if len(own) > 1 or len(kept_sets[i]) == 1
        )
        if duplicate:
            log.drop(doc.source, doc.doc_id, "document", "near-duplicate document")
            continue
        exact_seen.add(doc_hash)
        for h in own:
            index[h].append(len(kept))
        kept.append(doc)
        kept_sets.append(own)

    long_seen: dict[str, tuple[str, str]] = {}
    min_chars = config.data.dedup_min_chars
    for doc in kept:
        survivors = []
        for paragraph in doc.paragraphs:
            norm = normalise(paragraph.text)
            if len(norm) >= min_chars:
                key = hashlib.sha1(norm.encode()).hexdigest()
                owner = long_seen.setdefault(key, (doc.source, doc.doc_id))
                if owner != (doc.source, doc.doc_id):
                    log.drop(
                        doc.source,
                        doc.doc_id,
                        "paragraph",
                        "duplicate of a paragraph in another document",
                    )
                    continue
            survivors.append(paragraph)
        doc.paragraphs = survivors
    return [doc for doc in kept if doc.paragraphs]


def collect(config: Config, log: BuildLog) -> list[Document]:
    """Every document of every selected source, with bad rows dropped and counted."""
    corpora_dir = config.paths.corpora_dir
    names = select_sources(config.data.sources)
    if corpora_dir is None or not Path(corpora_dir).is_dir():
        if corpora_dir is not None:
            print(
                f"warning: corpora directory {corpora_dir} not found; sample only", file=sys.stderr
            )
        names = ["sample"]
    log.note("sources", names)
    documents: list[Document] = []
    for name in steps(names, "data: sources"):
        started = time.perf_counter()
        count = 0
        for doc in iter_documents(
            name,
            corpora_dir,
            config.paths.sample_dir,
            log,
            config.data.align_threshold,
            config.data.max_docs_per_source,
            ag_news_hub=config.data.ag_news_hub,
        ):
            good = []
            for number, paragraph in enumerate(doc.paragraphs):
                paragraph.block_index = number
                reason = check_labels(paragraph)
                if not paragraph.text.strip():
                    reason = "empty text"
                if reason:
                    log.drop(name, doc.doc_id, f"paragraph {number}", reason)
                else:
                    good.append(paragraph)
            if good:
                doc.paragraphs = good
                documents.append(doc)
                count += 1
        print(
            f"  {name}: {count} documents in {time.perf_counter() - started:.1f}s", file=sys.stderr
        )
    return documents


def to_frame(documents: list[Document], splits: dict[tuple[str, str], str]) -> pd.DataFrame:
    rows = []
    for doc in documents:
        split = splits[(doc.source, doc.doc_id)]
        for paragraph in doc.paragraphs:
            row = asdict(paragraph)
            row.update(
                source=doc.source,
                doc_id=doc.doc_id,
                position=row.pop("block_index"),
                n_paragraphs=len(doc.paragraphs),
                split=split,
                text_sha1=text_sha1(paragraph.text),
            )
            rows.append(row)
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "view"])
    frame["position"] = frame["position"].astype("int32")
    frame["n_paragraphs"] = frame["n_paragraphs"].astype("int32")
    frame["is_news"] = frame["is_news"].astype(bool)
    frame["link_density"] = frame["link_density"].astype("float32")
    # float with NaN (not a nullable int): model signatures and text input need plain floats.
    frame["dom_depth"] = frame["dom_depth"].astype("float32")
    frame["gold_score"] = frame["gold_score"].astype("float32")
    for column in CONTAINER_FIELDS:
        frame[column] = frame[column].astype("float32")
    for column in ("kind", "topic", "html_tag", "css_tokens"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def dataset_digest(frame: pd.DataFrame) -> str:
    """sha256 over the rows that define the dataset (order included): same data → same digest."""
    digest = hashlib.sha256()
    key_columns = [
        "split",
        "source",
        "doc_id",
        "position",
        "text",
        "is_news",
        "kind",
        "topic",
        "html_tag",
        "link_density",
        "dom_depth",
        "css_tokens",
        *CONTAINER_FIELDS,
        "view",
    ]
    for row in frame[key_columns].itertuples(index=False, name=None):
        digest.update(json.dumps(row, default=str, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def build(config: Config) -> tuple[pd.DataFrame, dict]:
    """Collect, deduplicate, split and save the dataset; return the frame and the data card."""
    from newsclean.data import datacard  # local: keeps the build's import graph one-way

    started = time.perf_counter()
    log = BuildLog()
    documents = collect(config, log)
    documents = deduplicate(documents, config, log)
    splits = assign_splits(documents, config)
    frame = to_frame(documents, splits)
    frame = apply_annotations(frame, config.paths.annotations_dir, log)
    frame = apply_label_rules(frame, log)
    frame = add_text_views(frame, documents, config, log)
    frame = frame.sort_values(["source", "split", "doc_id", "position"], kind="stable")
    frame = frame.reset_index(drop=True)
    digest = dataset_digest(frame)
    save(frame, config.paths.processed_dir, digest)
    card = datacard.make_card(frame, log, digest, config, time.perf_counter() - started)
    datacard.write_card(card, config.paths.reports_dir, config.paths.processed_dir)
    return frame, card


def save(frame: pd.DataFrame, processed_dir: Path, digest: str) -> None:
    """Save the Hugging Face DatasetDict (one split each) and a Parquet copy of all rows."""
    from datasets import Dataset, DatasetDict
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()

    processed_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(paragraphs_path(processed_dir), index=False)
    splits = {}
    for split in SPLITS:
        part = frame[frame["split"] == split].reset_index(drop=True)
        splits[split] = Dataset.from_pandas(part, preserve_index=False)
    DatasetDict(splits).save_to_disk(str(processed_dir / "hf"))
    (processed_dir / "DIGEST").write_text(digest + "\n")


def paragraphs_path(processed_dir: Path) -> Path:
    """Where the paragraphs table is saved (the source MLflow's dataset inputs name)."""
    return Path(processed_dir) / "paragraphs.parquet"


def load(processed_dir: Path) -> pd.DataFrame:
    """The saved dataset as a DataFrame; a clear error when ``make data`` has not run."""
    path = paragraphs_path(processed_dir)
    if not path.exists():
        raise FileNotFoundError(f"no dataset at {path}; run `make data` first")
    return pd.read_parquet(path)


def load_digest(processed_dir: Path) -> str:
    path = processed_dir / "DIGEST"
    return path.read_text().strip() if path.exists() else "unknown"


__all__ = ["SOURCES", "build", "load", "load_digest", "assign_splits", "deduplicate"]
