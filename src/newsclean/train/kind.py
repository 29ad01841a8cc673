"""Training: fit each candidate per task, evaluate, log to MLflow, promote the best.

One parent run per ``make train`` and task, one child run per candidate, so the MLflow UI's
compare view lines them up. Candidates are chosen on the validation split only; the test
split is scored for the report and for the champion rule, never for choosing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from newsclean import tracking
from newsclean.config import KINDS, Config
from newsclean.ml.features import PAGE_COLUMNS
from newsclean.ml.kind import KIND_COLUMNS, STACK_VIEWS, tune_kind_weights
from newsclean.ml.metrics import (
    classification_metrics,
    kind_selection_score,
    news_f1,
    per_source_report,
    worst_errors,
)
from newsclean.progress import steps
from newsclean.segmentation import CONTAINER_FIELDS
from newsclean.train.figures import confusion_figure, log_figure, page_table_figure
from newsclean.train.loco import leave_one_corpus_out, wcxb_page_types
from newsclean.train.pages import PAGE_CORPORA, metric_name, page_level, test_pages
from newsclean.train.runs import TASKS, cap, close_parent, log_splits

# ------------------------------------------------------------------ kind


MODEL_COLUMNS = PAGE_COLUMNS


def kind_signature():
    """Model input: only ``text`` is required; page order and HTML facts are optional, so the
    same model serves HTML pages and plain paragraphs."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    optional = {
        "doc_id": "string",
        "position": "long",
        "html_tag": "string",
        "link_density": "double",
        "dom_depth": "double",
        "css_tokens": "string",
        **dict.fromkeys(CONTAINER_FIELDS, "double"),
    }
    inputs = [ColSpec("string", "text")] + [
        ColSpec(kind, name, required=False) for name, kind in optional.items()
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema([ColSpec("string")]))


def kind_metrics(frame: pd.DataFrame, proba: np.ndarray, prefix: str) -> dict[str, float]:
    """Four-kind metrics on blocks of known kind; news-vs-rest F1 on every block, counted in
    blocks (``_news_f1``) and in characters (``_news_f1_chars``: each block weighted by its
    length, so short furniture weighs what it weighs on the page)."""
    predicted = np.array(KINDS, dtype=object)[proba.argmax(axis=1)]
    known = frame["kind"].notna().to_numpy()
    metrics = classification_metrics(frame["kind"][known], predicted[known], KINDS, prefix)
    truth = np.where(frame["is_news"].to_numpy(), "news", "rest")
    chars = frame["text"].fillna("").astype(str).str.len().to_numpy()
    metrics[f"{prefix}_news_f1"] = news_f1(truth, predicted)
    metrics[f"{prefix}_news_f1_chars"] = news_f1(truth, predicted, chars)
    if "view" in frame:
        # HTML rows, text-corpus rows, and each text rendering of the pages (textviews).
        for view in sorted(frame["view"].dropna().unique()):
            mask = (frame["view"] == view).to_numpy()
            name = metric_name(str(view))
            metrics[f"{prefix}_news_f1_view_{name}"] = news_f1(truth[mask], predicted[mask])
    for source in PAGE_CORPORA:
        mask = (frame["source"] == source).to_numpy()
        if mask.any():
            name = metric_name(source)
            metrics[f"{prefix}_news_f1_{name}"] = news_f1(truth[mask], predicted[mask])
            metrics[f"{prefix}_news_f1_chars_{name}"] = news_f1(
                truth[mask], predicted[mask], chars[mask]
            )
    return metrics


