"""The cleaner's build in ``make train``: over the current kind and topic champions, choose the
junk-stripping settings on validation documents with glued junk (``newsclean.train.glued_junk``),
score the cleaner on the test split (page-level F1 of the cleaned test documents with glued
junk, ``test_clean_f1``; junk-stripping precision / recall / false-strip rate; page F1 on the
real test pages when the corpora are there), log all of it, and register the cleaner. It
becomes the champion when its clean F1 on the validation documents beats the current
champion's on the same documents (``tracking.promote``, ``val_clean_f1``)."""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from newsclean import tracking
from newsclean.clean.cleaner import Cleaner
from newsclean.clean.pyfunc import clean_raw_articles, log_cleaner
from newsclean.clean.registry import (
    CLEANER_MODEL_NAME,
    KIND_MODEL_NAME,
    TOPIC_MODEL_NAME,
    champion_uri,
)
from newsclean.clean.settings import CleanerSettings
from newsclean.config import Config
from newsclean.train import article_page, glued_junk, page_pass
from newsclean.train.pages import split_pages
from newsclean.train.runs import not_built

# The champion rule's score (tracking.promote): clean F1 on the validation documents with
# glued junk, the challenger's and the current champion's on the same data.
CHAMPION_METRIC = "val_clean_f1"


