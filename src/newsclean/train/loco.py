"""Generalisation to sites the model has never seen: the leave-one-corpus-out table (refit the
champion's design without a corpus, clean that corpus's pages through the ``Cleaner``) and
WCXB's 2025 pages per page type, each beside the peers on the same pages."""

from __future__ import annotations

import sys
import time

import pandas as pd

from newsclean import tracking
from newsclean.config import Config
from newsclean.data.textviews import html_rows
from newsclean.ml.kind import KIND_COLUMNS, STACK_VIEWS, champion_design, tune_kind_weights
from newsclean.progress import steps
from newsclean.train.figures import log_figure, page_table_figure
from newsclean.train.pages import metric_name
from newsclean.train.runs import cap

# Corpora held out one at a time. readability-testpages is scored on all its pages (the
# held-out model saw none of them); it holds the few non-English pages of the corpora.
LOCO_CORPORA = ("l3s-gn1", "dragnet", "cleaneval", "wcxb", "readability-testpages")


LOCO_ALL_PAGES = ("readability-testpages",)


CHAMPION_SYSTEM = "newsclean"


LOCO_SYSTEM = "newsclean (held out)"


def loco_model(config: Config):
    """The champion's design, refit cheaper for the leave-one-corpus-out table: no char
    n-grams and ``loco_stack_iterations`` boosting rounds, on at most ``loco_max_train_rows``
    rows; the kind weights are then tuned on validation rows of the other corpora."""
    return champion_design(config, chars=False, iterations=config.model.loco_stack_iterations)


def _loco_pages(corpus: str, rows: pd.DataFrame, pages: list, config: Config) -> list:
    from newsclean.data.sources.pages import load_page

    if corpus not in LOCO_ALL_PAGES:
        return [p for p in pages if p.corpus == corpus]
    doc_ids = sorted(rows.loc[html_rows(rows) & (rows["source"] == corpus), "doc_id"].unique())
    loaded = (load_page(corpus, d, config.paths.corpora_dir) for d in doc_ids)
    return [p for p in loaded if p is not None]


