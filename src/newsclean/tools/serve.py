"""``newsclean serve`` (``make serve``): the registered cleaner as a REST service, through
``mlflow models serve`` (local environment, loopback) on the project's tracking store."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from newsclean import tracking
from newsclean.clean.registry import CLEANER_MODEL_NAME, DEFAULT_MODEL_URI
from newsclean.config import Config


def serve_command(
    config: Config, port: int, host: str = "127.0.0.1", workers: int = 1
) -> list[str]:
    """The ``mlflow models serve`` command line for the registered cleaner."""
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    return [
        str(mlflow_cli) if mlflow_cli.exists() else "mlflow",
        "models",
        "serve",
        "-m",
        DEFAULT_MODEL_URI,
        "--env-manager",
        "local",
        "-h",
        host,
        "-p",
        str(port),
        "-w",
        str(workers),
    ]


def serve(config: Config, port: int = 5002, host: str = "127.0.0.1", workers: int = 1) -> int:
    """Check that a cleaner is registered, then replace this process with ``mlflow models
    serve`` on it."""
    tracking.configure(config)
    if tracking.champion_version(CLEANER_MODEL_NAME) is None:
        print(
            f"serve: no {CLEANER_MODEL_NAME} champion in {config.tracking.tracking_uri}; "
            "run `make train` first",
            file=sys.stderr,
        )
        return 1
    command = serve_command(config, port, host, workers)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": config.tracking.tracking_uri,
        "MLFLOW_REGISTRY_URI": config.tracking.tracking_uri,
        # mlflow starts `uvicorn` by name: our venv's bin must come first on PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    print(
        f"serving {DEFAULT_MODEL_URI} on http://{host}:{port}/invocations (Ctrl-C stops)",
        file=sys.stderr,
    )
    os.execvpe(command[0], command, env)
    return 0  # pragma: no cover - exec does not return
