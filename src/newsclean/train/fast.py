"""The ``fast`` profile: a cheaper cleaner registered beside the champion (alias ``fast``).

Where the accurate cleaner's time goes (``make bench``): the kind model (char n-grams and a
1,000-round second pass) and the glued-junk pass (every news paragraph's edge segments go
through the kind model again). The fast profile keeps the champion's design but fits it
cheaper, as the leave-one-corpus-out refits are (no char n-grams, ``fast_stack_iterations``
boosting rounds, at most ``fast_max_train_rows`` training rows, kind weights tuned on
validation), and turns the junk gate on (``CleanerSettings.junk_gate``: only paragraphs with
a join without a space are looked at), with thresholds instead of the learned stripper. The
topic champion is the accurate cleaner's; the junk thresholds are tuned for it on the glued
validation documents, the page-level pass and the article-page model on the validation
pages. It takes the ``fast`` alias by the champion rule: a higher mean page
F1 over HTML and the text renderings on the validation pages than the current ``fast``
cleaner on the same pages.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from newsclean import tracking
from newsclean.clean.cleaner import Cleaner
from newsclean.clean.pyfunc import log_cleaner
from newsclean.clean.registry import (
    CLEANER_MODEL_NAME,
    FAST_ALIAS,
    TOPIC_MODEL_NAME,
    champion_uri,
)
from newsclean.config import Config
from newsclean.ml.kind import KIND_COLUMNS, ReweightedKind, champion_design, tune_kind_weights
from newsclean.train import article_page, glued_junk, page_pass
from newsclean.train.pages import input_metric_name, score_pages, split_pages, summarise_pages
from newsclean.train.runs import cap, not_built

FAST_METRIC = "val_page_f1_mean"
FAST_SCORE_NAME = "page F1 (mean of inputs)"


def fast_kind_model(frame: pd.DataFrame, config: Config) -> ReweightedKind:
    """The champion's design fitted cheaper (see the module docstring)."""
    m, seed = config.model, config.data.seed
    rows = frame.assign(kind=frame["kind"].where(frame["kind"].notna(), None))
    train = cap(rows[rows["split"] == "train"], m.fast_max_train_rows, seed)
    validation = rows[rows["split"] == "validation"]
    stack = champion_design(config, chars=False, iterations=m.fast_stack_iterations)
    stack.fit(train[KIND_COLUMNS], train["kind"].fillna("unknown").to_numpy(dtype=object))
    weights = tune_kind_weights(validation, stack.predict_proba(validation[KIND_COLUMNS]))
    return ReweightedKind(stack).use_fitted(weights)


def mean_page_f1(cleaner: Cleaner, pages: list) -> tuple[float, dict[str, float]]:
    """Page F1 of ``cleaner`` on ``pages`` per input (HTML and each text rendering) and
    their mean: the fast profile's champion metric."""
    table = summarise_pages(score_pages(cleaner, pages, peers={}))
    overall = table[table["corpus"] == "all"]
    per_input = {name: float(f1) for name, f1 in zip(overall["input"], overall["f1"], strict=True)}
    return (sum(per_input.values()) / len(per_input) if per_input else float("nan")), per_input