def leave_one_corpus_out(
    rows: pd.DataFrame,
    pages: list,
    page_scores: pd.DataFrame,
    config: Config,
    digest: str,
    card_summary: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generalisation to sites the model has never seen: for each page corpus, refit the
    champion's design without it (``loco_model``) and clean its pages through the
    ``Cleaner``, HTML and every text rendering, beside the peers and the champion (which
    saw the corpus) on the same pages. Returns the table per (held-out corpus, input,
    system) and the per-page scores of the held-out models."""
    import mlflow

    from newsclean.clean.cleaner import Cleaner
    from newsclean.ml.kind import ReweightedKind
    from newsclean.train.pages import PEERS, page_metric_name, score_pages, summarise_pages

    m, seed = config.model, config.data.seed
    train_rows = rows[rows["split"] == "train"]
    validation = rows[rows["split"] == "validation"]
    tables, held_out_scores = [], []
    for corpus in steps(LOCO_CORPORA, "train kind: leave-one-corpus-out folds"):
        corpus_pages = _loco_pages(corpus, rows, pages, config)
        if not corpus_pages:
            continue
        started = time.perf_counter()
        train = cap(train_rows[train_rows["source"] != corpus], m.loco_max_train_rows, seed)
        stack = loco_model(config)
        stack.fit(train[KIND_COLUMNS], train["kind"].fillna("unknown").to_numpy(dtype=object))
        others = validation[validation["source"] != corpus]
        weights = tune_kind_weights(others, stack.predict_proba(others[KIND_COLUMNS]))
        model = ReweightedKind(stack).use_fitted(weights)
        all_pages = corpus in LOCO_ALL_PAGES
        scores = score_pages(Cleaner(model), corpus_pages, peers=PEERS if all_pages else {})
        scores["system"] = scores["system"].replace({"newsclean": LOCO_SYSTEM})
        held_out_scores.append(scores)
        if not all_pages and not page_scores.empty:  # the page-level table's pages: its
            # peers and the champion on the same pages
            scores = pd.concat([scores, page_scores[page_scores["corpus"] == corpus]])
        tables.append(summarise_pages(scores).query("corpus != 'all'"))
        print(
            f"  leave-one-corpus-out {corpus}: {len(corpus_pages)} pages, "
            f"{time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    if not tables:
        return pd.DataFrame(), pd.DataFrame()
    table = pd.concat(tables, ignore_index=True).round(4)
    table = table.rename(columns={"corpus": "held_out"})
    per_page = pd.concat(held_out_scores, ignore_index=True)
    with tracking.tagged_run(
        "leave-one-corpus-out (champion design, page level)",
        digest,
        card_summary,
        "analysis",
        "kind",
        nested=True,
    ):
        mlflow.log_params(
            {
                "model": "stack_hgb + val-weights",
                "base": "hierarchical_sgd, word+dense+context+html (no char n-grams)",
                "stack_views": "+".join(STACK_VIEWS),
                "stack_iterations": m.loco_stack_iterations,
                "max_train_rows": m.loco_max_train_rows,
                "pages": "test pages of each corpus (page_eval_max_pages); readability: all",
            }
        )
        metrics = {}
        for record in table.itertuples():
            prefix = {LOCO_SYSTEM: "loco_", CHAMPION_SYSTEM: "loco_champion_"}.get(
                record.system, f"loco_{metric_name(record.system)}_"
            )
            metrics[prefix + page_metric_name(record.input, record.held_out)] = record.f1
        mlflow.log_metrics(metrics)
        mlflow.log_table(table, "leave_one_corpus_out.json")
        languages = summarise_pages(
            per_page[per_page["corpus"].isin(LOCO_ALL_PAGES)], by="language"
        ).round(4)
        if not languages.empty:
            mlflow.log_table(languages, "leave_one_corpus_out_by_language.json")
        figure = page_table_figure(
            table.rename(columns={"held_out": "corpus"}),
            "Leave-one-corpus-out page F1: each corpus cleaned by a model trained without it",
        )
        log_figure(figure, "leave_one_corpus_out.png")
    return table, per_page


def article_signal_auc(scores: pd.DataFrame) -> dict[str, float]:
    """How well newsclean's page-level outputs tell article pages from the rest (ROC AUC on
    WCXB's page types): its ``confidence`` and the characters it kept."""
    from sklearn.metrics import roc_auc_score

    is_article = (scores["page_type"] == "article").to_numpy()
    if is_article.all() or not is_article.any():
        return {}
    return {
        "confidence": float(roc_auc_score(is_article, scores["confidence"].fillna(0))),
        "kept_chars": float(roc_auc_score(is_article, scores["kept_chars"])),
    }


def wcxb_page_types(model, config: Config, digest: str, card_summary: str) -> pd.DataFrame:
    """Page F1 per WCXB page type (article, forum, product, listing, ...) on every WCXB test
    page, HTML input, newsclean and the peers: how it does on today's pages that are not
    news articles (the dataset holds only WCXB's articles)."""
    import mlflow

    from newsclean.clean.cleaner import Cleaner
    from newsclean.data.sources.pages import wcxb_test_pages
    from newsclean.train.pages import score_pages, summarise_pages

    corpora_dir = config.paths.corpora_dir
    pages = wcxb_test_pages(corpora_dir) if corpora_dir is not None else []
    if not pages:
        return pd.DataFrame()
    scores = score_pages(Cleaner(model), pages, inputs=("html",))
    table = summarise_pages(scores, by="page_type").round(4)
    signal = article_signal_auc(scores[scores["system"] == "newsclean"])
    with tracking.tagged_run(
        "wcxb by page type (page level)", digest, card_summary, "analysis", "kind", nested=True
    ):
        mlflow.log_params({"pages": len(pages), "input": "html"})
        mlflow.log_metrics(
            {
                f"wcxb_page_f1_{metric_name(r.page_type)}_{metric_name(r.system)}": r.f1
                for r in table.itertuples()
            }
        )
        mlflow.log_metrics({f"wcxb_article_auc_{k}": v for k, v in signal.items()})
        mlflow.log_table(table, "wcxb_by_page_type.json")
        figure = page_table_figure(
            table.rename(columns={"page_type": "corpus"}), "WCXB test pages by page type (HTML)"
        )
        log_figure(figure, "wcxb_by_page_type.png")
    return table
