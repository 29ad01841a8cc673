"""The comparison table (`make compare`, `newsclean compare`) and the MLflow UI's saved view."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from mlflow_runs import KIND_EXPERIMENT, build_kind_store
from newsclean.config import PROJECT_ROOT, load_config
from newsclean.tools import cli, compare


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("compare_store")
    built = build_kind_store(root)
    built["config"] = load_config(
        [f"tracking.tracking_uri={built['uri']}", f"tracking.artifact_root={root / 'mlruns'}"],
        environ={},
    )
    built["root"] = root
    return built


def _line_of(text: str, run: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(run))


@pytest.mark.slow
def test_trainings_newest_first_with_children_champion_and_best(store):
    comparison = compare.compare_experiment(store["config"], KIND_EXPERIMENT, last=3)
    assert [t.name for t in comparison.trainings] == [store["newer"].name, store["older"].name]
    newer = comparison.trainings[0]
    # Candidates first (best on validation first), then baselines, then peers; analyses left out.
    assert list(newer.children["run"]) == [
        "stack-hgb + neighbours",
        "flat-sgd + word-tfidf",
        "rules (hand-written)",
        "trafilatura (page)",
    ]
    assert list(newer.children["role"]) == ["candidate", "candidate", "baseline", "peer"]
    assert newer.children.loc[0, "status"] == "best"  # chosen, but it did not beat the champion
    assert "Champion: no" in newer.description
    champion = comparison.champion
    assert champion.run_id == store["champion_run_id"]
    assert champion.version == store["champion_version"]
    assert champion.training == store["older"].name
    older = comparison.trainings[1].children.set_index("run")
    assert older.loc["hier-sgd + all-features", "status"] == "champion"
    # Only metrics some run has are shown, in the fixed order.
    assert comparison.metrics == [
        "val_macro_f1",
        "val_accuracy",
        "test_macro_f1",
        "test_news_f1",
        "page_f1_all",
        "train_seconds",
        "predict_paragraphs_per_s",
    ]


@pytest.mark.slow
def test_text_table_answers_which_model_is_best_and_why(store):
    text = compare.main(store["config"], last=3)
    assert f"== {KIND_EXPERIMENT}: the last 2 trainings, newest first ==" in text
    assert "champion: models:/newsclean-kind@champion = version 1" in text
    assert "run 'hier-sgd + all-features' of train-kind-20260101-090000" in text
    assert "Champion: no: champion kept" in text  # the parent's description, under its name
    header = _line_of(text, "run ")
    for metric in ("val_macro_f1", "test_macro_f1", "test_news_f1", "page_f1_all"):
        assert metric in header
    best = _line_of(text, "stack-hgb + neighbours")
    assert "best" in best and "0.9301" in best and "0.9577" in best and "8,123" in best
    assert "0.9601" in _line_of(text, "trafilatura (page)")
    assert "leave-one-corpus-out" not in text
    assert "== newsclean-topic: no trainings yet ==" in text
    assert "no runs yet: run `make train` first" in text


@pytest.mark.slow
def test_an_older_champion_is_shown_when_its_training_is_not_among_the_last(store):
    comparison = compare.compare_experiment(store["config"], KIND_EXPERIMENT, last=1)
    assert [t.name for t in comparison.trainings] == [store["newer"].name]
    assert comparison.champion_training.name == store["older"].name
    assert list(comparison.champion_training.children["run"]) == ["hier-sgd + all-features"]
    text = compare.render_text([comparison], last=1)
    assert "train-kind-20260101-090000 (older training; the champion's run only)" in text
    assert "majority-class" not in text
    table = comparison.table()
    assert set(table["training"]) == {store["newer"].name, store["older"].name}


@pytest.mark.slow
def test_markdown_and_cli(store, monkeypatch, capsys):
    markdown = compare.main(store["config"], last=3, fmt="markdown")
    assert "| training | run | role | status | val_macro_f1 |" in markdown
    assert "| train-kind-20260101-090000 | hier-sgd + all-features | candidate | champion |" in (
        markdown
    )
    monkeypatch.setenv("NEWSCLEAN_TRACKING_URI", store["uri"])
    monkeypatch.setenv("NEWSCLEAN_ARTIFACT_ROOT", str(store["root"] / "mlruns"))
    assert cli.main(["compare", "--last", "1", "--experiment", KIND_EXPERIMENT]) == 0
    out = capsys.readouterr().out
    assert "the last 1 training," in out and "stack-hgb + neighbours" in out
    assert "newsclean-topic" not in out


@pytest.mark.slow
def test_make_compare_prints_the_table(store):
    env = {
        **os.environ,
        "NEWSCLEAN_ARTIFACT_ROOT": str(store["root"] / "mlruns"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    done = subprocess.run(
        ["make", "-s", "compare", f"TRACKING_URI={store['uri']}", "LAST=2"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "the last 2 trainings" in done.stdout
    assert "hier-sgd + all-features" in done.stdout


@pytest.mark.slow
def test_an_empty_store_says_what_to_do(tmp_path):
    config = load_config(
        [
            f"tracking.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
            f"tracking.artifact_root={tmp_path / 'mlruns'}",
        ],
        environ={},
    )
    text = compare.main(config)
    assert text.count("no runs yet: run `make train` first") == 2
    assert "champion: none registered yet" in text


def test_view_state_shows_key_metrics_as_columns_and_charts():
    state = compare.view_state(["val_macro_f1", "test_macro_f1", "page_f1_all"])
    assert state["orderByKey"] == "metrics.`val_macro_f1`" and state["orderByAsc"] is False
    assert state["selectedColumns"][:3] == [
        "metrics.`val_macro_f1`",
        "metrics.`test_macro_f1`",
        "metrics.`page_f1_all`",
    ]
    assert "tags.`promotion`" in state["selectedColumns"]
    assert "tags.`champion`" in state["selectedColumns"]
    charts = {c["metricKey"] for c in state["compareRunCharts"] if c["type"] == "BAR"}
    assert charts == {"val_macro_f1", "test_macro_f1", "page_f1_all"}
    sections = {s["uuid"] for s in state["compareRunSections"]}
    assert {c["metricSectionId"] for c in state["compareRunCharts"]} <= sections
    # The kind task chooses on its selection score when it logs one.
    assert compare.view_state(["val_selection_score", "val_macro_f1"])["orderByKey"] == (
        "metrics.`val_selection_score`"
    )


def test_compare_url_is_what_the_ui_builds():
    url = compare.compare_url("http://127.0.0.1:5000/", ["a1", "b2"], ["3"])
    assert url.startswith("http://127.0.0.1:5000/#/compare-runs?runs=")
    query = urllib.parse.parse_qs(url.split("?", 1)[1])
    assert json.loads(query["runs"][0]) == ["a1", "b2"]
    assert json.loads(query["experiments"][0]) == ["3"]


@pytest.mark.slow
def test_install_views_writes_the_shared_view_tag(store):
    import mlflow

    found = compare.install_views(store["config"])
    kind = next(c for c in found if c.name == KIND_EXPERIMENT)
    client = mlflow.MlflowClient(tracking_uri=store["uri"])
    tags = client.get_experiment(kind.experiment_id).tags
    state = json.loads(tags[compare.VIEW_TAG])
    assert "metrics.`page_f1_all`" in state["selectedColumns"]
    links = compare.ui_links("http://127.0.0.1:5000", kind)
    assert links["runs"].endswith(
        f"/#/experiments/{kind.experiment_id}/runs?workflowType=machine_learning"
        f"&viewStateShareKey={compare.VIEW_KEY}"
    )
    assert links["charts"].endswith("&compareRunsMode=CHART")
    latest = json.loads(
        urllib.parse.unquote(links["compare_latest"].split("runs=")[1].split("&")[0])
    )
    assert set(latest) == set(store["newer"].children.values()) - {
        store["newer"].children["leave-one-corpus-out"]
    }
    assert Path(store["root"]).exists()
