"""``newsclean``: one command-line app for everything a user does (Typer).

Every Makefile target calls a subcommand of this app; ``newsclean --help`` lists them and
``newsclean COMMAND --help`` shows each one's options with examples. Settings come from the
one typed configuration (``newsclean.config``); ``--set SECTION.FIELD=VALUE`` overrides any
of them for one call.
"""

from __future__ import annotations

import os
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from newsclean.config import Config, load_config

app = typer.Typer(
    name="newsclean",
    help="Clean scraped news text: train the kind and topic models, compare runs, and run the "
    "registered cleaner from the command line, as a REST service or on Spark.",
    epilog="Examples: `newsclean train` (what `make train` runs), "
    "`newsclean clean article.txt`, `newsclean clean --jsonl crawl/ > clean.jsonl`, "
    "`newsclean --set data.seed=7 data`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        try:
            version = metadata.version("newsclean")
        except metadata.PackageNotFoundError:  # run from a source tree without an install
            version = "unknown"
        typer.echo(f"newsclean {version}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    overrides: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="SECTION.FIELD=VALUE",
            help="Override a setting, e.g. --set data.seed=7 (repeatable; see `newsclean config`).",
        ),
    ] = None,
    corpora_dir: Annotated[
        str | None, typer.Option(help="Folder of the real corpora (paths.corpora_dir).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (data.seed).")] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (tracking.tracking_uri).")
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Options before the subcommand apply to every subcommand."""
    settings = list(overrides or [])
    if corpora_dir is not None:
        settings.append(f"paths.corpora_dir={corpora_dir}")
    if seed is not None:
        settings.append(f"data.seed={seed}")
    if tracking_uri:
        settings.append(f"tracking.tracking_uri={tracking_uri}")
    try:
        ctx.obj = load_config(settings)
    except (KeyError, ValueError, TypeError) as error:
        typer.echo(f"newsclean: bad setting: {error}", err=True)
        raise typer.Exit(2) from None


def _config(ctx: typer.Context) -> Config:
    return ctx.obj


def _model_uri(profile: str | None, model: str | None) -> str | None:
    """``--model``, else the ``--profile``'s registered cleaner (None: the default)."""
    from newsclean.clean.registry import profile_uri

    if model is None and profile is None:
        return None
    try:
        return profile_uri(profile, model)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--profile") from None


def _done(status: int) -> None:
    if status:
        raise typer.Exit(status)


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", metavar="URI", help="Cleaner model URI (default: the registered champion)."
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        metavar="accurate|fast",
        help="Which registered cleaner: accurate (the champion, default) or fast (cheaper "
        "kind model, glued-junk gate); --model overrides it.",
    ),
]
KeepOption = Annotated[
    str | None,
    typer.Option(metavar="KINDS", help="Kinds to keep, comma-separated (default: news)."),
]


# ------------------------------------------------------------------ data and training


@app.command(epilog="Example: `newsclean data` (`make data`); `newsclean --corpora-dir none data`")
def data(ctx: typer.Context) -> None:
    """Build the paragraph dataset (data/processed/) and its data card (reports/)."""
    from newsclean.data.datacard import summary
    from newsclean.data.dataset import build

    config = _config(ctx)
    typer.echo(
        f"building dataset from {config.paths.corpora_dir or 'the sample only'} ...", err=True
    )
    _, card = build(config)
    typer.echo(summary(card))
    typer.echo(
        f"rows dropped: {card['dropped_total']:,}; build {card['seconds']} s, "
        f"peak memory {card['peak_memory_mb']:.0f} MB"
    )
    if "l3s_alignment_agreement" in card["notes"]:
        typer.echo(f"alignment vs L3S labels: {card['notes']['l3s_alignment_agreement']:.2%}")
    typer.echo(f"data card: {config.paths.reports_dir / 'data_card.md'}")


