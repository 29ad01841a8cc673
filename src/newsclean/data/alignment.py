"""Label page blocks by aligning them to a corpus's gold text.

A block of three or more words is gold when at least ``threshold`` of its word 3-grams occur
in the gold text's 3-grams (multiset-free: presence is enough, gold text is long). A block of
one or two words is gold only when it equals a whole gold line: short strings such as "Share"
or "Home" occur inside almost any gold text, so substring matching would call them content.
Agreement with L3S's own block labels is measured in the dataset build (see the data card).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from newsclean.text import normalise, shingles, tokens

SHINGLE = 3


@dataclass
class GoldIndex:
    grams: set[tuple[str, ...]]
    lines: set[str]

    @classmethod
    def from_text(cls, gold: str) -> GoldIndex:
        words = tokens(gold)
        lines = {normalise(line) for line in gold.splitlines()}
        lines.discard("")
        return cls(grams=set(shingles(words, SHINGLE)), lines=lines)

    def score(self, text: str) -> float:
        """Share of the block's 3-grams found in the gold (1.0/0.0 for short blocks)."""
        words = tokens(text)
        if not words:
            return 0.0
        if len(words) < SHINGLE:
            return 1.0 if " ".join(words) in self.lines else 0.0
        grams = shingles(words, SHINGLE)
        return sum(g in self.grams for g in grams) / len(grams)


def align(blocks: Iterable[str], gold: str, threshold: float) -> list[tuple[float, bool]]:
    """(score, matches) for each block text against one gold text."""
    index = GoldIndex.from_text(gold)
    result = []
    for text in blocks:
        score = index.score(text)
        result.append((round(score, 4), score >= threshold))
    return result
