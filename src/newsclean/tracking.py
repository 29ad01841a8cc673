"""MLflow plumbing: one place sets the tracking store, experiments, tags and the champion rule.

Never rely on MLflow's default store (see shared/NOTES.md): every entry point calls
``configure`` with the tracking URI and artifact root from the config.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from newsclean.config import PROJECT_ROOT, Config

CHAMPION = "champion"
# A version trained on the bundled sample only gets this alias; it never takes ``CHAMPION``
# from a version trained on the corpora.
SAMPLE_ALIAS = "sample"
PROMOTE_MODES = ("auto", "never", "force")
# Who started a run (tagged_run): what the next start needs to tell a run of a process that
# died (SIGKILL, OOM killer, power loss: no ``finally`` ran) from a run still in progress.
OWNER_PID = "newsclean.pid"
OWNER_HOST = "newsclean.host"
OWNER_PID_NAMESPACE = "newsclean.pid_namespace"  # two containers may share a hostname
OWNER_PROCESS_START = "newsclean.process_start"  # tells the owner from a later reuse of its pid
KILLED_REASON = "newsclean.killed_reason"
# A RUNNING run with no owner tags (started before they existed, or not by newsclean) in one of
# the project's experiments is marked KILLED only this long after it started.
UNOWNED_AFTER_HOURS = 24.0
# How long promote waits for a new version to be READY before it gives up (MLflow's default).
READY_TIMEOUT_S = 300.0
READY = "READY"
PENDING = "PENDING_REGISTRATION"


def configure(config: Config) -> None:
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    if not sys.stderr.isatty():
        # "Downloading artifacts" bars are thousands of carriage returns in a log file.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    config.tracking.artifact_root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(config.tracking.tracking_uri)
    mlflow.set_registry_uri(config.tracking.tracking_uri)


def experiment(config: Config, name: str) -> str:
    """Create (with our artifact root) or reuse an experiment; return its id."""
    import mlflow

    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        experiment_id = existing.experiment_id
    elif config.tracking.tracking_uri.startswith(("http://", "https://")):
        # A tracking server decides where artifacts go (it may proxy them).
        experiment_id = mlflow.create_experiment(name)
    else:
        location = (config.tracking.artifact_root / name).resolve().as_uri()
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        commit = out.stdout.strip() or "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def pinned_requirements() -> list[str]:
    """Exact versions of what a logged model needs to load (skips MLflow's slow inference)."""
    packages = ["scikit-learn", "pandas", "numpy", "scipy", "lxml", "skops"]
    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def code_paths() -> list[str]:
    """Our package, shipped with each model so it loads anywhere without an install."""
    return [str(Path(__file__).resolve().parent)]


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment_params(seed: int) -> dict[str, str]:
    """What a run's figures depend on besides code and data: the seed, library versions and
    thread settings (logged as params, so two runs that differ can be told apart)."""
    import platform

    from threadpoolctl import threadpool_info

    params = {"seed": str(seed), "python_version": platform.python_version()}
    for package in ("scikit-learn", "numpy", "scipy", "pandas", "lxml"):
        try:
            params[f"version_{package}"] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    for pool in threadpool_info():
        params[f"threads_{pool['user_api']}_{pool['internal_api']}"] = str(pool["num_threads"])
    params["cpu_count"] = str(os.cpu_count())
    return params


def run_tags(digest: str, card_summary: str) -> dict[str, str]:
    """Our tags, and MLflow's standard git tags (the UI shows the commit and branch)."""
    tags = {
        "git_commit": git_commit(),
        "dataset_digest": digest,
        "data_card": card_summary,
    }
    for key, args in (
        ("mlflow.source.git.commit", ("rev-parse", "HEAD")),
        ("mlflow.source.git.branch", ("rev-parse", "--abbrev-ref", "HEAD")),
        ("mlflow.source.git.repoURL", ("config", "--get", "remote.origin.url")),
    ):
        value = _git(*args)
        if value:
            tags[key] = value
    return tags


@contextmanager
def tagged_run(
    run_name: str,
    digest: str,
    card_summary: str,
    role: str,
    task: str | None = None,
    nested: bool = False,
):
    """An MLflow run with the tags every training run carries (git commit, dataset digest, data
    card, ``role``: parent / candidate / baseline / peer / analysis, and ``task``)."""
    import mlflow

    tags = {**run_tags(digest, card_summary), **owner_tags(), "role": role}
    if task:
        tags["task"] = task
    # The tags go in with the run (one call): a run is never in the store without its owner.
    with mlflow.start_run(run_name=run_name, nested=nested, tags=tags) as run:
        yield run


# -- crash safety: runs left RUNNING by a process that died ----------------------------------
def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of process ``pid`` from /proc (Linux), or
    None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name, in parentheses, may hold spaces
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def owner_tags() -> dict[str, str]:
    """Tags naming the process that starts a run: pid, host, pid namespace and start time."""
    pid = os.getpid()
    tags = {OWNER_PID: str(pid), OWNER_HOST: socket.gethostname()}
    namespace, stat = _pid_namespace(), _proc_stat(pid)
    if namespace:
        tags[OWNER_PID_NAMESPACE] = namespace
    if stat:
        tags[OWNER_PROCESS_START] = stat[1]
    return tags


def owner_alive(tags: dict[str, str]) -> bool | None:
    """Whether the process that started a run (its owner tags) is still running: True, False,
    or None when this process cannot tell (no owner tags, another host or pid namespace)."""
    host, pid_text = tags.get(OWNER_HOST), tags.get(OWNER_PID, "")
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) <= 0:
        return None
    namespace = tags.get(OWNER_PID_NAMESPACE)
    if namespace and namespace != _pid_namespace():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return None
    stat = _proc_stat(pid)
    if stat is not None:
        state, started = stat
        if state in ("Z", "X"):  # ended, not yet reaped by its parent
            return False
        if tags.get(OWNER_PROCESS_START) and started != tags[OWNER_PROCESS_START]:
            return False  # a later process reuses the pid
    return True


