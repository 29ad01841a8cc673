"""The ``newsclean`` command line: ``data`` builds the dataset, ``train`` trains and logs,
``compare`` prints the last trainings side by side."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from newsclean.config import Config, load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsclean", description="Train and run classifiers that clean scraped news text."
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override a setting, e.g. --set data.seed=7 (repeatable)",
    )
    parser.add_argument("--corpora-dir", help="folder of the real corpora (data.corpora_dir)")
    parser.add_argument("--seed", type=int, help="random seed (data.seed)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (tracking.tracking_uri)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("data", help="build the labelled-paragraph dataset and its data card")
    train = commands.add_parser("train", help="train the models and log them to MLflow")
    train.add_argument(
        "--task",
        choices=["kind", "topic", "cleaner"],
        action="append",
        help="train only this task (repeatable; default all, then the cleaner over the champions)",
    )
    train.add_argument(
        "--promote",
        choices=["auto", "never", "force"],
        help="champion rule (tracking.promote): auto moves the alias to a model that beats the "
        "champion on the same validation data (default); never only registers; force always "
        "moves it",
    )
    commands.add_parser("config", help="print the effective configuration")
    _add_annotation_commands(commands)
    _add_compare_command(commands)
    _add_clean_command(commands)
    _add_clean_spark_command(commands)
    return parser


def _add_model_options(command: argparse.ArgumentParser) -> None:
    """``--model`` and ``--keep``: the same for every command that runs the cleaner."""
    command.add_argument(
        "--model",
        metavar="URI",
        help="cleaner model URI (default: models:/newsclean-cleaner@champion)",
    )
    command.add_argument(
        "--keep", metavar="KINDS", help="kinds to keep, comma-separated (default: news)"
    )


def _add_clean_spark_command(commands: argparse._SubParsersAction) -> None:
    """``clean-spark``: the registered cleaner over a crawl on Apache Spark (newsclean.clean.spark)."""
    spark = commands.add_parser(
        "clean-spark",
        help="clean JSONL or Parquet articles on Spark, writing Parquet (pip install .[spark])",
        description="Clean articles (JSONL records or Parquet rows with 'id' and one of 'text', "
        "'paragraphs', 'html') on Apache Spark with the registered cleaner, in parallel. "
        "OUTPUT gets Parquet with the fields of `newsclean clean --jsonl`; records that cannot "
        "be cleaned go to OUTPUT_rejects (JSON lines with path, record, id and error). INPUT "
        "and OUTPUT are local paths or any URI Spark reads (hdfs://, s3a://, ...).",
    )
    spark.add_argument("paths", nargs="+", metavar="INPUT", help="files, directories or globs")
    spark.add_argument("output", metavar="OUTPUT", help="output directory (Parquet)")
    spark.add_argument(
        "--master",
        default="local[*]",
        help="Spark master (default local[*]; e.g. spark://host:7077, yarn)",
    )
    _add_model_options(spark)
    spark.add_argument(
        "--format", choices=["jsonl", "parquet"], help="input format (default: by name)"
    )
    spark.add_argument(
        "--partitions",
        type=int,
        metavar="N",
        help="partitions of the cleaning step (default: 3 per core of the cluster)",
    )
    spark.add_argument("--rejects", metavar="PATH", help="rejects output (default: OUTPUT_rejects)")
    spark.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting, e.g. --conf spark.executor.memory=4g (repeatable)",
    )
    spark.add_argument(
        "--overwrite", action="store_true", help="replace OUTPUT and the rejects if they exist"
    )


def _add_clean_command(commands: argparse._SubParsersAction) -> None:
    """``clean``: the cleaner on files, directories or standard input (newsclean.clean.batch)."""
    clean = commands.add_parser(
        "clean",
        help="clean scraped articles: .txt, .html/.htm, .jsonl (gzipped too), directories, -",
        description="Clean scraped articles with the registered cleaner. PATH is a file, a "
        "directory (every file in it) or - for standard input. One input prints the cleaned "
        "article; --jsonl prints one JSON object per article.",
    )
    clean.add_argument("paths", nargs="+", metavar="PATH", help="file, directory or -")
    _add_model_options(clean)
    clean.add_argument(
        "--jsonl", action="store_true", help="one JSON object per article, with every paragraph"
    )
    clean.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: every core)"
    )
    clean.add_argument(
        "--topics",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tag kept news and teasers with topics (default); --no-topics skips the topic "
        "model, for clean text only, faster",
    )
    progress = clean.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="progress bar"
    )
    progress.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )


def _add_compare_command(commands: argparse._SubParsersAction) -> None:
    """``compare``: the last trainings' candidates, baselines and champion (newsclean.tools.compare)."""
    compare = commands.add_parser(
        "compare", help="print the last trainings' candidates, baselines and champion"
    )
    compare.add_argument("--last", type=int, default=3, help="trainings per experiment (3)")
    compare.add_argument("--format", choices=["text", "markdown"], default="text")
    compare.add_argument(
        "--experiment", action="append", help="only this experiment (repeatable; default both)"
    )