def build_and_register_cleaner(config: Config, digest: str, card: dict) -> dict:
    """Tune, score, log, register and promote the cleaner over the current champions.

    Returns a summary row for ``newsclean.train.runs.results_table``."""
    import mlflow

    from newsclean.data import dataset
    from newsclean.data.datacard import summary

    tracking.configure(config)
    kind_uri, topic_uri = champion_uri(KIND_MODEL_NAME), champion_uri(TOPIC_MODEL_NAME)
    if kind_uri is None:
        reason = f"no {KIND_MODEL_NAME} champion yet: train kind first"
        return not_built("cleaner", reason, "clean F1")
    frame = dataset.load(config.paths.processed_dir)
    card_summary = summary(card) if card else "no data card"
    cleaner = Cleaner.from_champions(config, kind_uri=kind_uri, topic_uri=topic_uri)
    seed = config.data.seed
    docs = config.model.page_eval_max_pages or glued_junk.DOCS_PER_SOURCE
    tracking.experiment(config, config.tracking.cleaner_experiment)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tracking.tagged_run(
        f"train-cleaner-{stamp}", digest, card_summary, "parent", "cleaner"
    ) as run:
        started = time.perf_counter()
        validation = glued_junk.make_glued(frame, "validation", seed, docs_per_source=docs)
        prepared = glued_junk.prepare(cleaner, validation)
        # Baseline: thresholds on the segments' non-news probability (mode, thresholds).
        rule_settings, grid = glued_junk.tune(prepared, cleaner.settings)
        val_rule = glued_junk.score(prepared, rule_settings, page_level=True)
        # Model: a stripper fitted on validation, its threshold chosen out of fold.
        stripper, settings, stripper_grid = glued_junk.fit_stripper(prepared, rule_settings, seed)
        val_learned = _chosen_row(stripper_grid, settings)
        use_stripper = (
            stripper is not None and val_learned.get("strip_f1", 0) > val_rule["strip_f1"]
        )
        if not use_stripper:
            stripper, settings = None, rule_settings
        test_corpus = glued_junk.make_glued(frame, "test", seed + 1, docs_per_source=docs)
        test_prepared = glued_junk.prepare(
            cleaner, test_corpus, modes=(settings.segment_mode,), html=(settings.segment_html,)
        )
        test_rule = glued_junk.score(test_prepared, rule_settings, page_level=not use_stripper)
        test = test_rule
        if use_stripper:
            junk_p = glued_junk.stripper_probabilities(test_prepared, stripper, settings)
            test = glued_junk.score(test_prepared, settings, page_level=True, junk_p=junk_p)
        val = val_learned if use_stripper else val_rule
        cleaner = Cleaner(cleaner.kind_model, cleaner.topic_model, settings, cleaner.info, stripper)
        # The page-level pass, per input (HTML, text), chosen on the validation pages.
        settings, pass_grid = page_pass.tune(cleaner, split_pages(frame, "validation", config))
        cleaner = Cleaner(cleaner.kind_model, cleaner.topic_model, settings, cleaner.info, stripper)
        # The article-page model, fitted on WCXB's dev pages over what this cleaner decides.
        page_model, page_model_metrics, page_types = article_page.fit_and_score(cleaner, config)
        if page_model is not None:
            settings = dataclasses.replace(settings, article_page=page_model.to_dict())
            cleaner = cleaner.with_settings(article_page=settings.article_page)
        mlflow.log_params(
            {
                "kind_model": kind_uri,
                "topic_model": topic_uri,
                "junk_stripper": "learned (gradient boosting)" if use_stripper else "thresholds",
                **{
                    f"settings.{k}": v
                    for k, v in settings.to_dict().items()
                    if k != "article_page"  # numbers of a model: in reports/settings.json
                },
                "glue_rate": glued_junk.GLUE_RATE,
                "max_false_strip_rate": glued_junk.MAX_FALSE_STRIP_RATE,
                "docs_per_source": docs,
                "seed": seed,
            }
        )
        metrics = {f"val_{k}": float(v) for k, v in val.items() if k != "junk_threshold"}
        metrics.update({f"test_{k}": float(v) for k, v in test.items()})
        metrics.update({f"val_rule_{k}": float(v) for k, v in val_rule.items()})
        metrics.update({f"test_rule_{k}": float(v) for k, v in test_rule.items()})
        metrics["tune_seconds"] = time.perf_counter() - started
        if not pass_grid.empty:
            metrics.update(page_pass.chosen_scores(pass_grid, settings))
        metrics.update(page_model_metrics)
        page = _test_pages_f1(cleaner, frame, config)
        metrics.update(page)
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            grid.round(5).to_csv(out / "junk_rule_grid_validation.csv", index=False)
            if not stripper_grid.empty:
                stripper_grid.round(5).to_csv(
                    out / "junk_stripper_grid_validation_oof.csv", index=False
                )
            (out / "junk_report.md").write_text(
                junk_report(val, test, settings, val_rule, test_rule, use_stripper)
            )
            (out / "settings.json").write_text(json.dumps(settings.to_dict(), indent=2))
            if not pass_grid.empty:
                pass_grid.round(5).to_csv(out / "page_pass_grid_validation.csv", index=False)
            if not page_types.empty:
                page_types.round(4).to_csv(out / "article_page_by_wcxb_type.csv", index=False)
            mlflow.log_artifacts(tmp, artifact_path="reports")
        _log_junk_grid_figure(grid, rule_settings)
        logged = log_cleaner(config, kind_uri, topic_uri, settings, stripper=stripper)
        model_uri = logged.model_uri
        val_clean_f1 = _validation_clean_f1(cleaner, validation)
        mlflow.log_metric(CHAMPION_METRIC, val_clean_f1)
        # The same figures on the LoggedModel (the Models tab, ``search_logged_models``).
        mlflow.log_metrics({**metrics, CHAMPION_METRIC: val_clean_f1}, model_id=logged.model_id)
        promoted, reason = tracking.promote(
            CLEANER_MODEL_NAME,
            tracking.Challenger(
                model_uri,
                run.info.run_id,
                digest,
                tracking.data_kind(frame["source"].unique()),
                CHAMPION_METRIC,
                val_clean_f1,
            ),
            lambda uri: _validation_clean_f1(Cleaner.load(uri, config), validation),
            config.tracking.promote,
        )
        mlflow.set_tag("champion", str(promoted).lower())
        best = f"{kind_uri.removeprefix('models:/')} + {str(topic_uri).removeprefix('models:/')}"
        mlflow.set_tags(
            {
                "mlflow.note.content": (
                    f"cleaner over {best}: test clean F1 {test['clean_f1']:.4f}, junk strip "
                    f"P/R {test['strip_precision']:.3f}/{test['strip_recall']:.3f}, false-strip "
                    f"rate {test['false_strip_rate']:.4f}. Champion: "
                    f"{'yes' if promoted else 'no'}: {reason}. Data: {card_summary}."
                ),
                "promotion": reason,
            }
        )
    print(
        f"  cleaner: test clean F1 {test['clean_f1']:.4f}, strip P/R "
        f"{test['strip_precision']:.3f}/{test['strip_recall']:.3f}, false strips "
        f"{test['false_strip_rate']:.2%}",
        file=sys.stderr,
    )
    return {
        "task": "cleaner",
        "parent_run_id": run.info.run_id,
        "best": best,
        "promoted": promoted,
        "reason": reason,
        "model_uri": model_uri,
        "score_name": "clean F1",
        "val_macro_f1": float(val.get("clean_f1", float("nan"))),
        "test_macro_f1": test["clean_f1"],
        CHAMPION_METRIC: val_clean_f1,
        **{k: v for k, v in metrics.items() if k.startswith(("test_", "val_", "page_"))},
    }


def _log_junk_grid_figure(grid: pd.DataFrame, settings: CleanerSettings) -> None:
    """The glued-junk threshold grid on validation as a heatmap (strip F1 per strip x glued
    threshold, the chosen segment mode), the chosen cell outlined."""
    from newsclean.train.figures import log_figure, threshold_grid_figure

    if grid.empty:
        return
    chosen = (grid["segment_mode"] == settings.segment_mode) & (
        grid["segment_html"] == settings.segment_html
    )
    if not chosen.any():
        return
    figure = threshold_grid_figure(
        grid[chosen], mark=(settings.strip_threshold, settings.glued_threshold)
    )
    log_figure(figure, "junk_threshold_grid_validation.png")


