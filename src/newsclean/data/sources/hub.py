"""AG News from the Hugging Face hub: the full train (120,000) and test (7,600) splits.

The corpora folder only has AG News's test split, which the build splits by row. When a user
is online, ``data.ag_news_hub=true`` reads the whole corpus through ``datasets.load_dataset``
instead, keeping AG's own train/test split (validation is cut from train). The hub gives
title and description joined in one ``text`` field, so each row is a one-paragraph document.

Offline (``HF_HUB_OFFLINE=1`` / ``HF_DATASETS_OFFLINE=1``, or no network) and without a
cached copy the loader fails at once with ``HubUnavailableError`` saying what to do; it never
falls back silently to the local copy, so a build never mixes up which AG News it used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from newsclean.data.sources.base import BuildLog, Document, Paragraph
from newsclean.data.sources.texts import _clean_ag

SOURCE = "ag-news"
# The dataset's canonical id first, then its legacy alias.
HUB_REPOS = ("fancyzhx/ag_news", "ag_news")
HUB_LABELS = {"World": "world", "Sports": "sports", "Business": "business", "Sci/Tech": "sci_tech"}
HUB_SPLITS = ("train", "test")


class HubUnavailableError(RuntimeError):
    """The hub could not be reached (offline, no network) and nothing was cached."""


def offline_flags() -> list[str]:
    return [
        name
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
    ]


def load_ag_news(repos: tuple[str, ...] = HUB_REPOS, loader: Callable | None = None):
    """The AG News ``DatasetDict`` from the hub (or the local Hugging Face cache)."""
    if loader is None:
        import datasets

        loader = datasets.load_dataset
    errors = []
    for repo in repos:
        try:
            return loader(repo)
        except Exception as error:  # datasets raises many kinds; each means "not here"
            errors.append(f"{repo}: {type(error).__name__}: {error}")
    flags = offline_flags()
    why = (
        f"offline mode is on ({', '.join(flags)}=1) and AG News is not in the Hugging Face cache"
        if flags
        else "the hub could not be reached and AG News is not in the Hugging Face cache"
    )
    raise HubUnavailableError(
        f"AG News could not be loaded from the Hugging Face hub: {why}. "
        f"Tried {'; '.join(errors)}. Either run once online (unset HF_HUB_OFFLINE and "
        "HF_DATASETS_OFFLINE) to fill the cache, or set data.ag_news_hub=false to use the local "
        "test-only copy in corpora/ag-news."
    )


def _label_names(part) -> list[str] | None:
    feature = getattr(part, "features", {}).get("label")
    return list(feature.names) if hasattr(feature, "names") else None


def ag_news_hub(
    log: BuildLog, repos: tuple[str, ...] = HUB_REPOS, loader: Callable | None = None
) -> Iterator[Document]:
    """AG News rows as one-paragraph news documents, AG's own train/test split kept."""
    data = load_ag_news(repos, loader)
    where = f"hub:{repos[0]}"
    for split in HUB_SPLITS:
        if split not in data:
            log.drop(SOURCE, where, split, "split missing on the hub (skipped)")
            continue
        part = data[split]
        names = _label_names(part)
        for number, row in enumerate(part, start=1):
            label = row.get("label")
            known = names and isinstance(label, int) and 0 <= label < len(names)
            name = names[label] if known else str(label)
            topic = HUB_LABELS.get(name)
            if topic is None:
                log.drop(SOURCE, where, f"{split} row {number}", f"unknown class {label!r}")
                continue
            text = _clean_ag(str(row.get("text") or ""))
            if not text:
                log.drop(SOURCE, where, f"{split} row {number}", "empty text")
                continue
            yield Document(
                SOURCE,
                f"ag-hub-{split}-{number}",
                [Paragraph(text=text, is_news=True, kind="news", topic=topic)],
                official_split=split,
                stratum=topic,
            )
