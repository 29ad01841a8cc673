"""MLflow plumbing: one place sets the tracking store, experiments, tags and the champion rule.

Never rely on MLflow's default store (see shared/NOTES.md): every entry point calls
``configure`` with the tracking URI and artifact root from the config.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
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

    tags = {**run_tags(digest, card_summary), "role": role}
    if task:
        tags["task"] = task
    with mlflow.start_run(run_name=run_name, nested=nested) as run:
        mlflow.set_tags(tags)
        yield run


def champion_version(model_name: str):
    """The registered model version holding the champion alias, or None."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
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


def promote(
    model_name: str,
    challenger: Challenger,
    score_champion: Callable[[str], float],
    mode: str = "auto",
) -> tuple[bool, str]:
    """Register the challenger; move the champion alias only if it wins on validation.

    ``score_champion(model_uri)`` scores the current champion on the challenger's validation
    split, in the same run, so both are judged on the same data; test figures never decide.
    ``mode``: ``auto`` (the rule), ``never`` (register only), ``force`` (move the alias). A
    model trained on the sample alone never displaces one trained on the corpora; it gets the
    ``sample`` alias. The alias moves last, after every tag is written: a training killed
    before that leaves the champion as it was. Returns (promoted, reason); the reason is
    also the version's ``promotion`` tag."""
    import mlflow

    if mode not in PROMOTE_MODES:
        raise ValueError(f"promote mode must be one of {PROMOTE_MODES}, not {mode!r}")
    value = round(challenger.value, 6)
    client = mlflow.MlflowClient()
    current = champion_version(model_name)
    version = mlflow.register_model(challenger.model_uri, model_name)
    for key, tag in (
        (challenger.metric, f"{value:.6f}"),
        ("dataset_digest", challenger.digest),
        ("run_id", challenger.run_id),
        ("data", challenger.data),
    ):
        client.set_model_version_tag(model_name, version.version, key, tag)
    if mode == "force":
        promoted = True
        reason = "forced (--promote force)" + (
            f"; replaced champion v{current.version}" if current is not None else ""
        )
    elif mode == "never":
        promoted, reason = False, "not promoted (--promote never)"
    elif current is None:
        promoted, reason = True, "no champion yet"
    elif challenger.data == "sample" and current.tags.get("data", "corpora") != "sample":
        promoted = False
        reason = (
            f"trained on the bundled sample only; champion v{current.version} was trained on "
            f"the corpora and is kept (this version has the alias '{SAMPLE_ALIAS}')"
        )
    else:
        try:
            old_value = round(float(score_champion(f"models:/{model_name}/{current.version}")), 6)
        except Exception as error:  # noqa: BLE001 - any failure to score means: keep it
            old_value = None
            promoted = False
            reason = (
                f"champion v{current.version} cannot score the new validation data "
                f"({type(error).__name__}: {str(error)[:200]}); champion kept"
            )
        if old_value is not None:
            client.set_model_version_tag(
                model_name, version.version, f"champion_{challenger.metric}", f"{old_value:.6f}"
            )
            promoted = value > old_value
            comparison = ">" if promoted else "<="
            reason = (
                f"{challenger.metric} {value:.4f} {comparison} champion v{current.version}'s "
                f"{old_value:.4f} on the same validation data; "
                + ("promoted" if promoted else "champion kept")
            )
    client.set_model_version_tag(model_name, version.version, "promotion", reason)
    if challenger.data == "sample":
        client.set_registered_model_alias(model_name, SAMPLE_ALIAS, version.version)
    if promoted:
        client.set_registered_model_alias(model_name, CHAMPION, version.version)
    return promoted, reason
