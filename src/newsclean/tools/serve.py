"""``newsclean serve`` (``make serve``): the registered cleaner as a REST service, through
``mlflow models serve`` (local environment, loopback) on the project's tracking store."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from newsclean import tracking
from newsclean.clean.registry import CLEANER_MODEL_NAME, FAST_ALIAS, PROFILES
from newsclean.config import Config


def serve_command(
    config: Config, port: int, host: str = "127.0.0.1", workers: int = 1, profile: str = "accurate"
) -> list[str]:
    """The ``mlflow models serve`` command line for the registered cleaner of ``profile``."""
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    return [
        str(mlflow_cli) if mlflow_cli.exists() else "mlflow",
        "models",
        "serve",
        "-m",
        PROFILES[profile],
        "--env-manager",
        "local",
        "-h",
        host,
        "-p",
        str(port),
        "-w",
        str(workers),
    ]


def serve(
    config: Config,
    port: int = 5002,
    host: str = "127.0.0.1",
    workers: int = 1,
    profile: str = "accurate",
) -> int:
    """Check that a cleaner of ``profile`` is registered, then replace this process with
    ``mlflow models serve`` on it."""
    tracking.configure(config)
    alias = FAST_ALIAS if profile == FAST_ALIAS else tracking.CHAMPION
    if tracking.champion_version(CLEANER_MODEL_NAME, alias) is None:
        print(
            f"serve: no {CLEANER_MODEL_NAME} {alias} in {config.tracking.tracking_uri}; "
            "run `make train` first",
            file=sys.stderr,
        )
        return 1
    command = serve_command(config, port, host, workers, profile)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": config.tracking.tracking_uri,
        "MLFLOW_REGISTRY_URI": config.tracking.tracking_uri,
        # mlflow starts `uvicorn` by name: our venv's bin must come first on PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    print(
        f"serving {PROFILES[profile]} on http://{host}:{port}/invocations (Ctrl-C stops)",
        file=sys.stderr,
    )
    os.execvpe(command[0], command, env)
    return 0  # pragma: no cover - exec does not return