def kind_candidates(config: Config) -> list[tuple[str, str, Callable, dict]]:
    """(run name, role, builder, params) for every kind model and paragraph baseline."""
    from newsclean.ml.features import kind_features
    from newsclean.ml.kind import (
        FlatKind,
        HierarchicalKind,
        JusTextParagraphs,
        KindRules,
        MajorityKind,
        linear_classifier,
    )

    m, seed = config.model, config.data.seed
    sgd = {
        "sgd_alpha": m.sgd_alpha,
        "sgd_epochs": m.sgd_epochs,
        "max_features": m.max_features,
        "char_max_features": m.char_max_features,
    }
    return [
        ("majority-class", "baseline", lambda: MajorityKind(), {"model": "majority"}),
        ("rules (hand-written)", "baseline", lambda: KindRules(), {"model": "rules"}),
        (
            "justext (paragraphs)",
            "baseline",
            lambda: JusTextParagraphs(),
            {"model": "justext", "stoplist": "English"},
        ),
        (
            "flat-sgd + word-tfidf",
            "candidate",
            lambda: FlatKind(
                kind_features(m, html=False, neighbours=False, chars=False),
                linear_classifier(m, seed),
            ),
            {"model": "flat_sgd", "features": "word", **sgd},
        ),
        (
            "hier-sgd + all-features",
            "candidate",
            lambda: HierarchicalKind(
                kind_features(m), linear_classifier(m, seed), linear_classifier(m, seed)
            ),
            {
                "model": "hierarchical_sgd",
                "first_stage": "five_way",
                "features": "word+char+dense+context+html",
                **sgd,
            },
        ),
    ]


def train_kind(frame: pd.DataFrame, config: Config, digest: str, card: dict) -> dict:
    """Kind: baselines and candidates as child runs, a second pass, page-level peers, LOCO."""
    import mlflow

    from newsclean.data.datacard import summary
    from newsclean.ml.kind import NeighbourStack

    rows = frame.assign(kind=frame["kind"].where(frame["kind"].notna(), None))
    train = cap(rows[rows["split"] == "train"], config.model.max_train_rows, config.data.seed)
    validation = rows[rows["split"] == "validation"]
    test = rows[rows["split"] == "test"]
    y_train = train["kind"].fillna("unknown").to_numpy(dtype=object)
    card_summary = summary(card) if card else "no data card"
    tracking.experiment(config, config.tracking.kind_experiment)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results: list[dict] = []
    with tracking.tagged_run(f"train-kind-{stamp}", digest, card_summary, "parent") as parent:
        mlflow.log_params(
            {
                **tracking.environment_params(config.data.seed),
                "task": "kind",
                "seed": config.data.seed,
                "n_train": len(train),
                "n_validation": len(validation),
                "n_test": len(test),
            }
        )
        splits = {"train": train.assign(kind=y_train), "validation": validation, "test": test}
        log_splits(splits, TASKS["kind"], digest, config)
        fitted: dict[str, object] = {}
        # What every kind child run needs besides its model: the splits and the run tags.
        context = (train, validation, test, config, digest, card_summary)
        candidates = kind_candidates(config)
        for run_name, role, build, params in steps(candidates, "train kind: candidates"):
            model = build()
            result = _kind_run(
                run_name,
                role,
                params,
                model,
                lambda mdl=model: mdl.fit(train[KIND_COLUMNS], y_train),
                *context,
            )
            results.append(result)
            fitted[run_name] = model
        base_name = "hier-sgd + all-features"
        base = fitted[base_name]
        for run_name, views in STACKS.items():
            options = {view: view in views for view in STACK_VIEWS}
            stack = NeighbourStack(
                base,
                folds=config.model.stack_folds,
                seed=config.data.seed,
                max_iter=config.model.stack_iterations,
                learning_rate=config.model.stack_learning_rate,
                max_leaf_nodes=config.model.stack_leaf_nodes,
                **options,
            )
            params = {
                "model": "stack_hgb",
                "base": base_name,
                **options,
                "folds": config.model.stack_folds,
                "iterations": config.model.stack_iterations,
                "learning_rate": config.model.stack_learning_rate,
                "leaf_nodes": config.model.stack_leaf_nodes,
            }
            results.append(
                _kind_run(
                    run_name,
                    "candidate",
                    params,
                    stack,
                    lambda s=stack: s.fit_with_base(
                        train[KIND_COLUMNS], y_train, base, cache=fitted
                    ),
                    *context,
                )
            )
            fitted[run_name] = stack
        best_stack = max(
            (r for r in results if r["run_name"] in STACKS),
            key=lambda r: r["metrics"]["val_selection_score"],
        )
        for by_input in (False, True):
            results.append(
                _reweighted_run(fitted, best_stack["run_name"], *context, by_input=by_input)
            )
        candidates_only = [r for r in results if r["role"] == "candidate"]
        best = max(candidates_only, key=lambda r: r["metrics"]["val_selection_score"])
        best_model = fitted[best["run_name"]]

        thresholds = _news_thresholds(best, validation)
        pages = test_pages(test, config)
        page_table, page_scores = page_level(
            best, best_model, pages, config, parent.info.run_id, digest, card_summary
        )
        wcxb_types = wcxb_page_types(best_model, config, digest, card_summary)
        loco, _ = leave_one_corpus_out(rows, pages, page_scores, config, digest, card_summary)

        promoted, reason = tracking.promote(
            TASKS["kind"].registered_model,
            tracking.Challenger(
                best["model_uri"],
                best["run_id"],
                digest,
                tracking.data_kind(frame["source"].unique()),
                "val_selection_score",
                best["metrics"]["val_selection_score"],
            ),
            lambda uri: _kind_score_on(uri, validation),
            config.tracking.promote,
        )
        _log_kind_summary(results, page_table, loco, thresholds)
        detail = (
            f"val macro-F1 {best['metrics']['val_macro_f1']:.4f}, test macro-F1 "
            f"{best['metrics']['test_macro_f1']:.4f}, test news F1 "
            f"{best['metrics']['test_news_f1']:.4f}"
        )
        summary_row = close_parent(
            "kind", parent.info.run_id, best, promoted, reason, detail, card_summary
        )
    all_runs = [{"run_name": r["run_name"], "role": r["role"], **r["metrics"]} for r in results]
    return {
        **summary_row,
        "page_table": page_table,
        "loco": loco,
        "wcxb_page_types": wcxb_types,
        "thresholds": thresholds,
        "all_runs": all_runs,
    }


