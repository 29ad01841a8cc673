"""Reading what users give the cleaner: text, HTML and JSONL files (gzipped too), directories,
standard input, Python objects and REST rows.

Reading is split in two steps so a batch can run on every core:

1. ``read_path`` does the cheap part in the main process: it reads and decompresses a file,
   decodes it, recognises its format and yields one ``RawArticle`` per article (a JSONL file
   gives one per line) or an ``InputError`` naming the file and the record;
2. ``RawArticle.to_article`` does the expensive part (HTML segmentation, the same step as
   training) wherever the article is cleaned, and raises ``InputError`` when nothing is left.

Nothing here raises on a bad input: every problem becomes an ``InputError`` the caller reports
and counts, and the batch goes on.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from newsclean.segmentation import Block, looks_like_html, segment_html, segment_text
from newsclean.text import clean_whitespace, decode_bytes

FORMATS = ("text", "html", "paragraphs")
SUFFIX_FORMATS = {".txt": "text", ".html": "html", ".htm": "html", ".jsonl": "jsonl"}
RECORD_FIELDS = ("text", "paragraphs", "html")
STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
# Share of control bytes (other than tab, newline, carriage return, form feed) above which a
# file is treated as binary.
_BINARY_CONTROL_SHARE = 0.05
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
# Why an article of each format has nothing to clean (also used by newsclean.clean.spark).
NO_TEXT_MESSAGES = {
    "html": "no text found in the HTML (empty or unparsable page)",
    "text": "no text (only blank lines)",
    "paragraphs": "no text (every paragraph is empty)",
}


class InputError(ValueError):
    """A problem with one input (a file, or one record of a file): reported, never fatal."""

    def __init__(self, message: str, path: str | None = None, record: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.record = record

    def __str__(self) -> str:
        where = [p for p in (self.path, self.record) if p]
        return ": ".join([*where, self.message])

    def to_dict(self) -> dict[str, str | None]:
        return {"path": self.path, "record": self.record, "error": self.message}


@dataclass
class Article:
    """One article as ordered paragraphs (``Block``s; HTML fields are None for text input)."""

    id: str
    blocks: list[Block]
    path: str | None = None
    record: str | None = None


@dataclass
class RawArticle:
    """One article before segmentation: ``payload`` is a text, an HTML page or paragraphs."""

    id: str
    format: str  # one of FORMATS
    payload: Any
    path: str | None = None
    record: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def error(self, message: str) -> InputError:
        return InputError(message, self.path, self.record)

    def to_article(self) -> Article:
        """Segment the payload into paragraphs; ``InputError`` when none is left."""
        if self.format == "html":
            blocks = segment_html(self.payload)
            if not blocks:
                raise self.error(NO_TEXT_MESSAGES["html"])
        elif self.format == "text":
            blocks = segment_text(self.payload)
            if not blocks:
                raise self.error(NO_TEXT_MESSAGES["text"])
        elif self.format == "paragraphs":
            blocks = [Block(text=t) for t in (clean_whitespace(p) for p in self.payload) if t]
            if not blocks:
                raise self.error(NO_TEXT_MESSAGES["paragraphs"])
        else:
            raise self.error(f"unknown format {self.format!r}")
        return Article(self.id, blocks, self.path, self.record)


# ------------------------------------------------------------------ Python objects and records


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _as_text(value: Any, name: str, where: RawArticle) -> str:
    if isinstance(value, bytes):
        return decode_bytes(value)[0]
    if not isinstance(value, str):
        raise where.error(f"'{name}' must be a string, got {type(value).__name__}")
    return value


def raw_from_record(
    record: dict, default_id: str, path: str | None = None, where: str | None = None
) -> RawArticle:
    """A JSONL or REST record: ``{"id", "text"}``, ``{"id", "paragraphs"}`` or ``{"id", "html"}``.

    Exactly one of text / paragraphs / html must be given; anything else is an ``InputError``
    that says what was wrong.
    """
    probe = RawArticle(default_id, "text", None, path, where)
    if not isinstance(record, dict):
        raise probe.error(
            f"expected a JSON object with 'text', 'paragraphs' or 'html', "
            f"got {type(record).__name__}"
        )
    raw_id = record.get("id")
    article_id = default_id if _is_missing(raw_id) or raw_id == "" else str(raw_id)
    probe.id = article_id
    given = [name for name in RECORD_FIELDS if not _is_missing(record.get(name))]
    if not given:
        unknown = sorted(set(record) - {"id", *RECORD_FIELDS})
        hint = f" (unknown fields: {', '.join(map(str, unknown[:5]))})" if unknown else ""
        raise probe.error(f"no 'text', 'paragraphs' or 'html' field{hint}")
    if len(given) > 1:
        raise probe.error(f"give one of 'text', 'paragraphs' or 'html', not {' and '.join(given)}")
    name = given[0]
    value = record[name]
    if name == "paragraphs":
        if hasattr(value, "tolist") and not isinstance(value, str):
            value = value.tolist()  # numpy arrays from a DataFrame column
        if not isinstance(value, list | tuple):
            raise probe.error(f"'paragraphs' must be a list of strings, got {type(value).__name__}")
        bad = [i for i, p in enumerate(value) if not isinstance(p, str)]
        if bad:
            raise probe.error(
                f"'paragraphs' must be a list of strings; item {bad[0]} is "
                f"{type(value[bad[0]]).__name__}"
            )
        return RawArticle(article_id, "paragraphs", list(value), path, where)
    text = _as_text(value, name, probe)
    return RawArticle(article_id, "html" if name == "html" else "text", text, path, where)


def raw_from_object(obj: Any, article_id: str = "article") -> RawArticle:
    """What the Python API accepts: a text or HTML string (or bytes), a list of paragraphs, a
    record dict, an ``Article``/``RawArticle`` or a list of ``Block``s."""
    if isinstance(obj, RawArticle):
        return obj
    if isinstance(obj, bytes):
        obj = decode_bytes(obj)[0]
    if isinstance(obj, str):
        return RawArticle(article_id, "html" if looks_like_html(obj) else "text", obj)
    if isinstance(obj, dict):
        return raw_from_record(obj, article_id)
    if isinstance(obj, list | tuple) and all(isinstance(p, str) for p in obj):
        return RawArticle(article_id, "paragraphs", list(obj))
    raise InputError(
        f"cannot clean a {type(obj).__name__}: give a string, bytes, a list of paragraphs "
        "or a dict with 'text', 'paragraphs' or 'html'"
    )


def to_article(obj: Any, article_id: str = "article") -> Article:
    if isinstance(obj, Article):
        return obj
    if isinstance(obj, list | tuple) and obj and all(isinstance(b, Block) for b in obj):
        return Article(article_id, list(obj))
    return raw_from_object(obj, article_id).to_article()


# ------------------------------------------------------------------ files


def article_id_from_path(path: str) -> str:
    """The file name without its suffixes (``a.html.gz`` → ``a``); ``stdin`` for ``-``."""
    if path == STDIN:
        return "stdin"
    name = Path(path).name
    stem = name.split(".", 1)[0]
    return stem or name


def expand_paths(paths: Iterable[str]) -> Iterator[str | InputError]:
    """Each path as given; a directory becomes every file under it (sorted, hidden skipped)."""
    for given in paths:
        if given == STDIN:
            yield STDIN
            continue
        path = Path(given)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not files:
                yield InputError("directory has no files", str(path))
            yield from (str(p) for p in files)
        elif path.is_file():
            yield str(path)
        elif path.exists():
            yield InputError("not a regular file", str(path))
        else:
            yield InputError("no such file or directory", str(path))


def _read(path: str, stdin: BinaryIO | None) -> bytes:
    if path == STDIN:
        return (stdin or sys.stdin.buffer).read()
    with open(path, "rb") as handle:
        return handle.read()


def looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    controls = sum(head.count(bytes([b])) for b in _CONTROL_BYTES)
    return controls / len(head) > _BINARY_CONTROL_SHARE


def detect_format(path: str, text: str) -> str:
    """By suffix (``.gz`` ignored), else by content: a JSON object per line, HTML, or text."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = os.path.splitext(name)[1]
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    head = text.lstrip()[:1]
    if head == "{":
        return "jsonl"
    return "html" if looks_like_html(text) else "text"


