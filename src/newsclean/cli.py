"""The ``newsclean`` command line: ``data`` builds the dataset, ``train`` trains and logs."""

from __future__ import annotations

import argparse
import sys
import time

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
        choices=["kind", "topic"],
        action="append",
        help="train only this task (repeatable; default all)",
    )
    commands.add_parser("config", help="print the effective configuration")
    return parser


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
    from newsclean.datacard import summary
    from newsclean.dataset import build

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
    from newsclean.training import results_table, train_all

    started = time.perf_counter()
    results = train_all(config, tasks)
    print(results_table(results))
    print(
        f"\ntrained in {time.perf_counter() - started:.0f} s; tracking store "
        f"{config.tracking.tracking_uri}"
    )
    print("compare the runs in the MLflow UI: make ui")
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
            return cmd_train(config, args.task)
        if args.command == "config":
            for key, value in config.as_flat_dict().items():
                print(f"{key} = {value}")
            return 0
    except FileNotFoundError as error:
        print(f"newsclean: {error}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
