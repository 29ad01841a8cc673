"""Helpers for the cleaner tests: a cleaner trained on the bundled sample in a temporary store.

Fitting small models directly (not ``newsclean.train.pipeline.train_all``) keeps the session
fixture at a few seconds; the cleaner is then built, logged, registered and promoted exactly
as ``make train`` does it (``build_and_register_cleaner``).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from newsclean.config import Config, load_config

FIXTURES = Path(__file__).parent / "fixtures"
CLEAN_INPUTS = FIXTURES / "clean_inputs"
CLEAN_BENCH = FIXTURES / "clean_bench"


@dataclass
class TrainedStore:
    config: Config
    root: Path
    summary: dict
    fast_summary: dict | None = None

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (``newsclean clean``, ``make serve``) on this store."""
        return {
            **os.environ,
            "NEWSCLEAN_TRACKING_URI": self.config.tracking.tracking_uri,
            "NEWSCLEAN_ARTIFACT_ROOT": str(self.config.tracking.artifact_root),
            "NEWSCLEAN_PROCESSED_DIR": str(self.config.paths.processed_dir),
            "NEWSCLEAN_REPORTS_DIR": str(self.config.paths.reports_dir),
            "NEWSCLEAN_CORPORA_DIR": "none",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "PYTHONWARNINGS": "ignore",
        }


def overrides(root: Path) -> list[str]:
    """Every path and the tracking store under ``root`` (the tests' usual settings)."""
    from tests.conftest import config_overrides

    return config_overrides(root)


def train_sample_store(root: Path) -> TrainedStore:
    """Build the sample dataset, fit a kind and a topic model on its training split, register
    them as champions and build the cleaner (and the fast profile) over them."""
    import mlflow

    from newsclean import tracking
    from newsclean.data import dataset
    from newsclean.ml.features import kind_features
    from newsclean.ml.kind import KIND_COLUMNS, HierarchicalKind, linear_classifier
    from newsclean.ml.topic import TopicTagger
    from newsclean.train.cleaner import build_and_register_cleaner
    from newsclean.train.fast import build_and_register_fast_cleaner

    config = load_config(overrides(root), environ={})
    config.model.min_df = 1
    config.model.fast_stack_iterations = 20  # the fast profile's second pass, kept small here
    frame, card = dataset.build(config)
    digest = dataset.load_digest(config.paths.processed_dir)
    tracking.configure(config)
    train = frame[frame["split"] == "train"]
    kind = HierarchicalKind(
        kind_features(config.model),
        linear_classifier(config.model, 13),
        linear_classifier(config.model, 13),
    ).fit(train[KIND_COLUMNS], train["kind"].fillna("unknown").to_numpy(dtype=object))
    topic_rows = train[train["topic"].notna()]
    topic = TopicTagger(min_df=1, calibration="none", seed=13).fit(topic_rows, topic_rows["topic"])
    for name, model in (("newsclean-kind", kind), ("newsclean-topic", topic)):
        tracking.experiment(config, name)
        with mlflow.start_run(run_name=f"test {name}") as run:
            logged = mlflow.sklearn.log_model(
                model,
                name="model",
                pip_requirements=tracking.pinned_requirements(),
                serialization_format="cloudpickle",
            )
        challenger = tracking.Challenger(
            logged.model_uri, run.info.run_id, digest, "sample", "val_macro_f1", 0.5
        )
        tracking.promote(name, challenger, lambda uri: 0.0)
    summary = build_and_register_cleaner(config, digest, card)
    fast_summary = build_and_register_fast_cleaner(config, digest, card)
    return TrainedStore(config, root, summary, fast_summary)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
