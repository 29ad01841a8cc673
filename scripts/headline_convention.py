"""Experiment (issue 22): how newsclean treats a page's own headline, against WCXB's gold.

WCXB's gold main text is the article body, mostly without its headline (the benchmark
convention). This script cleans WCXB's test article pages with the champion cleaner (HTML
input) and counts, per page with a gold title: whether the gold holds the title, whether
newsclean's output holds it, and the page F1 with and without the title lines removed from
the output. Prints one small table.

Run after ``make train``:

    .venv/bin/python scripts/headline_convention.py
"""

from __future__ import annotations

import gzip
import json


def main() -> int:
    import pandas as pd

    from newsclean.clean.cleaner import Cleaner
    from newsclean.config import load_config
    from newsclean.data.sources.pages import wcxb_test_pages
    from newsclean.ml.metrics import page_f1
    from newsclean.text import normalise

    config = load_config()
    pages = [p for p in wcxb_test_pages(config.paths.corpora_dir) if p.page_type == "article"]
    folder = config.paths.corpora_dir / "wcxb" / "test" / "ground-truth"
    titles = {}
    for page in pages:
        with gzip.open(folder / f"{page.doc_id}.json.gz") as handle:
            record = json.loads(handle.read())
        titles[page.doc_id] = normalise(record["ground_truth"].get("title") or "")
    pages = [p for p in pages if titles[p.doc_id]]
    cleaner = Cleaner.load(config=config)
    rows, pairs, pairs_untitled = [], [], []
    for start in range(0, len(pages), 16):
        batch = pages[start : start + 16]
        cleaned_batch = cleaner.clean_many([{"html": p.html} for p in batch])
        for page, cleaned in zip(batch, cleaned_batch, strict=True):
            title = titles[page.doc_id]
            kept = [p.text for p in cleaned.paragraphs if p.kept]
            untitled = [t for t in kept if normalise(t) != title]
            rows.append(
                {
                    "gold_has_title": title[:60] in normalise(page.gold),
                    "output_has_title": len(untitled) < len(kept),
                }
            )
            pairs.append((cleaned.text, page.gold))
            pairs_untitled.append(("\n\n".join(untitled), page.gold))
    table = pd.DataFrame(rows)
    print(f"WCXB test article pages with a gold title: {len(table)}")
    print(f"  gold holds the title:      {table['gold_has_title'].mean():.1%}")
    print(f"  newsclean keeps the title: {table['output_has_title'].mean():.1%}")
    print(f"  page F1 as cleaned:            {page_f1(pairs)['f1']:.4f}")
    print(f"  page F1 without title lines:   {page_f1(pairs_untitled)['f1']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
