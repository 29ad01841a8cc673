"""Text helpers shared by every stage: decoding bytes, normalising, hashing, tokenising.

The same normalisation is used to hash annotations, to deduplicate and to align blocks to gold
text, so a paragraph has one identity everywhere.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def decode_bytes(data: bytes) -> tuple[str, str, bool]:
    """Decode page bytes: UTF-8, else the declared charset, else cp1252 with replacement.

    Returns (text, encoding used, whether characters had to be replaced). Never raises, so
    one bad file cannot stop a build; the caller counts replacements.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    match = _META_CHARSET_RE.search(data[:4096])
    if match:
        declared = match.group(1).decode("ascii", "ignore").lower()
        if declared not in {"utf-8", "utf8"}:
            try:
                return data.decode(declared), declared, False
            except (LookupError, UnicodeDecodeError):
                pass
    try:
        return data.decode("cp1252"), "cp1252", False
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252", True


def clean_whitespace(text: str) -> str:
    r"""Collapse runs of whitespace (including non-breaking spaces) to one space, and strip.
    ``str.split`` and the regex ``\s`` use the same whitespace set, so this equals
    ``re.sub(r"\s+", " ", text).strip()`` (tested), three times faster."""
    return " ".join(text.split())


def normalise(text: str) -> str:
    """Canonical form for hashing and matching: NFKC, lower case, words joined by one space."""
    return " ".join(tokens(text))


def tokens(text: str) -> list[str]:
    return _WORD_RE.findall(unicodedata.normalize("NFKC", text).lower())


def text_sha1(text: str) -> str:
    """Identity of a paragraph: sha1 of its normalised text (what annotations are keyed by)."""
    return hashlib.sha1(normalise(text).encode("utf-8")).hexdigest()


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (stable across runs and machines):
    seeded splits and samples are functions of it."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def shingles(words: list[str], size: int) -> list[tuple[str, ...]]:
    if len(words) < size:
        return [tuple(words)] if words else []
    return [tuple(words[i : i + size]) for i in range(len(words) - size + 1)]