def _kind_score_on(model_uri: str, validation: pd.DataFrame) -> float:
    """A registered kind model's selection score on ``validation`` (the champion rule scores
    the current champion on the challenger's validation split)."""
    import mlflow

    from newsclean.clean.cleaner import ordered_proba

    model = mlflow.sklearn.load_model(model_uri)
    return kind_selection_score(validation, ordered_proba(model, validation[KIND_COLUMNS], KINDS))


# Trained every run: the plain second pass (what the views add) and the full design. The
# intermediate ablations (+ neighbours, + containers, + sequence, + similarity) were measured
# in earlier runs (each one added validation score, see git history of this table) and cost a
# boosting fit each; with the text views in the data they would push the kind task past an
# hour on two cores.
STACKS = {
    "stack-hgb + linear-scores": (),
    # On validation over cached out-of-fold probabilities: selection score after the kind
    # weights 0.8973 -> 0.8991, L3S news F1 0.926 -> 0.950 (reader comments on blog pages).
    "stack-hgb + neighbours + containers + sequence + similarity + css-cues": STACK_VIEWS,
}


def _reweighted_run(
    fitted: dict,
    base_name: str,
    train,
    validation,
    test,
    config: Config,
    digest: str,
    card_summary: str,
    by_input: bool = False,
) -> dict:
    """The best stack (on validation), its kind weights tuned on validation (a child run of
    its own, so the UI shows what the weights change). ``by_input``: one set of weights for
    rows with HTML and one for text rows, each tuned on its own validation rows."""
    import mlflow

    from newsclean.ml.kind import ReweightedKind, text_rows

    model = ReweightedKind(fitted[base_name])

    def fit() -> None:
        proba = fitted[base_name].predict_proba(validation[KIND_COLUMNS])
        if not by_input:
            model.use_fitted(tune_kind_weights(validation, proba))
        else:
            text = text_rows(validation)
            if text.all() or not text.any():  # one input type only (the sample): joint weights
                html_weights = text_weights = tune_kind_weights(validation, proba)
            else:
                html_weights = tune_kind_weights(validation[~text], proba[~text])
                text_weights = tune_kind_weights(validation[text], proba[text])
            model.use_fitted(html_weights, text_weights)
            mlflow.log_params(
                {
                    f"text_weight_{k}": round(w, 4)
                    for k, w in zip(KINDS, model.text_weights, strict=True)
                }
            )
        mlflow.log_params(
            {f"weight_{k}": round(w, 4) for k, w in zip(KINDS, model.weights, strict=True)}
        )

    run_name = f"{base_name} + val-weights" + (" by input" if by_input else "")
    result = _kind_run(
        run_name,
        "candidate",
        {
            "model": "reweighted_stack",
            "base": base_name,
            "tuned_on": "validation",
            "weights_by_input": by_input,
        },
        model,
        fit,
        train,
        validation,
        test,
        config,
        digest,
        card_summary,
    )
    fitted[run_name] = model
    return result


