"""Training: fit each candidate per task, evaluate, log to MLflow, promote the best.

One parent run per ``make train`` and task, one child run per candidate, so the MLflow UI's
compare view lines them up. Candidates are chosen on the validation split only; the test
split is scored for the report and for the champion rule, never for choosing.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from newsclean import dataset, tracking
from newsclean.config import KINDS, TOPICS, Config
from newsclean.evaluation import (
    classification_metrics,
    confusion_figure,
    news_f1,
    per_source_report,
    worst_errors,
)
from newsclean.features import INPUT_COLUMNS
from newsclean.models import tfidf_logreg


@dataclass(frozen=True)
class Candidate:
    run_name: str  # model + feature set, as the UI shows it
    build: Callable[[Config], object]
    params: dict[str, object]


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


def candidates(config: Config) -> list[Candidate]:
    model = config.model
    return [
        Candidate(
            run_name=f"logreg + word-tfidf-1-{model.ngram_max}g",
            build=lambda c: tfidf_logreg(c.model, c.data.seed),
            params={
                "model": "logistic_regression",
                "features": "word_tfidf",
                "ngram_max": model.ngram_max,
                "max_features": model.max_features,
                "min_df": model.min_df,
                "C": model.C,
                "max_iter": model.max_iter,
                "class_weight": "balanced",
            },
        )
    ]


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
    for name in tasks or TASKS:
        if name == "topic":
            from newsclean import topics  # the topic tagger has its own training flow

            results.append(topics.train_topic(frame, config, digest, card))
        else:
            results.append(train_task(TASKS[name], frame, config, digest, card))
    return results


def train_task(task: Task, frame: pd.DataFrame, config: Config, digest: str, card: dict) -> dict:
    import mlflow

    from newsclean.datacard import summary

    rows = task.rows(frame)
    train = _cap(rows[rows["split"] == "train"], config.model.max_train_rows, config.data.seed)
    validation = rows[rows["split"] == "validation"]
    test = rows[rows["split"] == "test"]
    if train.empty or validation.empty:
        raise ValueError(f"task {task.name}: no {task.label} labels in train or validation")
    card_summary = summary(card) if card else "no data card"
    tracking.experiment(config, task.experiment(config))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = []
    with mlflow.start_run(run_name=f"train-{task.name}-{stamp}") as parent:
        mlflow.set_tags({**tracking.run_tags(digest, card_summary), "role": "parent"})
        mlflow.log_params(
            {
                "task": task.name,
                "seed": config.data.seed,
                "n_train": len(train),
                "n_validation": len(validation),
                "n_test": len(test),
            }
        )
        _log_dataset(train, task, digest, "train")
        for candidate in candidates(config):
            results.append(
                _run_candidate(
                    candidate, task, config, train, validation, test, digest, card_summary
                )
            )
        best = max(results, key=lambda r: r["metrics"]["val_macro_f1"])
        promoted, reason = tracking.promote_if_better(
            task.registered_model,
            best["model_uri"],
            "test_macro_f1",
            best["metrics"]["test_macro_f1"],
            digest,
            best["run_id"],
        )
        mlflow.MlflowClient().set_tag(best["run_id"], "champion", str(promoted).lower())
        mlflow.log_metrics(
            {
                f"best_{k}": v
                for k, v in best["metrics"].items()
                if k in {"val_macro_f1", "test_macro_f1", "test_news_f1"}
            }
        )
        description = (
            f"{task.name}: best candidate {best['run_name']} "
            f"(val macro-F1 {best['metrics']['val_macro_f1']:.4f}, "
            f"test macro-F1 {best['metrics']['test_macro_f1']:.4f}). "
            f"Champion: {'yes' if promoted else 'no'}: {reason}. Data: {card_summary}."
        )
        mlflow.set_tags(
            {"mlflow.note.content": description, "best_run": best["run_name"], "promotion": reason}
        )
    return {
        "task": task.name,
        "parent_run_id": parent.info.run_id,
        "best": best["run_name"],
        "promoted": promoted,
        "reason": reason,
        **best["metrics"],
    }


def _log_dataset(train: pd.DataFrame, task: Task, digest: str, context: str) -> None:
    import mlflow

    columns = ["source", "doc_id", "text", task.label]
    data = mlflow.data.from_pandas(
        train[columns].reset_index(drop=True),
        source="data/processed/paragraphs.parquet",
        targets=task.label,
        name=f"newsclean-paragraphs-{task.name}",
        digest=digest[:16],
    )
    mlflow.log_input(data, context=context)


def _run_candidate(
    candidate: Candidate,
    task: Task,
    config: Config,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    digest: str,
    card_summary: str,
) -> dict:
    import mlflow
    from mlflow.models import infer_signature

    labels = list(task.labels)
    with mlflow.start_run(run_name=candidate.run_name, nested=True) as run:
        mlflow.set_tags(
            {**tracking.run_tags(digest, card_summary), "role": "candidate", "task": task.name}
        )
        mlflow.log_params(
            {**candidate.params, "task": task.name, "seed": config.data.seed, "n_train": len(train)}
        )
        model = candidate.build(config)
        started = time.perf_counter()
        model.fit(train[INPUT_COLUMNS], train[task.label])
        metrics = {"train_seconds": time.perf_counter() - started}

        started = time.perf_counter()
        val_pred = model.predict(validation[INPUT_COLUMNS])
        metrics["predict_paragraphs_per_s"] = len(validation) / (time.perf_counter() - started)
        test_pred = model.predict(test[INPUT_COLUMNS]) if len(test) else np.array([])
        metrics.update(classification_metrics(validation[task.label], val_pred, labels, "val"))
        if len(test):
            metrics.update(classification_metrics(test[task.label], test_pred, labels, "test"))
        if task.name == "kind":
            metrics["val_news_f1"] = news_f1(validation[task.label], val_pred)
            if len(test):
                metrics["test_news_f1"] = news_f1(test[task.label], test_pred)
        metrics.setdefault("test_macro_f1", float("nan"))
        mlflow.log_metrics(metrics)

        evaluated = validation.assign(predicted=val_pred)
        probability = model.predict_proba(validation[INPUT_COLUMNS])
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            per_source_report(evaluated, task.label, "predicted", labels).to_csv(
                out / "per_source_validation.csv", index=False
            )
            worst_errors(
                evaluated, task.label, "predicted", probability, list(model.classes_)
            ).to_csv(out / "worst_errors_validation.csv", index=False)
            (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
            mlflow.log_artifacts(tmp, artifact_path="reports")
        figure = confusion_figure(
            validation[task.label],
            val_pred,
            labels,
            f"{task.name}: {candidate.run_name} (validation)",
        )
        mlflow.log_figure(figure, "confusion_matrix_validation.png")

        example = validation[INPUT_COLUMNS].head(5).reset_index(drop=True)
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=example,
            signature=infer_signature(example, model.predict(example)),
            pip_requirements=tracking.pinned_requirements(),
            # skops spent minutes walking a large TF-IDF vocabulary; cloudpickle takes a second.
            serialization_format="cloudpickle",
        )
    return {
        "run_id": run.info.run_id,
        "run_name": candidate.run_name,
        "model_uri": logged.model_uri,
        "metrics": metrics,
    }


def results_table(results: list[dict]) -> str:
    header = "| task | best candidate | val macro-F1 | test macro-F1 | test news F1 | champion |"
    lines = [header, "|---|---|---:|---:|---:|---|"]
    for r in results:
        news = f"{r['test_news_f1']:.4f}" if "test_news_f1" in r else "-"
        lines.append(
            f"| {r['task']} | {r['best']} | {r['val_macro_f1']:.4f} | "
            f"{r['test_macro_f1']:.4f} | {news} | {'yes' if r['promoted'] else 'no'}"
            f" ({r['reason']}) |"
        )
    return "\n".join(lines)
