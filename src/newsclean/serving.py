"""The cleaner as one MLflow model: a pyfunc that wraps the kind and topic champions and the
segmentation, logged with its signature and an input example, registered as
``newsclean-cleaner`` and promoted with the same rule as the other models.

``mlflow models serve -m models:/newsclean-cleaner@champion --env-manager local`` (``make
serve``) then answers ``/invocations`` with one JSON object per article (see ``predict``).

``build_and_register_cleaner`` is what ``make train`` runs after kind and topic: it takes the
current champions, chooses the junk-stripping settings on validation data with glued junk
(``newsclean.junk``), scores the cleaner on the test split (page-level F1 of the cleaned test
documents with glued junk, ``test_clean_f1``; junk-stripping precision / recall / false-strip
rate; page F1 on the real test pages when the corpora are there), logs all of it, and registers
the cleaner. It becomes the champion when its clean F1 on the validation documents beats the
current champion's on the same documents (``tracking.promote``, ``val_clean_f1``).
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from newsclean import tracking
from newsclean.cleaning import (
    CLEANER_MODEL_NAME,
    DEFAULT_MODEL_URI,
    Cleaner,
    CleanerSettings,
    ModelNotFoundError,
    parse_keep,
    settle_garbage_collector,
)
from newsclean.config import Config, load_config
from newsclean.inputs import RECORD_FIELDS, InputError, raw_from_record

try:  # the class must exist without mlflow installed for the rest of the package to import
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a dependency
    PythonModel = object  # type: ignore[assignment,misc]

KIND_MODEL_NAME = "newsclean-kind"
TOPIC_MODEL_NAME = "newsclean-topic"
# The champion rule's score (tracking.promote): clean F1 on the validation documents with
# glued junk, the challenger's and the current champion's on the same data.
CHAMPION_METRIC = "val_clean_f1"
MAX_ERRORS_SHOWN = 5
STRIPPER_FILE = "junk_stripper.pkl"


# ------------------------------------------------------------------ loading


def _configured(config: Config | None) -> Config:
    config = config or load_config()
    tracking.configure(config)
    return config


def _not_found(error: Exception) -> bool:
    text = str(error).lower()
    return any(
        marker in text
        for marker in ("not found", "does not exist", "resource_does_not_exist", "no such file")
    )


def load_cleaner(uri: str | None = None, config: Config | None = None) -> Cleaner:
    """A logged cleaner (default: the registered champion in the project's tracking store)."""
    from mlflow.exceptions import MlflowException

    config = _configured(config)
    uri = uri or DEFAULT_MODEL_URI
    hint = "run `make train` first" if uri == DEFAULT_MODEL_URI else "check --model"
    store = config.tracking.tracking_uri
    sqlite_path = Path(store.removeprefix("sqlite:///"))
    if uri.startswith("models:/") and store.startswith("sqlite:///") and not sqlite_path.exists():
        # Say so instead of letting MLflow create an empty store.
        raise ModelNotFoundError(f"no trained cleaner: no tracking store at {store}; {hint}")
    try:
        import warnings

        import mlflow.pyfunc

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "add type hints to predict"
            model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as error:
        if _not_found(error) or isinstance(error, OSError):
            raise ModelNotFoundError(
                f"no trained cleaner at {uri} (tracking store {config.tracking.tracking_uri}); "
                f"{hint}"
            ) from error
        raise
    python_model = model.unwrap_python_model()
    if not isinstance(python_model, CleanerModel):
        raise ModelNotFoundError(f"{uri} is not a newsclean cleaner model")
    return python_model.cleaner


def _load_sklearn(uri: str):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(uri)


def champion_uri(name: str) -> str | None:
    """``models:/NAME/VERSION`` of the current champion (pinned), or None."""
    version = tracking.champion_version(name)
    return None if version is None else f"models:/{name}/{version.version}"


def cleaner_from_registry(
    config: Config | None = None,
    kind_uri: str | None = None,
    topic_uri: str | None = None,
    settings: CleanerSettings | None = None,
) -> Cleaner:
    """A cleaner straight from the kind and topic models (default: the champions)."""
    _configured(config)
    kind_uri = kind_uri or champion_uri(KIND_MODEL_NAME)
    if kind_uri is None:
        raise ModelNotFoundError(f"no {KIND_MODEL_NAME} champion; run `make train` first")
    topic_uri = topic_uri or champion_uri(TOPIC_MODEL_NAME)
    topic = _load_sklearn(topic_uri) if topic_uri else None
    return Cleaner(
        _load_sklearn(kind_uri),
        topic,
        settings,
        info={"kind_model": kind_uri, "topic_model": topic_uri},
    )


# ------------------------------------------------------------------ the pyfunc model


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def records_from_input(model_input: Any) -> list[dict]:
    """The request's articles as dicts (DataFrame rows, a list of dicts or one dict)."""
    if isinstance(model_input, pd.DataFrame):
        columns = [str(c) for c in model_input.columns]
        if not set(columns) & set(RECORD_FIELDS):
            raise InputError(
                "each article needs a 'text', 'paragraphs' or 'html' field; the request has "
                f"{', '.join(columns[:10]) or 'no fields'}"
            )
        return [
            {k: v for k, v in row.items() if not _missing(v)}
            for row in model_input.to_dict(orient="records")
        ]
    if isinstance(model_input, dict):
        return [model_input]
    if isinstance(model_input, list) and all(isinstance(r, dict) for r in model_input):
        return model_input
    raise InputError(
        f"expected articles as records with 'id' and 'text' / 'paragraphs' / 'html', "
        f"got {type(model_input).__name__}"
    )


class CleanerModel(PythonModel):
    """The pyfunc: articles in (columns ``id`` and one of ``text`` / ``paragraphs`` /
    ``html``), one JSON object per article out: ``{"id", "path", "text", "confidence",
    "fell_back", "paragraphs": [{"text", "kind", "probabilities", "topics", "kept",
    "removed_spans"}]}``. Param ``keep``: the kinds
    to keep, comma-separated (default: the model's setting, ``news``)."""

    def __init__(self, cleaner: Cleaner | None = None):
        self.cleaner = cleaner

    def __getstate__(self):  # the models travel as artifacts, not inside the pickle
        return {}

    def __setstate__(self, state):
        self.cleaner = None

    def load_context(self, context) -> None:
        kind = _load_sklearn(context.artifacts["kind_model"])
        topic_path = context.artifacts.get("topic_model")
        topic = _load_sklearn(topic_path) if topic_path else None
        stripper = None
        if context.artifacts.get("junk_stripper"):
            import pickle

            stripper = pickle.loads(Path(context.artifacts["junk_stripper"]).read_bytes())
        config = dict(context.model_config or {})
        settings = CleanerSettings.from_dict(config.get("settings", {}))
        self.cleaner = Cleaner(kind, topic, settings, config.get("info", {}), stripper)
        settle_garbage_collector()  # the models stay for the life of the process

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> list[dict]:
        from mlflow.exceptions import MlflowException

        try:
            keep = parse_keep(params["keep"]) if params and params.get("keep") else None
        except ValueError as error:
            raise MlflowException.invalid_parameter_value(f"param 'keep': {error}") from None
        try:
            records = records_from_input(model_input)
        except InputError as error:
            raise MlflowException.invalid_parameter_value(str(error)) from None
        raws, errors = [], []
        for number, record in enumerate(records):
            try:
                raws.append(raw_from_record(record, f"article-{number}", None, f"row {number}"))
            except InputError as error:
                errors.append(error)
        if errors:
            shown = "; ".join(str(e) for e in errors[:MAX_ERRORS_SHOWN])
            more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > 5 else ""
            raise MlflowException.invalid_parameter_value(
                f"{len(errors)} of {len(records)} articles are invalid: {shown}{more}"
            )
        return clean_raw_articles(self.cleaner, raws, keep)


def clean_raw_articles(cleaner: Cleaner, raws: list, keep=None) -> list[dict]:
    """Segment and clean; an article left without text gets an ``error`` and no paragraphs."""
    articles, slots = [], []
    outputs: list[dict | None] = []
    for raw in raws:
        try:
            articles.append(raw.to_article())
            slots.append(len(outputs))
            outputs.append(None)
        except InputError as error:
            outputs.append(
                {
                    "id": raw.id,
                    "path": raw.path,
                    "text": "",
                    "confidence": None,
                    "fell_back": False,
                    "paragraphs": [],
                    "error": error.message,
                }
            )
    for slot, result in zip(slots, cleaner.clean_many(articles, keep=keep), strict=True):
        outputs[slot] = result.to_dict()
    return outputs  # type: ignore[return-value]


# ------------------------------------------------------------------ logging


def input_schema():
    """Every column optional (an article gives one of text / paragraphs / html). ``paragraphs``
    is declared Any: an Array(string) column rejects a batch that mixes articles with and
    without paragraphs (the missing ones arrive as NaN); ``predict`` checks it instead."""
    from mlflow.types.schema import AnyType, ColSpec, Schema

    return Schema(
        [
            ColSpec("string", "id", required=False),
            ColSpec("string", "text", required=False),
            ColSpec(AnyType(), "paragraphs", required=False),
            ColSpec("string", "html", required=False),
        ]
    )


INPUT_EXAMPLE = [
    {
        "id": "example-text",
        "text": "Harbour council approves new ferry timetable\n"
        "Share this article\n"
        "Claim 50 free spins today!The council voted 7-2 on Monday to add two evening "
        "crossings from March, after a petition signed by 3,000 residents.",
    },
    {
        "id": "example-html",
        "text": None,
        "html": "<html><body><h1>Library reopens after flood repairs</h1>"
        "<p>The town library reopened on Saturday after eight months of repairs.</p>"
        "<p class='share'>Share on social media</p></body></html>",
    },
]


def requirements() -> list[str]:
    pins = tracking.pinned_requirements()
    for package in ("mlflow", "cloudpickle"):
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def log_cleaner(
    config: Config,
    kind_uri: str,
    topic_uri: str | None,
    settings: CleanerSettings,
    info: dict | None = None,
    stripper=None,
) -> str:
    """Log the cleaner pyfunc in the active run (signature, input example, pinned
    requirements, our code); return its model URI."""
    import mlflow
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ParamSchema, ParamSpec

    artifacts = {"kind_model": kind_uri}
    if topic_uri:
        artifacts["topic_model"] = topic_uri
    model_config = {
        "settings": settings.to_dict(),
        "info": {"kind_model": kind_uri, "topic_model": topic_uri, **(info or {})},
    }
    example = pd.DataFrame(INPUT_EXAMPLE)
    cleaner = cleaner_from_registry(config, kind_uri, topic_uri, settings)
    cleaner.stripper = stripper
    tmp = tempfile.TemporaryDirectory()
    if stripper is not None:
        import pickle

        path = Path(tmp.name) / STRIPPER_FILE
        path.write_bytes(pickle.dumps(stripper))
        artifacts["junk_stripper"] = str(path)
    output = CleanerModel(cleaner).predict(None, example)
    outputs = infer_signature(example.drop(columns=["html"]), output).outputs
    signature = ModelSignature(
        inputs=input_schema(),
        outputs=outputs,
        params=ParamSchema([ParamSpec("keep", "string", ",".join(settings.keep))]),
    )
    logged = mlflow.pyfunc.log_model(
        name="cleaner",
        python_model=CleanerModel(),
        artifacts=artifacts,
        model_config=model_config,
        signature=signature,
        input_example=example,
        pip_requirements=requirements(),
        code_paths=tracking.code_paths(),
    )
    tmp.cleanup()
    return logged.model_uri


def build_and_register_cleaner(config: Config, digest: str, card: dict) -> dict:
    """Tune, score, log, register and promote the cleaner over the current champions.

    Returns a summary row for ``training.results_table``."""
    import mlflow

    from newsclean import dataset, junk
    from newsclean.datacard import summary

    tracking.configure(config)
    kind_uri, topic_uri = champion_uri(KIND_MODEL_NAME), champion_uri(TOPIC_MODEL_NAME)
    if kind_uri is None:
        reason = f"no {KIND_MODEL_NAME} champion yet: train kind first"
        print(f"  cleaner: not built ({reason})", file=sys.stderr)
        return {
            "task": "cleaner",
            "parent_run_id": None,
            "best": "-",
            "promoted": False,
            "reason": reason,
            "score_name": "clean F1",
            "val_macro_f1": float("nan"),
            "test_macro_f1": float("nan"),
        }
    frame = dataset.load(config.paths.processed_dir)
    card_summary = summary(card) if card else "no data card"
    cleaner = cleaner_from_registry(config, kind_uri, topic_uri)
    seed = config.data.seed
    docs = config.model.page_eval_max_pages or junk.DOCS_PER_SOURCE
    tracking.experiment(config, config.tracking.cleaner_experiment)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tracking.tagged_run(
        f"train-cleaner-{stamp}", digest, card_summary, "parent", "cleaner"
    ) as run:
        started = time.perf_counter()
        validation = junk.make_glued(frame, "validation", seed, docs_per_source=docs)
        prepared = junk.prepare(cleaner, validation)
        # Baseline: thresholds on the segments' non-news probability (mode, thresholds).
        rule_settings, grid = junk.tune(prepared, cleaner.settings)
        val_rule = junk.score(prepared, rule_settings, page_level=True)
        # Model: a stripper fitted on validation, its threshold chosen out of fold.
        stripper, settings, stripper_grid = junk.fit_stripper(prepared, rule_settings, seed)
        val_learned = _chosen_row(stripper_grid, settings)
        use_stripper = (
            stripper is not None and val_learned.get("strip_f1", 0) > val_rule["strip_f1"]
        )
        if not use_stripper:
            stripper, settings = None, rule_settings
        test_corpus = junk.make_glued(frame, "test", seed + 1, docs_per_source=docs)
        test_prepared = junk.prepare(
            cleaner, test_corpus, modes=(settings.segment_mode,), html=(settings.segment_html,)
        )
        test_rule = junk.score(test_prepared, rule_settings, page_level=not use_stripper)
        test = test_rule
        if use_stripper:
            junk_p = junk.stripper_probabilities(test_prepared, stripper, settings)
            test = junk.score(test_prepared, settings, page_level=True, junk_p=junk_p)
        val = val_learned if use_stripper else val_rule
        cleaner = Cleaner(cleaner.kind_model, cleaner.topic_model, settings, cleaner.info, stripper)
        mlflow.log_params(
            {
                "kind_model": kind_uri,
                "topic_model": topic_uri,
                "junk_stripper": "learned (gradient boosting)" if use_stripper else "thresholds",
                **{f"settings.{k}": v for k, v in settings.to_dict().items()},
                "glue_rate": junk.GLUE_RATE,
                "max_false_strip_rate": junk.MAX_FALSE_STRIP_RATE,
                "docs_per_source": docs,
                "seed": seed,
            }
        )
        metrics = {f"val_{k}": float(v) for k, v in val.items() if k != "junk_threshold"}
        metrics.update({f"test_{k}": float(v) for k, v in test.items()})
        metrics.update({f"val_rule_{k}": float(v) for k, v in val_rule.items()})
        metrics.update({f"test_rule_{k}": float(v) for k, v in test_rule.items()})
        metrics["tune_seconds"] = time.perf_counter() - started
        page = _test_pages_f1(cleaner, frame, config)
        metrics.update(page)
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            grid.round(5).to_csv(out / "junk_rule_grid_validation.csv", index=False)
            if not stripper_grid.empty:
                stripper_grid.round(5).to_csv(
                    out / "junk_stripper_grid_validation_oof.csv", index=False
                )
            (out / "junk_report.md").write_text(
                junk_report(val, test, settings, val_rule, test_rule, use_stripper)
            )
            (out / "settings.json").write_text(json.dumps(settings.to_dict(), indent=2))
            mlflow.log_artifacts(tmp, artifact_path="reports")
        _log_junk_grid_figure(grid, rule_settings)
        model_uri = log_cleaner(config, kind_uri, topic_uri, settings, stripper=stripper)
        val_clean_f1 = _validation_clean_f1(cleaner, validation)
        mlflow.log_metric(CHAMPION_METRIC, val_clean_f1)
        promoted, reason = tracking.promote(
            CLEANER_MODEL_NAME,
            tracking.Challenger(
                model_uri,
                run.info.run_id,
                digest,
                tracking.data_kind(frame["source"].unique()),
                CHAMPION_METRIC,
                val_clean_f1,
            ),
            lambda uri: _validation_clean_f1(load_cleaner(uri, config), validation),
            config.tracking.promote,
        )
        mlflow.set_tag("champion", str(promoted).lower())
        best = f"{kind_uri.removeprefix('models:/')} + {str(topic_uri).removeprefix('models:/')}"
        mlflow.set_tags(
            {
                "mlflow.note.content": (
                    f"cleaner over {best}: test clean F1 {test['clean_f1']:.4f}, junk strip "
                    f"P/R {test['strip_precision']:.3f}/{test['strip_recall']:.3f}, false-strip "
                    f"rate {test['false_strip_rate']:.4f}. Champion: "
                    f"{'yes' if promoted else 'no'}: {reason}. Data: {card_summary}."
                ),
                "promotion": reason,
            }
        )
    print(
        f"  cleaner: test clean F1 {test['clean_f1']:.4f}, strip P/R "
        f"{test['strip_precision']:.3f}/{test['strip_recall']:.3f}, false strips "
        f"{test['false_strip_rate']:.2%}",
        file=sys.stderr,
    )
    return {
        "task": "cleaner",
        "parent_run_id": run.info.run_id,
        "best": best,
        "promoted": promoted,
        "reason": reason,
        "model_uri": model_uri,
        "score_name": "clean F1",
        "val_macro_f1": float(val.get("clean_f1", float("nan"))),
        "test_macro_f1": test["clean_f1"],
        CHAMPION_METRIC: val_clean_f1,
        **{k: v for k, v in metrics.items() if k.startswith(("test_", "val_", "page_"))},
    }


def _log_junk_grid_figure(grid: pd.DataFrame, settings: CleanerSettings) -> None:
    """The glued-junk threshold grid on validation as a heatmap (strip F1 per strip x glued
    threshold, the chosen segment mode), the chosen cell outlined."""
    from newsclean.evaluation import log_figure
    from newsclean.figures import threshold_grid_figure

    if grid.empty:
        return
    chosen = (grid["segment_mode"] == settings.segment_mode) & (
        grid["segment_html"] == settings.segment_html
    )
    if not chosen.any():
        return
    figure = threshold_grid_figure(
        grid[chosen], mark=(settings.strip_threshold, settings.glued_threshold)
    )
    log_figure(figure, "junk_threshold_grid_validation.png")


def _validation_clean_f1(cleaner: Cleaner, validation) -> float:
    """Page F1 of ``cleaner`` on the validation documents with junk glued on (the champion
    rule scores the current champion cleaner on the challenger's validation set with it)."""
    from newsclean import junk

    prepared = junk.prepare(
        cleaner,
        validation,
        modes=(cleaner.settings.segment_mode,),
        html=(cleaner.settings.segment_html,),
    )
    junk_p = (
        junk.stripper_probabilities(prepared, cleaner.stripper, cleaner.settings)
        if cleaner.stripper is not None
        else None
    )
    return float(junk.score(prepared, cleaner.settings, page_level=True, junk_p=junk_p)["clean_f1"])


def _test_pages_f1(cleaner: Cleaner, frame: pd.DataFrame, config: Config) -> dict[str, float]:
    """Page-level shingle F1 of the cleaner on the real test pages (corpora present only): the
    same pages, in the same order, as the kind task's page-level table (``test_pages``)."""
    from newsclean.evaluation import page_f1
    from newsclean.inputs import RawArticle
    from newsclean.training import test_pages

    corpora_dir = config.paths.corpora_dir
    if corpora_dir is None or not Path(corpora_dir).is_dir():
        return {}
    pages = test_pages(frame[frame["split"] == "test"], config)
    if not pages:
        return {}
    raws = [RawArticle(f"{p.corpus}/{p.doc_id}", "html", p.html) for p in pages]
    outputs = clean_raw_articles(cleaner, raws)
    scores = page_f1([(o["text"], p.gold) for o, p in zip(outputs, pages, strict=True)])
    return {
        "test_page_f1": scores["f1"],
        "test_page_precision": scores["precision"],
        "test_page_recall": scores["recall"],
        "test_pages": float(scores["pages"]),
    }


def _chosen_row(grid: pd.DataFrame, settings: CleanerSettings) -> dict:
    if grid.empty:
        return {}
    row = grid[grid["junk_threshold"] == settings.junk_threshold].iloc[0]
    return {k: float(v) for k, v in row.items()}


def junk_report(
    val: dict,
    test: dict,
    settings: CleanerSettings,
    val_rule: dict | None = None,
    test_rule: dict | None = None,
    learned: bool = False,
) -> str:
    names = [
        ("strip_precision", "stripped characters that were junk (precision)"),
        ("strip_recall", "junk characters stripped (recall)"),
        ("strip_f1", "strip F1"),
        ("false_strip_rate", "clean news paragraphs that lost any text"),
        ("false_strip_char_rate", "characters lost from clean news paragraphs"),
        ("glued_dropped_rate", "glued news paragraphs not kept as news"),
        ("clean_dropped_rate", "clean news paragraphs not kept as news"),
        ("clean_f1", "page-level F1 of the cleaned documents"),
        ("glued_paragraphs", "glued news paragraphs"),
        ("clean_news_paragraphs", "clean news paragraphs"),
    ]
    method = "learned stripper" if learned else "thresholds on segment probabilities"
    lines = [
        "# Glued junk: stripping on held-out documents",
        "",
        f"Junk stripping by {method}. Settings chosen on validation: "
        f"{json.dumps(settings.to_dict())}",
        "",
        "Validation figures of the learned stripper are out of fold; the thresholds baseline "
        "is tuned on validation itself. Test: other documents, junk glued with another seed.",
        "",
        "| metric | validation | test | baseline validation | baseline test |",
        "|---|---:|---:|---:|---:|",
    ]
    val_rule, test_rule = val_rule or {}, test_rule or {}
    for key, label in names:
        lines.append(
            f"| {label} (`{key}`) | {_fmt(val.get(key))} | {_fmt(test.get(key))} | "
            f"{_fmt(val_rule.get(key))} | {_fmt(test_rule.get(key))} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer() and value > 1:
        return f"{int(value):,}"
    return f"{value:.4f}"


# ------------------------------------------------------------------ make serve


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


def main(argv: list[str] | None = None) -> int:
    """``make serve``: check that a cleaner is registered, then run ``mlflow models serve`` on
    it (local environment, loopback) with the project's tracking store."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m newsclean.serving")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--port", type=int, default=5002)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    config = _configured(load_config(args.overrides))
    if tracking.champion_version(CLEANER_MODEL_NAME) is None:
        print(
            f"serve: no {CLEANER_MODEL_NAME} champion in {config.tracking.tracking_uri}; "
            "run `make train` first",
            file=sys.stderr,
        )
        return 1
    command = serve_command(config, args.port, args.host, args.workers)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": config.tracking.tracking_uri,
        "MLFLOW_REGISTRY_URI": config.tracking.tracking_uri,
        # mlflow starts `uvicorn` by name: our venv's bin must come first on PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    print(
        f"serving {DEFAULT_MODEL_URI} on http://{args.host}:{args.port}/invocations (Ctrl-C stops)",
        file=sys.stderr,
    )
    os.execvpe(command[0], command, env)
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    sys.exit(main())
