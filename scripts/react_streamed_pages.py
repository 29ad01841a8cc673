"""Experiment (issue 22): pages whose article React streams in ``<div hidden id="S:N">``.

Segmentation used to drop every ``hidden`` element, so on pages rendered by React's streaming
server (Next.js app router and others) the whole article could vanish. This script finds the
pages of a WCXB folder that hold such parts (default ``dev-other``: dev pages in no split, not
the test pages) and scores the champion cleaner on them with the parts kept (now) and dropped
(before), beside trafilatura. Run after ``make train``:

    .venv/bin/python scripts/react_streamed_pages.py [dev-other|dev-articles|test]
"""

from __future__ import annotations

import re
import sys

STREAMED = re.compile(rb'hidden(="")? id="S:\d+"')


def main() -> int:
    import newsclean.segmentation as segmentation
    from newsclean.clean.cleaner import Cleaner
    from newsclean.clean.inputs import InputError
    from newsclean.config import load_config
    from newsclean.data.sources.pages import wcxb_pages
    from newsclean.ml.metrics import f1_of, page_shingle_scores
    from newsclean.train.pages import trafilatura_extract

    folder = sys.argv[1] if len(sys.argv) > 1 else "dev-other"
    config = load_config()
    pages = [p for p in wcxb_pages(config.paths.corpora_dir, folder) if STREAMED.search(p.html)]
    cleaner = Cleaner.load(config=config)

    def page_scores() -> list[float]:
        scores = []
        for page in pages:
            try:  # a page whose whole text is streamed has no text without those parts
                text = cleaner.clean({"html": page.html.decode("utf-8", "replace")}).text
            except InputError:
                text = ""
            scores.append(f1_of(*page_shingle_scores(text, page.gold)))
        return scores

    kept = page_scores()
    segmentation._REACT_STREAMED_RE = re.compile(r"(?!)")  # matches nothing: the old rule
    dropped = page_scores()
    print(f"{len(pages)} WCXB {folder} pages with React-streamed parts")
    print("page  type           dropped  kept  trafilatura")
    for page, before, after in zip(pages, dropped, kept, strict=True):
        peer = f1_of(*page_shingle_scores(trafilatura_extract(page.html), page.gold))
        print(f"{page.doc_id:5s} {page.page_type:14s} {before:7.3f} {after:5.3f} {peer:12.3f}")
    n = max(len(pages), 1)
    print(f"mean  {'':14s} {sum(dropped) / n:7.3f} {sum(kept) / n:5.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