def build_and_register_fast_cleaner(config: Config, digest: str, card: dict) -> dict:
    """Fit, tune, score, log and register the fast cleaner; move the ``fast`` alias to it
    when it wins on validation. Returns a summary row for ``results_table``."""
    import mlflow
    import mlflow.sklearn

    from newsclean.data import dataset
    from newsclean.data.datacard import summary

    tracking.configure(config)
    accurate_uri = champion_uri(CLEANER_MODEL_NAME)
    topic_uri = champion_uri(TOPIC_MODEL_NAME)
    if accurate_uri is None:
        return not_built("cleaner (fast)", "no accurate cleaner champion yet", FAST_SCORE_NAME)
    frame = dataset.load(config.paths.processed_dir)
    card_summary = summary(card) if card else "no data card"
    validation_pages = split_pages(frame, "validation", config)
    test_pages = split_pages(frame, "test", config)
    accurate = Cleaner.load(accurate_uri, config)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tracking.experiment(config, config.tracking.cleaner_experiment)
    with tracking.tagged_run(
        f"train-cleaner-fast-{stamp}", digest, card_summary, "parent", "cleaner"
    ) as run:
        started = time.perf_counter()
        kind = fast_kind_model(frame, config)
        fit_seconds = time.perf_counter() - started
        settings = dataclasses.replace(accurate.settings, junk_gate=True, article_page=None)
        cleaner = Cleaner(kind, accurate.topic_model, settings)
        # Junk thresholds for this kind model and the gate, on the glued validation documents
        # (the accurate cleaner's are for its own model and its learned stripper).
        docs = config.model.page_eval_max_pages or glued_junk.DOCS_PER_SOURCE
        glued = glued_junk.make_glued(frame, "validation", config.data.seed, docs_per_source=docs)
        prepared = glued_junk.prepare(
            cleaner, glued, modes=(settings.segment_mode,), html=(settings.segment_html,)
        )
        settings, _ = glued_junk.tune(prepared, settings)
        junk = glued_junk.score(prepared, settings, page_level=True)
        cleaner = Cleaner(kind, accurate.topic_model, settings)
        settings, pass_grid = page_pass.tune(cleaner, validation_pages)
        cleaner = Cleaner(kind, accurate.topic_model, settings)
        page_model, page_model_metrics, _ = article_page.fit_and_score(cleaner, config)
        if page_model is not None:
            settings = dataclasses.replace(settings, article_page=page_model.to_dict())
            cleaner = cleaner.with_settings(article_page=settings.article_page)
        val_f1, val_inputs = mean_page_f1(cleaner, validation_pages)
        test_f1, test_inputs = mean_page_f1(cleaner, test_pages)
        m = config.model
        mlflow.log_params(
            {
                "profile": FAST_ALIAS,
                "kind_model": "champion design: no char n-grams, "
                f"{m.fast_stack_iterations} boosting rounds, at most {m.fast_max_train_rows} "
                "training rows, kind weights tuned on validation",
                "topic_model": topic_uri,
                "accurate_cleaner": accurate_uri,
                **{
                    f"settings.{k}": v for k, v in settings.to_dict().items() if k != "article_page"
                },
            }
        )
        metrics = {
            FAST_METRIC: val_f1,
            "test_page_f1_mean": test_f1,
            "kind_fit_seconds": fit_seconds,
            **{f"val_{input_metric_name(name)}": f1 for name, f1 in val_inputs.items()},
            **{f"test_{input_metric_name(name)}": f1 for name, f1 in test_inputs.items()},
            **page_model_metrics,
            **{f"val_{k}": float(v) for k, v in junk.items()},
        }
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            kind_dir = Path(tmp) / "kind_model"
            mlflow.sklearn.save_model(  # as the kind task logs its models
                kind,
                kind_dir,
                pip_requirements=tracking.pinned_requirements(),
                serialization_format="cloudpickle",
            )
            if not pass_grid.empty:
                pass_grid.round(5).to_csv(Path(tmp) / "page_pass_grid_validation.csv", index=False)
                mlflow.log_artifact(str(Path(tmp) / "page_pass_grid_validation.csv"), "reports")
            logged = log_cleaner(config, str(kind_dir), topic_uri, settings, {"profile": "fast"})
        mlflow.log_metrics(metrics, model_id=logged.model_id)
        promoted, reason = tracking.promote(
            CLEANER_MODEL_NAME,
            tracking.Challenger(
                logged.model_uri,
                run.info.run_id,
                digest,
                tracking.data_kind(frame["source"].unique()),
                FAST_METRIC,
                val_f1,
            ),
            lambda uri: mean_page_f1(Cleaner.load(uri, config), validation_pages)[0],
            config.tracking.promote,
            alias=FAST_ALIAS,
        )
        mlflow.set_tag("champion", str(promoted).lower())
        mlflow.set_tags(
            {
                "promotion": reason,
                "mlflow.note.content": (
                    f"fast profile: validation page F1 (mean over inputs) {val_f1:.4f}, test "
                    f"{test_f1:.4f}; alias '{FAST_ALIAS}': {reason}. Data: {card_summary}."
                ),
            }
        )
    print(
        f"  cleaner (fast): validation page F1 {val_f1:.4f}, test {test_f1:.4f}; {reason}",
        file=sys.stderr,
    )
    return {
        "task": "cleaner (fast)",
        "parent_run_id": run.info.run_id,
        "best": "fast profile",
        "promoted": promoted,
        "reason": reason,
        "model_uri": logged.model_uri,
        "score_name": FAST_SCORE_NAME,
        "val_macro_f1": val_f1,
        "test_macro_f1": test_f1,
        **{k: v for k, v in metrics.items() if k.startswith(("test_", "val_"))},
    }
