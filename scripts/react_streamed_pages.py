"""Experiment (issue 22): pages whose article React streams in ``<div hidden id="S:N">``.

Segmentation used to drop every ``hidden`` element, so on pages rendered by React's streaming
server (Next.js app router and others) the whole article could vanish. This script finds the
WCXB test pages that hold such parts and scores the champion cleaner on them with the parts
kept (now) and dropped (before), beside trafilatura. Run after ``make train``:

    .venv/bin/python scripts/react_streamed_pages.py
"""

from __future__ import annotations

import re

STREAMED = re.compile(rb'hidden(="")? id="S:\d+"')


def main() -> int:
    import newsclean.segmentation as segmentation
    from newsclean.cleaning import Cleaner
    from newsclean.config import load_config
    from newsclean.evaluation import f1_of, page_shingle_scores, trafilatura_extract
    from newsclean.sources.pages import wcxb_test_pages

    config = load_config()
    pages = [p for p in wcxb_test_pages(config.paths.corpora_dir) if STREAMED.search(p.html)]
    cleaner = Cleaner.load(config=config)

    def page_scores() -> list[float]:
        cleaned = cleaner.clean_many([{"html": p.html.decode("utf-8", "replace")} for p in pages])
        return [
            f1_of(*page_shingle_scores(c.text, p.gold)) for c, p in zip(cleaned, pages, strict=True)
        ]

    kept = page_scores()
    segmentation._REACT_STREAMED_RE = re.compile(r"(?!)")  # matches nothing: the old rule
    dropped = page_scores()
    print(f"{len(pages)} WCXB test pages with React-streamed parts")
    print("page  type           dropped  kept  trafilatura")
    for page, before, after in zip(pages, dropped, kept, strict=True):
        peer = f1_of(*page_shingle_scores(trafilatura_extract(page.html), page.gold))
        print(f"{page.doc_id:5s} {page.page_type:14s} {before:7.3f} {after:5.3f} {peer:12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
