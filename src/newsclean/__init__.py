"""newsclean: clean scraped news articles (paragraph kind, glued junk, topics).

``from newsclean import Cleaner; Cleaner.load().clean(article)`` cleans with the registered
cleaner (see ``newsclean.clean.cleaner``). The layers are described in docs/architecture.md.
"""

# No `from __future__ import annotations` here: it would bind the name `annotations` on the
# package.
from typing import TYPE_CHECKING, Any

from newsclean import legacy

__all__ = ["Cleaner", "CleanedArticle", "CleanedParagraph", "CleanerSettings", "RemovedSpan"]

if TYPE_CHECKING:
    from newsclean.clean.cleaner import Cleaner
    from newsclean.clean.results import CleanedArticle, CleanedParagraph, RemovedSpan
    from newsclean.clean.settings import CleanerSettings

# Models registered before the packages name the old flat modules in their pickles.
legacy.install()


def __getattr__(name: str) -> Any:
    # Lazy, so `import newsclean` (and the CLI's start-up) does not pull in pandas and sklearn.
    if name in __all__:
        from newsclean.clean import cleaner

        return getattr(cleaner, name)
    raise AttributeError(f"module 'newsclean' has no attribute {name!r}")
