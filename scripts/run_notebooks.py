"""Execute the notebooks (what ``make notebooks`` runs); the stored notebooks stay output-free.

Each notebook in notebooks/ (or those named) runs top to bottom in a fresh Python kernel of this
interpreter, from the notebooks folder, with this process's environment: the notebooks read
every path and the tracking URI from ``newsclean.config.load_config()``, so ``NEWSCLEAN_*``
variables (the Makefile's, or a test's) choose the dataset and the tracking store. The executed
copies, outputs included, go to ``--out`` (default ``<reports_dir>/notebooks``).

    python scripts/run_notebooks.py [--out DIR] [--timeout SECONDS] [NOTEBOOK ...]

Exit code 0 when every notebook ran, 1 at the first failing cell (its error is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(path: Path, out_dir: Path, timeout: int = 600) -> Path:
    """Run one notebook in a fresh kernel; write the executed copy to ``out_dir``."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="newsclean-kernel-") as runtime:
        # This interpreter's ipykernel ("python3"; jupyter_client maps "python" to
        # sys.executable), talking over unix sockets in a private folder rather than TCP.
        kernel = KernelManager(
            kernel_name="python3", transport="ipc", ip=str(Path(runtime) / "kernel")
        )
        client = NotebookClient(
            notebook,
            km=kernel,
            timeout=timeout,
            startup_timeout=120,
            resources={"metadata": {"path": str(path.parent)}},
        )
        try:
            client.execute()
        finally:
            if kernel.has_kernel:  # ours, not nbclient's: shut it down ourselves
                kernel.shutdown_kernel(now=True)
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / path.name
            nbformat.write(notebook, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, help="default: <reports_dir>/notebooks")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (600)")
    args = parser.parse_args(argv)

    from nbclient.exceptions import CellExecutionError

    from newsclean.config import load_config

    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    out_dir = args.out or load_config().paths.reports_dir / "notebooks"
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        started = time.perf_counter()
        try:
            target = execute(path.resolve(), out_dir, args.timeout)
        except CellExecutionError as error:
            print(f"{path.name}: a cell failed\n{error}", file=sys.stderr)
            return 1
        print(f"{path.name}: ran in {time.perf_counter() - started:.0f} s -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