def _kind_run(
    run_name: str,
    role: str,
    params: dict,
    model,
    fit: Callable,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    config: Config,
    digest: str,
    card_summary: str,
) -> dict:
    import mlflow

    with tracking.tagged_run(run_name, digest, card_summary, role, "kind", nested=True) as run:
        mlflow.log_params({**params, "seed": config.data.seed, "n_train": len(train)})
        started = time.perf_counter()
        fit()
        metrics = {"train_seconds": time.perf_counter() - started}
        started = time.perf_counter()
        val_proba = model.predict_proba(validation[KIND_COLUMNS])
        metrics["predict_paragraphs_per_s"] = len(validation) / (time.perf_counter() - started)
        test_proba = model.predict_proba(test[KIND_COLUMNS])
        metrics.update(kind_metrics(validation, val_proba, "val"))
        metrics.update(kind_metrics(test, test_proba, "test"))
        metrics["val_selection_score"] = (metrics["val_macro_f1"] + metrics["val_news_f1"]) / 2
        log_splits(
            {"train": train, "validation": validation, "test": test},
            TASKS["kind"],
            digest,
            config,
        )
        _log_kind_artifacts(run_name, test, test_proba, validation, val_proba)
        model_uri, model_id = None, None
        if role == "candidate":
            example = validation[MODEL_COLUMNS].head(5).reset_index(drop=True)
            logged = mlflow.sklearn.log_model(
                model,
                name="model",
                input_example=example,
                signature=kind_signature(),
                pip_requirements=tracking.pinned_requirements(),
                serialization_format="cloudpickle",
                code_paths=tracking.code_paths(),
            )
            model_uri, model_id = logged.model_uri, logged.model_id
        # On the run and, for candidates, on the LoggedModel too (the Models tab and
        # ``search_logged_models`` show them).
        mlflow.log_metrics(metrics, model_id=model_id)
    print(
        f"  kind {run_name}: val macro-F1 {metrics['val_macro_f1']:.4f}, "
        f"val news F1 {metrics['val_news_f1']:.4f} ({metrics['train_seconds']:.0f} s)",
        file=sys.stderr,
    )
    return {
        "run_id": run.info.run_id,
        "run_name": run_name,
        "role": role,
        "model_uri": model_uri,
        "metrics": metrics,
        "val_proba": val_proba,
    }