def project_experiments(config: Config) -> list[str]:
    """The experiments newsclean's training writes to."""
    return config.tracking.training_experiments()


def _pages(search: Callable, *args, **kwargs) -> Iterator:
    """Every result of an MLflow search, page after page."""
    token = None
    while True:
        page = search(*args, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def mark_abandoned_runs(
    config: Config, unowned_after_hours: float = UNOWNED_AFTER_HOURS
) -> list[str]:
    """Mark KILLED the runs a dead process left RUNNING; return their ids.

    A training killed outright (SIGKILL, the OOM killer, a power cut) cannot close its runs:
    they stay RUNNING for ever. Run at the start of a training, this finds, in every active
    experiment of the store, the RUNNING runs whose owner (``owner_tags``) was a process of
    this host that no longer runs, and sets them KILLED with a ``newsclean.killed_reason`` tag.
    A run without owner tags is marked only in the project's experiments and only
    ``unowned_after_hours`` after it started. A run of a live process, or of another host, is
    never touched. Registered versions of a killed training (registered from its runs or its
    child runs) that do not hold the champion alias get the same tag: their ``promotion`` tag
    may record a decision whose alias move never happened (``promote`` moves the alias last)."""
    import mlflow
    from mlflow.entities import ViewType

    uri = config.tracking.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = {
        e.experiment_id: e.name
        for e in _pages(client.search_experiments, view_type=ViewType.ACTIVE_ONLY)
    }
    if not experiments:
        return []
    ours = set(project_experiments(config))
    now_ms = time.time() * 1000
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    marked_by = f"marked KILLED at the next start ({stamp}, process {os.getpid()})"
    killed = []
    running = list(  # listed before any is marked: marking moves the search's pages
        _pages(
            client.search_runs,
            list(experiments),
            filter_string="attributes.status = 'RUNNING'",
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1000,
        )
    )
    for run in running:
        tags = run.data.tags
        alive = owner_alive(tags)
        if alive is False:
            reason = (
                f"process {tags[OWNER_PID]} on {tags[OWNER_HOST]} ended without closing the "
                f"run; {marked_by}"
            )
        elif (
            alive is None
            and OWNER_PID not in tags
            and experiments[run.info.experiment_id] in ours
            and now_ms - (run.info.start_time or now_ms) > unowned_after_hours * 3_600_000
        ):
            reason = (
                f"no owning process recorded and still RUNNING {unowned_after_hours:g} h after "
                f"it started; {marked_by}"
            )
        else:
            continue
        # Reason first: a marking cut short leaves a RUNNING run that the next start marks again.
        client.set_tag(run.info.run_id, KILLED_REASON, reason)
        client.set_terminated(run.info.run_id, "KILLED")
        killed.append(run.info.run_id)
        print(
            f"newsclean: run {run.info.run_id} ({run.info.run_name}) marked KILLED: {reason}",
            file=sys.stderr,
        )
    if killed:
        _tag_versions_of_killed(client, list(experiments), killed)
    return killed


def _tag_versions_of_killed(client, experiment_ids: list[str], killed: list[str]) -> None:
    """Tag the versions registered from a killed training's runs that hold no champion alias."""
    from mlflow.exceptions import MlflowException

    run_ids = set(killed)
    for run_id in killed:
        children = _pages(
            client.search_runs,
            experiment_ids,
            filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'",
            max_results=1000,
        )
        run_ids.update(child.info.run_id for child in children)
    champions: dict[str, str | None] = {}  # search results carry no aliases: ask once a model

    def holds_champion(version) -> bool:
        if version.name not in champions:
            try:
                champion = client.get_model_version_by_alias(version.name, CHAMPION)
                champions[version.name] = str(champion.version)
            except MlflowException:
                champions[version.name] = None
        return champions[version.name] == str(version.version)

    ordered = sorted(run_ids)
    for start in range(0, len(ordered), 100):
        listed = ", ".join(f"'{run_id}'" for run_id in ordered[start : start + 100])
        for version in _pages(client.search_model_versions, filter_string=f"run_id IN ({listed})"):
            if KILLED_REASON in version.tags or holds_champion(version):
                continue
            reason = (
                f"registered by a training whose process ended before it finished (run "
                f"{version.run_id}); this version does not hold the '{CHAMPION}' alias, whatever "
                "its 'promotion' tag says"
            )
            client.set_model_version_tag(version.name, version.version, KILLED_REASON, reason)
            print(
                f"newsclean: version {version.version} of {version.name}: {reason}",
                file=sys.stderr,
            )


def champion_version(model_name: str, alias: str = CHAMPION):
    """The registered model version holding the champion alias (or ``alias``), or None."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None


@dataclass(frozen=True)
class Challenger:
    """A newly trained model and its score on its own validation split (what decides)."""

    model_uri: str
    run_id: str
    digest: str
    data: str  # "corpora" or "sample" (``data_kind``)
    metric: str  # a validation metric, higher is better
    value: float


def data_kind(sources) -> str:
    """ "sample" when the training data is the bundled sample alone, else "corpora"."""
    return "sample" if set(sources) <= {"sample"} else "corpora"


def _await_ready(client, model_name: str, version: str, timeout: float) -> str:
    """The version's status once it is no longer pending registration, or at ``timeout``."""
    deadline, delay = time.monotonic() + timeout, 0.1
    while True:
        status = client.get_model_version(model_name, version).status
        left = deadline - time.monotonic()
        if status != PENDING or left <= 0:
            return status
        time.sleep(min(delay, left))
        delay = min(delay * 2, 5.0)


def promote(
    model_name: str,
    challenger: Challenger,
    score_champion: Callable[[str], float],
    mode: str = "auto",
    ready_timeout: float = READY_TIMEOUT_S,
    alias: str = CHAMPION,
) -> tuple[bool, str]:
    """Register the challenger; move the champion alias only if it wins on validation.
    ``alias`` names another line of champions of the same model (the cleaner's ``fast``
    profile), judged by the same rule against its own holder; the ``sample`` alias is only
    the champion line's.

    ``score_champion(model_uri)`` scores the current champion on the challenger's validation
    split, in the same run, so both are judged on the same data; test figures never decide.
    ``mode``: ``auto`` (the rule), ``never`` (register only), ``force`` (move the alias). A
    model trained on the sample alone never displaces one trained on the corpora; it gets the
    ``sample`` alias. Returns (promoted, reason); the reason is also the version's
    ``promotion`` tag.

    The order of the writes, so that a training killed at any moment leaves the champion
    either as it was or fully moved (tests/test_crash_safety.py kills one before each write):

    1. register the version with its tags (metric, dataset digest, run id, data): one call;
    2. wait until the version is READY (at most ``ready_timeout`` seconds); a version that is
       not READY gets a ``promotion`` tag saying so and no alias;
    3. the ``champion_<metric>`` tag (the champion's score, when it was scored);
    4. the ``promotion`` tag: the decision;
    5. the ``sample`` alias (a version trained on the sample only);
    6. the ``champion`` alias: one call, the last write. Until it happens the champion is the
       old version; a version whose training was killed before it holds no alias, and the
       next training start (``mark_abandoned_runs``) tags it with ``newsclean.killed_reason``.
    """
    import mlflow

    if mode not in PROMOTE_MODES:
        raise ValueError(f"promote mode must be one of {PROMOTE_MODES}, not {mode!r}")
    value = round(challenger.value, 6)
    client = mlflow.MlflowClient()
    current = champion_version(model_name, alias)
    holder = "champion" if alias == CHAMPION else f"'{alias}'"
    version = mlflow.register_model(
        challenger.model_uri,
        model_name,
        await_registration_for=0,  # waited for below, without raising
        tags={
            challenger.metric: f"{value:.6f}",
            "dataset_digest": challenger.digest,
            "run_id": challenger.run_id,
            "data": challenger.data,
        },
    )
    status = _await_ready(client, model_name, version.version, ready_timeout)
    if status != READY:
        reason = (
            f"version {version.version} is {status}, not {READY} (waited up to "
            f"{ready_timeout:g} s); no alias moved"
        )
        client.set_model_version_tag(model_name, version.version, "promotion", reason)
        return False, reason
    if mode == "force":
        promoted = True
        reason = "forced (--promote force)" + (
            f"; replaced {holder} v{current.version}" if current is not None else ""
        )
    elif mode == "never":
        promoted, reason = False, "not promoted (--promote never)"
    elif current is None:
        promoted, reason = True, f"no {holder} yet"
    elif challenger.data == "sample" and current.tags.get("data", "corpora") != "sample":
        promoted = False
        reason = (
            f"trained on the bundled sample only; {holder} v{current.version} was trained on "
            "the corpora and is kept"
            + (f" (this version has the alias '{SAMPLE_ALIAS}')" if alias == CHAMPION else "")
        )
    else:
        try:
            old_value = round(float(score_champion(f"models:/{model_name}/{current.version}")), 6)
        except Exception as error:  # noqa: BLE001 - any failure to score means: keep it
            old_value = None
            promoted = False
            reason = (
                f"{holder} v{current.version} cannot score the new validation data "
                f"({type(error).__name__}: {str(error)[:200]}); {holder} kept"
            )
        if old_value is not None:
            client.set_model_version_tag(
                model_name, version.version, f"champion_{challenger.metric}", f"{old_value:.6f}"
            )
            promoted = value > old_value
            comparison = ">" if promoted else "<="
            reason = (
                f"{challenger.metric} {value:.4f} {comparison} {holder} v{current.version}'s "
                f"{old_value:.4f} on the same validation data; "
                + ("promoted" if promoted else f"{holder} kept")
            )
    client.set_model_version_tag(model_name, version.version, "promotion", reason)
    if challenger.data == "sample" and alias == CHAMPION:
        client.set_registered_model_alias(model_name, SAMPLE_ALIAS, version.version)
    if promoted:
        client.set_registered_model_alias(model_name, alias, version.version)
    return promoted, reason


def log_split_datasets(
    parts: dict, columns: list[str], target: str, name: str, digest: str, source: str
) -> None:
    """Log each split (``{"train": frame, "validation": …, "test": …}``) as an MLflow dataset
    input of the active run, with its context: the UI's Datasets column and a run's lineage
    then say which rows a model was fitted, chosen and scored on. Empty splits are skipped."""
    import mlflow

    for context, part in parts.items():
        if part is None or part.empty:
            continue
        data = mlflow.data.from_pandas(
            part[columns].reset_index(drop=True),
            source=source,
            targets=target,
            # One name per split: MLflow keeps one input per (name, digest) on a run.
            name=f"{name}-{context}",
            digest=digest[:16],
        )
        mlflow.log_input(data, context=context)
