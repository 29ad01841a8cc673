"""Team mode: a real PostgreSQL (Debian's packages) under an MLflow tracking server on loopback.

The tests install PostgreSQL with apt-get when it is missing (CI runs as root) and skip, saying
why, only when that fails. Every server runs in its own process group on a free port and is
stopped in a finalizer; MLflow reads and writes temporary stores only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from newsclean.config import PROJECT_ROOT, load_config
from newsclean.tools import server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres_bin() -> Path:
    try:
        return server.ensure_postgres(install=True)
    except RuntimeError as error:
        pytest.skip(f"no PostgreSQL server binaries: {error}")


@pytest.fixture(scope="module")
def psycopg2_driver():
    return pytest.importorskip("psycopg2", reason="psycopg2-binary (the `team` extra) missing")


@pytest.fixture
def team_dir():
    """A folder the postgres user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="newsclean-team-"))
    folder.chmod(0o755)
    yield folder
    cluster_home = server.PostgresCluster(folder).home
    shutil.rmtree(folder, ignore_errors=True)
    if cluster_home != folder:
        shutil.rmtree(cluster_home, ignore_errors=True)


def _env(tmp_path: Path, tracking_uri: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSCLEAN_PROCESSED_DIR": str(tmp_path / "processed"),
        "NEWSCLEAN_REPORTS_DIR": str(tmp_path / "reports"),
        "NEWSCLEAN_ARTIFACT_ROOT": str(tmp_path / "mlruns"),
        "NEWSCLEAN_TRACKING_URI": tracking_uri,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }


