"""Text views of the page corpora: labels from the page's blocks, splits kept, no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from newsclean.config import load_config
from newsclean.data.sources.base import BuildLog, Document
from newsclean.data.textviews import (
    add_text_views,
    chosen_renderings,
    label_lines,
    page_doc_id,
    view_doc_id,
)
from newsclean.text import text_sha1

BODY = "The harbour council voted on Monday to add two evening ferry crossings from March."
OTHER_BODY = "Engineers will inspect both road bridges before they reopen to heavy vehicles."
TEASER = "Rail operator adds late trains for the winter concert season in the valley"


def _page_rows(source: str, doc_id: str, split: str, blocks: list[tuple[str, str | None]]):
    rows = []
    for position, (text, kind) in enumerate(blocks):
        rows.append(
            {
                "source": source,
                "doc_id": doc_id,
                "position": position,
                "n_paragraphs": len(blocks),
                "text": text,
                "is_news": kind == "news",
                "kind": kind,
                "topic": None,
                "split": split,
                "html_tag": "p",
                "link_density": 0.0,
                "dom_depth": 5.0,
                "css_tokens": "body",
                "container_share": 0.5,
                "in_main_container": 1.0,
                "parent_id": 1.0,
                "grandparent_id": 2.0,
                "gold_score": 1.0 if kind == "news" else 0.0,
                "text_sha1": text_sha1(text),
            }
        )
    return rows


def _config(share: float = 1.0, views: str = "blocks,html-text"):
    config = load_config(environ={})
    config.data.text_views = views
    config.data.text_view_share = share
    return config


def test_lines_take_their_blocks_labels_or_align_to_them():
    page = pd.DataFrame(
        _page_rows(
            "wcxb",
            "p1",
            "train",
            [("Home", "boilerplate"), (BODY, "news"), (OTHER_BODY, "news"), (TEASER, "teaser")],
        )
    )
    lines = ["Home", f"{BODY} {OTHER_BODY}", TEASER + " Read on", "Cookie settings and more"]
    labels = label_lines(lines, page, threshold=0.5)
    assert [(news, kind) for news, kind, _, _ in labels] == [
        (False, "boilerplate"),  # equal to a block: its labels
        (True, "news"),  # two news blocks on one line: aligned to the news text
        (False, "teaser"),  # mostly a teaser's words
        (False, None),  # nothing on the page says what it is
    ]


def test_a_page_gets_one_rendering_for_the_seeded_share_of_pages():
    renderings = ("blocks", "html-text")
    keys = [("wcxb", f"page-{i}") for i in range(400)]
    chosen = [chosen_renderings(key, renderings, 0.5, seed=13) for key in keys]
    assert chosen == [chosen_renderings(key, renderings, 0.5, seed=13) for key in keys]
    assert all(len(c) <= 1 for c in chosen)
    share = sum(bool(c) for c in chosen) / len(keys)
    assert 0.4 < share < 0.6
    assert {c[0] for c in chosen if c} == set(renderings)
    assert all(chosen_renderings(key, renderings, 1.0, seed=13) for key in keys)
    assert not any(chosen_renderings(key, renderings, 0.0, seed=13) for key in keys)


def test_views_stay_in_their_pages_split_without_html_and_without_foreign_paragraphs():
    frame = pd.DataFrame(
        _page_rows("wcxb", "p1", "train", [("Menu", "boilerplate"), (BODY, "news")])
        + _page_rows("wcxb", "p2", "test", [(OTHER_BODY, "news"), ("Share", "boilerplate")])
    )
    frame = frame.assign(html_tag=frame["html_tag"].astype(object))
    documents = [
        # p1's rendering repeats a long paragraph of p2 (a test page): it must stay out.
        Document("wcxb", "p1", [], renderings={"html-text": ["Menu", BODY, OTHER_BODY]}),
        Document("wcxb", "p2", [], renderings={"html-text": [OTHER_BODY, "Share"]}),
    ]
    log = BuildLog()
    out = add_text_views(frame, documents, _config(share=1.0, views="html-text"), log)
    views = out[out["view"] != "html"]
    assert set(out.loc[out["doc_id"].isin(["p1", "p2"]), "view"]) == {"html"}
    assert set(views["doc_id"].map(page_doc_id)) <= {"p1", "p2"}
    for doc_id, part in views.groupby("doc_id"):
        page = page_doc_id(doc_id)
        assert set(part["split"]) == set(frame.loc[frame["doc_id"] == page, "split"])
        assert part["html_tag"].isna().all() and part["css_tokens"].isna().all()
        assert part["link_density"].isna().all() and part["container_share"].isna().all()
        assert doc_id == view_doc_id(page, "html-text")
    p1 = views[views["doc_id"] == view_doc_id("p1", "html-text")]
    assert list(p1["text"]) == ["Menu", BODY]
    assert list(p1["kind"]) == ["boilerplate", "news"] and list(p1["position"]) == [0, 1]
    assert sum(n for (_, reason), n in log.drops.items() if "duplicate" in reason) == 1
    notes = {k: v for k, v in log.notes.items() if k.startswith("text_views.")}
    assert sum(v for k, v in notes.items() if k.endswith(".pages")) == 2


def test_the_blocks_view_copies_the_pages_rows_and_labels():
    frame = pd.DataFrame(
        _page_rows("l3s-gn1", "p1", "validation", [("Menu", None), (BODY, "news")])
    )
    out = add_text_views(frame, [], _config(share=1.0, views="blocks"), BuildLog())
    view = out[out["view"] == "blocks"]
    assert list(view["text"]) == ["Menu", BODY] and list(view["position"]) == [0, 1]
    assert list(view["is_news"]) == [False, True] and view["kind"].iloc[0] is None
    assert set(view["doc_id"]) == {view_doc_id("p1", "blocks")}


def test_no_renderings_configured_adds_only_the_view_column():
    frame = pd.DataFrame(_page_rows("wcxb", "p1", "train", [(BODY, "news")]))
    out = add_text_views(frame, [], _config(views=""), BuildLog())
    assert len(out) == 1 and list(out["view"]) == ["html"]


def test_text_corpus_rows_are_the_text_view():
    frame = pd.DataFrame(_page_rows("ag-news", "a1", "train", [(BODY, "news")]))
    frame["html_tag"] = None
    frame["link_density"] = np.nan
    out = add_text_views(frame, [], _config(), BuildLog())
    assert list(out["view"]) == ["text"] and len(out) == 1
