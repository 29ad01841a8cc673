"""Data sources: the bundled sample and the real corpora, each read in place.

``SOURCES`` names every source with its licence (as its SOURCE.md states it) and how to read
it. Page corpora are segmented and labelled in ``pages``; text corpora in ``texts``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from newsclean.data.sources import hub, pages, texts
from newsclean.data.sources.base import BuildLog, Document, Paragraph


@dataclass(frozen=True)
class SourceInfo:
    name: str
    licence: str
    kind: str  # "pages" or "texts"


SOURCES: dict[str, SourceInfo] = {
    s.name: s
    for s in [
        SourceInfo("sample", "MIT (written for this project)", "texts"),
        SourceInfo("l3s-gn1", "research use only (L3S)", "pages"),
        SourceInfo("dragnet", "GNU AGPL v3 (data)", "pages"),
        SourceInfo("cleaneval", "none stated; research/evaluation use", "pages"),
        SourceInfo("wcxb", "CC BY 4.0", "pages"),
        SourceInfo("readability-testpages", "Apache 2.0 (repository)", "pages"),
        SourceInfo("clickbait-chakraborty", "MIT", "texts"),
        SourceInfo("sms-spam", "CC BY 4.0 (UCI); cite the authors", "texts"),
        SourceInfo("webis-native-ads", "not stated; research use only", "texts"),
        SourceInfo("bbc-news", "BBC copyright; research use only", "texts"),
        SourceInfo("ag-news", "research / non-commercial use", "texts"),
    ]
}

_TEXT_READERS = {
    "clickbait-chakraborty": texts.clickbait,
    "sms-spam": texts.sms_spam,
    "webis-native-ads": texts.webis_ads,
    "bbc-news": texts.bbc_news,
    "ag-news": texts.ag_news,
}


def select_sources(spec: str) -> list[str]:
    """Names from ``"all"`` or a comma-separated list; unknown names are an error."""
    if spec.strip() in {"", "all"}:
        return list(SOURCES)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {sorted(SOURCES)}")
    return ["sample", *[n for n in names if n != "sample"]]


def iter_documents(
    name: str,
    corpora_dir: Path | None,
    sample_dir: Path,
    log: BuildLog,
    threshold: float,
    max_docs: int = 0,
    workers: int = 2,
    ag_news_hub: bool = False,
) -> Iterator[Document]:
    """Documents of one source; a missing corpora directory is logged, not fatal."""
    if name == "sample":
        documents = texts.sample(sample_dir, log)
    elif name == "ag-news" and ag_news_hub:
        documents = hub.ag_news_hub(log)  # the full AG News through `datasets` (online only)
    elif corpora_dir is None or not (corpora_dir / name).is_dir():
        log.drop(
            name,
            corpora_dir / name if corpora_dir else name,
            "corpus",
            "corpus folder not found (skipped)",
        )
        return
    elif SOURCES[name].kind == "pages":
        # Capped inside, so the reader can finish and report its statistics.
        yield from pages.iter_page_documents(name, corpora_dir, threshold, log, max_docs, workers)
        return
    else:
        documents = _TEXT_READERS[name](corpora_dir, log)
    yield from itertools.islice(documents, max_docs or None)


__all__ = ["SOURCES", "BuildLog", "Document", "Paragraph", "iter_documents", "select_sources"]