def _add_annotation_commands(commands: argparse._SubParsersAction) -> None:
    """``annotate``, ``annotate-export`` and ``annotate-merge`` (see docs/annotation.md)."""
    annotate = commands.add_parser(
        "annotate", help="label unlabelled page blocks by hand (kind), with their page context"
    )
    annotate.add_argument("--source", help="only blocks of this page corpus")
    annotate.add_argument("--limit", type=int, default=50, help="blocks to show (default 50)")
    annotate.add_argument(
        "--annotator", default=os.environ.get("USER") or "unknown", help="default: $USER"
    )
    annotate.add_argument(
        "--out", type=Path, help="annotation CSV (default: <annotations_dir>/kind_user.csv)"
    )
    export = commands.add_parser(
        "annotate-export", help="sample blocks to annotate and write batch files (data/interim)"
    )
    export.add_argument("--n", type=int, default=3600, help="unknown-kind blocks (default 3600)")
    export.add_argument("--batches", type=int, default=6, help="batch files (default 6)")
    export.add_argument("--pass2", type=int, default=300, help="second-pass blocks (default 300)")
    export.add_argument(
        "--l3s-check", type=int, default=300, help="L3S blocks of known kind added (default 300)"
    )
    export.add_argument("--out-dir", type=Path, help="default: data/interim/annotation")
    export.add_argument("--force", action="store_true", help="overwrite batches with labels")
    merge = commands.add_parser(
        "annotate-merge", help="turn labels_batch_NN.csv / labels_pass2.csv into annotation rows"
    )
    merge.add_argument("--pass", dest="pass_", type=int, choices=[1, 2], default=1)
    merge.add_argument("--annotator", required=True, help="who labelled these files")
    merge.add_argument("--in-dir", type=Path, help="default: data/interim/annotation")
    merge.add_argument(
        "--out", type=Path, help="annotation CSV (default: <annotations_dir>/kind_v1.csv)"
    )


def _config(args: argparse.Namespace) -> Config:
    overrides = list(args.overrides)
    if args.corpora_dir is not None:
        overrides.append(f"paths.corpora_dir={args.corpora_dir}")
    if args.seed is not None:
        overrides.append(f"data.seed={args.seed}")
    if args.tracking_uri:
        overrides.append(f"tracking.tracking_uri={args.tracking_uri}")
    return load_config(overrides)


def cmd_data(config: Config) -> int:
    from newsclean.data.datacard import summary
    from newsclean.data.dataset import build

    print(
        f"building dataset from {config.paths.corpora_dir or 'the sample only'} ...",
        file=sys.stderr,
    )
    _, card = build(config)
    print(summary(card))
    print(
        f"rows dropped: {card['dropped_total']:,}; build {card['seconds']} s, "
        f"peak memory {card['peak_memory_mb']:.0f} MB"
    )
    if "l3s_alignment_agreement" in card["notes"]:
        print(f"alignment vs L3S labels: {card['notes']['l3s_alignment_agreement']:.2%}")
    print(f"data card: {config.paths.reports_dir / 'data_card.md'}")
    return 0


