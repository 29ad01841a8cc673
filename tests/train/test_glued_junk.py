"""The glued-junk generator and the stripping evaluation (newsclean.train.glued_junk)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from newsclean.clean.cleaner import Cleaner
from newsclean.clean.junk import STRIPPER_FEATURES
from newsclean.clean.settings import CleanerSettings
from newsclean.config import KINDS
from newsclean.train import glued_junk as junk


def test_glue_styles_and_spans():
    news, fragment = "Officials confirmed the plan.", "Claim 50 free spins!"
    text, start, end = junk.glue(news, fragment, "start", "tight")
    assert text == "Claim 50 free spins!Officials confirmed the plan."
    assert text[start:end] == fragment
    text, start, end = junk.glue(news, fragment, "start", "no_punct")
    assert text == "Claim 50 free spinsOfficials confirmed the plan." and text[start:end] == (
        "Claim 50 free spins"
    )
    text, start, end = junk.glue(news, "Read more: Storm closes road", "end", "space")
    assert text == "Officials confirmed the plan. Read more: Storm closes road"
    assert text[start:end] == "Read more: Storm closes road"


def test_generator_is_seeded_held_out_and_exact(sample_build):
    _, frame, _ = sample_build
    first = junk.make_glued(frame, "test", seed=5, glue_rate=0.5)
    again = junk.make_glued(frame, "test", seed=5, glue_rate=0.5)
    pd.testing.assert_frame_equal(first.paragraphs, again.paragraphs)
    table = first.paragraphs
    glued = table[table["junk_start"] >= 0]
    assert len(glued) > 0
    assert set(glued["junk_kind"]) <= set(junk.JUNK_KINDS)
    assert glued["is_news"].all()  # junk only goes onto news paragraphs
    test_junk = frame[(frame["split"] == "test") & frame["kind"].isin(junk.JUNK_KINDS)]
    for row in glued.itertuples():
        fragment = row.text[row.junk_start : row.junk_end]
        assert fragment  # the recorded range is the fragment
        rest = row.text[: row.junk_start] + row.text[row.junk_end :]
        assert rest.strip() == row.original
        # ... and it comes from a non-news paragraph of the same (held-out) split.
        assert test_junk["text"].str.startswith(fragment).any()
    assert len(first.articles) == table["article"].nunique()
    blocks = [b.text for a in first.articles for b in a.blocks]
    assert blocks == table["text"].tolist()


class GluedAwareKind:
    """A stand-in model: short texts with promo words are spam, everything else news."""

    classes_ = np.array(KINDS, dtype=object)

    def predict_proba(self, frame):
        out = []
        for text in frame["text"]:
            lower = text.lower()
            promo = any(w in lower for w in ("spin", "bonus", "bet", "deposit", "win", "free"))
            out.append(
                [0.03, 0.01, 0.95, 0.01] if promo and len(text) < 200 else [0.9, 0.03, 0.03, 0.04]
            )
        return np.array(out)


def test_score_counts_characters_and_false_strips(sample_build):
    _, frame, _ = sample_build
    corpus = junk.make_glued(frame, "test", seed=1, glue_rate=0.5)
    cleaner = Cleaner(GluedAwareKind())
    prepared = junk.prepare(cleaner, corpus)
    never = dataclasses.replace(cleaner.settings, strip_threshold=1.01, glued_threshold=1.01)
    metrics = junk.score(prepared, never, page_level=True)
    assert metrics["strip_recall"] == 0 and metrics["false_strip_rate"] == 0
    assert metrics["strip_precision"] == 1.0  # nothing stripped, nothing wrong
    assert 0 < metrics["clean_f1"] <= 1
    eager = dataclasses.replace(cleaner.settings, strip_threshold=0.5, glued_threshold=0.5)
    metrics = junk.score(prepared, eager)
    assert metrics["strip_recall"] > 0
    assert 0 <= metrics["false_strip_rate"] <= 1
    assert metrics["glued_paragraphs"] + metrics["clean_news_paragraphs"] == int(
        corpus.paragraphs["is_news"].sum()
    )


def test_tune_respects_the_false_strip_budget(sample_build):
    _, frame, _ = sample_build
    corpus = junk.make_glued(frame, "validation", seed=2, glue_rate=0.5)
    prepared = junk.prepare(Cleaner(GluedAwareKind()), corpus)
    settings, grid = junk.tune(prepared, CleanerSettings(), max_false_strip_rate=0.0)
    assert len(grid) > 0 and (grid["glued_threshold"] <= grid["strip_threshold"]).all()
    chosen = junk.score(prepared, settings)
    assert chosen["false_strip_rate"] <= max(0.0, grid["false_strip_rate"].min())
    within = grid[grid["false_strip_rate"] <= chosen["false_strip_rate"]]
    assert chosen["strip_f1"] == pytest.approx(within["strip_f1"].max())


@pytest.mark.slow
def test_evaluation_matches_what_the_cleaner_does(cleaner_store, cleaner):
    from newsclean.data import dataset

    frame = dataset.load(cleaner_store.config.paths.processed_dir)
    corpus = junk.make_glued(frame, "test", seed=3, glue_rate=0.5)
    prepared = junk.prepare(
        cleaner,
        corpus,
        modes=(cleaner.settings.segment_mode,),
        html=(cleaner.settings.segment_html,),
    )
    metrics = junk.score(prepared, cleaner.settings)
    results = cleaner.clean_many(corpus.articles)
    paragraphs = [p for article in results for p in article.paragraphs]
    table = corpus.paragraphs
    assert [p.kind for p in paragraphs] == list(prepared.kinds)
    # Characters the cleaner removed from clean gold-news paragraphs it kept as news.
    clean = [
        p
        for p, is_news, glued in zip(
            paragraphs, table["is_news"], table["junk_start"] >= 0, strict=True
        )
        if is_news and not glued and p.kind == "news"
    ]
    stripped = sum(bool(p.removed_spans) for p in clean)
    assert stripped / max(len(clean), 1) == pytest.approx(metrics["false_strip_rate"])
    summary = cleaner_store.summary
    assert 0 <= summary["test_strip_precision"] <= 1
    assert summary["test_false_strip_rate"] <= 0.05


def test_learned_stripper_fits_chooses_a_threshold_and_runs_in_the_cleaner(sample_build):
    _, frame, _ = sample_build
    cleaner = Cleaner(GluedAwareKind(), settings=CleanerSettings(segment_mode="individual"))
    corpus = junk.make_glued(frame, "validation", seed=4, glue_rate=0.6)
    prepared = junk.prepare(cleaner, corpus, modes=("individual",), html=(True,))
    X, y, groups, owners = junk.stripper_table(prepared, cleaner.settings)
    assert X.shape == (len(y), len(STRIPPER_FEATURES)) and len(owners) == len(y)
    assert set(np.unique(y)) == {0, 1}
    stripper, settings, grid = junk.fit_stripper(prepared, cleaner.settings, seed=0)
    assert stripper is not None
    assert settings.junk_threshold in junk.JUNK_THRESHOLD_GRID
    assert set(grid["junk_threshold"]) == set(junk.JUNK_THRESHOLD_GRID)
    # The evaluation's probabilities are the cleaner's: same decisions, same stripped text.
    learned = Cleaner(GluedAwareKind(), settings=settings, stripper=stripper)
    junk_p = junk.stripper_probabilities(prepared, stripper, settings)
    metrics = junk.score(prepared, settings, junk_p=junk_p)
    results = learned.clean_many(corpus.articles)
    paragraphs = [p for article in results for p in article.paragraphs]
    table = corpus.paragraphs
    clean = [
        p
        for p, is_news, glued in zip(
            paragraphs, table["is_news"], table["junk_start"] >= 0, strict=True
        )
        if is_news and not glued and p.kind == "news"
    ]
    assert sum(bool(p.removed_spans) for p in clean) / len(clean) == pytest.approx(
        metrics["false_strip_rate"]
    )
    spans = [s for p in paragraphs for s in p.removed_spans]
    assert all(0 <= s.probability <= 1 and s.kind in junk.JUNK_KINDS for s in spans)
