"""What every data source yields: documents of labelled paragraphs, and a log of what it dropped.

A source never raises on a bad record: it logs a ``Drop`` naming the file and the record and
goes on. The dataset build counts every drop in the data card, so nothing is lost silently.
"""

from __future__ import annotations

import gzip
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsclean.config import KINDS, TOPICS
from newsclean.segmentation import Block


@dataclass
class Paragraph:
    text: str
    is_news: bool
    kind: str | None = None
    topic: str | None = None
    html_tag: str | None = None
    link_density: float | None = None
    dom_depth: int | None = None
    css_tokens: str | None = None
    container_share: float | None = None
    in_main_container: float | None = None
    parent_id: int | None = None
    grandparent_id: int | None = None
    gold_score: float | None = None
    # Index in the document as its source produced it; stays stable when the build later
    # drops rows, so annotations keyed by (source, doc_id, position) keep pointing right.
    block_index: int = -1

    @classmethod
    def from_block(cls, block: Block, **labels: object) -> Paragraph:
        return cls(text=block.text, **block.columns(), **labels)  # type: ignore[arg-type]


@dataclass
class Document:
    source: str
    doc_id: str
    paragraphs: list[Paragraph]
    # The corpus's own split ("train"/"test"/...) when it has one; None lets the build split.
    official_split: str | None = None
    # Label used to stratify the document split (a topic, a kind, or the source).
    stratum: str = ""
    # Documents with the same group always land in the same split (e.g. ad/no-ad twins).
    group: str | None = None
    # Pages only: the lines of whole-page text renderings (``segmentation.TEXT_RENDERINGS``
    # other than ``blocks``), from which the build makes the page's text views.
    renderings: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    source: str
    file: str
    record: str
    reason: str


@dataclass
class BuildLog:
    """Counts drops and notes; prints the first few messages of each kind to stderr."""

    max_messages_per_reason: int = 3
    drops: Counter = field(default_factory=Counter)
    # Problems that did not cost a row (e.g. bytes decoded with replacement): reported apart.
    kept: Counter = field(default_factory=Counter)
    notes: dict[str, object] = field(default_factory=dict)
    _printed: Counter = field(default_factory=Counter)

    def drop(self, source: str, file: str | Path, record: object, reason: str) -> None:
        self.add(Drop(source, str(file), str(record), reason))

    def add(self, item: Drop) -> None:
        key = (item.source, item.reason)
        (self.kept if item.reason.endswith("(kept)") else self.drops)[key] += 1
        self._printed[key] += 1
        if self._printed[key] <= self.max_messages_per_reason:
            print(
                f"warning: {item.source}: {item.file} record {item.record}: {item.reason}"
                + (
                    " (further ones counted, not printed)"
                    if self._printed[key] == self.max_messages_per_reason
                    else ""
                ),
                file=sys.stderr,
            )

    def note(self, key: str, value: object) -> None:
        self.notes[key] = value

    def total_dropped(self) -> int:
        return sum(self.drops.values())


def check_labels(paragraph: Paragraph) -> str | None:
    """Reason the paragraph's labels are unusable, or None when they are fine."""
    if paragraph.kind is not None and paragraph.kind not in KINDS:
        return f"unknown kind {paragraph.kind!r}"
    if paragraph.topic is not None and paragraph.topic not in TOPICS:
        return f"unknown topic {paragraph.topic!r}"
    if paragraph.kind is not None and paragraph.is_news != (paragraph.kind == "news"):
        return "is_news disagrees with kind"
    return None


def read_bytes(path: Path) -> bytes:
    """Read a file, transparently un-gzipping ``*.gz``."""
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw bytes) of a possibly gzipped text file."""
    yield from enumerate(read_bytes(path).splitlines(), start=1)