@app.command(
    epilog="Examples: `newsclean train` (`make train`); `newsclean train --task topic`; "
    "`newsclean train --promote never`"
)
def train(
    ctx: typer.Context,
    task: Annotated[
        list[str] | None,
        typer.Option(
            help="Train only this task: kind, topic or cleaner (repeatable; default all, then "
            "the cleaner over the champions)."
        ),
    ] = None,
    promote: Annotated[
        str | None,
        typer.Option(
            help="Champion rule (tracking.promote): auto moves the alias to a model that beats "
            "the champion on the same validation data (default); never only registers; force "
            "always moves it."
        ),
    ] = None,
) -> None:
    """Train the kind and topic models and build the cleaner, logged to MLflow.

    Candidates are chosen on validation; a model becomes champion only by beating the current
    one on the same validation data (see --promote)."""
    from newsclean import tracking
    from newsclean.train.pipeline import train_all
    from newsclean.train.runs import results_table

    config = _config(ctx)
    for name in task or []:
        if name not in ("kind", "topic", "cleaner"):
            raise typer.BadParameter(
                f"{name!r}: tasks are kind, topic, cleaner", param_hint="--task"
            )
    if promote:
        if promote not in ("auto", "never", "force"):
            raise typer.BadParameter("auto, never or force", param_hint="--promote")
        config.tracking.promote = promote
    tracking.mark_abandoned_runs(config)  # runs a killed training left RUNNING
    started = time.perf_counter()
    results = train_all(config, task or None)
    typer.echo(results_table(results))
    for result in results:
        table = result.get("page_table")
        if table is not None and not table.empty:
            pivot = table.pivot_table(
                index=["input", "corpus"], columns="system", values="f1", sort=False
            )
            typer.echo(
                "\npage F1 on test pages (newsclean through the Cleaner; peers, same input):"
            )
            typer.echo(pivot.round(3).to_string())
    typer.echo(
        f"\ntrained in {time.perf_counter() - started:.0f} s; tracking store "
        f"{config.tracking.tracking_uri}"
    )
    typer.echo("compare the runs in the MLflow UI: make ui")


@app.command("config")
def show_config(ctx: typer.Context) -> None:
    """Print the effective configuration, one SECTION.FIELD = VALUE per line."""
    for key, value in _config(ctx).as_flat_dict().items():
        typer.echo(f"{key} = {value}")


# ------------------------------------------------------------------ comparing runs


@app.command(epilog="Example: `newsclean compare --last 1 --format markdown` (`make compare`)")
def compare(
    ctx: typer.Context,
    last: Annotated[int, typer.Option(help="Trainings per experiment.")] = 3,
    format: Annotated[str, typer.Option(help="text or markdown.")] = "text",  # noqa: A002
    experiment: Annotated[
        list[str] | None,
        typer.Option(help="Only this experiment (repeatable; default both)."),
    ] = None,
) -> None:
    """Print the last trainings' candidates, baselines and champion side by side."""
    from newsclean.tools import compare as comparing

    if format not in ("text", "markdown"):
        raise typer.BadParameter("text or markdown", param_hint="--format")
    typer.echo(comparing.main(_config(ctx), last, format, experiment))


@app.command(epilog="Example: `newsclean ui --port 5000` (`make ui`)")
def ui(ctx: typer.Context, port: Annotated[int, typer.Option(help="Port.")] = 5000) -> None:
    """The MLflow UI over the project's store (prints the URL, experiments and links)."""
    from newsclean.tools import server

    _done(server.main(_config(ctx), "ui", port))


@app.command(epilog="Example: `newsclean server --port 5001` (`make server`)")
def server(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port.")] = 5001,
    folder: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="PostgreSQL cluster and artifact store (default "
            "<tracking.artifact_root>/team-server).",
        ),
    ] = None,
) -> None:
    """Team mode: PostgreSQL and an MLflow tracking server (Ctrl-C stops both)."""
    from newsclean.tools import server as servers

    _done(servers.main(_config(ctx), "team", port, folder))


# ------------------------------------------------------------------ cleaning


@app.command(
    epilog="Examples: `newsclean clean article.txt`; `cat page.html | newsclean clean -`; "
    "`newsclean clean --jsonl --keep news,teaser crawl/ > clean.jsonl`"
)
def clean(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...",
            help="Files (.txt, .html/.htm, .jsonl, gzipped too), directories, or - for "
            "standard input.",
        ),
    ],
    model: ModelOption = None,
    profile: ProfileOption = None,
    keep: KeepOption = None,
    jsonl: Annotated[
        bool, typer.Option(help="One JSON object per article, with every paragraph.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(metavar="N", help="Worker processes (default: every core).")
    ] = None,
    topics: Annotated[
        bool,
        typer.Option(
            help="Tag kept news and teasers with topics; --no-topics skips the topic model "
            "(clean text only, faster)."
        ),
    ] = True,
    progress: Annotated[
        bool | None,
        typer.Option(help="Progress bar (default: when standard error is a terminal)."),
    ] = None,
) -> None:
    """Clean scraped articles (text or HTML) with the registered cleaner.

    One input prints the cleaned article; --jsonl prints one JSON object per article."""
    from newsclean.clean import batch

    model = _model_uri(profile, model)
    _done(batch.run(_config(ctx), paths, model, jsonl, keep, workers, progress, topics=topics))


