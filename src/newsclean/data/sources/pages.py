"""Page corpora: real HTML pages, segmented into blocks and labelled.

- l3s-gn1: block labels from the assessors' spans (x-nc-selN classes).
- dragnet, cleaneval, wcxb, readability-testpages: labels from aligning each block to the
  page's gold text (see newsclean.data.alignment).

Pages are processed in worker processes; a worker returns the document (or None) and the
drops it saw, so a broken page is reported and counted, never fatal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from lxml import html as lxml_html

from newsclean.data.alignment import GoldIndex
from newsclean.data.sources.base import BuildLog, Document, Drop, Paragraph, read_bytes
from newsclean.segmentation import TEXT_RENDERINGS, parse_html, segment_html, text_lines
from newsclean.text import decode_bytes, normalise, tokens

WorkerResult = tuple[Document | None, list[Drop], dict[str, int]]

L3S_KINDS = {
    "x-nc-sel1": "news",  # headline
    "x-nc-sel2": "news",  # full text
    "x-nc-sel3": "boilerplate",  # supplemental: captions, credits, datelines
    "x-nc-sel4": "teaser",  # related content
    "x-nc-sel5": "boilerplate",  # user comments
    "x-nc-sel0": None,  # not content: navigation, ads, footers (kind unknown)
}
# The separator between article and comments is "!@#$%^&*()  COMMENTS", but annotators mistyped
# it in 10 gold files ("!@ $%^&*()", "@#$%^&*()", "!@#$%^&*   ", "!#@$%^&*()", ...): a strict
# pattern labelled those pages' comments as article text. Any run of 5+ of its symbols counts.
DRAGNET_COMMENTS_RE = re.compile(r"[!@#$%^&*()][!@#$%^&*() \t]{4,}COMMENTS")
CLEANEVAL_MARKER_RE = re.compile(r"<[phl]>", re.IGNORECASE)


def _has_words(text: str) -> bool:
    return bool(tokens(text))


def _renderings(page: str | bytes) -> dict[str, list[str]]:
    """The page's whole-page text renderings as lines (``blocks`` is derived from the labelled
    blocks by the dataset build, so it is not rendered here)."""
    return {r: text_lines(page, r) for r in TEXT_RENDERINGS if r != "blocks"}


# ---------------------------------------------------------------- l3s-gn1


def _l3s_page(args: tuple[Path, float]) -> WorkerResult:
    path, threshold = args
    source, doc_id = "l3s-gn1", path.name.split(".")[0]
    drops: list[Drop] = []
    data, _, replaced = decode_bytes(read_bytes(path))
    if replaced:
        drops.append(Drop(source, str(path), "page", "bytes decoded with replacement (kept)"))
    blocks = segment_html(data, label_class_prefix="x-nc-sel", default_label="x-nc-sel0")
    root = parse_html(data)
    gold_parts = []
    if root is not None:
        for span in root.xpath(
            "//span[contains(@class,'x-nc-sel1') or contains(@class,'x-nc-sel2')]"
            "[not(ancestor::span[contains(@class,'x-nc-sel1') or contains(@class,'x-nc-sel2')])]"
        ):
            gold_parts.append(span.text_content())
    gold = GoldIndex.from_text("\n".join(gold_parts))
    stats = {"l3s_align_blocks": 0, "l3s_align_agree": 0}
    paragraphs = []
    for number, block in enumerate(blocks):
        if not _has_words(block.text):
            drops.append(Drop(source, str(path), f"block {number}", "no word characters"))
            continue
        label = max(block.label_chars.items(), key=lambda kv: kv[1])[0]
        kind = L3S_KINDS.get(label)
        score = gold.score(block.text)
        stats["l3s_align_blocks"] += 1
        stats["l3s_align_agree"] += int((score >= threshold) == (kind == "news"))
        paragraphs.append(
            Paragraph.from_block(block, is_news=kind == "news", kind=kind, gold_score=score)
        )
    if not paragraphs:
        drops.append(Drop(source, str(path), "page", "no text blocks"))
        return None, drops, stats
    document = Document(source, doc_id, paragraphs, stratum=source, renderings=_renderings(data))
    return document, drops, stats


def l3s_files(corpora_dir: Path) -> list[Path]:
    return sorted((corpora_dir / "l3s-gn1" / "annotated").glob("*.html*"))


# ------------------------------------------------ corpora with gold text


def _label_by_gold(
    source: str,
    path: Path,
    html_bytes: bytes,
    gold_main: str,
    threshold: float,
    gold_other: str = "",
    other_kind: str | None = None,
    exclude_snippets: list[str] | None = None,
    byline: str | None = None,
) -> tuple[list[Paragraph], list[Drop], dict[str, int]]:
    """Blocks aligned to ``gold_main`` are news; to ``gold_other`` are ``other_kind``."""
    drops: list[Drop] = []
    text, _, replaced = decode_bytes(html_bytes)
    if replaced:
        drops.append(Drop(source, str(path), "page", "bytes decoded with replacement (kept)"))
    blocks = segment_html(text)
    main = GoldIndex.from_text(gold_main)
    other = GoldIndex.from_text(gold_other) if gold_other else None
    excluded = [normalise(s) for s in exclude_snippets or [] if len(normalise(s)) >= 8]
    byline_norm = normalise(byline) if byline else ""
    stats = {"excluded_by_snippet": 0}
    paragraphs = []
    for number, block in enumerate(blocks):
        if not _has_words(block.text):
            drops.append(Drop(source, str(path), f"block {number}", "no word characters"))
            continue
        score = main.score(block.text)
        kind: str | None = "news" if score >= threshold else None
        norm = normalise(block.text)
        if kind == "news" and excluded and any(s in norm for s in excluded):
            kind = None
            stats["excluded_by_snippet"] += 1
        if kind is None and other is not None and other.score(block.text) >= threshold:
            kind = other_kind
        if byline_norm and norm == byline_norm:
            kind = "boilerplate"
        paragraphs.append(
            Paragraph.from_block(block, is_news=kind == "news", kind=kind, gold_score=score)
        )
    return paragraphs, drops, stats


def _dragnet_page(args: tuple[Path, Path, str, float]) -> WorkerResult:
    html_path, gold_path, split, threshold = args
    source, doc_id = "dragnet", html_path.name.split(".")[0]
    if not gold_path.exists():
        return None, [Drop(source, str(html_path), "page", "no gold file")], {}
    gold = decode_bytes(read_bytes(gold_path))[0]
    parts = DRAGNET_COMMENTS_RE.split(gold, maxsplit=1)
    main, comments = parts[0], (parts[1] if len(parts) > 1 else "")
    html_bytes = read_bytes(html_path)
    paragraphs, drops, stats = _label_by_gold(
        source, html_path, html_bytes, main, threshold, comments, "boilerplate"
    )
    if not paragraphs:
        drops.append(Drop(source, str(html_path), "page", "no text blocks"))
        return None, drops, stats
    document = Document(
        source, doc_id, paragraphs, split, stratum=source, renderings=_renderings(html_bytes)
    )
    return document, drops, stats


def dragnet_jobs(corpora_dir: Path, threshold: float) -> list[tuple[Path, Path, str, float]]:
    root = corpora_dir / "dragnet"
    splits = {}
    for split_file, split in (("training.txt", "train"), ("test.txt", "test")):
        if (root / split_file).exists():
            for line in (root / split_file).read_text().split():
                splits[line.strip()] = split
    jobs = []
    for html_path in sorted((root / "HTML").glob("*.html*")):
        doc_id = html_path.name.split(".")[0]
        gold_path = root / "Corrected" / f"{doc_id}.html.corrected.txt.gz"
        jobs.append((html_path, gold_path, splits.get(doc_id), threshold))
    return jobs


def _cleaneval_gold(raw: str) -> str:
    lines = raw.splitlines()
    if lines and lines[0].startswith("URL:"):
        lines = lines[1:]
    text = "\n".join(lines)
    return "\n".join(" ".join(part.split()) for part in CLEANEVAL_MARKER_RE.split(text))


def _cleaneval_page(args: tuple[Path, Path, float]) -> WorkerResult:
    html_path, gold_path, threshold = args
    source = "cleaneval"
    doc_id = f"{html_path.parent.parent.name}-{html_path.name.split('.')[0]}"
    if not gold_path.exists():
        return None, [Drop(source, str(html_path), "page", "no gold file")], {}
    gold = _cleaneval_gold(decode_bytes(read_bytes(gold_path))[0])
    html_bytes = read_bytes(html_path)
    paragraphs, drops, stats = _label_by_gold(source, html_path, html_bytes, gold, threshold)
    if not paragraphs:
        drops.append(Drop(source, str(html_path), "page", "no text blocks"))
        return None, drops, stats
    document = Document(
        source, doc_id, paragraphs, None, stratum=source, renderings=_renderings(html_bytes)
    )
    return document, drops, stats


def cleaneval_jobs(corpora_dir: Path, threshold: float) -> list[tuple[Path, Path, float]]:
    jobs = []
    for part in ("dev", "final"):
        root = corpora_dir / "cleaneval" / part
        for html_path in sorted((root / "input").glob("*.html*")):
            stem = html_path.name.split(".")[0]
            jobs.append((html_path, root / "GoldStandard" / f"{stem}.txt.gz", threshold))
    return jobs


def _wcxb_page(args: tuple[Path, Path, str, float]) -> WorkerResult:
    html_path, gold_path, split, threshold = args
    source = "wcxb"
    doc_id = html_path.name.split(".")[0]
    if not gold_path.exists():
        return None, [Drop(source, str(html_path), "page", "no gold file")], {}
    try:
        record = json.loads(decode_bytes(read_bytes(gold_path))[0])
        page_type = record.get("_internal", {}).get("page_type", {}).get("primary")
        truth = record["ground_truth"]
        main = truth.get("main_content") or ""
    except (json.JSONDecodeError, KeyError, AttributeError) as error:
        return None, [Drop(source, str(gold_path), "gold", f"malformed gold JSON: {error}")], {}
    if page_type != "article":
        return None, [Drop(source, str(gold_path), "page", "page type is not article")], {}
    if not main.strip():
        return None, [Drop(source, str(gold_path), "page", "empty gold main text")], {}
    html_bytes = read_bytes(html_path)
    paragraphs, drops, stats = _label_by_gold(
        source,
        html_path,
        html_bytes,
        main,
        threshold,
        exclude_snippets=list(truth.get("without") or []),
    )
    if not paragraphs:
        drops.append(Drop(source, str(html_path), "page", "no text blocks"))
        return None, drops, stats
    document = Document(
        source, doc_id, paragraphs, split, stratum=source, renderings=_renderings(html_bytes)
    )
    return document, drops, stats


def wcxb_jobs(corpora_dir: Path, threshold: float) -> list[tuple[Path, Path, str, float]]:
    jobs = []
    test_ids: set[str] = set()
    # The test split first: 82 ids are in both folders, and the test copy must stay in test.
    for folder, split in (("test", "test"), ("dev-articles", "train")):
        root = corpora_dir / "wcxb" / folder
        for html_path in sorted((root / "html").glob("*.html*")):
            stem = html_path.name.split(".")[0]
            if split == "test":
                test_ids.add(stem)
            elif stem in test_ids:
                continue  # same page as a test page: keep it out of training
            jobs.append((html_path, root / "ground-truth" / f"{stem}.json.gz", split, threshold))
    return jobs


def _readability_page(args: tuple[Path, float]) -> WorkerResult:
    case_dir, threshold = args
    source, doc_id = "readability-testpages", case_dir.name
    source_path = case_dir / "source.html.gz"
    expected_path = case_dir / "expected.html.gz"
    if not source_path.exists() or not expected_path.exists():
        return None, [Drop(source, str(case_dir), "page", "source or expected missing")], {}
    metadata = {}
    metadata_path = case_dir / "expected-metadata.json.gz"
    if metadata_path.exists():
        try:
            metadata = json.loads(decode_bytes(read_bytes(metadata_path))[0])
        except json.JSONDecodeError as error:
            return None, [Drop(source, str(metadata_path), "metadata", f"bad JSON: {error}")], {}
    if metadata.get("readerable") is False:
        return None, [Drop(source, str(case_dir), "page", "not readerable (no article)")], {}
    source_bytes = read_bytes(source_path)
    if len(source_bytes) < 10_000:
        return None, [Drop(source, str(case_dir), "page", "synthetic parser test page")], {}
    expected_root = parse_html(read_bytes(expected_path))
    if expected_root is None:
        return None, [Drop(source, str(expected_path), "page", "expected.html unparsable")], {}
    for caption in expected_root.xpath("//figcaption"):
        caption.getparent().remove(caption)
    gold_blocks = segment_html(lxml_html.tostring(expected_root, encoding="unicode"))
    gold = "\n".join(b.text for b in gold_blocks)
    paragraphs, drops, stats = _label_by_gold(
        source, source_path, source_bytes, gold, threshold, byline=metadata.get("byline")
    )
    if not paragraphs:
        drops.append(Drop(source, str(source_path), "page", "no text blocks"))
        return None, drops, stats
    document = Document(
        source, doc_id, paragraphs, None, stratum=source, renderings=_renderings(source_bytes)
    )
    return document, drops, stats


def readability_jobs(corpora_dir: Path, threshold: float) -> list[tuple[Path, float]]:
    root = corpora_dir / "readability-testpages"
    return [(d, threshold) for d in sorted(root.iterdir()) if d.is_dir()] if root.is_dir() else []


PAGE_CORPORA: dict[str, tuple[Callable, Callable]] = {
    "l3s-gn1": (lambda c, t: [(p, t) for p in l3s_files(c)], _l3s_page),
    "dragnet": (dragnet_jobs, _dragnet_page),
    "cleaneval": (cleaneval_jobs, _cleaneval_page),
    "wcxb": (wcxb_jobs, _wcxb_page),
    "readability-testpages": (readability_jobs, _readability_page),
}


def _safe(source: str, worker: Callable, job: tuple) -> WorkerResult:
    """Run a page worker; an unexpected error becomes a counted drop naming the page."""
    try:
        return worker(job)
    except Exception as error:  # noqa: BLE001 - one bad page must not stop the build
        return (
            None,
            [
                Drop(
                    source,
                    str(job[0]),
                    "page",
                    f"failed: {type(error).__name__}: {error}",
                )
            ],
            {},
        )


def iter_page_documents(
    name: str, corpora_dir: Path, threshold: float, log: BuildLog, max_docs: int, workers: int
) -> Iterator[Document]:
    """Documents of one page corpus, processed in parallel, in a deterministic order."""
    make_jobs, worker = PAGE_CORPORA[name]
    jobs = make_jobs(corpora_dir, threshold)
    if max_docs:
        jobs = jobs[:max_docs]
    if not jobs:
        log.drop(name, corpora_dir / name, "corpus", "no pages found (missing or partial folder)")
        return
    totals: dict[str, int] = {}
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(partial(_safe, name, worker), jobs, chunksize=8)
            yield from _collect(results, log, totals)
    else:
        yield from _collect(map(partial(_safe, name, worker), jobs), log, totals)
    for key, value in totals.items():
        log.note(f"{name}.{key}", value)


def _collect(results, log: BuildLog, totals: dict[str, int]) -> Iterator[Document]:
    for document, drops, stats in results:
        for drop in drops:
            log.add(drop)
        for key, value in stats.items():
            totals[key] = totals.get(key, 0) + value
        if document is not None:
            yield document


# ------------------------------------------------ pages for page-level evaluation


@dataclass
class PageCase:
    """One page as a user would have it (raw HTML) and the gold article text."""

    corpus: str
    doc_id: str
    html: bytes
    gold: str
    # WCXB's page type (article, forum, product, ...); "" where the corpus has none.
    page_type: str = ""

    @property
    def language(self) -> str:
        """The language the page declares (``declared_language``)."""
        return declared_language(self.html)


_HTML_LANG_RE = re.compile(rb"<html[^>]*?\slang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_META_LANG_RE = re.compile(
    rb"<meta[^>]+http-equiv\s*=\s*[\"']?content-language[\"']?[^>]*content\s*=\s*[\"']?"
    rb"([A-Za-z]{2,3})",
    re.IGNORECASE,
)


def declared_language(html_bytes: bytes) -> str:
    """The page's own ``<html lang>`` (or Content-Language meta) as a lower-case 2-3 letter
    code, "" when it declares none: how the evaluation groups pages by language without a
    language detector (pages that declare a wrong language are counted under it)."""
    head = html_bytes[:20_000]
    match = _HTML_LANG_RE.search(head) or _META_LANG_RE.search(head)
    return match.group(1).decode("ascii").lower() if match else ""


def _l3s_gold(annotated: bytes) -> str:
    root = parse_html(annotated)
    if root is None:
        return ""
    spans = root.xpath(
        "//span[contains(@class,'x-nc-sel1') or contains(@class,'x-nc-sel2')]"
        "[not(ancestor::span[contains(@class,'x-nc-sel1') or contains(@class,'x-nc-sel2')])]"
    )
    return "\n".join(span.text_content() for span in spans)


def load_page(corpus: str, doc_id: str, corpora_dir: Path) -> PageCase | None:
    """The raw HTML and gold text of one page of a page corpus, or None when missing."""
    root = corpora_dir / corpus
    page_type = ""
    try:
        if corpus == "l3s-gn1":
            html_bytes = read_bytes(root / "original" / f"{doc_id}.html.gz")
            gold = _l3s_gold(read_bytes(root / "annotated" / f"{doc_id}.html.gz"))
        elif corpus == "dragnet":
            html_bytes = read_bytes(root / "HTML" / f"{doc_id}.html.gz")
            raw = decode_bytes(read_bytes(root / "Corrected" / f"{doc_id}.html.corrected.txt.gz"))
            gold = DRAGNET_COMMENTS_RE.split(raw[0], maxsplit=1)[0]
        elif corpus == "cleaneval":
            part, stem = doc_id.split("-", 1)
            html_bytes = read_bytes(root / part / "input" / f"{stem}.html.gz")
            gold = _cleaneval_gold(
                decode_bytes(read_bytes(root / part / "GoldStandard" / f"{stem}.txt.gz"))[0]
            )
        elif corpus == "wcxb":
            folder = next(
                (f for f in WCXB_FOLDERS if (root / f / "html" / f"{doc_id}.html.gz").exists()),
                None,
            )
            if folder is None:
                return None
            html_bytes = read_bytes(root / folder / "html" / f"{doc_id}.html.gz")
            record = json.loads(
                decode_bytes(read_bytes(root / folder / "ground-truth" / f"{doc_id}.json.gz"))[0]
            )
            gold = record["ground_truth"].get("main_content") or ""
            page_type = record.get("_internal", {}).get("page_type", {}).get("primary") or ""
        elif corpus == "readability-testpages":
            html_bytes = read_bytes(root / doc_id / "source.html.gz")
            expected = parse_html(read_bytes(root / doc_id / "expected.html.gz"))
            if expected is None:
                return None
            gold = "\n".join(
                b.text for b in segment_html(lxml_html.tostring(expected, encoding="unicode"))
            )
        else:
            raise ValueError(f"{corpus} is not a page corpus")
    except (OSError, KeyError, json.JSONDecodeError):
        return None
    return PageCase(corpus, doc_id, html_bytes, gold, page_type)


# WCXB's folders, in the order a page id is looked up (the test copy first).
WCXB_FOLDERS = ("test", "dev-articles", "dev-other")


def wcxb_pages(corpora_dir: Path, folder: str = "test") -> list[PageCase]:
    """Every page of one WCXB folder with a non-empty gold text, of every page type (the
    dataset holds only the articles): how newsclean does on today's pages that are not news
    articles. ``dev-other`` holds dev pages that are not articles, in no split."""

    def stems(name: str) -> list[str]:
        html = corpora_dir / "wcxb" / name / "html"
        return sorted(p.name.split(".")[0] for p in html.glob("*.html*")) if html.is_dir() else []

    # A page also in an earlier folder is that folder's (the dataset keeps test copies in test).
    earlier = {s for name in WCXB_FOLDERS[: WCXB_FOLDERS.index(folder)] for s in stems(name)}
    pages = [load_page("wcxb", s, corpora_dir) for s in stems(folder) if s not in earlier]
    return [p for p in pages if p is not None and p.gold.strip()]


def wcxb_test_pages(corpora_dir: Path) -> list[PageCase]:
    """Every WCXB test page with a gold text (``wcxb_pages`` of ``test``)."""
    return wcxb_pages(corpora_dir, "test")
