"""``newsclean clean-spark``: clean a whole crawl on Apache Spark with the registered cleaner.

The work is Spark's, the model is MLflow's: the driver resolves the cleaner (default: the
``newsclean-cleaner`` champion), ``mlflow.pyfunc.spark_udf`` ships the model files to the
executors, and each executor's Python worker loads it once and cleans Arrow batches of
articles. Data flows in three steps:

1. **read**: JSONL (gzipped too) is read as text lines, Parquet as rows; every record keeps its
   file and its line (JSONL) or row (Parquet) number, computed from Spark's file metadata, so
   records without an ``id`` get the same default id as ``newsclean clean`` gives them
   (``<file>-<line>``) and a bad record can be named;
2. **check**: each record goes through the same parser as the CLI (``inputs.raw_from_record``);
   a bad one (invalid JSON, no text field, wrong types) becomes a *reject*;
3. **clean**: the valid records are spread over ``partitions`` and cleaned by the model UDF.
   An article with nothing left to clean (an empty page) is a reject too.

Cleaned articles are written as Parquet with the fields of ``newsclean clean --jsonl`` (``id``,
``path``, ``text``, ``confidence``, ``fell_back``, ``article_probability``,
``paragraphs``); rejects as JSON lines
(``path``, ``record``, ``id``, ``error``) beside it. Both are counted and reported; nothing is
dropped silently.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from newsclean.clean.inputs import (
    NO_TEXT_MESSAGES,
    InputError,
    article_id_from_path,
    parse_jsonl_line,
)
from newsclean.clean.registry import DEFAULT_MODEL_URI
from newsclean.clean.results import ARTICLE_FIELDS, ModelNotFoundError
from newsclean.clean.settings import parse_keep
from newsclean.config import Config

FORMATS = ("jsonl", "parquet")
# Output part files hold at most this many articles (Spark's maxRecordsPerFile).
MAX_RECORDS_PER_FILE = 50_000
# Default partitions of the cleaning step per core: a few, so a slow partition (long pages)
# does not leave the other cores idle at the end.
PARTITIONS_PER_CORE = 3
REJECTS_SHOWN = 10
# Articles per Arrow batch handed to the model: a batch of long HTML pages stays a few MB.
ARROW_BATCH_ARTICLES = 64
# A local driver is also the executor: give it more than Spark's 1 GB unless the user sets it.
LOCAL_DRIVER_MEMORY = "2g"


class SparkUnavailableError(RuntimeError):
    """PySpark or Java is missing: says what to install."""


@dataclass
class SparkReport:
    """What a run did: counts, where the outputs went, how long it took."""

    output: str
    rejects_path: str
    cleaned: int = 0
    rejected: int = 0
    partitions: int = 0
    seconds: float = 0.0
    startup_seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = self.cleaned / self.seconds if self.seconds else float("nan")
        return (
            f"{self.cleaned:,} article(s) cleaned, {self.rejected:,} rejected, "
            f"in {self.seconds:.1f} s ({rate:.1f} articles/s, {self.partitions} partitions); "
            f"output {self.output}"
            + (f"; rejects {self.rejects_path}" if self.rejected else "")
            + (f"; Spark started in {self.startup_seconds:.1f} s" if self.startup_seconds else "")
        )


# ------------------------------------------------------------------ session


MIN_JAVA = 17  # Spark 4


def java_problem() -> str | None:
    """None when a Java runtime Spark can use (17 or newer) is found, else what to do."""
    install = (
        "install one (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    )
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else None
    if java is None or not java.exists():
        found = shutil.which("java")
        java = Path(found) if found else None
    if java is None:
        return (
            f"Spark needs a Java runtime ({MIN_JAVA} or newer) and none was found on PATH or "
            f"in JAVA_HOME; {install}"
        )
    major = java_major_version(java)
    if major is not None and major < MIN_JAVA:
        return f"Spark needs Java {MIN_JAVA} or newer; {java} is Java {major}: {install}"
    return None


def java_major_version(java: Path) -> int | None:
    """``java -version`` → 17 (``1.8.0_292`` → 8); None when it cannot be told."""
    try:
        done = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def start_session(master: str = "local[*]", app_name: str = "newsclean-clean", conf=None):
    """A SparkSession (``getOrCreate``). On a local master, Spark binds to loopback (it would
    otherwise pick a non-loopback address, see shared/NOTES.md) and its Python workers run this
    interpreter, so they see the same packages."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise SparkUnavailableError(
            "PySpark is not installed: pip install 'newsclean[spark]' (or `make setup`)"
        ) from error
    problem = java_problem()
    if problem:
        raise SparkUnavailableError(problem)
    # PySpark 4.3 warns that it does not fully support pandas 3 (see shared/NOTES.md); the
    # paths used here are covered by tests/test_spark.py.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    warnings.filterwarnings("ignore", message="Cannot infer the eval type")
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    settings = {
        "spark.ui.showConsoleProgress": "true",  # progress: Spark's own stage bars
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Arrow batches handed to the model: small enough that a batch of long pages fits.
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ARTICLES),
        # Small shuffles (the per-block line counts) are coalesced; an explicit
        # repartition(n), the cleaning step's, is kept as asked.
        "spark.sql.adaptive.enabled": "true",
    }
    if local:
        settings |= {
            "spark.driver.memory": LOCAL_DRIVER_MEMORY,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.pyspark.python": sys.executable,
            "spark.pyspark.driver.python": sys.executable,
        }
    for key, value in {**settings, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")  # Spark's INFO lines would drown our messages
    if not local:
        ship_package(spark)
    return spark


def ship_package(spark) -> None:
    """Send this newsclean package to the executors (``addPyFile``): the read/check step runs
    our parser there. The model brings its own copy of the code for the cleaning step."""
    spark.sparkContext.addPyFile(str(package_zip(Path(tempfile.mkdtemp(prefix="newsclean-")))))


def package_zip(directory: Path) -> Path:
    """The newsclean package's Python files as ``directory/newsclean.zip`` (importable)."""
    import newsclean

    package = Path(newsclean.__file__).parent
    target = directory / "newsclean.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*.py")):
            archive.write(path, Path("newsclean") / path.relative_to(package))
    return target


