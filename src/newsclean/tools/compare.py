"""Compare runs: the last trainings of each experiment, their candidates, baselines and champion.

``make compare`` / ``newsclean compare`` print, per experiment (``newsclean-kind``,
``newsclean-topic``), the last N parent runs (one per ``make train``) newest first, each with
its description and its child runs (candidates and baselines) under the same key metrics the
MLflow UI shows, plus the run that holds the registered model's ``champion`` alias.

``install_views`` writes a saved view of the MLflow UI's runs page into each experiment (MLflow's
own "share view" mechanism: an experiment tag ``mlflow.sharedViewState.<key>``): the key metrics
as columns, runs sorted by validation macro-F1, and a chart section with one bar chart per key
metric. ``make ui`` prints links that open it.
"""

from __future__ import annotations

import json
import math
import textwrap
import urllib.parse
from dataclasses import dataclass, field

import pandas as pd

from newsclean.config import Config

# The metrics every candidate, baseline and peer logs under the same names (newsclean.train.pages
# and newsclean.train.kind); a metric no run of an experiment has is left out of its table.
KEY_METRICS = (
    "val_selection_score",
    "val_macro_f1",
    "val_accuracy",
    "test_macro_f1",
    "test_news_f1",
    "page_f1_all",
    "train_seconds",
    "predict_paragraphs_per_s",
)
# What picks the best candidate of a training (validation only): the first of these any run has.
SELECTION_METRICS = ("val_selection_score", "val_macro_f1")
CHAMPION_METRIC = "test_macro_f1"
CHAMPION_ALIAS = "champion"
VIEW_KEY = "newsclean"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
PARENT_ROLE = "parent"
DEFAULT_LAST = 3


@dataclass
class Champion:
    model: str
    version: str
    run_id: str
    run_name: str = "?"
    training: str = "?"
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"models:/{self.model}@{CHAMPION_ALIAS}"


@dataclass
class Training:
    """One parent run (one ``make train`` of one task) and its child runs."""

    run_id: str
    name: str
    started: pd.Timestamp | None
    status: str
    tags: dict[str, str]
    metrics: dict[str, float]
    children: pd.DataFrame  # one row per child run: run, role, status, metrics...

    @property
    def description(self) -> str:
        return self.tags.get("mlflow.note.content", "")


@dataclass
class ExperimentComparison:
    name: str
    experiment_id: str | None
    trainings: list[Training]
    champion: Champion | None
    metrics: list[str]  # the key metrics present in this experiment, in KEY_METRICS order
    champion_training: Training | None = None  # the champion's training when not among the last

    def table(self) -> pd.DataFrame:
        """Every child run of the shown trainings (and the champion's), one row each."""
        frames = [t.children.assign(training=t.name) for t in self._all_trainings()]
        columns = ["training", "run", "role", "status", *self.metrics, "run_id"]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True)[columns]

    def _all_trainings(self) -> list[Training]:
        extra = [self.champion_training] if self.champion_training else []
        return [*self.trainings, *extra]


def _registered_model(config: Config, experiment_name: str) -> str:
    """The registered model a task's experiment promotes to (the task table says which)."""
    try:
        from newsclean.train.runs import TASKS

        for task in TASKS.values():
            if task.experiment(config) == experiment_name:
                return task.registered_model
    except (ImportError, AttributeError):
        pass
    return experiment_name


def experiment_names(config: Config) -> list[str]:
    return [config.tracking.kind_experiment, config.tracking.topic_experiment]


def _client(config: Config):
    import mlflow

    from newsclean import tracking

    tracking.configure(config)
    return mlflow.MlflowClient(
        tracking_uri=config.tracking.tracking_uri, registry_uri=config.tracking.tracking_uri
    )


def _run_row(run, metrics: list[str]) -> dict[str, object]:
    tags = run.data.tags
    row: dict[str, object] = {
        "run": tags.get("mlflow.runName", run.info.run_name or run.info.run_id[:8]),
        "role": tags.get("role", "child"),
        "status": "",
        "run_state": run.info.status,
        "run_id": run.info.run_id,
    }
    for metric in metrics:
        row[metric] = run.data.metrics.get(metric, math.nan)
    return row


