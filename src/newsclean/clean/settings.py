"""The cleaner's settings: what it keeps and how it decides, stored with each logged cleaner
(chosen on validation in ``make train``, overridable per call)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from newsclean.config import KINDS

SEGMENT_MODES = ("mini-document", "individual")


@dataclass(frozen=True)
class CleanerSettings:
    """How the cleaner decides; stored with the logged model (``to_dict`` / ``from_dict``)."""

    keep: tuple[str, ...] = ("news",)
    segment_mode: str = "mini-document"
    # Segments carry their paragraph's HTML columns (tag, link density, depth, class tokens).
    segment_html: bool = True
    strip_threshold: float = 0.9
    glued_threshold: float = 0.7
    # With a learned junk stripper: a segment goes when its junk probability reaches this.
    junk_threshold: float = 0.7
    max_edge_segments: int = 3
    # Look for glued junk only in news paragraphs with a join without a space
    # (``junk.may_hold_glued_junk``): the segments of the others are not classified, which
    # was about a quarter of the cleaner's time. Off in the accurate profile.
    junk_gate: bool = False
    # Page-level pass (``pagepass``): the cost of each switch between kept and dropped blocks
    # in document order (0 = the model's own decisions); a shift of each block's keep score
    # (log odds of news against the likeliest other kind; negative asks more evidence of news);
    # and the fallback to the most article-like run of blocks when less than
    # ``fallback_min_chars`` characters are kept (0 = never), each block scoring p(news) -
    # ``fallback_floor``. The defaults were chosen on the 324 validation pages with kind
    # champion v1 (scripts/page_pass_sweep.py); since then ``make train`` chooses the penalty
    # and the bias on the validation pages for each cleaner it builds, one pair for HTML and
    # one for text input (``newsclean.train.page_pass``), and logs them with it.
    contiguity_penalty: float = 1.25
    news_bias: float = 0.0
    fallback_min_chars: int = 200
    fallback_floor: float = 0.2
    # The same penalty and bias for pages given as plain text (no HTML columns), where the
    # model has less evidence per line and the best trade-off differs; None = as for HTML.
    # ``make train`` chooses both pairs on validation pages, per input (``train.page_pass``).
    text_contiguity_penalty: float | None = None
    text_news_bias: float | None = None
    # The article-page model (``pagepass.ArticlePageModel.to_dict``), fitted in ``make train``:
    # each cleaned page gets ``article_probability``. None (cleaners logged before it): no
    # such field.
    article_page: dict | None = None
    # Tag kept news and every teaser with topics; False skips the topic model (users who only
    # want clean text; ``newsclean clean --no-topics``).
    topics: bool = True
    # Only for topic models without their own threshold (TopicTagger has one).
    topic_threshold: float = 0.5
    max_topics: int = 2

    def __post_init__(self):
        bad = [k for k in self.keep if k not in KINDS]
        if bad:
            raise ValueError(f"unknown kind(s) to keep: {', '.join(bad)} (kinds: {KINDS})")
        if self.segment_mode not in SEGMENT_MODES:
            raise ValueError(f"segment_mode must be one of {SEGMENT_MODES}")

    def page_pass(self, text_input: bool) -> tuple[float, float]:
        """(contiguity penalty, news bias) of the page-level pass for a page given as text
        (``text_input``) or as HTML."""
        if not text_input:
            return self.contiguity_penalty, self.news_bias
        penalty, bias = self.text_contiguity_penalty, self.text_news_bias
        return (
            self.contiguity_penalty if penalty is None else penalty,
            self.news_bias if bias is None else bias,
        )

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["keep"] = list(self.keep)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CleanerSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
        if "keep" in known:
            known["keep"] = parse_keep(known["keep"])
        return cls(**known)


def parse_keep(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"news,teaser"`` or a list → a tuple of kinds (checked)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds = tuple(dict.fromkeys(str(k).strip().lower() for k in items if str(k).strip()))
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(
            f"kinds to keep must be among {', '.join(KINDS)}; got {', '.join(bad) or 'nothing'}"
        )
    return kinds
