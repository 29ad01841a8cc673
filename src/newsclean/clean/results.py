"""What the cleaner returns: cleaned articles, their paragraphs and the spans cut off them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class ModelNotFoundError(RuntimeError):
    """No trained cleaner where we looked: the user has to run ``make train``."""


@dataclass
class RemovedSpan:
    """Junk cut off a news paragraph: ``original[start:end] == text``."""

    text: str
    kind: str
    where: str  # "start" or "end"
    start: int
    end: int
    # How sure the cleaner was: the stripper's junk probability of the segment (or, without a
    # stripper, the kind model's probability of ``kind``).
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class CleanedParagraph:
    text: str  # the paragraph without its removed spans
    kind: str  # the decision: the model's, then the glued-junk rescue, the page pass, kindrules
    probabilities: dict[str, float]
    topics: list[str]
    kept: bool
    removed_spans: list[RemovedSpan] = field(default_factory=list)
    original: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "probabilities": self.probabilities,
            "topics": self.topics,
            "kept": self.kept,
            "removed_spans": [s.to_dict() for s in self.removed_spans],
        }


# The fields of every cleaned article, in order: ``CleanedArticle.to_dict``, ``newsclean clean
# --jsonl``, the REST service's predictions and the Spark output (which adds nothing else).
ARTICLE_FIELDS = (
    "id",
    "path",
    "text",
    "confidence",
    "fell_back",
    "article_probability",
    "paragraphs",
)


@dataclass
class CleanedArticle:
    id: str
    path: str | None
    paragraphs: list[CleanedParagraph]
    # How sure the page's keep/drop decisions were (``pagepass.page_confidence``: the
    # character-weighted probability of each block's own decision), and whether the page-level
    # fallback chose the kept run because the model kept almost nothing.
    confidence: float | None = None
    fell_back: bool = False
    # p(the page is an article page, not a listing, product, service or forum page), from the
    # cleaner's article-page model (``pagepass.ArticlePageModel``); None without one.
    article_probability: float | None = None

    @property
    def text(self) -> str:
        """The kept paragraphs, a blank line between them."""
        return "\n\n".join(p.text for p in self.paragraphs if p.kept)

    @property
    def kept(self) -> list[CleanedParagraph]:
        return [p for p in self.paragraphs if p.kept]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "text": self.text,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "fell_back": self.fell_back,
            "article_probability": None
            if self.article_probability is None
            else round(self.article_probability, 4),
            "paragraphs": [p.to_dict() for p in self.paragraphs],
        }