@app.command(
    "clean-spark",
    epilog="Example: `newsclean clean-spark crawl/*.jsonl cleaned/ --master local[*] "
    "--conf spark.executor.memory=4g` (`make clean-spark INPUT=... OUTPUT=...`)",
)
def clean_spark(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(metavar="INPUT... OUTPUT", help="Files, directories or globs, then OUTPUT."),
    ],
    master: Annotated[
        str, typer.Option(help="Spark master (e.g. spark://host:7077, yarn).")
    ] = "local[*]",
    model: ModelOption = None,
    profile: ProfileOption = None,
    keep: KeepOption = None,
    format: Annotated[  # noqa: A002
        str | None, typer.Option(help="Input format: jsonl or parquet (default: by name).")
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option(metavar="N", help="Partitions of the cleaning step (default: 3 per core)."),
    ] = None,
    rejects: Annotated[
        str | None, typer.Option(metavar="PATH", help="Rejects output (default: OUTPUT_rejects).")
    ] = None,
    conf: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="A Spark setting, e.g. --conf spark.executor.memory=4g (repeatable).",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace OUTPUT and the rejects if they exist.")
    ] = False,
) -> None:
    """Clean a crawl (JSONL or Parquet) on Apache Spark, writing Parquet.

    Records have 'id' and one of 'text', 'paragraphs', 'html'; the output has the fields of
    `newsclean clean --jsonl`, and records that cannot be cleaned go to OUTPUT_rejects. INPUT
    and OUTPUT are local paths or any URI Spark reads (hdfs://, s3a://, ...)."""
    from newsclean.clean import spark

    if len(paths) < 2:
        raise typer.BadParameter("give at least one INPUT and the OUTPUT directory")
    if format not in (None, "jsonl", "parquet"):
        raise typer.BadParameter("jsonl or parquet", param_hint="--format")
    *inputs, output = paths
    status = spark.run(
        _config(ctx),
        inputs,
        output,
        model_uri=_model_uri(profile, model),
        master=master,
        fmt=format,
        keep=keep,
        partitions=partitions,
        rejects=rejects,
        overwrite=overwrite,
        spark_conf=list(conf or []),
    )
    _done(status)


@app.command(epilog="Example: `newsclean serve --port 5002` (`make serve`)")
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port.")] = 5002,
    host: Annotated[str, typer.Option(help="Interface (default: loopback only).")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Server worker processes.")] = 1,
    profile: ProfileOption = None,
) -> None:
    """The registered cleaner as a REST service: POST articles to /invocations.

    Runs `mlflow models serve` on the champion (or the --profile fast cleaner) in this
    environment, on loopback by default."""
    from newsclean.clean.registry import PROFILES
    from newsclean.tools import serve as serving

    profile = (profile or "accurate").lower()
    if profile not in PROFILES:
        raise typer.BadParameter(f"choose one of {', '.join(PROFILES)}", param_hint="--profile")
    _done(serving.serve(_config(ctx), port, host, workers, profile))


@app.command(epilog="Examples: `newsclean bench` (`make bench`); `newsclean bench --max-pages 20`")
def bench(
    ctx: typer.Context,
    model: ModelOption = None,
    max_pages: Annotated[int, typer.Option(help="Test pages per corpus (0: all).")] = 0,
    scale_base: Annotated[int | None, typer.Option(help="Pages at 1x in the scaling run.")] = None,
    repeats: Annotated[int, typer.Option(help="Timed runs per system (best kept).")] = 2,
    workers: Annotated[
        int | None, typer.Option(help="Processes for the batch run (default: all).")
    ] = None,
    spark_articles: Annotated[
        int | None, typer.Option(help="Articles in the Spark section's batch (0: no Spark).")
    ] = None,
    mlflow: Annotated[bool, typer.Option(help="Log an MLflow run.")] = True,
) -> None:
    """Benchmark the cleaner against its peers: reports/bench.md and an MLflow run.

    Pages/s on one core and page F1 against trafilatura, jusText, boilerpipe and keep-all, and
    Spark against the CLI."""
    from newsclean.tools import bench as benchmark

    options = {"scale_base": scale_base, "spark_articles": spark_articles}
    status = benchmark.main(
        _config(ctx),
        model,
        max_pages,
        repeats=repeats,
        workers=workers,
        log_mlflow=mlflow,
        **{k: v for k, v in options.items() if v is not None},
    )
    _done(status)


# ------------------------------------------------------------------ annotation


