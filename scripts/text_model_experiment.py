"""Experiment (issue 21): one kind model for HTML and text, or a text model beside it?

The champion learns from both views (the page corpora's text views sit in its training data
with their HTML columns empty). The alternative is a second model of the same design trained
only on text rows (the text views and the text corpora), used for text input. This script fits
that text model and compares both on *validation* only: paragraph-level selection score and
news F1 on the validation text-view rows, and page F1 of the validation pages rendered as text,
cleaned through the ``Cleaner``. It logs an ``analysis`` run in the kind experiment.

Run after ``make train`` (it reads the dataset and the kind champion from the project's store):

    .venv/bin/python scripts/text_model_experiment.py [--pages 60]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time

import numpy as np
import pandas as pd


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60, help="validation pages per corpus")
    parser.add_argument(
        "--joint", default="models:/newsclean-kind@champion", help="the joint kind model's URI"
    )
    parser.add_argument(
        "--share",
        type=float,
        default=None,
        help="keep only the text views that this data.text_view_share would have made (to "
        "compare with a joint model trained at that share on the same rows)",
    )
    args = parser.parse_args()

    import mlflow

    from newsclean import tracking
    from newsclean.clean.cleaner import Cleaner, ordered_proba
    from newsclean.config import KINDS, load_config
    from newsclean.data import dataset
    from newsclean.data.sources.pages import load_page
    from newsclean.ml.kind import KIND_COLUMNS, ReweightedKind, champion_design, tune_kind_weights
    from newsclean.ml.metrics import kind_selection_score, news_f1
    from newsclean.train.pages import PAGE_CORPORA, evaluate_pages

    config = load_config()
    tracking.configure(config)
    frame = dataset.load(config.paths.processed_dir)
    digest = dataset.load_digest(config.paths.processed_dir)
    seed = config.data.seed
    if args.share is not None:
        from newsclean.data.textviews import chosen_renderings, page_doc_id

        renderings = tuple(r for r in config.data.text_views.split(",") if r)
        views = frame["view"].isin(renderings)
        keep = [
            not is_view
            or chosen_renderings((s, page_doc_id(d)), renderings, args.share, seed) == (v,)
            for is_view, s, d, v in zip(
                views, frame["source"], frame["doc_id"], frame["view"], strict=True
            )
        ]
        frame = frame[np.array(keep)]
    text_rows = frame[frame["view"] != "html"]
    train = text_rows[text_rows["split"] == "train"]
    validation = frame[frame["split"] == "validation"]
    val_text = validation[validation["view"].isin(["blocks", "html-text"])]

    started = time.perf_counter()
    y = train["kind"].fillna("unknown").to_numpy(dtype=object)
    stack = champion_design(config).fit(train[KIND_COLUMNS], y)
    # The same weights rule as the champion's, tuned on the validation rows it would serve.
    text_model = ReweightedKind(stack).use_fitted(
        tune_kind_weights(val_text, stack.predict_proba(val_text[KIND_COLUMNS]))
    )
    fit_seconds = time.perf_counter() - started
    joint = mlflow.sklearn.load_model(args.joint)

    rows = []
    for name, model in (("joint (champion)", joint), ("text model", text_model)):
        for view in ("blocks", "html-text"):
            part = val_text[val_text["view"] == view]
            proba = ordered_proba(model, part[KIND_COLUMNS], KINDS)
            predicted = np.array(KINDS, dtype=object)[proba.argmax(axis=1)]
            truth = np.where(part["is_news"].to_numpy(), "news", "rest")
            rows.append(
                {
                    "model": name,
                    "level": f"paragraphs, view {view}",
                    "selection_score": kind_selection_score(part, proba),
                    "news_f1": news_f1(truth, predicted),
                }
            )

    pages = []
    html_val = validation[validation["view"] == "html"]
    for corpus in PAGE_CORPORA:
        doc_ids = sorted(
            html_val.loc[html_val["source"] == corpus, "doc_id"].unique(),
            key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).digest(),
        )[: args.pages]
        pages += [p for p in (load_page(corpus, d, config.paths.corpora_dir) for d in doc_ids) if p]
    inputs = ("text:blocks", "text:html-text")
    tables = []
    for name, model in (("joint (champion)", joint), ("text model", text_model)):
        table = evaluate_pages(Cleaner(model), pages, inputs, peers={})
        tables.append(table.assign(model=name))
        for row in table[table["corpus"] == "all"].itertuples():
            rows.append(
                {"model": name, "level": f"validation pages, {row.input}", "page_f1": row.f1}
            )
    result = pd.DataFrame(rows)
    pages_table = pd.concat(tables, ignore_index=True)
    print(result.round(4).to_string(index=False))
    print(
        pages_table.pivot_table(index=["input", "corpus"], columns="model", values="f1")
        .round(4)
        .to_string()
    )
    tracking.experiment(config, config.tracking.kind_experiment)
    with tracking.tagged_run(
        "text model beside the HTML model (validation)", digest, "", "analysis", "kind"
    ):
        mlflow.log_params(
            {
                "pages_per_corpus": args.pages,
                "text_model_fit_seconds": fit_seconds,
                "joint_model": args.joint,
                "text_view_share": args.share,
            }
        )
        mlflow.log_table(result, "text_model_vs_joint.json")
        mlflow.log_table(pages_table, "text_model_vs_joint_pages.json")
        for row in result.to_dict("records"):
            prefix = f"{'text' if row['model'] == 'text model' else 'joint'}_{row['level']}"
            prefix = "".join(c if c.isalnum() else "_" for c in prefix).strip("_")
            for metric in ("selection_score", "news_f1", "page_f1"):
                if pd.notna(row.get(metric)):
                    mlflow.log_metric(f"{prefix}_{metric}", float(row[metric]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