def cmd_train(config: Config, tasks: list[str] | None) -> int:
    from newsclean import tracking
    from newsclean.train.pipeline import train_all
    from newsclean.train.runs import results_table

    tracking.mark_abandoned_runs(config)  # runs a killed training left RUNNING
    started = time.perf_counter()
    results = train_all(config, tasks)
    print(results_table(results))
    for result in results:
        table = result.get("page_table")
        if table is not None and not table.empty:
            pivot = table.pivot_table(
                index=["input", "corpus"], columns="system", values="f1", sort=False
            )
            print("\npage F1 on test pages (newsclean through the Cleaner; peers, same input):")
            print(pivot.round(3).to_string())
    print(
        f"\ntrained in {time.perf_counter() - started:.0f} s; tracking store "
        f"{config.tracking.tracking_uri}"
    )
    print("compare the runs in the MLflow UI: make ui")
    return 0


def cmd_annotation(config: Config, args: argparse.Namespace) -> int:
    try:
        return _annotation(config, args)
    except ValueError as error:
        print(f"newsclean {args.command}: {error}", file=sys.stderr)
        return 1


def _annotation(config: Config, args: argparse.Namespace) -> int:
    from newsclean.data import annotations

    interim = annotations.default_interim_dir(config)
    if args.command == "annotate":
        annotations.annotate_interactive(config, args.source, args.limit, args.annotator, args.out)
        return 0
    if args.command == "annotate-merge":
        out = args.out or config.paths.annotations_dir / f"kind_{annotations.GUIDELINE_VERSION}.csv"
        result = annotations.merge_labels(args.in_dir or interim, out, args.pass_, args.annotator)
        print(
            f"pass {args.pass_}: {result['written']:,} rows written to {result['out']} "
            f"({result['replaced']:,} replaced, {result['unlabelled']:,} blocks still unlabelled); "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(result["kinds"].items()))
        )
        if result["same_annotator_both_passes"]:
            print(
                f"warning: {args.annotator} labelled {result['same_annotator_both_passes']:,} of "
                "these blocks in the other pass too: the passes are not independent",
                file=sys.stderr,
            )
        return 0
    from newsclean.data.dataset import load

    frame = load(config.paths.processed_dir)
    print(annotations.candidate_report(frame).to_string())
    done = annotations.annotated_keys(sorted(config.paths.annotations_dir.glob("*.csv")))
    sample = annotations.sample_for_annotation(
        frame, args.n, config.data.seed, n_check=args.l3s_check, exclude=done
    )
    manifest = annotations.export_batches(
        frame,
        sample,
        args.out_dir or interim,
        args.batches,
        args.pass2,
        config.data.seed,
        force=args.force,
    )
    for name, count in manifest["batches"].items():
        print(f"{name}: {count:,} blocks")
    print(f"pass2.jsonl: {manifest['pass2']['blocks']:,} blocks; in {args.out_dir or interim}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
    except (KeyError, ValueError, TypeError) as error:
        print(f"newsclean: bad setting: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "data":
            return cmd_data(config)
        if args.command == "train":
            if args.promote:
                config.tracking.promote = args.promote
            return cmd_train(config, args.task)
        if args.command.startswith("annotate"):
            return cmd_annotation(config, args)
        if args.command == "compare":
            from newsclean.tools import compare

            print(compare.main(config, args.last, args.format, args.experiment))
            return 0
        if args.command == "clean":
            from newsclean.clean import batch

            return batch.run(
                config,
                args.paths,
                args.model,
                args.jsonl,
                args.keep,
                args.workers,
                args.progress,
                topics=args.topics,
            )
        if args.command == "clean-spark":
            from newsclean.clean import spark

            return spark.run(
                config,
                args.paths,
                args.output,
                model_uri=args.model,
                master=args.master,
                fmt=args.format,
                keep=args.keep,
                partitions=args.partitions,
                rejects=args.rejects,
                overwrite=args.overwrite,
                spark_conf=args.conf,
            )
        if args.command == "config":
            for key, value in config.as_flat_dict().items():
                print(f"{key} = {value}")
            return 0
    except (FileNotFoundError, FileExistsError) as error:
        print(f"newsclean: {error}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
