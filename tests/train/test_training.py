"""End to end: build the sample dataset, train the kind models into a temporary MLflow store."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from newsclean import tracking
from newsclean.config import load_config
from newsclean.data.dataset import build
from newsclean.train.kind import STACKS
from newsclean.train.pipeline import train_all
from newsclean.train.runs import results_table
from tests.conftest import config_overrides

KEY_METRICS = {
    "test_macro_f1",
    "test_news_f1",
    "test_news_f1_chars",
    "val_macro_f1",
    "train_seconds",
    "predict_paragraphs_per_s",
}


def _sample_config(tmp):
    return load_config(
        overrides=[
            *config_overrides(tmp),
            "model.sgd_alpha=0.001",
            "model.stack_folds=2",
            "model.stack_iterations=20",
        ],
        environ={},
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    config = _sample_config(tmp_path_factory.mktemp("train"))
    build(config)
    results = train_all(config, ["kind"])
    return config, results


# Figures that measure the machine, not the model.
_MACHINE_METRICS = ("_seconds", "_per_s", "memory_mb")


def _assert_same_figures(runs: list[dict], again: dict[str, dict]) -> None:
    """Every figure of every candidate run equal to 1e-9 (machine figures left out)."""
    before = {r["run_name"]: r for r in runs}
    assert before.keys() == again.keys()
    for name, run in before.items():
        for key, value in run.items():
            if isinstance(value, float) and not key.endswith(_MACHINE_METRICS):
                assert again[name][key] == pytest.approx(value, abs=1e-9, nan_ok=True), (name, key)


@pytest.mark.slow
def test_one_thread_and_two_threads_give_identical_metrics(trained, tmp_path):
    """Reproducible: the same data and seed give the same figures whatever the thread count
    (OpenMP and BLAS pools limited to one thread here; the fixture ran with the default)."""
    from threadpoolctl import threadpool_limits

    _, results = trained
    config = _sample_config(tmp_path)
    build(config)
    with threadpool_limits(limits=1):
        again = train_all(config, ["kind"])
    _assert_same_figures(results[0]["all_runs"], {r["run_name"]: r for r in again[0]["all_runs"]})


_TRAIN_IN_A_FRESH_PROCESS = """
import json, sys
from newsclean.data.dataset import build
from newsclean.train.pipeline import train_all
from tests.train.test_training import _sample_config
config = _sample_config(__import__("pathlib").Path(sys.argv[1]))
build(config)
runs = train_all(config, ["kind"])[0]["all_runs"]
floats = {r["run_name"]: {k: v for k, v in r.items() if isinstance(v, float)} for r in runs}
print(json.dumps(floats))
"""


@pytest.mark.slow
def test_another_process_with_another_hash_seed_gives_identical_metrics(trained, tmp_path):
    """What another machine does: a fresh interpreter with another string-hash seed (set and
    dict order of strings) and another thread count trains to the same figures."""
    import json
    import os
    import subprocess
    import sys

    from newsclean.config import PROJECT_ROOT

    _, results = trained
    env = {
        **os.environ,
        "PYTHONHASHSEED": "12345",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "src"), str(PROJECT_ROOT)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN_IN_A_FRESH_PROCESS, str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_same_figures(results[0]["all_runs"], json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_parent_run_logs_seed_versions_and_threads(trained):
    config, results = trained
    tracking.configure(config)
    parent = mlflow.get_run(results[0]["parent_run_id"])
    assert parent.data.params["seed"] == str(config.data.seed)
    assert parent.data.params["version_scikit-learn"]
    assert any(k.startswith("threads_") for k in parent.data.params)


@pytest.mark.slow
def test_candidates_log_their_splits_and_their_metrics_on_the_logged_model(trained):
    """MLflow as its users read it: each candidate run names the rows it was fitted, chosen and
    scored on (dataset inputs with their context), and its LoggedModel carries its metrics."""
    config, _ = trained
    tracking.configure(config)
    experiment = mlflow.get_experiment_by_name(config.tracking.kind_experiment)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    candidates = [r for r in runs if r.data.tags.get("role") == "candidate"]
    assert candidates
    for run in candidates:
        contexts = {
            tag.value
            for entry in run.inputs.dataset_inputs
            for tag in entry.tags
            if tag.key == "mlflow.data.context"
        }
        assert contexts == {"train", "validation", "test"}, run.info.run_name
    models = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id], output_format="list"
    )
    assert len(models) == len(candidates)
    for model in models:
        names = {m.key for m in model.metrics or []}
        assert {"val_selection_score", "val_macro_f1", "test_news_f1"} <= names


@pytest.mark.slow
def test_kind_parent_and_child_runs_are_logged(trained):
    config, results = trained
    tracking.configure(config)
    experiment = mlflow.get_experiment_by_name(config.tracking.kind_experiment)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    parents = [r for r in runs if r.data.tags.get("role") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(parents) == 1
    assert parents[0].data.tags["mlflow.note.content"].startswith("kind: best candidate")
    # The whole task's cost sits on the parent run, the figures the note reports.
    assert parents[0].data.metrics["peak_memory_mb"] > 50
    assert parents[0].data.metrics["task_seconds"] > 0
    assert parents[0].data.tags["peak_memory_scope"] in {"task", "process"}
    names = {r.info.run_name for r in children}
    assert {
        "majority-class",
        "rules (hand-written)",
        "justext (paragraphs)",
        "hier-sgd + all-features",
        *STACKS,
    } <= names
    # The weights are tuned on whichever stack is best on validation.
    assert any(n.startswith("stack-hgb") and n.endswith(" + val-weights") for n in names)
    reweighted = next(r for r in children if r.info.run_name.endswith("val-weights"))
    assert reweighted.data.params["weight_news"] == "1.0"
    assert {"weight_teaser", "weight_spam", "weight_boilerplate"} <= set(reweighted.data.params)
    for run in children:
        if run.data.tags["role"] in {"candidate", "baseline"}:
            assert set(run.data.metrics) >= KEY_METRICS, run.info.run_name
            assert run.data.tags["dataset_digest"] == parents[0].data.tags["dataset_digest"]


@pytest.mark.slow
def test_best_candidate_is_registered_as_champion(trained):
    config, results = trained
    tracking.configure(config)
    version = tracking.champion_version("newsclean-kind")
    assert version is not None
    model = mlflow.sklearn.load_model("models:/newsclean-kind@champion")
    import pandas as pd

    predicted = model.predict(
        pd.DataFrame({"text": ["Share this article", "The council approved the budget."]})
    )
    assert len(predicted) == 2
    assert results[0]["promoted"] is True
    table = results_table(results)
    assert "kind" in table and "peak MB" in table and "| macro-F1 |" in table
    assert f"| {results[0]['peak_memory_mb']:.0f} |" in table


def test_tuned_weights_fix_an_over_predicted_kind():
    """A model that calls some news 'spam' with p 0.6: down-weighting spam on validation fixes
    it, and the weights of kinds that do not matter stay at 1."""
    import numpy as np
    import pandas as pd

    from newsclean.ml.kind import reweight, tune_kind_weights
    from newsclean.ml.metrics import kind_selection_score

    frame = pd.DataFrame(
        {
            "kind": ["news"] * 6 + ["spam"] * 3 + ["boilerplate"] * 3 + [None] * 2,
            "is_news": [True] * 6 + [False] * 8,
        }
    )
    # columns: news, teaser, spam, boilerplate
    proba = np.array(
        [[0.9, 0.0, 0.1, 0.0]] * 3
        + [[0.4, 0.0, 0.6, 0.0]] * 3  # news that looks a bit like spam
        + [[0.1, 0.0, 0.9, 0.0]] * 3
        + [[0.1, 0.0, 0.0, 0.9]] * 3
        + [[0.2, 0.0, 0.0, 0.8]] * 2
    )
    weights = tune_kind_weights(frame, proba)
    assert weights[0] == 1.0 and weights[1] == 1.0
    assert 0.1 < weights[2] < 0.67  # 0.4 > 0.6 w and 0.1 < 0.9 w
    assert kind_selection_score(frame, reweight(proba, weights)) == 1.0
    assert kind_selection_score(frame, proba) < 1.0


def test_news_thresholds_are_logged_per_page_corpus_on_the_best_run(tmp_config):
    """The validation sweep of the best candidate: one row per page corpus (other sources left
    out), its best threshold and F1 logged as metrics of that run."""
    import numpy as np
    import pandas as pd

    from newsclean.train.kind import _news_thresholds

    tracking.configure(tmp_config)
    tracking.experiment(tmp_config, "newsclean-test")
    validation = pd.DataFrame(
        {
            "source": ["l3s-gn1"] * 4 + ["wcxb"] * 4 + ["ag-news"] * 2,
            "is_news": [True, True, False, False, True, True, True, False, True, True],
        }
    )
    p_news = np.array([0.9, 0.8, 0.6, 0.1, 0.9, 0.8, 0.4, 0.1, 0.9, 0.9])
    rest = (1 - p_news)[:, None] * np.array([[0.2, 0.2, 0.6]])  # teaser, spam, boilerplate
    with mlflow.start_run() as run:
        best = {"run_id": run.info.run_id, "val_proba": np.column_stack([p_news, rest])}
        table = _news_thresholds(best, validation)
    assert list(table["group"]) == ["l3s-gn1", "wcxb"]
    assert (table["news_f1_at_best"] == 1.0).all()
    metrics = mlflow.get_run(run.info.run_id).data.metrics
    assert 0.6 < metrics["val_best_news_threshold_l3s_gn1"] <= 0.8
    assert 0.1 < metrics["val_best_news_threshold_wcxb"] <= 0.4
    assert metrics["val_news_f1_at_best_threshold_wcxb"] == 1.0


@pytest.mark.slow
def test_leave_one_corpus_out_cleans_each_held_out_corpus_through_the_cleaner(tmp_path):
    """The sample's documents posed as pages of two page corpora (HTML rows and a text view
    each): each corpus is cleaned, as HTML and as text, by a model trained without it."""
    from html import escape
    from types import SimpleNamespace

    from newsclean.data.dataset import build
    from newsclean.data.textviews import view_doc_id
    from newsclean.train.loco import LOCO_SYSTEM, leave_one_corpus_out

    config = load_config(
        overrides=[
            *config_overrides(tmp_path),
            "model.sgd_alpha=0.001",
            "model.stack_folds=2",
            "model.loco_stack_iterations=10",
        ],
        environ={},
    )
    frame, _ = build(config)
    documents = sorted(frame["doc_id"].unique())
    corpus = {d: ("wcxb" if i % 2 else "dragnet") for i, d in enumerate(documents)}
    html = frame.assign(
        source=frame["doc_id"].map(corpus), view="html", html_tag="p", link_density=0.0
    )
    text = html.assign(
        doc_id=html["doc_id"].map(lambda d: view_doc_id(d, "blocks")),
        view="blocks",
        html_tag=None,
        link_density=float("nan"),
    )
    rows = pd.concat([html, text], ignore_index=True)
    pages = []
    for doc_id in documents[:6]:
        part = html[html["doc_id"] == doc_id].sort_values("position")
        body = "".join(f"<p>{escape(t)}</p>" for t in part["text"])
        gold = "\n".join(part.loc[part["kind"] == "news", "text"])
        page = f"<html><body>{body}</body></html>".encode()
        pages.append(SimpleNamespace(corpus=corpus[doc_id], doc_id=doc_id, html=page, gold=gold))
    tracking.configure(config)
    tracking.experiment(config, config.tracking.kind_experiment)
    with mlflow.start_run():
        table, per_page = leave_one_corpus_out(
            rows, pages, pd.DataFrame(), config, "digest", "card"
        )
    assert set(table["held_out"]) == {"wcxb", "dragnet"}
    assert set(table["input"]) == {"html", "text:blocks", "text:html-text"}
    assert set(table["system"]) == {LOCO_SYSTEM}
    assert table["f1"].between(0, 1).all()
    assert len(per_page) == 3 * len(pages)
    (run,) = mlflow.search_runs(
        filter_string="tags.mlflow.runName = 'leave-one-corpus-out (champion design, page level)'",
        output_format="list",
    )
    assert {"loco_page_f1_wcxb", "loco_page_f1_text_blocks_dragnet"} <= set(run.data.metrics)
