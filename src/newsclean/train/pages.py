"""Page-level evaluation: the test pages' gold text against what each system extracts,
newsclean through the ``Cleaner`` users run, and its peers (trafilatura, jusText, boilerpipe,
keep-all) given the same input: the page's HTML or its text renderings."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from newsclean import tracking
from newsclean.config import Config
from newsclean.data.textviews import html_rows
from newsclean.ml.metrics import f1_of, page_shingle_scores


def trafilatura_extract(html_bytes: bytes) -> str:
    import trafilatura

    from newsclean.text import decode_bytes

    return trafilatura.extract(decode_bytes(html_bytes)[0]) or ""


def justext_extract(html_bytes: bytes) -> str:
    import justext

    try:
        paragraphs = justext.justext(html_bytes, justext.get_stoplist("English"))
    except Exception:  # noqa: BLE001 - jusText raises on some broken pages; score as empty
        return ""
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def boilerpipe_extract(html_bytes: bytes) -> str:
    """boilerpipe's ArticleExtractor (the boilerpy3 port), the extractor L3S-GN1 was made for.
    A page it cannot parse scores as empty, as for jusText; its own traceback log is muted."""
    import logging

    from boilerpy3 import extractors

    from newsclean.text import decode_bytes

    logging.getLogger("boilerpy3").setLevel(logging.CRITICAL)
    try:
        return extractors.ArticleExtractor().get_content(decode_bytes(html_bytes)[0])
    except Exception:  # noqa: BLE001 - boilerpy3 raises on some broken pages; score as empty
        return ""


def keep_everything(html_bytes: bytes) -> str:
    from newsclean.segmentation import segment_html

    return "\n".join(b.text for b in segment_html(html_bytes))


def resiliparse_extract(html_bytes: bytes) -> str:
    """Resiliparse's plain text in main-content mode: the fast extractor (lexbor, C++) that
    ``make bench`` sets the speed goals against."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import detect_encoding
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse_from_bytes(html_bytes, detect_encoding(html_bytes))
    return extract_plain_text(tree, main_content=True)


PEERS = {
    "trafilatura": trafilatura_extract,
    "justext": justext_extract,
    "boilerpipe": boilerpipe_extract,
    "keep-all": keep_everything,
}
# ``make bench`` also times resiliparse, the speed reference (training's tables keep PEERS).
BENCH_PEERS = {**PEERS, "resiliparse": resiliparse_extract}


# The inputs the page-level evaluation gives every system: the raw page, and the page as plain
# text in each of ``segmentation.TEXT_RENDERINGS`` (what users who hold text have).
HTML_INPUT = "html"
# Pages cleaned per ``clean_many`` call in the page-level evaluation (the CLI's chunk size).
PAGES_PER_BATCH = 16


def page_input_names() -> tuple[str, ...]:
    from newsclean.segmentation import TEXT_RENDERINGS

    return (HTML_INPUT, *(f"text:{r}" for r in TEXT_RENDERINGS))


def lines_as_html(text: str) -> bytes:
    """Plain text as the minimal page a peer can read: each non-blank line wrapped as ``<p>``
    (how peers are given the same lines as newsclean)."""
    from html import escape

    from newsclean.segmentation import segment_text

    body = "".join(f"<p>{escape(b.text)}</p>\n" for b in segment_text(text))
    return f"<html><body>\n{body}</body></html>".encode()


def page_inputs(html_bytes: bytes, names: Sequence[str]) -> dict[str, tuple[dict, bytes]]:
    """Per input name: (the record the cleaner gets, the bytes a peer gets)."""
    from newsclean.segmentation import render_text
    from newsclean.text import decode_bytes

    out = {}
    for name in names:
        if name == HTML_INPUT:
            out[name] = ({"html": decode_bytes(html_bytes)[0]}, html_bytes)
        else:
            text = render_text(html_bytes, name.removeprefix("text:"))
            out[name] = ({"text": text}, lines_as_html(text))
    return out


def metric_name(corpus: str) -> str:
    """A corpus as MLflow metric keys spell it: ``-`` as ``_`` (``l3s-gn1`` → ``l3s_gn1``),
    the one spelling in every key."""
    return corpus.replace("-", "_")


def page_metric_name(input_name: str, corpus: str) -> str:
    """Stable MLflow key: ``page_f1_<corpus>`` for HTML, ``page_f1_text_<rendering>_<corpus>``
    for text input, with every ``-`` as ``_``."""
    prefix = "page_f1" if input_name == HTML_INPUT else f"page_f1_{input_name.replace(':', '_')}"
    return metric_name(f"{prefix}_{corpus}")


