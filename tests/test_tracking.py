"""Tracking: the champion alias moves only for a better model on the same validation data."""

from __future__ import annotations

import mlflow
import pytest
from sklearn.dummy import DummyClassifier

from newsclean import tracking
from newsclean.config import load_config
from tests.conftest import config_overrides


@pytest.fixture
def store(tmp_path):
    config = load_config(overrides=config_overrides(tmp_path), environ={})
    tracking.configure(config)
    tracking.experiment(config, "newsclean-test")
    return config


def _logged_model() -> tuple[str, str]:
    with mlflow.start_run() as run:
        model = DummyClassifier().fit([[0], [1]], ["a", "b"])
        logged = mlflow.sklearn.log_model(
            model, name="model", pip_requirements=tracking.pinned_requirements()
        )
    return logged.model_uri, run.info.run_id


@pytest.mark.slow
def test_store_is_the_configured_one(store, tmp_path):
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment = mlflow.get_experiment_by_name("newsclean-test")
    assert experiment.artifact_location.startswith((tmp_path / "mlruns").as_uri())


# -- the champion rule on validation (tracking.promote) -------------------------------------
def _challenger(value: float, data: str = "corpora", digest: str = "d1") -> tracking.Challenger:
    uri, run_id = _logged_model()
    return tracking.Challenger(uri, run_id, digest, data, "val_score", value)


def _scores(value: float):
    return lambda uri: value


@pytest.mark.slow
def test_promotion_decides_on_the_champions_score_on_the_same_validation_data(store):
    promoted, reason = tracking.promote("m", _challenger(0.80), _scores(0.0))
    assert promoted and reason == "no champion yet"
    # Worse than the champion scored on the challenger's own validation split: kept.
    promoted, reason = tracking.promote("m", _challenger(0.81), _scores(0.85))
    assert not promoted and "champion kept" in reason and "0.8500" in reason
    assert int(tracking.champion_version("m").version) == 1
    # Better: moves, whatever the two models scored on their own data before.
    promoted, reason = tracking.promote("m", _challenger(0.86, digest="d2"), _scores(0.85))
    assert promoted and "promoted" in reason
    version = tracking.champion_version("m")
    assert int(version.version) == 3
    assert version.tags["promotion"] == reason and version.tags["champion_val_score"] == "0.850000"


@pytest.mark.slow
def test_a_sample_training_never_displaces_a_corpora_champion(store):
    tracking.promote("m", _challenger(0.70, data="corpora"), _scores(0.0))
    promoted, reason = tracking.promote("m", _challenger(0.99, data="sample"), _scores(0.1))
    assert not promoted and "sample" in reason
    client = mlflow.MlflowClient()
    assert int(tracking.champion_version("m").version) == 1
    assert int(client.get_model_version_by_alias("m", tracking.SAMPLE_ALIAS).version) == 2


@pytest.mark.slow
def test_force_and_never_and_a_champion_that_cannot_score(store):
    tracking.promote("m", _challenger(0.90), _scores(0.0))

    def cannot_score(uri):
        raise KeyError("column css_tokens")

    promoted, reason = tracking.promote("m", _challenger(0.95), cannot_score)
    assert not promoted and "cannot score" in reason and "css_tokens" in reason
    promoted, reason = tracking.promote("m", _challenger(0.95), _scores(0.1), mode="never")
    assert not promoted and "--promote never" in reason
    assert int(tracking.champion_version("m").version) == 1
    promoted, reason = tracking.promote("m", _challenger(0.10), _scores(0.9), mode="force")
    assert promoted and "forced" in reason and "v1" in reason
    version = tracking.champion_version("m")
    assert int(version.version) == 4 and version.tags["promotion"] == reason
    with pytest.raises(ValueError, match="promote mode"):
        tracking.promote("m", _challenger(0.5), _scores(0.1), mode="sometimes")


def test_runs_carry_mlflows_standard_git_tags():
    tags = tracking.run_tags("digest", "card")
    assert tags["dataset_digest"] == "digest"
    assert len(tags["mlflow.source.git.commit"]) == 40
    assert tags["mlflow.source.git.commit"].startswith(tags["git_commit"].split("-")[0])


def test_artifact_progress_bars_are_off_when_output_is_not_a_terminal(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    tracking.configure(load_config(overrides=config_overrides(tmp_path), environ={}))
    import os

    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"


@pytest.mark.slow
def test_another_alias_is_a_line_of_champions_of_its_own(store):
    tracking.promote("m", _challenger(0.90), _scores(0.0))
    promoted, reason = tracking.promote("m", _challenger(0.70), _scores(0.0), alias="fast")
    assert promoted and reason == "no 'fast' yet"
    promoted, reason = tracking.promote("m", _challenger(0.60), _scores(0.65), alias="fast")
    assert not promoted and "'fast' kept" in reason
    promoted, reason = tracking.promote(
        "m", _challenger(0.99, "sample"), _scores(0.1), alias="fast"
    )
    assert not promoted and "sample" in reason and "alias" not in reason
    client = mlflow.MlflowClient()
    assert int(tracking.champion_version("m").version) == 1  # the champion line is untouched
    assert int(tracking.champion_version("m", "fast").version) == 2
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias("m", tracking.SAMPLE_ALIAS)  # not moved by 'fast'
