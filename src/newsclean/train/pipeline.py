"""``make train``: every task on the saved dataset, then the cleaner over the champions.

One parent run per ``make train`` and task, one child run per candidate, so the MLflow UI's
compare view lines them up. Candidates are chosen on the validation split only; the test
split is scored for the report, never for choosing or promoting.
"""

from __future__ import annotations

import json
import time

from newsclean import memory, tracking
from newsclean.config import Config
from newsclean.data import dataset
from newsclean.train.cleaner import build_and_register_cleaner
from newsclean.train.fast import build_and_register_fast_cleaner
from newsclean.train.kind import train_kind
from newsclean.train.runs import TASKS, with_resources
from newsclean.train.topic import train_topic


def train_all(config: Config, tasks: list[str] | None = None) -> list[dict]:
    """Train every task on the saved dataset; return one summary row per task."""
    frame = dataset.load(config.paths.processed_dir)
    digest = dataset.load_digest(config.paths.processed_dir)
    card_path = config.paths.processed_dir / "data_card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    tracking.configure(config)
    results = []
    for name in [t for t in tasks or TASKS if t != "cleaner"]:
        started, per_task = time.perf_counter(), memory.reset_peak()
        if name == "kind":
            result = train_kind(frame, config, digest, card)
        elif name == "topic":
            result = train_topic(frame, config, digest, card)
        else:
            raise ValueError(f"unknown task {name!r}; tasks: {', '.join([*TASKS, 'cleaner'])}")
        results.append(with_resources(result, time.perf_counter() - started, per_task))
    if tasks is None or "cleaner" in tasks:
        # The product over the champions; a partial run (one task) leaves the cleaner as it is.
        results.append(build_and_register_cleaner(config, digest, card))
        # The fast profile beside it (alias ``fast``), over the same champions.
        results.append(build_and_register_fast_cleaner(config, digest, card))
    return results
