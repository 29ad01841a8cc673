"""``newsclean annotate``: sampling page blocks the corpora leave without a kind, exporting
them in batches for annotators, merging their labels into ``data/annotations/*.csv`` and the
interactive annotation loop. The guideline is docs/annotation.md; the build's join of the
labels is ``newsclean.data.annotations``.

Batch files for annotators hold text and are written outside git, under ``data/interim/``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pandas as pd

from newsclean.data.annotations import (
    CSV_COLUMNS,
    GUIDELINE_VERSION,
    KEY,
    L3S_CHECK_KINDS,
    PAGE_SOURCES,
    candidate_blocks,
    normalise_kind,
    scored_candidates,
    unknown_blocks,
    write_annotation_csv,
)
from newsclean.text import unit_hash

if TYPE_CHECKING:
    from newsclean.config import Config


CONTEXT_BLOCKS = 2


CONTEXT_CHARS = 300


def default_interim_dir(config: Config) -> Path:
    """Where batch files with text go: ``data/interim/annotation`` (gitignored)."""
    return config.paths.processed_dir.parent / "interim" / "annotation"


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
        known = _prepare(scored_candidates(known), seed, exclude, per_text_cap)
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
    from newsclean.data import dataset

    input = input or sys.stdin
    output = output or sys.stdout
    annotator = (annotator or os.environ.get("USER") or "unknown").strip()
    annotations_dir = config.paths.annotations_dir
    out_path = Path(out_path or annotations_dir / "kind_user.csv")
    if source is not None and source not in PAGE_SOURCES:
        raise ValueError(f"--source must be a page corpus: {', '.join(PAGE_SOURCES)}")
    frame = dataset.load(config.paths.processed_dir) if frame is None else frame
    done = annotated_keys([*sorted(Path(annotations_dir).glob("*.csv")), out_path])
    pool = unknown_blocks(frame, [source] if source else None)
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