# ------------------------------------------------------------------ read and check


def detect_format(paths: list[str]) -> str:
    """``jsonl`` or ``parquet`` from the names (``.gz`` ignored); a local directory by the
    files in it. Anything else needs ``--format``."""
    found = set()
    for given in paths:
        names = [given]
        local = Path(given)
        if local.is_dir():
            names = [p.name for p in local.rglob("*") if p.is_file() and p.name[0] not in "._"]
        for name in names:
            lower = name.lower().removesuffix(".gz")
            if lower.endswith(".parquet"):
                found.add("parquet")
            elif lower.endswith((".jsonl", ".json", ".ndjson")):
                found.add("jsonl")
    if len(found) == 1:
        return found.pop()
    what = "both JSONL and Parquet files" if found else "no .jsonl or .parquet files"
    raise ValueError(f"cannot tell the input format ({what}); pass --format jsonl or parquet")


def local_path(uri: str) -> str:
    """``file:/a/b.jsonl`` → ``/a/b.jsonl`` (what the CLI prints as ``path``); other URIs as is."""
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return uri


CHECKED_FIELDS = ("id", "format", "text", "paragraphs", "html", "error")


def check_records(values, paths, numbers, where: str):
    """Parse and check records as ``newsclean clean`` does: a DataFrame with the fields the
    model takes (``id``, ``text``, ``paragraphs``, ``html``) and ``format``, or ``error``."""
    import pandas as pd

    rows = []
    for value, uri, number in zip(values, paths, numbers, strict=True):
        path = local_path(uri)
        item = parse_jsonl_line(value, path, number, article_id_from_path(path), where)
        row: dict[str, Any] = dict.fromkeys(CHECKED_FIELDS)
        if isinstance(item, InputError):
            row["error"] = item.message
        else:
            row["id"] = item.id
            row["format"] = item.format
            row["html" if item.format == "html" else item.format] = item.payload
        rows.append(row)
    return pd.DataFrame(rows, columns=list(CHECKED_FIELDS))


