"""Crash safety: a training killed at any moment (SIGKILL: no ``finally`` runs) leaves the
MLflow store consistent.

The champion alias stays on the old version unless its move completed; a version is given the
alias only once it is READY, and the move is the last write; the next start
(``tracking.mark_abandoned_runs``) marks the runs the killed process left RUNNING as KILLED,
with the reason, and leaves the runs of live processes alone. The killed trainings are real
processes (tests/fixtures/crash/crash_training.py) stopped where the test wants them, then
sent SIGKILL.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest

from newsclean import tracking
from newsclean.config import load_config
from tests.conftest import config_overrides

HELPER = Path(__file__).parent / "fixtures" / "crash" / "crash_training.py"
MODEL = "newsclean-kind"  # the helper's registered model
READY_TIMEOUT_S = 90  # generous: the machine may be busy; a helper is ready in a few seconds
# Every write promote makes to the registry when the challenger beats the champion, in order
# (the helper reports which one it stopped before). A new write in promote must be added here,
# so that a kill just before it is tested too.
PROMOTE_WRITES = [
    "create_registered_model",
    "create_model_version",
    "set_model_version_tag champion_val_score",
    "set_model_version_tag promotion",
    "set_registered_model_alias champion",
]


# -- helpers ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    """An MLflow sqlite database with its tables created: each store starts as a copy
    (creating the tables costs every process a few seconds)."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def processes():
    """The helper processes a test starts; any still alive at the end is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _config(store_dir: Path):
    return load_config(overrides=config_overrides(store_dir), environ={})


def _client(store_dir: Path) -> mlflow.MlflowClient:
    uri = _config(store_dir).tracking.tracking_uri
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _start(processes: list, store_dir: Path, empty_db: Path, *args: str) -> subprocess.Popen:
    store_dir.mkdir(parents=True)
    shutil.copy(empty_db, store_dir / "mlflow.db")
    with open(store_dir / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(HELPER), str(store_dir), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    processes.append(process)
    return process


def _ready(process: subprocess.Popen, store_dir: Path) -> dict:
    """Wait (polling, bounded) until the helper stopped where it was told; what it reported."""
    ready = store_dir / "ready.json"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            log = (store_dir / "stderr.txt").read_text(errors="replace")[-3000:]
            pytest.fail(f"helper not ready (exit code {process.poll()}):\n{log}")
        time.sleep(0.05)
    report = json.loads(ready.read_text())
    assert report["pid"] == process.pid
    return report


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)  # reaped: the pid no longer exists
    assert process.returncode == -signal.SIGKILL


def _status(client, run_id: str) -> str:
    return client.get_run(run_id).info.status


def _dead_pid() -> int:
    """The pid of a process that ran and was reaped."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait(timeout=30)
    return process.pid


# -- a training killed in the middle of a child run -------------------------------------------
@pytest.mark.slow
def test_runs_of_a_killed_training_are_marked_killed_at_the_next_start(
    tmp_path, empty_db, processes, capsys
):
    store_dir = tmp_path / "store"
    process = _start(processes, store_dir, empty_db, "run")
    report = _ready(process, store_dir)
    _kill(process)
    killed_ids = {report["parent_run_id"], report["child_run_id"]}
    config = _config(store_dir)
    client = _client(store_dir)
    for run_id in killed_ids:
        run = client.get_run(run_id)
        # Nothing closed them, and they name their owner (the nested run too).
        assert run.info.status == "RUNNING"
        assert run.data.tags[tracking.OWNER_PID] == str(process.pid)
        assert run.data.tags[tracking.OWNER_HOST] == socket.gethostname()
    tracking.configure(config)
    tracking.experiment(config, config.tracking.kind_experiment)
    with tracking.tagged_run("live training", "digest", "card", "parent") as live:
        marked = tracking.mark_abandoned_runs(config)
        assert set(marked) == killed_ids
        for run_id in killed_ids:
            run = client.get_run(run_id)
            assert run.info.status == "KILLED"
            reason = run.data.tags[tracking.KILLED_REASON]
            assert f"process {process.pid} on {socket.gethostname()}" in reason
            assert "ended without closing the run" in reason
        # This process's own open run is left alone.
        assert _status(client, live.info.run_id) == "RUNNING"
        assert tracking.KILLED_REASON not in client.get_run(live.info.run_id).data.tags
        assert tracking.mark_abandoned_runs(config) == []  # once is enough
    assert _status(client, live.info.run_id) == "FINISHED"
    err = capsys.readouterr().err
    assert f"run {report['parent_run_id']} (train-kind-killed) marked KILLED" in err
    assert f"run {report['child_run_id']} (candidate-killed) marked KILLED" in err


