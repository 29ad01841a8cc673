"""Experiment (issues 21, 22): choose the cleaner's page-level pass on validation pages.

Cleans the validation pages (``training.test_pages`` on the validation split: up to
``page_eval_max_pages`` per page corpus) once per input (HTML and each text rendering) with
the pass off, then replays the pass (``pagepass.decide_page`` + ``kindrules``) over each
page's reported probabilities for every setting of the grid and prints page F1 per input and
corpus. Blocks the pass turns into news are scored with their whole text (the cleaner would
also strip glued junk from them): a close, slightly pessimistic replay.

Run after ``make train`` (it reads the dataset and the champion cleaner):

    .venv/bin/python scripts/page_pass_sweep.py [--split validation]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import pandas as pd

PENALTIES = (0.0, 0.5, 1.0, 1.25, 1.5)
MIN_CHARS = (0, 200, 800)
FLOORS = (0.1, 0.2)
BIASES = (-1.0, -0.5, 0.0, 0.5)


def main() -> int:
    from newsclean.clean.cleaner import Cleaner
    from newsclean.clean.inputs import InputError, to_article
    from newsclean.clean.pagepass import decide_page
    from newsclean.config import KINDS, load_config
    from newsclean.data.dataset import load
    from newsclean.kindrules import rule_for
    from newsclean.ml.metrics import page_f1
    from newsclean.train.pages import page_input_names, page_inputs, test_pages

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="validation", choices=("validation", "train"))
    args = parser.parse_args()
    config = load_config()
    frame = load(config.paths.processed_dir)
    pages = test_pages(frame[frame["split"] == args.split], config)
    cleaner = Cleaner.load(config=config).with_settings(
        contiguity_penalty=0, fallback_min_chars=0, news_bias=0.0
    )

    def replay(cleaned, penalty: float, min_chars: int, floor: float, bias: float) -> str:
        if cleaned is None or not cleaned.paragraphs:
            return ""
        paragraphs = cleaned.paragraphs
        proba = np.array([[p.probabilities[k] for k in KINDS] for p in paragraphs])
        chars = np.array([len(p.original) for p in paragraphs], dtype=np.float64)
        keep = decide_page(proba, chars, penalty, min_chars, floor, bias).keep
        return "\n\n".join(
            p.text if p.kind == "news" else p.original
            for p, k in zip(paragraphs, keep, strict=True)
            if k and not rule_for(p.original)
        )

    rows = []
    for name in page_input_names():
        cleaned: list = [None] * len(pages)
        articles, owners = [], []
        for number, page in enumerate(pages):
            try:
                record = page_inputs(page.html, [name])[name][0]
                articles.append(to_article({"id": str(number), **record}))
                owners.append(number)
            except InputError:
                continue
        for start in range(0, len(articles), 16):
            batch = cleaner.clean_many(articles[start : start + 16])
            for owner, result in zip(owners[start : start + 16], batch, strict=True):
                cleaned[owner] = result
        grid = itertools.product(PENALTIES, MIN_CHARS, FLOORS, BIASES)
        for penalty, min_chars, floor, bias in grid:
            texts = [replay(c, penalty, min_chars, floor, bias) for c in cleaned]
            row = {"input": name, "penalty": penalty, "min_chars": min_chars, "floor": floor}
            row["bias"] = bias
            row["all"] = page_f1([(t, p.gold) for t, p in zip(texts, pages, strict=True)])["f1"]
            for corpus in dict.fromkeys(p.corpus for p in pages):
                pairs = [
                    (t, p.gold) for t, p in zip(texts, pages, strict=True) if p.corpus == corpus
                ]
                row[corpus] = page_f1(pairs)["f1"]
            rows.append(row)
    table = pd.DataFrame(rows).round(4)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False))
    keys = ["penalty", "min_chars", "floor", "bias"]
    mean = table.pivot_table(index=keys, columns="input", values="all")
    mean["mean"] = mean.mean(axis=1)
    print(mean.sort_values("mean", ascending=False).head(10).round(4).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
