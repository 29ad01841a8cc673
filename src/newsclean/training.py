"""Training: fit each candidate per task, evaluate, log to MLflow, promote the best.

One parent run per ``make train`` and task, one child run per candidate, so the MLflow UI's
compare view lines them up. Candidates are chosen on the validation split only; the test
split is scored for the report and for the champion rule, never for choosing.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from newsclean import dataset, memory, tracking
from newsclean.config import KINDS, TOPICS, Config
from newsclean.evaluation import (
    classification_metrics,
    confusion_figure,
    log_figure,
    metric_name,
    news_f1,
    page_table_figure,
    per_source_report,
    worst_errors,
)
from newsclean.features import PAGE_COLUMNS
from newsclean.segmentation import CONTAINER_FIELDS
from newsclean.textviews import html_rows


@dataclass(frozen=True)
class Task:
    name: str
    label: str
    labels: tuple[str, ...]
    experiment: Callable[[Config], str]
    registered_model: str

    def rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame[self.label].notna()]


TASKS = {
    "kind": Task("kind", "kind", KINDS, lambda c: c.tracking.kind_experiment, "newsclean-kind"),
    "topic": Task(
        "topic", "topic", TOPICS, lambda c: c.tracking.topic_experiment, "newsclean-topic"
    ),
}


def _cap(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    if not limit or len(frame) <= limit:
        return frame
    return frame.sample(n=limit, random_state=seed).sort_index()


def train_all(config: Config, tasks: list[str] | None = None) -> list[dict]:
    """Train every task on the saved dataset; return one summary row per task."""
    frame = dataset.load(config.paths.processed_dir)
    digest = dataset.load_digest(config.paths.processed_dir)
    card_path = config.paths.processed_dir / "data_card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    tracking.configure(config)
    results = []
    for name in [t for t in tasks or TASKS if t != "cleaner"]:
        started, per_task = time.perf_counter(), memory.reset_peak()
        if name == "kind":
            result = train_kind(frame, config, digest, card)
        elif name == "topic":
            from newsclean import topics  # the topic tagger has its own training flow

            result = topics.train_topic(frame, config, digest, card)
        else:
            raise ValueError(f"unknown task {name!r}; tasks: {', '.join([*TASKS, 'cleaner'])}")
        results.append(_with_resources(result, time.perf_counter() - started, per_task))
    if tasks is None or "cleaner" in tasks:
        # The product over the champions; a partial run (one task) leaves the cleaner as it is.
        from newsclean.serving import build_and_register_cleaner

        results.append(build_and_register_cleaner(config, digest, card))
    return results


def _with_resources(result: dict, seconds: float, per_task: bool) -> dict:
    """Add the task's wall time and peak memory (the whole task: candidates, page-level
    scoring, leave-one-corpus-out) to its summary row and its parent run."""
    import mlflow

    resources = {"task_seconds": round(seconds, 1), "peak_memory_mb": round(memory.peak_mb(), 1)}
    if result.get("parent_run_id"):
        client = mlflow.MlflowClient()
        for key, value in resources.items():
            client.log_metric(result["parent_run_id"], key, value)
        scope = "task" if per_task else "process"
        client.set_tag(result["parent_run_id"], "peak_memory_scope", scope)
    return {**result, **resources}


def close_parent(
    task_name: str,
    parent_id: str,
    best: dict,
    promoted: bool,
    reason: str,
    detail: str,
    card_summary: str,
) -> dict:
    """Mark the best run, describe the outcome on the parent run (what the UI shows) and
    return the summary row the results table prints."""
    import mlflow

    mlflow.MlflowClient().set_tag(best["run_id"], "champion", str(promoted).lower())
    mlflow.log_metrics(
        {
            f"best_{k}": v
            for k, v in best["metrics"].items()
            if k in {"val_macro_f1", "test_macro_f1", "test_news_f1"}
        }
    )
    description = (
        f"{task_name}: best candidate {best['run_name']} ({detail}). Champion: "
        f"{'yes' if promoted else 'no'}: {reason}. Data: {card_summary}."
    )
    mlflow.set_tags(
        {"mlflow.note.content": description, "best_run": best["run_name"], "promotion": reason}
    )
    return {
        "task": task_name,
        "parent_run_id": parent_id,
        "best": best["run_name"],
        "promoted": promoted,
        "reason": reason,
        **best["metrics"],
    }


def _log_splits(parts: dict[str, pd.DataFrame], task: Task, digest: str, config: Config) -> None:
    from newsclean.dataset import paragraphs_path

    tracking.log_split_datasets(
        parts,
        ["source", "doc_id", "text", task.label],
        task.label,
        f"newsclean-paragraphs-{task.name}",
        digest,
        str(paragraphs_path(config.paths.processed_dir)),
    )


def results_table(results: list[dict]) -> str:
    """The table ``make train`` ends with: one row per task. ``score_name`` says what the val
    and test columns measure (macro-F1 for the classifiers, clean F1 for the cleaner)."""

    def cell(row: dict, key: str, digits: int = 4) -> str:
        value = row.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:.{digits}f}"

    header = (
        "| task | best candidate | metric | val | test | test news F1 | task s | peak MB "
        "| champion |"
    )
    lines = [header, "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(
            f"| {r['task']} | {r['best']} | {r.get('score_name', 'macro-F1')} | "
            f"{cell(r, 'val_macro_f1')} | {cell(r, 'test_macro_f1')} | "
            f"{cell(r, 'test_news_f1')} | {cell(r, 'task_seconds', 0)} | "
            f"{cell(r, 'peak_memory_mb', 0)} | "
            f"{'yes' if r['promoted'] else 'no'} ({r['reason']}) |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ kind

KIND_COLUMNS = ["source", *PAGE_COLUMNS]
PAGE_CORPORA = ["l3s-gn1", "dragnet", "cleaneval", "wcxb", "readability-testpages"]


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
    from newsclean.features import kind_features
    from newsclean.models import (
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

    from newsclean.datacard import summary
    from newsclean.models import NeighbourStack

    rows = frame.assign(kind=frame["kind"].where(frame["kind"].notna(), None))
    train = _cap(rows[rows["split"] == "train"], config.model.max_train_rows, config.data.seed)
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
        _log_splits(splits, TASKS["kind"], digest, config)
        fitted: dict[str, object] = {}
        # What every kind child run needs besides its model: the splits and the run tags.
        context = (train, validation, test, config, digest, card_summary)
        for run_name, role, build, params in kind_candidates(config):
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
        page_table, page_scores = _page_level(
            best, best_model, pages, config, parent.info.run_id, digest, card_summary
        )
        wcxb_types = _wcxb_page_types(best_model, config, digest, card_summary)
        loco, _ = _leave_one_corpus_out(rows, pages, page_scores, config, digest, card_summary)

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

    from newsclean.cleaning import ordered_proba

    model = mlflow.sklearn.load_model(model_uri)
    return kind_selection_score(validation, ordered_proba(model, validation[KIND_COLUMNS], KINDS))


# Second passes over the hierarchical model, by run name: what each one's boosting sees beyond
# the base probabilities and the block's own dense features (``NeighbourStack`` options).
# All share one set of out-of-fold base probabilities, so each costs one boosting fit.
STACK_VIEWS = ("neighbours", "containers", "sequence", "similarity", "css_cues")
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
KIND_WEIGHT_GRID = tuple(float(w) for w in np.exp(np.linspace(-2.5, 1.5, 17)))


def kind_selection_score(frame: pd.DataFrame, proba: np.ndarray) -> float:
    """What candidates are chosen by: mean of macro-F1 (known kinds) and news F1 (all)."""
    from sklearn.metrics import f1_score

    predicted = np.array(KINDS, dtype=object)[proba.argmax(axis=1)]
    known = frame["kind"].notna().to_numpy()
    truth = frame["kind"].to_numpy(dtype=object)[known]
    present = [k for k in KINDS if k in set(truth)]
    macro = f1_score(truth, predicted[known], labels=present, average="macro", zero_division=0)
    news = f1_score(frame["is_news"].to_numpy(dtype=bool), predicted == "news", zero_division=0)
    return float((macro + news) / 2)


def tune_kind_weights(frame: pd.DataFrame, proba: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Per-kind probability weights (news fixed at 1) that maximise the selection score on
    ``frame`` (validation): coordinate search over ``KIND_WEIGHT_GRID``, ties to weight 1."""
    from newsclean.models import reweight

    weights = np.ones(len(KINDS))
    for _ in range(rounds):
        before = weights.copy()
        for j in range(1, len(KINDS)):

            def score(value: float, j: int = j) -> tuple[float, float]:
                trial = weights.copy()
                trial[j] = value
                return round(kind_selection_score(frame, reweight(proba, trial)), 6), -abs(
                    np.log(value)
                )

            weights[j] = max((*KIND_WEIGHT_GRID, 1.0), key=score)
        if np.array_equal(before, weights):
            break
    return weights


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

    from newsclean.models import ReweightedKind, text_rows

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
        _log_splits(
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

    from newsclean.figures import confusion_matrix_figure

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
    corpus's own best p(news) threshold (``evaluation.news_threshold_sweep``), logged on its
    run: how far apart the corpora's boundaries are, and the most its ranking can give each."""
    import matplotlib.pyplot as plt
    import mlflow

    from newsclean.evaluation import news_threshold_sweep
    from newsclean.figures import news_curves_figure

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


def test_pages(test: pd.DataFrame, config: Config) -> list:
    """The test pages of the page-level evaluation: per page corpus, a seeded order of its
    test pages (HTML rows only), the first ``page_eval_max_pages``, raw HTML and gold."""
    from newsclean.sources.pages import load_page

    corpora_dir = config.paths.corpora_dir
    if corpora_dir is None:
        return []
    html = html_rows(test)
    pages = []
    for corpus in PAGE_CORPORA:
        doc_ids = sorted(
            test.loc[html & (test["source"] == corpus), "doc_id"].unique(),
            key=lambda d: hashlib.sha256(f"{config.data.seed}:{d}".encode()).digest(),
        )
        if config.model.page_eval_max_pages:
            doc_ids = doc_ids[: config.model.page_eval_max_pages]
        pages += [p for p in (load_page(corpus, d, corpora_dir) for d in doc_ids) if p]
    return pages


def _page_level(
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

    from newsclean.cleaning import Cleaner
    from newsclean.evaluation import (
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


# Corpora held out one at a time. readability-testpages is scored on all its pages (the
# held-out model saw none of them); it holds the few non-English pages of the corpora.
LOCO_CORPORA = ("l3s-gn1", "dragnet", "cleaneval", "wcxb", "readability-testpages")
LOCO_ALL_PAGES = ("readability-testpages",)
CHAMPION_SYSTEM = "newsclean"
LOCO_SYSTEM = "newsclean (held out)"


def champion_design(config: Config, chars: bool = True, iterations: int | None = None):
    """An unfitted model of the champion's design: the hier-SGD base and the full second pass
    (every ``STACK_VIEWS``), ``iterations`` boosting rounds (default ``stack_iterations``)."""
    from newsclean.features import kind_features
    from newsclean.models import HierarchicalKind, NeighbourStack, linear_classifier

    m, seed = config.model, config.data.seed
    base = HierarchicalKind(
        kind_features(m, chars=chars), linear_classifier(m, seed), linear_classifier(m, seed)
    )
    return NeighbourStack(
        base,
        folds=m.stack_folds,
        seed=seed,
        max_iter=m.stack_iterations if iterations is None else iterations,
        learning_rate=m.stack_learning_rate,
        max_leaf_nodes=m.stack_leaf_nodes,
        **dict.fromkeys(STACK_VIEWS, True),
    )


def loco_model(config: Config):
    """The champion's design, refit cheaper for the leave-one-corpus-out table: no char
    n-grams and ``loco_stack_iterations`` boosting rounds, on at most ``loco_max_train_rows``
    rows; the kind weights are then tuned on validation rows of the other corpora."""
    return champion_design(config, chars=False, iterations=config.model.loco_stack_iterations)


def _loco_pages(corpus: str, rows: pd.DataFrame, pages: list, config: Config) -> list:
    from newsclean.sources.pages import load_page

    if corpus not in LOCO_ALL_PAGES:
        return [p for p in pages if p.corpus == corpus]
    doc_ids = sorted(rows.loc[html_rows(rows) & (rows["source"] == corpus), "doc_id"].unique())
    loaded = (load_page(corpus, d, config.paths.corpora_dir) for d in doc_ids)
    return [p for p in loaded if p is not None]


def _leave_one_corpus_out(
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

    from newsclean.cleaning import Cleaner
    from newsclean.evaluation import PEERS, page_metric_name, score_pages, summarise_pages
    from newsclean.models import ReweightedKind

    m, seed = config.model, config.data.seed
    train_rows = rows[rows["split"] == "train"]
    validation = rows[rows["split"] == "validation"]
    tables, held_out_scores = [], []
    for corpus in LOCO_CORPORA:
        corpus_pages = _loco_pages(corpus, rows, pages, config)
        if not corpus_pages:
            continue
        started = time.perf_counter()
        train = _cap(train_rows[train_rows["source"] != corpus], m.loco_max_train_rows, seed)
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


def _wcxb_page_types(model, config: Config, digest: str, card_summary: str) -> pd.DataFrame:
    """Page F1 per WCXB page type (article, forum, product, listing, ...) on every WCXB test
    page, HTML input, newsclean and the peers: how it does on today's pages that are not
    news articles (the dataset holds only WCXB's articles)."""
    import mlflow

    from newsclean.cleaning import Cleaner
    from newsclean.evaluation import score_pages, summarise_pages
    from newsclean.sources.pages import wcxb_test_pages

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
