"""The notebooks: stored without outputs, configured only through newsclean.config, and run
end to end on the sample data (dataset built and models trained into a temporary store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsclean.config import PROJECT_ROOT, load_config

NOTEBOOKS = PROJECT_ROOT / "notebooks"
NAMES = ["01-data-overview.ipynb", "02-compare-runs.ipynb"]
RUNNER = PROJECT_ROOT / "scripts" / "run_notebooks.py"


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / name).read_text())["cells"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    code = [cell for cell in _cells(name) if cell["cell_type"] == "code"]
    assert code
    for cell in code:
        assert cell.get("outputs", []) == [], f"{name}: a cell has stored outputs"
        assert cell.get("execution_count") is None, f"{name}: a cell has an execution count"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_reads_paths_and_store_from_the_config(name):
    source = "\n".join(
        "".join(cell["source"]) for cell in _cells(name) if cell["cell_type"] == "code"
    )
    assert "load_config()" in source
    for hard_coded in ("/work/", "mlflow.db", "sqlite:", "data/processed", "mlruns", "/tmp"):
        assert hard_coded not in source, f"{name} hard-codes {hard_coded!r}"


@pytest.fixture(scope="module")
def trained_sample(tmp_path_factory):
    """The sample dataset built and both tasks trained into a temporary tracking store."""
    from newsclean.data import dataset
    from newsclean.train import pipeline

    root = tmp_path_factory.mktemp("notebooks")
    env = {
        "NEWSCLEAN_CORPORA_DIR": "none",
        "NEWSCLEAN_PROCESSED_DIR": str(root / "processed"),
        "NEWSCLEAN_REPORTS_DIR": str(root / "reports"),
        "NEWSCLEAN_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "NEWSCLEAN_ARTIFACT_ROOT": str(root / "mlruns"),
    }
    config = load_config(environ=env)
    started = time.perf_counter()
    dataset.build(config)
    pipeline.train_all(config)
    print(f"sample build + training: {time.perf_counter() - started:.0f} s")
    return root, env


def _outputs(path: Path) -> tuple[str, int, list[str]]:
    """All text the executed notebook printed, its image count, and its error names."""
    text, images, errors = [], 0, []
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text.append("".join(output["text"]))
            elif output["output_type"] == "error":
                errors.append(f"{output['ename']}: {output['evalue']}")
            data = output.get("data", {})
            images += "image/png" in data
            text.append("".join(data.get("text/plain", "")))
    return "\n".join(text), images, errors


@pytest.mark.slow
def test_make_notebooks_runs_both_notebooks_on_the_sample(trained_sample):
    root, env = trained_sample
    out = root / "executed"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--out", str(out), "--timeout", "300"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"notebooks executed in {time.perf_counter() - started:.0f} s")

    text, images, errors = _outputs(out / "01-data-overview.ipynb")
    assert not errors
    assert images >= 3  # kinds per source, lengths per kind, topic balance
    assert f"dataset: {root / 'processed'}" in text
    assert "paragraphs in" in text and "rows dropped:" in text

    text, images, errors = _outputs(out / "02-compare-runs.ipynb")
    assert not errors
    assert f"tracking store: sqlite:///{root / 'mlflow.db'}" in text
    assert "champion: models:/newsclean-kind@champion" in text  # the make-compare table
    assert "newsclean-kind: models:/newsclean-kind@champion = version 1" in text
    assert "no page-level F1 logged yet" in text  # the sample has no pages
    assert images >= 3  # candidates vs baselines (kind, topic) and a confusion matrix
    # The stored notebooks are untouched by the run.
    for name in NAMES:
        assert all(cell.get("outputs", []) == [] for cell in _cells(name))