def _selection_score(frame: pd.DataFrame) -> pd.Series:
    score = pd.Series(math.nan, index=frame.index)
    for metric in (*SELECTION_METRICS, "page_f1_all"):
        if metric in frame:
            score = score.fillna(frame[metric])
    return score


def selection_metric(metrics: list[str]) -> str:
    return next((m for m in SELECTION_METRICS if m in metrics), SELECTION_METRICS[-1])


def _training(client, parent, champion_run_id: str | None) -> Training:
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        max_results=1000,
    )
    best_name = parent.data.tags.get("best_run")
    rows = [_run_row(run, list(KEY_METRICS)) for run in children]
    for row in rows:
        marks = []
        if row["run_id"] == champion_run_id:
            marks.append("champion")
        elif row["run"] == best_name and row["role"] != "baseline":
            marks.append("best")
        if row["run_state"] != "FINISHED":
            marks.append(str(row["run_state"]).lower())
        row["status"] = ", ".join(marks)
    frame = pd.DataFrame(
        rows, columns=["run", "role", "status", "run_state", "run_id", *KEY_METRICS]
    )
    if not frame.empty:
        # Runs with none of the key metrics (analyses such as leave-one-corpus-out) are left out.
        frame = frame[frame[list(KEY_METRICS)].notna().any(axis=1)]
        # Candidates first, best on validation first; then baselines, then peers.
        order = {"candidate": 0, "baseline": 1, "peer": 2}
        frame = frame.assign(
            _order=frame["role"].map(order).fillna(3),
            _score=_selection_score(frame),
        )
        frame = frame.sort_values(
            ["_order", "_score"], ascending=[True, False], na_position="last"
        ).drop(columns=["_order", "_score"])
    started = (
        pd.Timestamp(parent.info.start_time, unit="ms", tz="UTC")
        if parent.info.start_time
        else None
    )
    return Training(
        run_id=parent.info.run_id,
        name=parent.data.tags.get("mlflow.runName", parent.info.run_name or parent.info.run_id),
        started=started,
        status=parent.info.status,
        tags=dict(parent.data.tags),
        metrics=dict(parent.data.metrics),
        children=frame.reset_index(drop=True),
    )


def _champion(client, model_name: str) -> Champion | None:
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    except MlflowException:
        return None
    run_id = version.run_id or version.tags.get("run_id", "")
    champion = Champion(model=model_name, version=str(version.version), run_id=run_id)
    if run_id:
        try:
            run = client.get_run(run_id)
        except MlflowException:
            return champion
        champion.run_name = run.data.tags.get("mlflow.runName", run.info.run_name or run_id)
        champion.metrics = dict(run.data.metrics)
    return champion


def compare_experiment(
    config: Config, name: str, last: int = DEFAULT_LAST, client=None
) -> ExperimentComparison:
    """The last ``last`` trainings of experiment ``name``, newest first, and its champion."""
    client = client or _client(config)
    experiment = client.get_experiment_by_name(name)
    champion = _champion(client, _registered_model(config, name))
    if experiment is None:
        return ExperimentComparison(name, None, [], champion, [])
    parents = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.role = '{PARENT_ROLE}'",
        order_by=["attributes.start_time DESC"],
        max_results=max(1, last),
    )
    champion_run_id = champion.run_id if champion else None
    trainings = [_training(client, parent, champion_run_id) for parent in parents]
    champion_training = None
    if champion and champion.run_id:
        holder = next((t for t in trainings if champion.run_id in set(t.children["run_id"])), None)
        if holder is None:
            parent_id = _parent_of(client, champion.run_id)
            if parent_id:
                parent = client.get_run(parent_id)
                if parent.info.experiment_id == experiment.experiment_id:
                    champion_training = _training(client, parent, champion_run_id)
                    # Show only the champion's own row from an older training.
                    children = champion_training.children
                    champion_training.children = children[children["run_id"] == champion.run_id]
                    holder = champion_training
        if holder is not None:
            champion.training = holder.name
    present = [
        metric
        for metric in KEY_METRICS
        if any(
            t.children[metric].notna().any()
            for t in [*trainings, *([champion_training] if champion_training else [])]
            if not t.children.empty
        )
    ]
    return ExperimentComparison(
        name, experiment.experiment_id, trainings, champion, present, champion_training
    )


def _parent_of(client, run_id: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id).data.tags.get("mlflow.parentRunId")
    except MlflowException:
        return None