def input_metric_name(input_name: str) -> str:
    """Stable MLflow key of one input's page F1 over all pages: ``page_f1_html``,
    ``page_f1_text_<rendering>`` (prefixed ``val_`` / ``test_`` by the split)."""
    return metric_name(f"page_f1_{input_name.replace(':', '_')}")


def clean_records(cleaner, records: Sequence[dict]) -> list:
    """Each record (``{"html"}`` or ``{"text"}``, as ``page_inputs`` gives them) cleaned by
    ``cleaner`` in chunks of ``PAGES_PER_BATCH``, as ``newsclean clean`` does: one
    ``CleanedArticle`` per record, None for a record with no text."""
    from newsclean.clean.inputs import InputError, to_article

    cleaned: list = [None] * len(records)
    articles, owners = [], []
    for number, record in enumerate(records):
        try:
            articles.append(to_article({"id": str(number), **record}))
            owners.append(number)
        except InputError:
            continue
    for start in range(0, len(articles), PAGES_PER_BATCH):
        batch = cleaner.clean_many(articles[start : start + PAGES_PER_BATCH])
        for owner, article in zip(owners[start : start + PAGES_PER_BATCH], batch, strict=True):
            cleaned[owner] = article
    return cleaned


def score_pages(
    cleaner, pages: Sequence, inputs: Sequence[str] | None = None, peers: dict | None = None
) -> pd.DataFrame:
    """Per-page shingle precision and recall, one row per (system, input, page): newsclean
    through ``cleaner`` (a ``newsclean.clean.cleaner.Cleaner``, as users run it) and every
    peer on the same input. ``pages`` are ``newsclean.data.sources.pages.PageCase``-like
    (``corpus``, ``doc_id``, ``html``, ``gold``; ``page_type`` and ``language`` when they
    have them). Each row also has the characters kept and, for newsclean, the page's
    ``confidence``. Seconds per (system, input) are in ``attrs["seconds"]``."""
    import time

    inputs = tuple(inputs or page_input_names())
    peers = PEERS if peers is None else peers
    rows, seconds = [], {}
    for name in inputs:
        prepared = [page_inputs(p.html, [name])[name] for p in pages]
        outputs: dict[str, list[str]] = {}
        started = time.perf_counter()
        cleaned = clean_records(cleaner, [record for record, _ in prepared])
        # a page with no text keeps nothing
        outputs["newsclean"] = [c.text if c else "" for c in cleaned]
        confidence = [c.confidence if c else float("nan") for c in cleaned]
        seconds[("newsclean", name)] = time.perf_counter() - started
        for system, extract in peers.items():
            started = time.perf_counter()
            outputs[system] = [extract(peer_bytes) for _, peer_bytes in prepared]
            seconds[(system, name)] = time.perf_counter() - started
        for system, texts in outputs.items():
            for number, (text, page) in enumerate(zip(texts, pages, strict=True)):
                precision, recall = page_shingle_scores(text, page.gold)
                rows.append(
                    {
                        "system": system,
                        "input": name,
                        "corpus": page.corpus,
                        "doc_id": getattr(page, "doc_id", str(number)),
                        "page_type": getattr(page, "page_type", ""),
                        "language": getattr(page, "language", ""),
                        "precision": precision,
                        "recall": recall,
                        "kept_chars": len(text),
                        "confidence": confidence[number] if system == "newsclean" else np.nan,
                    }
                )
    table = pd.DataFrame(rows)
    table.attrs["seconds"] = seconds
    return table


def summarise_pages(scores: pd.DataFrame, by: str = "corpus") -> pd.DataFrame:
    """Page F1 (from the mean precision and recall, as ``page_f1``) per (system, input, ``by``)
    and overall (``by == "all"``), with pages/s where ``scores.attrs`` has the seconds."""
    if scores.empty:
        return pd.DataFrame(columns=["system", "input", by, "precision", "recall", "f1", "pages"])
    seconds = scores.attrs.get("seconds", {})
    rows = []
    for (system, name), part in scores.groupby(["system", "input"], sort=False):
        groups = [*part.groupby(by, sort=False), ("all", part)]
        for value, group in groups:
            precision, recall = group["precision"].mean(), group["recall"].mean()
            row = {
                "system": system,
                "input": name,
                by: value,
                "precision": float(precision),
                "recall": float(recall),
                "f1": float(f1_of(precision, recall)),
                "pages": len(group),
            }
            if value == "all" and (system, name) in seconds:
                row["pages_per_s"] = len(group) / max(seconds[(system, name)], 1e-9)
            rows.append(row)
    return pd.DataFrame(rows)