def _annotation_errors(run):
    try:
        return run()
    except ValueError as error:
        typer.echo(f"newsclean annotate: {error}", err=True)
        raise typer.Exit(1) from None


@app.command(
    epilog="Example: `newsclean annotate --source cleaneval --limit 20` (docs/annotation.md)"
)
def annotate(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only blocks of this page corpus.")] = None,
    limit: Annotated[int, typer.Option(help="Blocks to show.")] = 50,
    annotator: Annotated[str, typer.Option(help="Who labels (default: $USER).")] = os.environ.get(
        "USER"
    )
    or "unknown",
    out: Annotated[
        Path | None,
        typer.Option(help="Annotation CSV (default: <annotations_dir>/kind_<annotator>.csv)."),
    ] = None,
) -> None:
    """Label unlabelled page blocks by hand (kind), with their page context."""
    from newsclean.tools import annotate as annotating

    _annotation_errors(
        lambda: annotating.annotate_interactive(_config(ctx), source, limit, annotator, out)
    )


@app.command("annotate-export", epilog="Example: `newsclean annotate-export --n 600 --batches 2`")
def annotate_export(
    ctx: typer.Context,
    n: Annotated[int, typer.Option("--n", help="Unknown-kind blocks to sample.")] = 3600,
    batches: Annotated[int, typer.Option(help="Batch files.")] = 6,
    pass2: Annotated[int, typer.Option(help="Second-pass blocks.")] = 300,
    l3s_check: Annotated[int, typer.Option(help="L3S blocks of known kind added.")] = 300,
    out_dir: Annotated[Path | None, typer.Option(help="Default: data/interim/annotation.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite batches that hold labels.")] = False,
) -> None:
    """Sample blocks to annotate and write batch files (outside git, under data/interim)."""
    from newsclean.data.dataset import load
    from newsclean.tools import annotate as annotating

    config = _config(ctx)
    folder = out_dir or annotating.default_interim_dir(config)

    def export() -> None:
        frame = load(config.paths.processed_dir)
        typer.echo(annotating.candidate_report(frame).to_string())
        done = annotating.annotated_keys(sorted(config.paths.annotations_dir.glob("*.csv")))
        sample = annotating.sample_for_annotation(
            frame, n, config.data.seed, n_check=l3s_check, exclude=done
        )
        manifest = annotating.export_batches(
            frame, sample, folder, batches, pass2, config.data.seed, force=force
        )
        for name, count in manifest["batches"].items():
            typer.echo(f"{name}: {count:,} blocks")
        typer.echo(f"pass2.jsonl: {manifest['pass2']['blocks']:,} blocks; in {folder}")

    _annotation_errors(export)


@app.command(
    "annotate-merge", epilog="Example: `newsclean annotate-merge --annotator alice --pass 1`"
)
def annotate_merge(
    ctx: typer.Context,
    annotator: Annotated[str, typer.Option(help="Who labelled these files.")],
    pass_: Annotated[int, typer.Option("--pass", help="1 (labels) or 2 (agreement).")] = 1,
    in_dir: Annotated[Path | None, typer.Option(help="Default: data/interim/annotation.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Annotation CSV (default: <annotations_dir>/kind_v1.csv)."),
    ] = None,
) -> None:
    """Turn labels_batch_NN.csv / labels_pass2.csv into annotation rows (data/annotations)."""
    from newsclean.data.annotations import GUIDELINE_VERSION
    from newsclean.tools import annotate as annotating

    if pass_ not in (1, 2):
        raise typer.BadParameter("1 or 2", param_hint="--pass")
    config = _config(ctx)
    target = out or config.paths.annotations_dir / f"kind_{GUIDELINE_VERSION}.csv"
    folder = in_dir or annotating.default_interim_dir(config)
    result = _annotation_errors(lambda: annotating.merge_labels(folder, target, pass_, annotator))
    typer.echo(
        f"pass {pass_}: {result['written']:,} rows written to {result['out']} "
        f"({result['replaced']:,} replaced, {result['unlabelled']:,} blocks still unlabelled); "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(result["kinds"].items()))
    )
    if result["same_annotator_both_passes"]:
        typer.echo(
            f"warning: {annotator} labelled {result['same_annotator_both_passes']:,} of these "
            "blocks in the other pass too: the passes are not independent",
            err=True,
        )


def main(argv: list[str] | None = None) -> int:
    """Run the app; return its exit status (the console script and tests call this)."""
    try:
        app(args=argv, prog_name="newsclean")  # usage errors print and exit 2, as click does
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except (FileNotFoundError, FileExistsError) as error:
        typer.echo(f"newsclean: {error}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