# -- a training killed at each write of promote -----------------------------------------------
@pytest.mark.slow
def test_a_training_killed_before_any_write_of_promote_leaves_the_champion_consistent(
    tmp_path, empty_db, processes
):
    kill_points = range(1, len(PROMOTE_WRITES) + 2)  # before each write, and after the last
    started = {
        k: _start(processes, tmp_path / f"k{k}", empty_db, "promote", str(k)) for k in kill_points
    }
    reports = {}
    for k, process in started.items():
        reports[k] = _ready(process, tmp_path / f"k{k}")
        _kill(process)
    # The helper stopped before each write in turn; the last one after promote returned.
    assert [reports[k]["step"] for k in kill_points] == [*PROMOTE_WRITES, "done"]

    for k in kill_points:
        store_dir, report = tmp_path / f"k{k}", reports[k]
        step = f"killed before {report['step']}"
        client = _client(store_dir)
        moved = report["step"] == "done"
        registered = k > PROMOTE_WRITES.index("create_model_version") + 1
        versions = {str(v.version) for v in client.search_model_versions(f"name = '{MODEL}'")}
        # (a) The champion is the old version unless the move itself completed.
        champion = client.get_model_version_by_alias(MODEL, tracking.CHAMPION)
        assert str(champion.version) == ("2" if moved else "1"), step
        assert versions == ({"1", "2"} if registered else {"1"}), step
        if registered:
            # (c) The new version is READY, tagged in one call with its registration, and
            # holds no alias unless it was moved to it.
            new = client.get_model_version(MODEL, "2")
            assert new.status == tracking.READY, step
            assert new.tags["run_id"] == report["candidate_run_id"], step
            assert new.tags["val_score"] == "0.900000", step
            assert list(new.aliases) == (["champion"] if moved else []), step
        # (b) The killed training's parent run stays RUNNING until the next start marks it.
        parent = report["parent_run_id"]
        assert _status(client, parent) == "RUNNING", step
        assert _status(client, report["candidate_run_id"]) == "FINISHED", step
        assert tracking.mark_abandoned_runs(_config(store_dir)) == [parent], step
        run = client.get_run(parent)
        assert run.info.status == "KILLED", step
        assert f"process {report['pid']} on" in run.data.tags[tracking.KILLED_REASON], step
        assert _status(client, report["candidate_run_id"]) == "FINISHED", step
        # The new version says it did not take effect, unless it holds the alias; the old
        # champion's training was closed normally: it is not touched.
        if registered:
            tags = client.get_model_version(MODEL, "2").tags
            assert (tracking.KILLED_REASON in tags) is not moved, step
        assert tracking.KILLED_REASON not in client.get_model_version(MODEL, "1").tags, step


# -- marking: who is left alone ---------------------------------------------------------------
@pytest.fixture
def store(tmp_path, empty_db):
    shutil.copy(empty_db, tmp_path / "mlflow.db")
    config = _config(tmp_path)
    tracking.configure(config)
    return config


def test_only_runs_of_dead_processes_of_this_host_and_old_unowned_runs_are_marked(store):
    client = mlflow.MlflowClient()
    kind = tracking.experiment(store, store.tracking.kind_experiment)
    other = tracking.experiment(store, "someone-elses-experiment")
    host, now_ms = socket.gethostname(), int(time.time() * 1000)
    hours = 3_600_000

    def run(name, tags, experiment_id=kind, age_hours=0.0):
        started = now_ms - int(age_hours * hours)
        return client.create_run(experiment_id, start_time=started, tags=tags, run_name=name)

    ours = tracking.owner_tags()
    dead = {tracking.OWNER_PID: str(_dead_pid()), tracking.OWNER_HOST: host}
    unowned = run("unowned, 25 h old", {}, age_hours=25).info.run_id
    marked_runs = {run("dead owner", dead).info.run_id, unowned}
    if tracking.OWNER_PROCESS_START in ours:  # where /proc tells when a process started
        reused = {**ours, tracking.OWNER_PROCESS_START: "1"}  # our pid, an earlier process's
        marked_runs.add(run("pid reused since", reused).info.run_id)
    kept = [
        run("live owner (this process)", ours),
        run("another host", {**dead, tracking.OWNER_HOST: "not-" + host}),
        run("another pid namespace", {**dead, tracking.OWNER_PID_NAMESPACE: "pid:[1]"}),
        run("unowned, 1 h old", {}, age_hours=1),
        run("unowned, old, not our experiment", {}, experiment_id=other, age_hours=99),
    ]
    finished = run("dead owner but finished", dead)
    client.set_terminated(finished.info.run_id)

    assert set(tracking.mark_abandoned_runs(store)) == marked_runs
    for run_id in marked_runs:
        assert _status(client, run_id) == "KILLED"
    reason = client.get_run(unowned).data.tags[tracking.KILLED_REASON]
    assert reason.startswith("no owning process recorded and still RUNNING 24 h after")
    for kept_run in kept:
        assert _status(client, kept_run.info.run_id) == "RUNNING", kept_run.info.run_name
    assert _status(client, finished.info.run_id) == "FINISHED"


