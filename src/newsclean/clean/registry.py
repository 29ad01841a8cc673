"""Where the cleaner's models come from: the project's MLflow registry.

The names the models are registered under, and loading by URI: a logged cleaner (the pyfunc,
default its ``champion`` alias) or the kind and topic champions on their own. It returns
models, never a ``Cleaner``: ``Cleaner.load`` and ``Cleaner.from_champions`` build one, so the
cleaner and its pyfunc both sit above this module."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from newsclean import tracking
from newsclean.clean.results import ModelNotFoundError
from newsclean.config import Config, load_config

CLEANER_MODEL_NAME = "newsclean-cleaner"
KIND_MODEL_NAME = "newsclean-kind"
TOPIC_MODEL_NAME = "newsclean-topic"
DEFAULT_MODEL_URI = f"models:/{CLEANER_MODEL_NAME}@champion"
# The cleaner's profiles: ``accurate`` is the champion; ``fast`` a cheaper cleaner registered
# beside it under its own alias (``newsclean.train.fast``).
FAST_ALIAS = "fast"
PROFILES = {
    "accurate": DEFAULT_MODEL_URI,
    FAST_ALIAS: f"models:/{CLEANER_MODEL_NAME}@{FAST_ALIAS}",
}


def profile_uri(profile: str | None = None, model: str | None = None) -> str:
    """The cleaner URI a user asked for: ``model`` when given, else the profile's (default
    ``accurate``, the champion)."""
    if model:
        return model
    profile = (profile or "accurate").strip().lower()
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[profile]


def configured(config: Config | None) -> Config:
    """The given configuration (default: the project's), with MLflow pointed at its store."""
    config = config or load_config()
    tracking.configure(config)
    return config


def _not_found(error: Exception) -> bool:
    text = str(error).lower()
    return any(
        marker in text
        for marker in ("not found", "does not exist", "resource_does_not_exist", "no such file")
    )


def load_python_model(uri: str | None = None, config: Config | None = None) -> Any:
    """The python model inside a logged cleaner (default: the registered champion in the
    project's tracking store); ``ModelNotFoundError`` with a hint when there is none."""
    from mlflow.exceptions import MlflowException

    config = configured(config)
    uri = uri or DEFAULT_MODEL_URI
    hint = "run `make train` first" if uri in PROFILES.values() else "check --model"
    store = config.tracking.tracking_uri
    sqlite_path = Path(store.removeprefix("sqlite:///"))
    if uri.startswith("models:/") and store.startswith("sqlite:///") and not sqlite_path.exists():
        # Say so instead of letting MLflow create an empty store.
        raise ModelNotFoundError(f"no trained cleaner: no tracking store at {store}; {hint}")
    try:
        import warnings

        import mlflow.pyfunc

        search_path = list(sys.path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "add type hints to predict"
                model = mlflow.pyfunc.load_model(uri)
        finally:
            # MLflow puts the model's logged copy of our code first on sys.path; this process
            # runs the installed newsclean (old pickles resolve through newsclean.legacy), and
            # worker processes must not import a stale copy.
            sys.path[:] = search_path
    except (MlflowException, OSError) as error:
        if _not_found(error) or isinstance(error, OSError):
            raise ModelNotFoundError(
                f"no trained cleaner at {uri} (tracking store {config.tracking.tracking_uri}); "
                f"{hint}"
            ) from error
        raise
    return model.unwrap_python_model()


def load_sklearn(uri: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(uri)


def champion_uri(name: str) -> str | None:
    """``models:/NAME/VERSION`` of the current champion (pinned), or None."""
    version = tracking.champion_version(name)
    return None if version is None else f"models:/{name}/{version.version}"


def champion_models(
    config: Config | None = None, kind_uri: str | None = None, topic_uri: str | None = None
) -> tuple[Any, Any, dict[str, str | None]]:
    """The kind and topic models (default: the champions) and where they came from."""
    configured(config)
    kind_uri = kind_uri or champion_uri(KIND_MODEL_NAME)
    if kind_uri is None:
        raise ModelNotFoundError(f"no {KIND_MODEL_NAME} champion; run `make train` first")
    topic_uri = topic_uri or champion_uri(TOPIC_MODEL_NAME)
    topic = load_sklearn(topic_uri) if topic_uri else None
    return load_sklearn(kind_uri), topic, {"kind_model": kind_uri, "topic_model": topic_uri}