def evaluate_pages(
    cleaner, pages: Sequence, inputs: Sequence[str] | None = None, peers: dict | None = None
) -> pd.DataFrame:
    """Page shingle F1 per (system, input, corpus) and overall (``corpus == "all"``): the
    summary of ``score_pages``."""
    return summarise_pages(score_pages(cleaner, pages, inputs, peers))


def losses_to_peer(
    scores: pd.DataFrame, peer: str = "trafilatura", below: float = 0.5, peer_above: float = 0.8
) -> pd.DataFrame:
    """Pages where newsclean's F1 is under ``below`` while ``peer`` is over ``peer_above``, on
    the same input: the pages a user would switch extractors for."""
    if scores.empty:
        return pd.DataFrame()
    pairs = zip(scores["precision"], scores["recall"], strict=True)
    f1 = scores.assign(f1=[f1_of(p, r) for p, r in pairs])
    keys = ["input", "corpus", "doc_id"]
    ours = f1[f1["system"] == "newsclean"].set_index(keys)["f1"]
    theirs = f1[f1["system"] == peer].set_index(keys)["f1"]
    both = pd.DataFrame({"newsclean": ours, peer: theirs}).dropna()
    lost = both[(both["newsclean"] < below) & (both[peer] > peer_above)]
    return lost.reset_index().round(4)


PAGE_CORPORA = ["l3s-gn1", "dragnet", "cleaneval", "wcxb", "readability-testpages"]


def test_pages(test: pd.DataFrame, config: Config, max_pages: int | None = None) -> list:
    """The test pages of the page-level evaluation, the one loader of them (training, the
    cleaner's build and ``make bench`` score the same pages in the same order): per page
    corpus, a seeded order of its test pages (HTML rows only), the first ``max_pages``
    (default ``model.page_eval_max_pages``; 0 for all), raw HTML and gold."""
    from newsclean.data.sources.pages import load_page

    corpora_dir = config.paths.corpora_dir
    if corpora_dir is None:
        return []
    limit = config.model.page_eval_max_pages if max_pages is None else max_pages
    html = html_rows(test)
    pages = []
    for corpus in PAGE_CORPORA:
        doc_ids = sorted(
            test.loc[html & (test["source"] == corpus), "doc_id"].unique(),
            key=lambda d: hashlib.sha256(f"{config.data.seed}:{d}".encode()).digest(),
        )
        if limit:
            doc_ids = doc_ids[:limit]
        pages += [p for p in (load_page(corpus, d, corpora_dir) for d in doc_ids) if p]
    return pages


def split_pages(frame: pd.DataFrame, split: str, config: Config) -> list:
    """``test_pages`` of the dataset's ``split`` rows (validation or test; none without the
    corpora)."""
    from pathlib import Path

    corpora_dir = config.paths.corpora_dir
    if corpora_dir is None or not Path(corpora_dir).is_dir():
        return []
    return test_pages(frame[frame["split"] == split], config)


def page_level(
    best: dict,
    model,
    pages: list,
    config: Config,
    parent_id: str,
    digest: str,
    card_summary: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shingle F1 of each test page cleaned by the best kind model through the ``Cleaner``
    users run, for HTML input and each text rendering, beside the peers on the same input.
    Returns the summary per corpus and the per-page scores (the leave-one-corpus-out table
    reuses the peers' scores of the same pages)."""
    import mlflow

    from newsclean.clean.cleaner import Cleaner
    from newsclean.train.pages import (
        PEERS,
        losses_to_peer,
        page_metric_name,
        score_pages,
        summarise_pages,
    )

    if not pages:
        return pd.DataFrame(), pd.DataFrame()
    scores = score_pages(Cleaner(model), pages)
    table = summarise_pages(scores).round(4)
    client = mlflow.MlflowClient()
    for row in table[table["system"] == "newsclean"].itertuples():
        client.log_metric(best["run_id"], page_metric_name(row.input, row.corpus), row.f1)
    lost = losses_to_peer(scores)
    client.log_metric(best["run_id"], "test_pages_lost_to_trafilatura", len(lost))
    if not lost.empty:
        client.log_table(best["run_id"], lost, "pages_lost_to_trafilatura.json")
    for system in PEERS:
        with tracking.tagged_run(
            f"{system} (page)", digest, card_summary, "peer", "kind", nested=True
        ):
            mlflow.log_params({"model": system, "level": "page"})
            part = table[table["system"] == system]
            mlflow.log_metrics(
                {
                    page_metric_name(i, c): f
                    for i, c, f in zip(part["input"], part["corpus"], part["f1"], strict=True)
                }
            )
    return table, scores