def _checked_type():
    """``CHECKED_FIELDS`` as a Spark struct: strings, but ``paragraphs`` (a list of them)."""
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField(
                name, T.ArrayType(T.StringType()) if name == "paragraphs" else T.StringType()
            )
            for name in CHECKED_FIELDS
        ]
    )


def _storage():
    """Where the job's intermediate results are cached: on local disk. They are as big as the
    crawl; on disk they do not compete for the JVM heap (1 GB by default on a local driver)."""
    from pyspark import StorageLevel

    return StorageLevel.DISK_ONLY


def _numbered(frame, cached: list):
    """``frame`` (with ``_uri`` and ``_block`` from the file metadata) plus ``_number``: each
    row's 1-based line (or row) number within its file.

    Spark reads a file in blocks and keeps each block's rows in order inside one partition, so
    a row's number is its position in its block plus the rows of the file's earlier blocks.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    # Cached: both uses below must see the same ids (they are only stable within one scan).
    frame = frame.withColumn("_position", F.monotonically_increasing_id()).persist(_storage())
    cached.append(frame)
    blocks = frame.groupBy("_uri", "_block").agg(
        F.count(F.lit(1)).alias("_rows"), F.min("_position").alias("_first")
    )
    earlier = (
        Window.partitionBy("_uri").orderBy("_block").rowsBetween(Window.unboundedPreceding, -1)
    )
    blocks = blocks.withColumn("_before", F.coalesce(F.sum("_rows").over(earlier), F.lit(0)))
    return (
        frame.join(F.broadcast(blocks.drop("_rows")), ["_uri", "_block"])
        .withColumn("_number", F.col("_position") - F.col("_first") + F.col("_before") + 1)
        .drop("_position", "_first", "_before", "_block")
    )


def read_records(spark, paths: list[str], fmt: str, cached: list | None = None):
    """Every record of the inputs as ``_uri``, ``_number``, ``_value`` (its JSON) and the
    ``_where`` word ("line" or "row"); blank JSONL lines are skipped, as the CLI does.
    DataFrames cached on the way are appended to ``cached`` (the caller unpersists them)."""
    from pyspark.sql import functions as F

    reader = spark.read.option("recursiveFileLookup", "true")
    if fmt == "jsonl":
        frame = reader.text(paths).select(
            F.col("value").alias("_value"),
            F.col("_metadata.file_path").alias("_uri"),
            F.col("_metadata.file_block_start").alias("_block"),
        )
        where = "line"
    elif fmt == "parquet":
        data = reader.parquet(*paths)
        fields = [c for c in ("id", "text", "paragraphs", "html") if c in data.columns]
        if not set(fields) - {"id"}:
            raise ValueError(
                f"the Parquet input has no 'text', 'paragraphs' or 'html' column "
                f"(columns: {', '.join(data.columns[:10])})"
            )
        frame = data.select(
            F.to_json(F.struct(*fields)).alias("_value"),
            F.col("_metadata.file_path").alias("_uri"),
            F.col("_metadata.file_block_start").alias("_block"),
        )
        where = "row"
    else:
        raise ValueError(f"unknown input format {fmt!r} (formats: {', '.join(FORMATS)})")
    frame = _numbered(frame, cached if cached is not None else [])
    if fmt == "jsonl":
        frame = frame.where(F.trim(F.col("_value")) != "")
    return frame.withColumn("_where", F.lit(where))


def check(frame):
    """The records parsed and checked (column ``checked``), by our parser on the executors."""
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    @pandas_udf(_checked_type())
    def checked(values, uris, numbers, wheres):
        where = wheres.iloc[0] if len(wheres) else "line"
        return check_records(values, uris, numbers, where)

    return frame.withColumn(
        "checked", checked(F.col("_value"), F.col("_uri"), F.col("_number"), F.col("_where"))
    )


# ------------------------------------------------------------------ clean


def result_type():
    """The model's output as a Spark type: the fields of ``newsclean clean --jsonl`` but
    ``path`` (Spark knows each record's file; the model does not)."""
    from pyspark.sql import types as T

    span = T.StructType(
        [
            T.StructField("text", T.StringType()),
            T.StructField("kind", T.StringType()),
            T.StructField("where", T.StringType()),
            T.StructField("start", T.LongType()),
            T.StructField("end", T.LongType()),
            T.StructField("probability", T.DoubleType()),
        ]
    )
    paragraph = T.StructType(
        [
            T.StructField("text", T.StringType()),
            T.StructField("kind", T.StringType()),
            T.StructField("probabilities", T.MapType(T.StringType(), T.DoubleType())),
            T.StructField("topics", T.ArrayType(T.StringType())),
            T.StructField("kept", T.BooleanType()),
            T.StructField("removed_spans", T.ArrayType(span)),
        ]
    )
    return T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("text", T.StringType()),
            T.StructField("confidence", T.DoubleType()),
            T.StructField("fell_back", T.BooleanType()),
            T.StructField("article_probability", T.DoubleType()),
            T.StructField("paragraphs", T.ArrayType(paragraph)),
        ]
    )