def test_owner_liveness():
    assert tracking.owner_alive(tracking.owner_tags()) is True
    dead = {tracking.OWNER_PID: str(_dead_pid()), tracking.OWNER_HOST: socket.gethostname()}
    assert tracking.owner_alive(dead) is False
    assert tracking.owner_alive({}) is None
    assert tracking.owner_alive({**dead, tracking.OWNER_PID: "0"}) is None  # never kill(0)
    assert tracking.owner_alive({**dead, tracking.OWNER_HOST: "elsewhere"}) is None


# -- promote waits for READY ------------------------------------------------------------------
def _model_uri() -> tuple[str, str]:
    """A run holding a minimal model (an MLmodel file); (runs:/ URI, run id)."""
    with mlflow.start_run() as run:
        mlflow.log_text("flavors: {}\n", "model/MLmodel")
    return f"runs:/{run.info.run_id}/model", run.info.run_id


def _challenger(value: float) -> tracking.Challenger:
    uri, run_id = _model_uri()
    return tracking.Challenger(uri, run_id, "d", "corpora", "val_score", value)


@pytest.mark.parametrize("status", ["PENDING_REGISTRATION", "FAILED_REGISTRATION"])
def test_a_version_that_is_not_ready_is_not_promoted(store, monkeypatch, status):
    tracking.experiment(store, store.tracking.kind_experiment)
    assert tracking.promote("m", _challenger(0.5), lambda uri: 0.0) == (True, "no champion yet")
    real = mlflow.MlflowClient.get_model_version
    calls = []

    def not_ready(self, name, version):
        calls.append(version)
        pending = str(version) == "2"
        return SimpleNamespace(status=status) if pending else real(self, name, version)

    monkeypatch.setattr(mlflow.MlflowClient, "get_model_version", not_ready)
    started = time.monotonic()
    promoted, reason = tracking.promote(
        "m", _challenger(0.9), lambda uri: 0.1, mode="force", ready_timeout=0.3
    )
    monkeypatch.undo()
    assert not promoted and f"is {status}, not READY" in reason and "no alias moved" in reason
    if status == "FAILED_REGISTRATION":
        assert len(calls) == 1  # no waiting for a version that failed
    else:
        assert len(calls) > 1 and time.monotonic() - started >= 0.3
    client = mlflow.MlflowClient()
    assert str(tracking.champion_version("m").version) == "1"
    new = client.get_model_version("m", "2")
    assert list(new.aliases) == [] and new.tags["promotion"] == reason


@pytest.mark.slow
def test_a_version_logged_by_a_killed_training_is_tagged_unless_it_holds_the_champion(store):
    """With a model logged as training logs it (``models:/m-...``), the version is found from
    the killed training's child run."""
    from sklearn.dummy import DummyClassifier

    client = mlflow.MlflowClient()
    experiment_id = tracking.experiment(store, store.tracking.kind_experiment)
    dead = {tracking.OWNER_PID: str(_dead_pid()), tracking.OWNER_HOST: socket.gethostname()}

    def training(name: str, owner: dict, promote_mode: str) -> tuple[str, str]:
        parent = client.create_run(experiment_id, run_name=name, tags=owner)
        with mlflow.start_run(parent_run_id=parent.info.run_id, tags=owner) as child:
            logged = mlflow.sklearn.log_model(
                DummyClassifier().fit([[0], [1]], ["a", "b"]),
                name="model",
                pip_requirements=tracking.pinned_requirements(),
            )
        challenger = tracking.Challenger(
            logged.model_uri, child.info.run_id, "d", "corpora", "val_score", 0.5
        )
        _, _ = tracking.promote("m", challenger, lambda uri: 0.0, mode=promote_mode)
        return parent.info.run_id, str(len(client.search_model_versions("name = 'm'")))

    promoted_parent, champion = training("dead, promoted", dead, "force")
    kept_parent, kept = training("dead, not promoted", dead, "never")
    live_parent, live = training("live, not promoted", tracking.owner_tags(), "never")
    assert set(tracking.mark_abandoned_runs(store)) == {promoted_parent, kept_parent}
    assert client.get_model_version("m", kept).run_id != kept_parent  # found through its child
    assert tracking.KILLED_REASON in client.get_model_version("m", kept).tags
    assert tracking.KILLED_REASON not in client.get_model_version("m", champion).tags
    assert tracking.KILLED_REASON not in client.get_model_version("m", live).tags
    assert _status(client, live_parent) == "RUNNING"
