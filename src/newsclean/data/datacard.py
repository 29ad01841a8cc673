"""The data card: what the dataset holds, what was dropped and why, and its digest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from newsclean import memory
from newsclean.config import KINDS, SPLITS, TOPICS, Config
from newsclean.data.sources import SOURCES
from newsclean.data.sources.base import BuildLog


def make_card(
    frame: pd.DataFrame, log: BuildLog, digest: str, config: Config, seconds: float
) -> dict:
    kinds = frame["kind"].fillna("unknown")
    by_source_kind = (
        frame.assign(kind=kinds)
        .groupby(["source", "kind", "split"])
        .size()
        .unstack("split", fill_value=0)
        .reindex(columns=list(SPLITS), fill_value=0)
    )
    topic_counts = (
        frame[frame["topic"].notna()]
        .groupby(["source", "topic"])
        .size()
        .unstack("topic", fill_value=0)
        .reindex(columns=list(TOPICS), fill_value=0)
    )
    lengths = frame["text"].str.len()
    length_stats = (
        frame.assign(chars=lengths, kind=kinds)
        .groupby("kind")["chars"]
        .describe(percentiles=[0.5, 0.9])
        .round(1)
    )
    views = frame["view"] if "view" in frame else pd.Series("html", index=frame.index)
    pages = frame.assign(view=views)
    per_view = (
        pages.groupby(["source", "view"])
        .agg(documents=("doc_id", "nunique"), rows=("text", "size"), news=("is_news", "sum"))
        .reset_index()
    )
    notes = dict(log.notes)
    blocks = notes.get("l3s-gn1.l3s_align_blocks")
    if blocks:
        notes["l3s_alignment_agreement"] = round(notes["l3s-gn1.l3s_align_agree"] / blocks, 4)
    drops = [
        {"source": source, "reason": reason, "count": count}
        for (source, reason), count in sorted(log.drops.items())
    ]
    return {
        "digest": digest,
        "rows": int(len(frame)),
        "documents": int(frame.groupby(["source", "doc_id"]).ngroups),
        "seconds": round(seconds, 1),
        "peak_memory_mb": round(memory.peak_mb(), 1),
        "seed": config.data.seed,
        "align_threshold": config.data.align_threshold,
        "per_split": frame["split"].value_counts().reindex(list(SPLITS), fill_value=0).to_dict(),
        "per_kind": kinds.value_counts().to_dict(),
        "is_news": frame["is_news"].value_counts().rename(str).to_dict(),
        "per_source_kind_split": {
            f"{s}|{k}": row.to_dict() for (s, k), row in by_source_kind.iterrows()
        },
        "topics": {s: row.to_dict() for s, row in topic_counts.iterrows()},
        "per_source_view": [
            {k: (v if isinstance(v, str) else int(v)) for k, v in row.items()}
            for row in per_view.to_dict("records")
        ],
        "length_chars": {k: row.to_dict() for k, row in length_stats.iterrows()},
        "dropped": drops,
        "dropped_total": int(log.total_dropped()),
        "kept_with_warnings": [
            {"source": source, "reason": reason, "count": count}
            for (source, reason), count in sorted(log.kept.items())
        ],
        "notes": notes,
        "licences": {name: SOURCES[name].licence for name in frame["source"].unique()},
    }


def render_markdown(card: dict) -> str:
    lines = [
        "# Data card: newsclean paragraphs",
        "",
        f"- digest: `{card['digest']}`",
        f"- rows: {card['rows']:,} paragraphs in {card['documents']:,} documents",
        "- splits: " + ", ".join(f"{k} {v:,}" for k, v in card["per_split"].items()),
        "- kinds: " + ", ".join(f"{k} {v:,}" for k, v in card["per_kind"].items()),
        f"- seed {card['seed']}, alignment threshold {card['align_threshold']}",
        f"- build: {card['seconds']} s, peak memory {card['peak_memory_mb']} MB",
        f"- rows dropped: {card['dropped_total']:,} (table below)",
    ]
    if "l3s_alignment_agreement" in card["notes"]:
        lines.append(
            f"- alignment vs L3S span labels (news vs not, "
            f"{card['notes']['l3s-gn1.l3s_align_blocks']:,} blocks): "
            f"{card['notes']['l3s_alignment_agreement']:.2%} agreement"
        )
    lines += [
        "",
        "## Paragraphs per source × kind × split",
        "",
        "| source | kind | " + " | ".join(SPLITS) + " | total |",
        "|---|---|" + "---:|" * (len(SPLITS) + 1),
    ]
    for key, row in card["per_source_kind_split"].items():
        source, kind = key.split("|")
        total = sum(row.values())
        lines.append(
            f"| {source} | {kind} | "
            + " | ".join(f"{row[s]:,}" for s in SPLITS)
            + f" | {total:,} |"
        )
    lines += [
        "",
        "## Views per source: HTML, text corpora, and the pages' text renderings",
        "",
        "A page's text views (newsclean.data.textviews) sit in its split; `documents` counts them.",
        "",
        "| source | view | documents | rows | news |",
        "|---|---|---:|---:|---:|",
    ]
    for row in card.get("per_source_view", []):
        lines.append(
            f"| {row['source']} | {row['view']} | {row['documents']:,} | {row['rows']:,}"
            f" | {row['news']:,} |"
        )
    lines += [
        "",
        "## Topics (news and teaser paragraphs)",
        "",
        "| source | " + " | ".join(TOPICS) + " |",
        "|---|" + "---:|" * len(TOPICS),
    ]
    for source, row in card["topics"].items():
        lines.append(f"| {source} | " + " | ".join(f"{row[t]:,}" for t in TOPICS) + " |")
    lines += [
        "",
        "## Text length (characters) by kind",
        "",
        "| kind | count | mean | median | p90 | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, row in card["length_chars"].items():
        lines.append(
            f"| {kind} | {row['count']:,.0f} | {row['mean']:,.0f} | {row['50%']:,.0f}"
            f" | {row['90%']:,.0f} | {row['max']:,.0f} |"
        )
    lines += ["", "## Dropped rows and why", "", "| source | reason | count |", "|---|---|---:|"]
    for drop in card["dropped"]:
        lines.append(f"| {drop['source']} | {drop['reason']} | {drop['count']:,} |")
    for drop in card.get("kept_with_warnings", []):
        lines.append(f"| {drop['source']} | {drop['reason']} | {drop['count']:,} (not dropped) |")
    lines += ["", "## Build notes", "", "| note | value |", "|---|---|"]
    for key, value in sorted(card["notes"].items()):
        lines.append(f"| {key} | {value} |")
    lines += ["", "## Licences of the sources used", "", "| source | licence |", "|---|---|"]
    for source, licence in sorted(card["licences"].items()):
        lines.append(f"| {source} | {licence} |")
    lines.append("")
    return "\n".join(lines)


def write_card(card: dict, reports_dir: Path, processed_dir: Path) -> None:
    reports_dir.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(card)
    (reports_dir / "data_card.md").write_text(markdown)
    (reports_dir / "data_card.json").write_text(json.dumps(card, indent=2, default=str))
    (processed_dir / "data_card.json").write_text(json.dumps(card, indent=2, default=str))


def summary(card: dict) -> str:
    """Two lines for the console and for MLflow run descriptions."""
    kinds = ", ".join(f"{k} {v:,}" for k, v in card["per_kind"].items())
    return (
        f"{card['rows']:,} paragraphs, {card['documents']:,} documents ({kinds}); "
        f"digest {card['digest'][:12]}"
    )


__all__ = ["KINDS", "make_card", "render_markdown", "summary", "write_card"]
