"""The cleaner as one MLflow model: a pyfunc that wraps the kind and topic champions and the
segmentation, logged with its signature and an input example, registered as
``newsclean-cleaner`` and promoted with the same rule as the other models (its build in
``make train`` is ``newsclean.train.cleaner``).

``mlflow models serve -m models:/newsclean-cleaner@champion --env-manager local`` (``make
serve``, ``newsclean serve``) then answers ``/invocations`` with one JSON object per article
(see ``CleanerModel.predict``).
"""

from __future__ import annotations

import math
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from newsclean import tracking
from newsclean.clean.cleaner import Cleaner, settle_garbage_collector
from newsclean.clean.inputs import RECORD_FIELDS, InputError, raw_from_record
from newsclean.clean.registry import load_sklearn
from newsclean.clean.settings import CleanerSettings, parse_keep
from newsclean.config import Config

try:  # the class must exist without mlflow installed for the rest of the package to import
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a dependency
    PythonModel = object  # type: ignore[assignment,misc]

MAX_ERRORS_SHOWN = 5
STRIPPER_FILE = "junk_stripper.pkl"


# ------------------------------------------------------------------ loading


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
    "fell_back", "article_probability", "paragraphs": [{"text", "kind", "probabilities",
    "topics", "kept", "removed_spans"}]}``. Param ``keep``: the kinds to keep,
    comma-separated (default: the model's setting, ``news``)."""

    def __init__(self, cleaner: Cleaner | None = None):
        self.cleaner = cleaner

    def __getstate__(self):  # the models travel as artifacts, not inside the pickle
        return {}

    def __setstate__(self, state):
        self.cleaner = None

    def load_context(self, context) -> None:
        kind = load_sklearn(context.artifacts["kind_model"])
        topic_path = context.artifacts.get("topic_model")
        topic = load_sklearn(topic_path) if topic_path else None
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
                    "article_probability": None,
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
):
    """Log the cleaner pyfunc in the active run (signature, input example, pinned
    requirements, our code); return MLflow's ``ModelInfo`` (``model_uri``, ``model_id``)."""
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
    cleaner = Cleaner.from_champions(config, settings, kind_uri, topic_uri)
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
    return logged
