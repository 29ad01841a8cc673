"""newsclean: clean scraped news articles (paragraph kind, glued junk, topics).

``from newsclean import Cleaner; Cleaner.load().clean(article)`` cleans with the registered
cleaner (see ``newsclean.cleaning``).
"""

# No `from __future__ import annotations` here: it would bind the name `annotations` on the
# package and shadow the `newsclean.annotations` module.
from typing import TYPE_CHECKING, Any

__all__ = ["Cleaner", "CleanedArticle", "CleanedParagraph", "CleanerSettings", "RemovedSpan"]

if TYPE_CHECKING:
    from newsclean.cleaning import (
        CleanedArticle,
        CleanedParagraph,
        Cleaner,
        CleanerSettings,
        RemovedSpan,
    )


def __getattr__(name: str) -> Any:
    # Lazy, so `import newsclean` (and the CLI's start-up) does not pull in pandas and sklearn.
    if name in __all__:
        from newsclean import cleaning

        return getattr(cleaning, name)
    raise AttributeError(f"module 'newsclean' has no attribute {name!r}")
