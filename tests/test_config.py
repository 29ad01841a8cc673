"""newsclean.config: defaults, NEWSCLEAN_* environment, key=value overrides, coercion."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsclean.config import KINDS, PROJECT_ROOT, SPLITS, TOPICS, Config, load_config


def test_defaults():
    config = load_config(environ={})
    assert config.data.seed == 13
    assert config.data.validation_ratio == pytest.approx(0.1)
    assert config.data.test_ratio == pytest.approx(0.1)
    assert config.data.sources == "all"
    assert config.data.align_threshold == pytest.approx(0.5)
    assert config.data.max_docs_per_source == 0
    assert config.paths.sample_dir == PROJECT_ROOT / "data" / "sample"
    assert config.paths.processed_dir == PROJECT_ROOT / "data" / "processed"
    assert config.paths.reports_dir == PROJECT_ROOT / "reports"
    assert config.tracking.tracking_uri == f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
    assert config.tracking.artifact_root == PROJECT_ROOT / "mlruns"
    assert config.tracking.kind_experiment != config.tracking.topic_experiment


def test_default_corpora_dir_is_the_shared_folder_only_when_it_exists():
    candidate = PROJECT_ROOT.parent / "shared" / "corpora"
    expected = candidate if candidate.is_dir() else None
    assert load_config(environ={}).paths.corpora_dir == expected


def test_label_vocabularies():
    assert KINDS == ("news", "teaser", "spam", "boilerplate")
    assert set(TOPICS) == {"world", "business", "sci_tech", "sports", "entertainment", "lifestyle"}
    assert SPLITS == ("train", "validation", "test")


def test_defaults_are_not_shared_between_instances():
    first, second = Config(), Config()
    first.set("data.seed", "99")
    assert second.data.seed == 13


def test_environment_overrides_defaults():
    config = load_config(
        environ={
            "NEWSCLEAN_SEED": "7",
            "NEWSCLEAN_TRACKING_URI": "http://127.0.0.1:5001",
            "NEWSCLEAN_MAX_DOCS_PER_SOURCE": "25",
            "NEWSCLEAN_C": "2.5",
            "UNRELATED_SEED": "1",
        }
    )
    assert config.data.seed == 7
    assert config.tracking.tracking_uri == "http://127.0.0.1:5001"
    assert config.data.max_docs_per_source == 25
    assert pytest.approx(2.5) == config.model.C


def test_empty_environment_value_is_ignored():
    assert load_config(environ={"NEWSCLEAN_SEED": ""}).data.seed == 13


def test_process_environment_is_read_when_environ_is_none(monkeypatch):
    monkeypatch.setenv("NEWSCLEAN_SEED", "21")
    assert load_config().data.seed == 21


def test_overrides_beat_environment():
    config = load_config(["data.seed=3"], environ={"NEWSCLEAN_SEED": "7"})
    assert config.data.seed == 3


def test_dotted_and_bare_overrides():
    config = load_config(
        ["data.seed=5", "max_train_rows=100", "model.C=0.5", " align_threshold = 0.7 "],
        environ={},
    )
    assert config.data.seed == 5
    assert config.model.max_train_rows == 100
    assert pytest.approx(0.5) == config.model.C
    assert config.data.align_threshold == pytest.approx(0.7)


def test_string_override_keeps_equals_signs_in_the_value():
    config = load_config(["tracking_uri=http://host:5000/?a=b"], environ={})
    assert config.tracking.tracking_uri == "http://host:5000/?a=b"


@pytest.mark.parametrize(
    "override", ["data.no_such_field=1", "no_such_field=1", "nosection.seed=1", "paths.seed=1"]
)
def test_unknown_key_is_a_key_error(override):
    with pytest.raises(KeyError):
        load_config([override], environ={})


@pytest.mark.parametrize(
    "override", ["data.seed=abc", "data.seed=1.5", "data.align_threshold=high", "model.C="]
)
def test_bad_value_is_a_value_error(override):
    with pytest.raises(ValueError, match="setting"):
        load_config([override], environ={})


def test_bad_environment_value_is_a_value_error():
    with pytest.raises(ValueError):
        load_config(environ={"NEWSCLEAN_SEED": "seven"})


def test_override_without_equals_sign_is_a_value_error():
    with pytest.raises(ValueError, match="key=value"):
        load_config(["data.seed"], environ={})


@pytest.mark.parametrize("raw", ["none", "None", "NULL", ""])
def test_none_means_no_corpora_dir(raw):
    config = load_config([f"paths.corpora_dir={raw}"], environ={})
    assert config.paths.corpora_dir is None


def test_none_from_environment_means_no_corpora_dir():
    config = load_config(environ={"NEWSCLEAN_CORPORA_DIR": "none"})
    assert config.paths.corpora_dir is None


def test_absolute_path_is_kept(tmp_path):
    config = load_config([f"paths.corpora_dir={tmp_path}"], environ={})
    assert config.paths.corpora_dir == tmp_path
    assert isinstance(config.paths.corpora_dir, Path)


def test_relative_path_is_resolved_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(
        ["paths.reports_dir=out/../reports", "paths.corpora_dir=corpora"],
        environ={"NEWSCLEAN_PROCESSED_DIR": "processed"},
    )
    root = tmp_path.resolve()
    assert config.paths.reports_dir == root / "reports"
    assert config.paths.corpora_dir == root / "corpora"
    assert config.paths.processed_dir == root / "processed"
    assert config.paths.reports_dir.is_absolute()


def test_home_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load_config(["paths.reports_dir=~/reports"], environ={})
    assert config.paths.reports_dir == tmp_path / "reports"


def test_as_flat_dict_lists_every_field_as_strings():
    flat = load_config(["data.seed=8"], environ={}).as_flat_dict()
    assert flat["data.seed"] == "8"
    assert flat["paths.sample_dir"] == str(PROJECT_ROOT / "data" / "sample")
    assert "tracking.tracking_uri" in flat and "model.C" in flat
    assert all(isinstance(v, str) for v in flat.values())


def test_tmp_config_fixture_writes_nowhere_in_the_repo(tmp_config, tmp_path):
    assert tmp_config.paths.corpora_dir is None
    assert tmp_config.paths.sample_dir == PROJECT_ROOT / "data" / "sample"
    for path in (
        tmp_config.paths.processed_dir,
        tmp_config.paths.reports_dir,
        tmp_config.tracking.artifact_root,
    ):
        assert path.is_relative_to(tmp_path)
    assert tmp_config.tracking.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