def _log_kind_artifacts(
    run_name: str,
    test: pd.DataFrame,
    proba: np.ndarray,
    validation: pd.DataFrame,
    val_proba: np.ndarray,
) -> None:
    import mlflow

    from newsclean.train.figures import confusion_matrix_figure

    val_predicted = np.array(KINDS, dtype=object)[val_proba.argmax(axis=1)]
    if validation["kind"].notna().any():
        figure = confusion_matrix_figure(
            validation["kind"], val_predicted, KINDS, f"kind: {run_name} (validation, by row)"
        )
        log_figure(figure, "confusion_matrix_validation_normalised.png")

    predicted = np.array(KINDS, dtype=object)[proba.argmax(axis=1)]
    known = test["kind"].notna().to_numpy()
    evaluated = test[known].assign(predicted=predicted[known])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        per_source_report(evaluated, "kind", "predicted", KINDS).to_csv(
            out / "per_source_test.csv", index=False
        )
        report = pd.DataFrame(
            classification_metrics(evaluated["kind"], evaluated["predicted"], KINDS, "test"),
            index=[0],
        ).T
        report.to_csv(out / "per_class_test.csv", header=["value"])
        worst_errors(evaluated, "kind", "predicted", proba[known], KINDS).to_csv(
            out / "worst_errors_test.csv", index=False
        )
        mlflow.log_artifacts(tmp, artifact_path="reports")
    figure = confusion_figure(
        evaluated["kind"], evaluated["predicted"], KINDS, f"kind: {run_name} (test)"
    )
    log_figure(figure, "confusion_matrix_test.png")


def _news_thresholds(best: dict, validation: pd.DataFrame) -> pd.DataFrame:
    """The best candidate's news F1 per page corpus on validation, as it decides and at the
    corpus's own best p(news) threshold (``newsclean.ml.metrics.news_threshold_sweep``),
    logged on its run: how far apart the corpora's boundaries are, and the most its ranking
    can give each."""
    import matplotlib.pyplot as plt
    import mlflow

    from newsclean.ml.metrics import news_threshold_sweep
    from newsclean.train.figures import news_curves_figure

    pages = validation["source"].isin(PAGE_CORPORA).to_numpy()
    proba = best["val_proba"][pages]
    news = KINDS.index("news")
    table = news_threshold_sweep(
        validation["is_news"].to_numpy(dtype=bool)[pages],
        proba[:, news],
        proba.argmax(axis=1) == news,
        validation["source"].to_numpy(dtype=object)[pages],
    )
    client = mlflow.MlflowClient()
    if "kind" in validation:
        figure = news_curves_figure(validation[pages], proba[:, news])
        client.log_figure(best["run_id"], figure, "news_curves_validation.png")
        plt.close(figure)
    for row in table.itertuples():
        name = metric_name(row.group)
        client.log_metric(best["run_id"], f"val_best_news_threshold_{name}", row.best_threshold)
        client.log_metric(
            best["run_id"], f"val_news_f1_at_best_threshold_{name}", row.news_f1_at_best
        )
    return table.round(4)


def _log_kind_summary(
    results: list[dict], page_table: pd.DataFrame, loco: pd.DataFrame, thresholds: pd.DataFrame
) -> None:
    import mlflow

    summary_rows = pd.DataFrame(
        [
            {
                "run": r["run_name"],
                "role": r["role"],
                **{
                    k: round(v, 4)
                    for k, v in r["metrics"].items()
                    if k
                    in {
                        "val_macro_f1",
                        "val_news_f1",
                        "test_macro_f1",
                        "test_news_f1",
                        "test_news_f1_l3s_gn1",
                        "train_seconds",
                        "predict_paragraphs_per_s",
                    }
                },
            }
            for r in results
        ]
    )
    mlflow.log_table(summary_rows, "kind_runs.json")
    if not thresholds.empty:
        mlflow.log_table(thresholds, "news_threshold_by_corpus.json")
    if not page_table.empty:
        mlflow.log_table(page_table, "page_level.json")
        figure = page_table_figure(page_table, "Page F1 on test pages: newsclean vs peers")
        log_figure(figure, "page_f1_vs_peers.png")
