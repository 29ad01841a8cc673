"""Test helper: an MLflow store holding runs shaped like ``make train`` logs them.

Each training is a parent run (tag role=parent, the description in ``mlflow.note.content``,
``best_run``, ``promotion``) with child runs tagged role=candidate / baseline / peer / analysis
and the metric names newsclean.train.kind logs. Building it takes MLflow calls only (no model
fitting), so tests of the comparison table and of the UI stay quick.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

KIND_EXPERIMENT = "newsclean-kind"


@dataclass
class Child:
    name: str
    role: str
    metrics: dict[str, float]
    champion: bool | None = None  # the tag training sets on its best candidate


@dataclass
class StoredTraining:
    name: str
    parent_id: str
    children: dict[str, str] = field(default_factory=dict)  # run name -> run id


def store_uri(root: Path) -> str:
    return f"sqlite:///{root / 'mlflow.db'}"


def log_training(
    client, experiment_id: str, name: str, children: list[Child], best: str, promoted: bool
) -> StoredTraining:
    """One parent run and its child runs, tagged the way newsclean.train.kind tags them."""
    parent = client.create_run(experiment_id, run_name=name, tags={"role": "parent"})
    stored = StoredTraining(name, parent.info.run_id)
    for child in children:
        tags = {"role": child.role, "mlflow.parentRunId": parent.info.run_id, "task": "kind"}
        if child.champion is not None:
            tags["champion"] = str(child.champion).lower()
        run = client.create_run(experiment_id, run_name=child.name, tags=tags)
        client.log_param(run.info.run_id, "model", child.name.split(" ")[0])
        for key, value in child.metrics.items():
            client.log_metric(run.info.run_id, key, value)
        client.set_terminated(run.info.run_id)
        stored.children[child.name] = run.info.run_id
    reason = "test_macro_f1 beats the champion" if promoted else "champion kept"
    client.set_tag(
        parent.info.run_id,
        "mlflow.note.content",
        f"kind: best candidate {best}. Champion: {'yes' if promoted else 'no'}: {reason}. "
        "Data: 1,277 paragraphs, 84 documents; digest c0ef91433575.",
    )
    client.set_tag(parent.info.run_id, "best_run", best)
    client.set_tag(parent.info.run_id, "promotion", reason)
    client.set_tag(parent.info.run_id, "dataset_digest", "c0ef91433575aaaa")
    client.set_terminated(parent.info.run_id)
    return stored


def make_champion(client, model_name: str, run_id: str, artifact_uri: str) -> str:
    """Register a version for ``run_id`` and give it the champion alias; return the version."""
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):  # already registered
        client.create_registered_model(model_name)
    version = client.create_model_version(model_name, f"{artifact_uri}/model", run_id=run_id)
    client.set_registered_model_alias(model_name, "champion", version.version)
    return str(version.version)


def build_kind_store(root: Path) -> dict[str, object]:
    """Two kind trainings; the champion is a candidate of the older one (the newer lost)."""
    import mlflow

    uri = store_uri(root)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(
        KIND_EXPERIMENT, artifact_location=(root / "mlruns" / KIND_EXPERIMENT).as_uri()
    )
    older = log_training(
        client,
        experiment_id,
        "train-kind-20260101-090000",
        [
            Child(
                "hier-sgd + all-features",
                "candidate",
                {"val_macro_f1": 0.9234, "test_macro_f1": 0.9112, "test_news_f1": 0.9456},
                champion=True,
            ),
            Child("majority-class", "baseline", {"val_macro_f1": 0.1523, "test_macro_f1": 0.1498}),
        ],
        best="hier-sgd + all-features",
        promoted=True,
    )
    champion_run = client.get_run(older.children["hier-sgd + all-features"])
    version = make_champion(
        client, KIND_EXPERIMENT, champion_run.info.run_id, champion_run.info.artifact_uri
    )
    newer = log_training(
        client,
        experiment_id,
        "train-kind-20260102-090000",
        [
            Child(
                "flat-sgd + word-tfidf",
                "candidate",
                {
                    "val_macro_f1": 0.8811,
                    "val_accuracy": 0.9012,
                    "test_macro_f1": 0.8702,
                    "test_news_f1": 0.9103,
                    "train_seconds": 3.2,
                    "predict_paragraphs_per_s": 51234.0,
                },
            ),
            Child(
                "stack-hgb + neighbours",
                "candidate",
                {
                    "val_macro_f1": 0.9301,
                    "val_accuracy": 0.9388,
                    "test_macro_f1": 0.9021,
                    "test_news_f1": 0.9577,
                    "page_f1_all": 0.9142,
                    "train_seconds": 41.7,
                    "predict_paragraphs_per_s": 8123.0,
                },
                champion=False,
            ),
            Child(
                "rules (hand-written)",
                "baseline",
                {"val_macro_f1": 0.4102, "test_macro_f1": 0.4011, "test_news_f1": 0.6623},
            ),
            Child("trafilatura (page)", "peer", {"page_f1_all": 0.9601}),
            Child("leave-one-corpus-out", "analysis", {"loco_news_f1_wcxb": 0.81}),
        ],
        best="stack-hgb + neighbours",
        promoted=False,
    )
    return {
        "uri": uri,
        "experiment_id": experiment_id,
        "older": older,
        "newer": newer,
        "champion_run_id": champion_run.info.run_id,
        "champion_version": version,
    }