def compare(
    config: Config, last: int = DEFAULT_LAST, experiments: list[str] | None = None
) -> list[ExperimentComparison]:
    client = _client(config)
    return [
        compare_experiment(config, name, last, client)
        for name in experiments or experiment_names(config)
    ]


# ---------------------------------------------------------------------------------- rendering


def _fmt(value: object, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    value = float(value)
    if metric == "predict_paragraphs_per_s":
        return f"{value:,.0f}"
    if metric == "train_seconds":
        return f"{value:,.1f}"
    return f"{value:.4f}"


def _grid(header: list[str], rows: list[list[str]], numeric_from: int) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i >= numeric_from else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _training_rows(training: Training, metrics: list[str]) -> list[list[str]]:
    return [
        [
            _short(str(row["run"]), 40),
            str(row["role"]),
            str(row["status"]),
            *(_fmt(row[m], m) for m in metrics),
        ]
        for _, row in training.children.iterrows()
    ]


def render_text(comparisons: list[ExperimentComparison], last: int = DEFAULT_LAST) -> str:
    """The comparison as fixed-width text, one block per experiment."""
    out: list[str] = []
    for comp in comparisons:
        shown = len(comp.trainings)
        if shown:
            plural = "s" if shown != 1 else ""
            out.append(f"== {comp.name}: the last {shown} training{plural}, newest first ==")
        else:
            out.append(f"== {comp.name}: no trainings yet ==")
        if comp.champion:
            c = comp.champion
            score = c.metrics.get(CHAMPION_METRIC)
            score_text = f", {CHAMPION_METRIC} {score:.4f}" if score is not None else ""
            out.append(
                f"champion: {c.uri} = version {c.version}: run '{c.run_name}' of "
                f"{c.training}{score_text}"
            )
        else:
            out.append("champion: none registered yet")
        if comp.experiment_id is None:
            out.append("no runs yet: run `make train` first")
            out.append("")
            continue
        if not comp.trainings:
            out.append("no trainings (parent runs) in this experiment yet")
        header = ["run", "role", "status", *comp.metrics]
        blocks = [(t, "") for t in comp.trainings]
        if comp.champion_training:
            blocks.append((comp.champion_training, " (older training; the champion's run only)"))
        for training, suffix in blocks:
            out.append("")
            started = training.started.strftime("%Y-%m-%d %H:%M UTC") if training.started else "?"
            facts = [started]
            if training.tags.get("git_commit"):
                facts.append(f"git {training.tags['git_commit']}")
            if training.tags.get("dataset_digest"):
                facts.append(f"data {training.tags['dataset_digest'][:12]}")
            if training.status != "FINISHED":
                facts.append(training.status.lower())
            out.append(f"{training.name}{suffix}  ({', '.join(facts)})")
            if training.description:
                out.extend(
                    textwrap.wrap(
                        training.description, width=110, initial_indent="  ", subsequent_indent="  "
                    )
                )
            if training.children.empty:
                out.append("  (no candidate or baseline runs)")
                continue
            out.extend(
                "  " + line for line in _grid(header, _training_rows(training, comp.metrics), 3)
            )
        out.append("")
    out.append(
        f"status: champion = holds @{CHAMPION_ALIAS} in the model registry; best = chosen on the "
        f"validation split ({' or '.join(SELECTION_METRICS)}) in its training but not promoted "
        "(the description says why)."
    )
    return "\n".join(out)


def render_markdown(comparisons: list[ExperimentComparison], last: int = DEFAULT_LAST) -> str:
    out: list[str] = []
    for comp in comparisons:
        out.append(f"### {comp.name}: the last {len(comp.trainings)} trainings (at most {last})")
        out.append("")
        if comp.champion:
            c = comp.champion
            out.append(
                f"Champion: `{c.uri}` = version {c.version}, run `{c.run_name}` of `{c.training}`."
            )
            out.append("")
        table = comp.table()
        if table.empty:
            out.append("No runs yet.")
            out.append("")
            continue
        header = ["training", "run", "role", "status", *comp.metrics]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * 4 + "---:|" * len(comp.metrics))
        for _, row in table.iterrows():
            cells = [str(row[h]) for h in header[:4]] + [_fmt(row[m], m) for m in comp.metrics]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------- the UI links