def read_path(path: str, stdin: BinaryIO | None = None) -> Iterator[RawArticle | InputError]:
    """Every article of one input (a JSONL file gives one per line), or the errors found."""
    try:
        data = _read(path, stdin)
    except OSError as error:
        yield InputError(f"cannot read: {error.strerror or error}", path)
        return
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            yield InputError(f"not a valid gzip file ({error})", path)
            return
    elif path.lower().endswith(".gz"):
        yield InputError("not a valid gzip file (no gzip header)", path)
        return
    if not data.strip():
        yield InputError("empty file", path)
        return
    if looks_binary(data):
        yield InputError("binary file (not text, HTML or JSONL)", path)
        return
    text = decode_bytes(data)[0]
    fmt = detect_format(path, text)
    article_id = article_id_from_path(path)
    if fmt != "jsonl":
        yield RawArticle(article_id, fmt, text, path)
        return
    records = 0
    # Records end at "\n" only (as JSON Lines and Spark say): str.splitlines() would also break
    # a record at U+2028, U+2029 or U+0085, which JSON strings may hold unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        records += 1
        yield parse_jsonl_line(line, path, number, article_id)
    if not records:
        yield InputError("no records", path)


def parse_jsonl_line(
    line: str, path: str | None, number: int, file_id: str, unit: str = "line"
) -> RawArticle | InputError:
    """One JSON record, ``number`` in its file (a ``unit``: "line", or "row" for Parquet)."""
    where = f"{unit} {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return InputError(f"invalid JSON: {error.msg} (column {error.colno})", path, where)
    try:
        return raw_from_record(record, f"{file_id}-{number}", path, where)
    except InputError as error:
        return error
