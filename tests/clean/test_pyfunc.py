"""The cleaner as an MLflow model: the pyfunc in process, the logged model's metadata, and the
real REST server (``newsclean serve``, what ``make serve`` runs: ``mlflow models
serve --env-manager local`` on a loopback port)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

from clean_support import CLEAN_INPUTS, free_port
from newsclean.clean import pyfunc
from newsclean.clean.inputs import InputError
from newsclean.clean.registry import CLEANER_MODEL_NAME, DEFAULT_MODEL_URI
from newsclean.clean.results import ARTICLE_FIELDS
from newsclean.train.cleaner import CHAMPION_METRIC

pytestmark = pytest.mark.slow

SERVER_START_SECONDS = 120


def test_registered_cleaner_has_signature_example_requirements_and_champion(cleaner_store):
    import mlflow
    from mlflow.models import get_model_info

    from newsclean import tracking

    tracking.configure(cleaner_store.config)
    info = get_model_info(DEFAULT_MODEL_URI)
    inputs = {c.name: c for c in info.signature.inputs.inputs}
    assert set(inputs) == {"id", "text", "paragraphs", "html"}
    assert not any(c.required for c in inputs.values())
    assert info.signature.params.to_dict()[0]["name"] == "keep"
    assert info.saved_input_example_info is not None
    champion = tracking.champion_version(CLEANER_MODEL_NAME)
    assert champion is not None
    assert float(champion.tags[CHAMPION_METRIC]) == pytest.approx(
        cleaner_store.summary[CHAMPION_METRIC], abs=1e-6
    )
    assert champion.tags["data"] == "sample" and champion.tags["promotion"]
    local = mlflow.artifacts.download_artifacts(f"{DEFAULT_MODEL_URI}")
    with open(os.path.join(local, "requirements.txt")) as handle:
        requirements = handle.read()
    assert "scikit-learn==" in requirements and "mlflow==" in requirements
    assert os.path.isdir(os.path.join(local, "code", "newsclean"))
    run = mlflow.get_run(cleaner_store.summary["parent_run_id"])
    assert "test_strip_precision" in run.data.metrics
    assert "test_false_strip_rate" in run.data.metrics
    assert run.data.params["kind_model"].startswith("models:/newsclean-kind/")
    # The figures are on the cleaner's LoggedModel too (the Models tab).
    logged = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    names = {m.key for model in logged for m in model.metrics or []}
    assert {CHAMPION_METRIC, "test_clean_f1", "test_strip_precision"} <= names


def test_summary_row_fits_the_training_results_table(cleaner_store):
    from newsclean.train.runs import results_table

    summary = cleaner_store.summary
    table = results_table([summary])
    assert "| cleaner |" in table and "| clean F1 |" in table and "nan" not in table
    # The val column is the cleaner's own validation score, not an empty macro-F1.
    assert 0 < summary["val_macro_f1"] <= 1
    assert f"| {summary['val_macro_f1']:.4f} | {summary['test_macro_f1']:.4f} |" in table


def test_loading_a_cleaner_settles_the_garbage_collector(cleaner):
    import gc

    from newsclean.clean.cleaner import GC_THRESHOLDS

    assert gc.get_freeze_count() > 0  # the loaded models are out of the collector's reach
    assert gc.get_threshold()[0] >= GC_THRESHOLDS[0]


def test_pyfunc_predict_in_process(cleaner_store, cleaner):
    model = pyfunc.CleanerModel(cleaner)
    frame = pd.DataFrame(
        [
            {"id": "t", "text": (CLEAN_INPUTS / "ferry.txt").read_text()},
            {"id": "p", "paragraphs": ["One short paragraph of news text.", "Share this"]},
            {"id": "h", "html": (CLEAN_INPUTS / "library.html").read_text()},
            {"id": "empty", "html": "<html><body></body></html>"},
        ]
    )
    out = model.predict(None, frame, params={"keep": "news,teaser"})
    assert [o["id"] for o in out] == ["t", "p", "h", "empty"]
    assert out[3]["paragraphs"] == [] and "no text" in out[3]["error"]
    assert (
        out[0]
        == cleaner.clean_many([{"id": "t", "text": frame.loc[0, "text"]}], keep="news,teaser")[
            0
        ].to_dict()
    )
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="row 1: no 'text'"):
        model.predict(None, pd.DataFrame([{"id": "a", "text": "x"}, {"id": "b", "text": None}]))
    with pytest.raises(MlflowException, match="needs a 'text', 'paragraphs' or 'html'"):
        model.predict(None, pd.DataFrame([{"id": "a", "body": "x"}]))
    with pytest.raises(InputError):
        pyfunc.records_from_input("just a string")


@pytest.fixture(scope="module")
def server(cleaner_store):
    """The real REST server on a free loopback port; killed (process group) afterwards."""
    port = free_port()
    log = open(cleaner_store.root / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "newsclean", "serve", "--port", str(port)],
        env=cleaner_store.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                log.flush()
                raise RuntimeError(
                    "server exited: " + (cleaner_store.root / f"serve-{port}.log").read_text()
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready after {SERVER_START_SECONDS} s")
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def post(url: str, body, timeout: float = 120) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        f"{url}/invocations", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_rest_good_request_returns_the_documented_json(server, cleaner):
    articles = [
        {"id": "text", "text": (CLEAN_INPUTS / "ferry.txt").read_text()},
        {"id": "paragraphs", "paragraphs": ["The harbour wall was repaired.", "Share this"]},
        {"id": "html", "html": (CLEAN_INPUTS / "library.html").read_text()},
    ]
    status, body = post(server, {"dataframe_records": articles})
    assert status == 200
    predictions = body["predictions"]
    assert [p["id"] for p in predictions] == ["text", "paragraphs", "html"]
    for prediction, article in zip(predictions, articles, strict=True):
        assert set(prediction) == set(ARTICLE_FIELDS)
        assert prediction == cleaner.clean_many([article])[0].to_dict()
    status, body = post(
        server,
        {"dataframe_split": {"columns": ["id", "text"], "data": [["s", "One line of text."]]}},
    )
    assert status == 200 and body["predictions"][0]["id"] == "s"
    status, body = post(
        server, {"inputs": [{"id": "k", "text": "Read more: x"}], "params": {"keep": "teaser"}}
    )
    assert status == 200


def test_rest_malformed_requests_get_a_clear_400_and_the_server_keeps_serving(server):
    cases = [
        (b"{not json", "valid JSON"),
        ({"dataframe_records": [{"id": "a", "body": "x"}]}, "'text', 'paragraphs' or 'html'"),
        ({"dataframe_records": [{"id": "a", "text": "x"}, {"id": "b"}]}, "row 1: no 'text'"),
        ({"dataframe_records": [{"id": "a", "paragraphs": "one"}]}, "must be a list of strings"),
        ({"dataframe_records": [{"id": "a", "text": "x", "html": "<p>y</p>"}]}, "give one of"),
        ({"dataframe_records": [{"id": "a", "text": "x"}], "params": {"keep": "gossip"}}, "keep"),
    ]
    for body, message in cases:
        status, answer = post(server, body)
        assert status == 400, (body, answer)
        assert message in answer["message"], answer["message"]
    status, answer = post(server, {"dataframe_records": [{"id": "ok", "text": "Still here."}]})
    assert status == 200 and answer["predictions"][0]["id"] == "ok"


def test_rest_large_batch(server):
    page = (CLEAN_INPUTS / "library.html").read_text()
    text = (CLEAN_INPUTS / "ferry.txt").read_text()
    articles = [
        {"id": f"a{i}", **({"html": page} if i % 2 else {"text": text})} for i in range(300)
    ]
    started = time.monotonic()
    status, body = post(server, {"dataframe_records": articles}, timeout=300)
    assert status == 200
    assert [p["id"] for p in body["predictions"]] == [a["id"] for a in articles]
    same_page = [{k: v for k, v in p.items() if k != "id"} for p in body["predictions"][1::2]]
    assert all(p == same_page[0] for p in same_page)
    assert time.monotonic() - started < 120