def test_cluster_starts_on_loopback_keeps_its_data_and_stops(postgres_bin, team_dir):
    cluster = server.PostgresCluster(team_dir)
    try:
        cluster.start(timeout=60)
        assert cluster.uri.startswith(
            f"postgresql+psycopg2://newsclean:{cluster.password}@127.0.0.1:"
        )
        assert cluster.running()
        assert (cluster.socket_dir / f".s.PGSQL.{cluster.port}").exists()
        assert "***" in cluster.display_uri and cluster.password not in cluster.display_uri
        cluster._psql("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
        first_password = cluster.password
        cluster.stop()
        assert not cluster.running()
        again = server.PostgresCluster(team_dir).start(timeout=60)  # reuses the cluster
        cluster = again
        assert again.password == first_password
        assert again._psql("SELECT x FROM kept") == "7"
        assert again._psql("SELECT datname FROM pg_database WHERE datname = 'mlflow'") == "mlflow"
    finally:
        cluster.stop()
    assert not (cluster.data_dir / "postmaster.pid").exists()


def test_train_through_the_server_and_read_it_back_over_rest(
    postgres_bin, psycopg2_driver, team_dir, tmp_path, monkeypatch
):
    """`make train TRACKING_URI=http://…` logs to the team server; REST and the alias see it."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    config = load_config(environ={})
    experiments = [config.tracking.kind_experiment, config.tracking.topic_experiment]
    with server.team_server(team_dir, experiments=experiments) as team:
        url = team.url
        started = time.perf_counter()
        done = subprocess.run(
            ["make", "-s", "train", "CORPORA_DIR=none", f"TRACKING_URI={url}"],
            cwd=PROJECT_ROOT,
            env=_env(tmp_path, url),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        print(f"make train through the server: {time.perf_counter() - started:.0f} s")

        api = f"{url}/api/2.0/mlflow"
        experiment = requests.get(
            f"{api}/experiments/get-by-name",
            params={"experiment_name": "newsclean-kind"},
            timeout=30,
        ).json()["experiment"]
        # Artifacts travel through the server into its own artifact store.
        assert experiment["artifact_location"].startswith("mlflow-artifacts:")
        runs = requests.post(
            f"{api}/runs/search",
            json={"experiment_ids": [experiment["experiment_id"]], "max_results": 1000},
            timeout=30,
        ).json()["runs"]
        tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
        parents = [t for t in tags if t.get("role") == "parent"]
        assert len(parents) == 1
        assert parents[0]["mlflow.runName"].startswith("train-kind-")
        assert "Champion: yes" in parents[0]["mlflow.note.content"]
        candidates = [r for r, t in zip(runs, tags, strict=True) if t.get("role") == "candidate"]
        assert candidates
        for run in candidates:
            metrics = {m["key"] for m in run["data"]["metrics"]}
            assert {"val_macro_f1", "test_macro_f1", "train_seconds"} <= metrics
        champion_runs = {
            run["info"]["run_id"]
            for run, tag in zip(runs, tags, strict=True)
            if tag.get("champion") == "true"
        }

        alias = requests.get(
            f"{api}/registered-models/alias",
            params={"name": "newsclean-kind", "alias": "champion"},
            timeout=30,
        ).json()["model_version"]
        assert alias["run_id"] in champion_runs
        assert "champion" in alias.get("aliases", [])

        stored = list((team_dir / "artifacts").rglob("*"))
        assert any(p.name == "MLmodel" for p in stored), "model not in the server's store"

        import mlflow
        import pandas as pd

        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        model = mlflow.pyfunc.load_model("models:/newsclean-kind@champion")
        frame = pd.DataFrame(
            {
                "source": ["test", "test"],
                "doc_id": ["d1", "d1"],
                "position": [0, 1],
                "text": [
                    "The council approved the new harbour budget on Tuesday after a long debate.",
                    "Share this article",
                ],
            }
        )
        for column in model.metadata.get_input_schema().inputs:  # the logged dtypes
            if column.name in frame and hasattr(column.type, "to_numpy"):
                frame[column.name] = frame[column.name].astype(column.type.to_numpy())
        predicted = model.predict(frame)
        assert len(predicted) == 2

        from newsclean.tools import compare

        team_config = load_config(
            [f"tracking.tracking_uri={url}", f"tracking.artifact_root={tmp_path / 'mlruns'}"],
            environ={},
        )
        text = compare.main(team_config, last=1)
        assert "champion: models:/newsclean-kind@champion" in text
    assert not (team.cluster.data_dir / "postmaster.pid").exists()
    assert team.server.process.poll() is not None


def test_make_server_starts_both_and_ctrl_c_stops_both(postgres_bin, psycopg2_driver, team_dir):
    port = server.free_port()
    env = {**os.environ, "NEWSCLEAN_ARTIFACT_ROOT": str(team_dir), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        ["make", "-s", "server", f"SERVER_PORT={port}"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    cluster = server.PostgresCluster(team_dir / "team-server")
    try:
        server.wait_for_http(f"http://127.0.0.1:{port}/health", timeout=180, process=process)
        # The experiments are created right after the server answers; give it a moment.
        deadline, names = time.monotonic() + 60, set()
        while time.monotonic() < deadline and not {"newsclean-kind", "newsclean-topic"} <= names:
            names = {
                e["name"]
                for e in requests.get(
                    f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
                    params={"max_results": 100},
                    timeout=30,
                ).json()["experiments"]
            }
            time.sleep(0.5)
        assert {"newsclean-kind", "newsclean-topic"} <= names
        assert (cluster.data_dir / "postmaster.pid").exists()
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:  # a failed assertion: Ctrl-C first, so it cleans up
            os.killpg(process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
        server.stop_process_group(process)
        if (cluster.data_dir / "postmaster.pid").exists():  # never leave a server behind
            cluster.bin_dir = postgres_bin
            cluster.stop()
    assert f"MLflow tracking server: http://127.0.0.1:{port}" in output
    assert f"make train TRACKING_URI=http://127.0.0.1:{port}" in output
    assert "stopped." in output
    assert not (cluster.data_dir / "postmaster.pid").exists()
    assert not server.port_in_use(port)