def ui_links(base_url: str, comparison: ExperimentComparison) -> dict[str, str]:
    """Links into the MLflow UI: the runs page with our saved view, and the latest compare view."""
    base = base_url.rstrip("/")
    links: dict[str, str] = {}
    if comparison.experiment_id is None:
        return links
    query = urllib.parse.urlencode(
        {"workflowType": "machine_learning", "viewStateShareKey": VIEW_KEY}
    )
    links["runs"] = f"{base}/#/experiments/{comparison.experiment_id}/runs?{query}"
    links["charts"] = links["runs"] + "&compareRunsMode=CHART"
    if comparison.trainings and not comparison.trainings[0].children.empty:
        run_ids = list(comparison.trainings[0].children["run_id"])
        links["compare_latest"] = compare_url(base, run_ids, [comparison.experiment_id])
    return links


def compare_url(base_url: str, run_ids: list[str], experiment_ids: list[str]) -> str:
    runs = urllib.parse.quote(json.dumps(run_ids, separators=(",", ":")))
    experiments = urllib.parse.quote(json.dumps(experiment_ids, separators=(",", ":")))
    return f"{base_url.rstrip('/')}/#/compare-runs?runs={runs}&experiments={experiments}"


def view_state(metrics: list[str]) -> dict[str, object]:
    """The runs page as we want it opened: key metrics as columns and as bar charts."""

    def metric(key: str) -> str:
        return f"metrics.`{key}`"

    def tag(key: str) -> str:
        return f"tags.`{key}`"

    shown = [m for m in KEY_METRICS if m in metrics] or [SELECTION_METRICS[-1], CHAMPION_METRIC]
    selection = selection_metric(shown)
    section = "newsclean-key-metrics"
    charts: list[dict[str, object]] = [
        {
            "uuid": f"newsclean-{m}",
            "type": "BAR",
            "metricKey": m,
            "metricSectionId": section,
            "runsCountToCompare": 20,
            "deleted": False,
            "isGenerated": False,
        }
        for m in shown
    ]
    if "predict_paragraphs_per_s" in shown:
        charts.append(
            {
                "uuid": "newsclean-quality-vs-speed",
                "type": "SCATTER",
                "xaxis": {"key": "predict_paragraphs_per_s", "type": "METRIC"},
                "yaxis": {"key": selection, "type": "METRIC"},
                "metricSectionId": section,
                "runsCountToCompare": 20,
                "deleted": False,
                "isGenerated": False,
            }
        )
    columns = [
        *(metric(m) for m in shown),
        tag("role"),
        tag("champion"),
        tag("best_run"),
        # The parent's "why" (the table hides mlflow.* tags such as the description).
        tag("promotion"),
    ]
    return {
        "searchFilter": "",
        "orderByKey": metric(selection),
        "orderByAsc": False,
        "selectedColumns": columns,
        "columnOrder": columns,  # KEY_METRICS order, not alphabetical
        "compareRunCharts": charts,
        "compareRunSections": [
            {
                "uuid": section,
                "name": "newsclean: key metrics (candidates, baselines, peers)",
                "display": True,
                "isReordered": False,
            }
        ],
        "isAccordionReordered": True,
        "hideEmptyCharts": True,
    }


def install_views(config: Config, client=None) -> list[ExperimentComparison]:
    """Write our saved runs-page view into each experiment that exists; return what was found."""
    client = client or _client(config)
    found = []
    for name in experiment_names(config):
        comparison = compare_experiment(config, name, DEFAULT_LAST, client)
        if comparison.experiment_id is not None:
            metrics = _experiment_metrics(client, comparison.experiment_id)
            client.set_experiment_tag(
                comparison.experiment_id, VIEW_TAG, json.dumps(view_state(metrics))
            )
        found.append(comparison)
    return found


def _experiment_metrics(client, experiment_id: str) -> list[str]:
    runs = client.search_runs(
        [experiment_id], max_results=200, order_by=["attributes.start_time DESC"]
    )
    keys = {key for run in runs for key in run.data.metrics}
    return [m for m in KEY_METRICS if m in keys]


def main(config: Config, last: int = DEFAULT_LAST, fmt: str = "text", experiments=None) -> str:
    comparisons = compare(config, last, experiments)
    return (
        render_markdown(comparisons, last) if fmt == "markdown" else render_text(comparisons, last)
    )