def cleaner_udf(spark, model_uri: str, keep: str | None = None):
    """The registered cleaner as a Spark UDF over (id, text, paragraphs, html)."""
    import mlflow.pyfunc

    params = {"keep": ",".join(parse_keep(keep))} if keep else None
    # env_manager="local": executors run their own Python environment, which must hold the
    # model's requirements (the same pins as ours); MLflow warns about it on every call.
    quiet = logging.getLogger("mlflow.pyfunc")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return mlflow.pyfunc.spark_udf(
            spark, model_uri, result_type=result_type(), env_manager="local", params=params
        )
    finally:
        quiet.setLevel(level)


def resolve_model(config: Config, model_uri: str | None) -> str:
    """The model URI to use, checked on the driver; ``ModelNotFoundError`` says what to do."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import get_model_info

    from newsclean import tracking

    tracking.configure(config)
    uri = model_uri or DEFAULT_MODEL_URI
    hint = "run `make train` first" if uri == DEFAULT_MODEL_URI else "check --model"
    store = config.tracking.tracking_uri
    if (
        uri.startswith("models:/")
        and store.startswith("sqlite:///")
        and not Path(store.removeprefix("sqlite:///")).exists()
    ):
        raise ModelNotFoundError(f"no trained cleaner: no tracking store at {store}; {hint}")
    try:
        get_model_info(uri)
    except (MlflowException, OSError) as error:
        raise ModelNotFoundError(
            f"no cleaner model at {uri} (tracking store {store}); {hint}"
        ) from error
    return uri


def clean(
    spark,
    paths: list[str],
    output: str,
    model_uri: str,
    fmt: str | None = None,
    keep: str | None = None,
    partitions: int | None = None,
    rejects: str | None = None,
    overwrite: bool = False,
) -> SparkReport:
    """Read, check, clean and write; the counts come from one cached pass (no re-cleaning)."""
    from pyspark.sql import functions as F

    started = time.perf_counter()
    fmt = fmt or detect_format(paths)
    rejects = rejects or f"{output.rstrip('/')}_rejects"
    partitions = partitions or PARTITIONS_PER_CORE * spark.sparkContext.defaultParallelism
    cached: list = []
    records = check(read_records(spark, paths, fmt, cached)).select(
        F.udf(local_path)("_uri").alias("path"),
        F.concat_ws(" ", "_where", F.col("_number").cast("string")).alias("record"),
        "checked",
    )
    records = records.persist(_storage())
    bad_input = records.where(F.col("checked.error").isNotNull()).select(
        "path", "record", F.col("checked.id").alias("id"), F.col("checked.error").alias("error")
    )
    udf = cleaner_udf(spark, model_uri, keep)
    results = (
        records.where(F.col("checked.error").isNull())
        .repartition(partitions)
        .withColumn(
            "cleaned",
            udf(
                F.col("checked.id"),
                F.col("checked.text"),
                F.col("checked.paragraphs"),
                F.col("checked.html"),
            ),
        )
        .persist(_storage())
    )
    # An article the model could not segment into any paragraph comes back empty.
    empty = F.size(F.col("cleaned.paragraphs")) < 1
    no_text = F.coalesce(
        *[
            F.when(F.col("checked.format") == name, F.lit(message))
            for name, message in NO_TEXT_MESSAGES.items()
        ],
        F.lit("no text"),
    )
    nothing_left = results.where(empty).select(
        "path", "record", F.col("checked.id").alias("id"), no_text.alias("error")
    )
    cleaned = results.where(~empty).select(  # the fields of `newsclean clean --jsonl`
        *(F.col(f"cleaned.{f}").alias(f) if f != "path" else f for f in ARTICLE_FIELDS)
    )
    mode = "overwrite" if overwrite else "errorifexists"
    cleaned.write.mode(mode).option("maxRecordsPerFile", MAX_RECORDS_PER_FILE).parquet(output)
    all_rejects = bad_input.unionByName(nothing_left)
    all_rejects.coalesce(1).write.mode(mode).json(rejects)
    report = SparkReport(output=output, rejects_path=rejects, partitions=partitions)
    report.cleaned = results.where(~empty).count()
    report.rejected = all_rejects.count()
    report.examples = [
        ": ".join(str(v) for v in (r["path"], r["record"], r["error"]) if v)
        for r in all_rejects.limit(REJECTS_SHOWN).collect()
    ]
    for frame in (results, records, *cached):
        frame.unpersist()
    report.seconds = time.perf_counter() - started
    return report


# ------------------------------------------------------------------ command


def parse_conf(items: list[str]) -> dict[str, str]:
    """``["spark.executor.memory=4g"]`` → a dict; a malformed item is a ``ValueError``."""
    conf = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--conf takes KEY=VALUE, got {item!r}")
        conf[key.strip()] = value.strip()
    return conf


def _active_session():
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def run(
    config: Config,
    inputs: list[str],
    output: str,
    model_uri: str | None = None,
    master: str = "local[*]",
    fmt: str | None = None,
    keep: str | None = None,
    partitions: int | None = None,
    rejects: str | None = None,
    overwrite: bool = False,
    stderr=None,
    spark_conf: list[str] | None = None,
) -> int:
    """The ``newsclean clean-spark`` command; returns the exit status (1 when anything was
    rejected, as ``newsclean clean``)."""
    stderr = stderr or sys.stderr
    prog = "newsclean clean-spark"
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        if keep:
            parse_keep(keep)
        fmt = fmt or detect_format(inputs)
        conf = parse_conf(spark_conf or [])
        uri = resolve_model(config, model_uri)
        started = time.perf_counter()
        owned = _active_session() is None  # a caller's session (tests, notebooks) stays up
        spark = start_session(master, conf=conf)
        startup = time.perf_counter() - started
    except (ValueError, ModelNotFoundError, SparkUnavailableError) as error:
        print(f"{prog}: {error}", file=stderr)
        return 2 if isinstance(error, ValueError) else 1
    try:
        report = clean(spark, inputs, output, uri, fmt, keep, partitions, rejects, overwrite)
    except Exception as error:  # noqa: BLE001 - Spark's errors (paths, existing output) reported
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"{prog}: {message}", file=stderr)
        return 1
    finally:
        if owned:
            spark.stop()
    report.startup_seconds = startup
    for example in report.examples:
        print(f"{prog}: rejected {example}", file=stderr)
    if report.rejected > len(report.examples):
        print(f"{prog}: ... see {report.rejects_path} for all rejects", file=stderr)
    print(f"{prog}: {report.summary()}", file=stderr)
    if report.cleaned == 0 and report.rejected == 0:
        print(f"{prog}: no input", file=stderr)
        return 1
    return 1 if report.rejected else 0