def _validation_clean_f1(cleaner: Cleaner, validation) -> float:
    """Page F1 of ``cleaner`` on the validation documents with junk glued on (the champion
    rule scores the current champion cleaner on the challenger's validation set with it)."""

    prepared = glued_junk.prepare(
        cleaner,
        validation,
        modes=(cleaner.settings.segment_mode,),
        html=(cleaner.settings.segment_html,),
    )
    junk_p = (
        glued_junk.stripper_probabilities(prepared, cleaner.stripper, cleaner.settings)
        if cleaner.stripper is not None
        else None
    )
    return float(
        glued_junk.score(prepared, cleaner.settings, page_level=True, junk_p=junk_p)["clean_f1"]
    )


def _test_pages_f1(cleaner: Cleaner, frame: pd.DataFrame, config: Config) -> dict[str, float]:
    """Page-level shingle F1 of the cleaner on the real test pages (corpora present only): the
    same pages, in the same order, as the kind task's page-level table (``test_pages``). HTML
    goes through the batch path users run (``test_page_*``); each text rendering through the
    Cleaner (``test_page_f1_text_<rendering>`` and ``page_f1_text_<rendering>_<corpus>``)."""
    from newsclean.clean.inputs import RawArticle
    from newsclean.ml.metrics import page_f1
    from newsclean.train.pages import (
        HTML_INPUT,
        input_metric_name,
        page_input_names,
        page_metric_name,
        score_pages,
        summarise_pages,
    )

    pages = split_pages(frame, "test", config)
    if not pages:
        return {}
    raws = [RawArticle(f"{p.corpus}/{p.doc_id}", "html", p.html) for p in pages]
    outputs = clean_raw_articles(cleaner, raws)
    scores = page_f1([(o["text"], p.gold) for o, p in zip(outputs, pages, strict=True)])
    metrics = {
        "test_page_f1": scores["f1"],
        "test_page_precision": scores["precision"],
        "test_page_recall": scores["recall"],
        "test_pages": float(scores["pages"]),
    }
    texts = [name for name in page_input_names() if name != HTML_INPUT]
    table = summarise_pages(score_pages(cleaner, pages, texts, peers={}))
    for row in table.itertuples():
        metrics[page_metric_name(row.input, row.corpus)] = float(row.f1)
        if row.corpus == "all":
            metrics[f"test_{input_metric_name(row.input)}"] = float(row.f1)
    return metrics


def _chosen_row(grid: pd.DataFrame, settings: CleanerSettings) -> dict:
    if grid.empty:
        return {}
    row = grid[grid["junk_threshold"] == settings.junk_threshold].iloc[0]
    return {k: float(v) for k, v in row.items()}


def junk_report(
    val: dict,
    test: dict,
    settings: CleanerSettings,
    val_rule: dict | None = None,
    test_rule: dict | None = None,
    learned: bool = False,
) -> str:
    names = [
        ("strip_precision", "stripped characters that were junk (precision)"),
        ("strip_recall", "junk characters stripped (recall)"),
        ("strip_f1", "strip F1"),
        ("false_strip_rate", "clean news paragraphs that lost any text"),
        ("false_strip_char_rate", "characters lost from clean news paragraphs"),
        ("glued_dropped_rate", "glued news paragraphs not kept as news"),
        ("clean_dropped_rate", "clean news paragraphs not kept as news"),
        ("clean_f1", "page-level F1 of the cleaned documents"),
        ("glued_paragraphs", "glued news paragraphs"),
        ("clean_news_paragraphs", "clean news paragraphs"),
    ]
    method = "learned stripper" if learned else "thresholds on segment probabilities"
    lines = [
        "# Glued junk: stripping on held-out documents",
        "",
        f"Junk stripping by {method}. Settings chosen on validation: "
        f"{json.dumps(settings.to_dict())}",
        "",
        "Validation figures of the learned stripper are out of fold; the thresholds baseline "
        "is tuned on validation itself. Test: other documents, junk glued with another seed.",
        "",
        "| metric | validation | test | baseline validation | baseline test |",
        "|---|---:|---:|---:|---:|",
    ]
    val_rule, test_rule = val_rule or {}, test_rule or {}
    for key, label in names:
        lines.append(
            f"| {label} (`{key}`) | {_fmt(val.get(key))} | {_fmt(test.get(key))} | "
            f"{_fmt(val_rule.get(key))} | {_fmt(test_rule.get(key))} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer() and value > 1:
        return f"{int(value):,}"
    return f"{value:.4f}"
