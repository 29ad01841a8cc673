"""What every training task shares: the task table, the parent run's outcome and the results
table ``make train`` ends with."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from newsclean import memory, tracking
from newsclean.config import KINDS, TOPICS, Config


@dataclass(frozen=True)
class Task:
    name: str
    label: str
    labels: tuple[str, ...]
    experiment: Callable[[Config], str]
    registered_model: str

    def rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame[self.label].notna()]


TASKS = {
    "kind": Task("kind", "kind", KINDS, lambda c: c.tracking.kind_experiment, "newsclean-kind"),
    "topic": Task(
        "topic", "topic", TOPICS, lambda c: c.tracking.topic_experiment, "newsclean-topic"
    ),
}


def cap(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    if not limit or len(frame) <= limit:
        return frame
    return frame.sample(n=limit, random_state=seed).sort_index()


def with_resources(result: dict, seconds: float, per_task: bool) -> dict:
    """Add the task's wall time and peak memory (the whole task: candidates, page-level
    scoring, leave-one-corpus-out) to its summary row and its parent run."""
    import mlflow

    resources = {"task_seconds": round(seconds, 1), "peak_memory_mb": round(memory.peak_mb(), 1)}
    if result.get("parent_run_id"):
        client = mlflow.MlflowClient()
        for key, value in resources.items():
            client.log_metric(result["parent_run_id"], key, value)
        scope = "task" if per_task else "process"
        client.set_tag(result["parent_run_id"], "peak_memory_scope", scope)
    return {**result, **resources}


def close_parent(
    task_name: str,
    parent_id: str,
    best: dict,
    promoted: bool,
    reason: str,
    detail: str,
    card_summary: str,
) -> dict:
    """Mark the best run, describe the outcome on the parent run (what the UI shows) and
    return the summary row the results table prints."""
    import mlflow

    mlflow.MlflowClient().set_tag(best["run_id"], "champion", str(promoted).lower())
    mlflow.log_metrics(
        {
            f"best_{k}": v
            for k, v in best["metrics"].items()
            if k in {"val_macro_f1", "test_macro_f1", "test_news_f1"}
        }
    )
    description = (
        f"{task_name}: best candidate {best['run_name']} ({detail}). Champion: "
        f"{'yes' if promoted else 'no'}: {reason}. Data: {card_summary}."
    )
    mlflow.set_tags(
        {"mlflow.note.content": description, "best_run": best["run_name"], "promotion": reason}
    )
    return {
        "task": task_name,
        "parent_run_id": parent_id,
        "best": best["run_name"],
        "promoted": promoted,
        "reason": reason,
        **best["metrics"],
    }


def log_splits(parts: dict[str, pd.DataFrame], task: Task, digest: str, config: Config) -> None:
    from newsclean.data.dataset import paragraphs_path

    tracking.log_split_datasets(
        parts,
        ["source", "doc_id", "text", task.label],
        task.label,
        f"newsclean-paragraphs-{task.name}",
        digest,
        str(paragraphs_path(config.paths.processed_dir)),
    )


def not_built(task: str, reason: str, score_name: str) -> dict:
    """The ``results_table`` row of a task that could not run (``reason`` says why)."""
    print(f"  {task}: not built ({reason})", file=sys.stderr)
    return {
        "task": task,
        "parent_run_id": None,
        "best": "-",
        "promoted": False,
        "reason": reason,
        "score_name": score_name,
        "val_macro_f1": float("nan"),
        "test_macro_f1": float("nan"),
    }


def results_table(results: list[dict]) -> str:
    """The table ``make train`` ends with: one row per task. ``score_name`` says what the val
    and test columns measure (macro-F1 for the classifiers, clean F1 for the cleaner)."""

    def cell(row: dict, key: str, digits: int = 4) -> str:
        value = row.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:.{digits}f}"

    header = (
        "| task | best candidate | metric | val | test | test news F1 | task s | peak MB "
        "| champion |"
    )
    lines = [header, "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(
            f"| {r['task']} | {r['best']} | {r.get('score_name', 'macro-F1')} | "
            f"{cell(r, 'val_macro_f1')} | {cell(r, 'test_macro_f1')} | "
            f"{cell(r, 'test_news_f1')} | {cell(r, 'task_seconds', 0)} | "
            f"{cell(r, 'peak_memory_mb', 0)} | "
            f"{'yes' if r['promoted'] else 'no'} ({r['reason']}) |"
        )
    return "\n".join(lines)
