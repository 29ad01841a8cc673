"""The page-level pass: smoothing keep/drop in document order, the empty-article fallback and
the page confidence, as pure functions and through the Cleaner (with a stand-in kind model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from newsclean import Cleaner
from newsclean.clean.pagepass import (
    contiguous_news,
    decide_page,
    fallback_run,
    keep_scores,
    page_confidence,
)
from newsclean.clean.settings import CleanerSettings
from newsclean.config import KINDS


def rows(*p_news: float) -> np.ndarray:
    """Probabilities over KINDS: p(news), the rest as boilerplate."""
    return np.array([[p, 0.0, 0.0, 1.0 - p] for p in p_news])


def test_keep_scores_are_positive_exactly_where_news_is_the_argmax():
    proba = np.array([[0.4, 0.3, 0.2, 0.1], [0.3, 0.4, 0.2, 0.1], [0.0, 0.0, 0.0, 1.0]])
    scores = keep_scores(proba)
    assert list(scores >= 0) == [True, False, False]
    assert keep_scores(np.array([[0.5, 0.0, 0.0, 0.5]]))[0] == 0  # a tie: argmax says news
    assert np.isfinite(scores).all()  # a probability of 0 does not give -inf


def test_without_a_penalty_the_pass_is_the_models_argmax():
    scores = keep_scores(rows(0.9, 0.2, 0.8, 0.1, 0.6))
    assert list(contiguous_news(scores, 0.0)) == [True, False, True, False, True]


def test_a_penalty_fills_a_doubtful_hole_and_drops_a_doubtful_island():
    # article, a doubtful hole inside it, article, then menus with one doubtful kept line
    scores = keep_scores(rows(0.95, 0.45, 0.95, 0.1, 0.1, 0.55, 0.1, 0.1))
    assert list(contiguous_news(scores, 1.0)) == [True] * 3 + [False] * 5


def test_a_tie_at_the_end_of_the_article_stays_kept():
    scores = keep_scores(np.array([[1.0, 0, 0, 0], [0.5, 0, 0, 0.5], [0.0, 1.0, 0, 0]]))
    assert list(contiguous_news(scores, 0.0)) == [True, True, False]
    assert list(contiguous_news(scores, 1.25)) == [True, True, False]


def test_a_penalty_keeps_a_confident_decision():
    scores = keep_scores(rows(0.95, 0.02, 0.95))  # a sure caption inside the article
    assert list(contiguous_news(scores, 1.0)) == [True, False, True]


@pytest.mark.parametrize("penalty", [0.5, 1.0, 3.0])
def test_smoothing_never_changes_a_page_of_one_kind(penalty):
    assert contiguous_news(keep_scores(rows(0.9, 0.8, 0.7)), penalty).all()
    assert not contiguous_news(keep_scores(rows(0.1, 0.2, 0.3)), penalty).any()


def test_fallback_run_is_the_best_contiguous_article_like_run():
    p_news = np.array([0.05, 0.3, 0.45, 0.4, 0.05, 0.35])
    chars = np.array([40, 300, 500, 400, 30, 20])
    assert fallback_run(p_news, chars, floor=0.2) == (1, 4)
    assert fallback_run(p_news, chars, floor=0.5) is None


def test_a_negative_bias_asks_more_evidence_of_news():
    proba, chars = rows(0.95, 0.55, 0.3), np.array([300.0, 300.0, 300.0])
    assert list(decide_page(proba, chars, 0.0, 0, 0.2).keep) == [True, True, False]
    stricter = decide_page(proba, chars, 0.0, 0, 0.2, bias=-0.5)
    assert list(stricter.keep) == [True, False, False] and stricter.flipped_to_drop == 1
    assert list(decide_page(proba, chars, 0.0, 0, 0.2, bias=1.0).keep) == [True, True, True]


def test_decide_page_falls_back_only_when_too_little_is_kept():
    proba = rows(0.05, 0.4, 0.45, 0.05)
    chars = np.array([30.0, 400.0, 500.0, 30.0])
    decision = decide_page(proba, chars, penalty=0.0, min_chars=150, floor=0.2)
    assert decision.fell_back and list(decision.keep) == [False, True, True, False]
    assert decision.flipped_to_keep == 2
    kept_enough = decide_page(rows(0.9, 0.4), np.array([600.0, 300.0]), 0.0, 150, 0.2)
    assert not kept_enough.fell_back and list(kept_enough.keep) == [True, False]


def test_a_short_input_is_never_rescued_into_news():
    """The fallback is for pages that hold an article: one short promo stays dropped."""
    decision = decide_page(np.array([[0.3, 0.0, 0.7, 0.0]]), np.array([150.0]), 0.0, 200, 0.2)
    assert not decision.fell_back and not decision.keep.any()


def test_page_confidence():
    p_news = np.array([0.9, 0.2])
    assert page_confidence(p_news, np.array([True, False]), np.array([100, 100])) == 0.85
    assert page_confidence(p_news, np.array([False, True]), np.array([100, 100])) == 0.15
    assert page_confidence(p_news[:0], np.array([], dtype=bool), np.array([])) is None


class ScriptedKind:
    """A stand-in kind model: each paragraph's p(news) is the number it starts with."""

    classes_ = np.array(KINDS, dtype=object)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return rows(*(float(t.split()[0]) for t in frame["text"]))


PAGE = [
    "0.02 Home | World | Sport | Weather",
    "0.96 The council voted on Monday to add two evening ferry crossings to the island.",
    "0.40 The crossings start in March and cost the same as the morning ones.",
    "0.97 Islanders had asked for the change for three years, the harbour master said.",
    "0.05 Most read",
    "0.55 Five things to do this weekend",
    "0.05 About us | Contact | Jobs",
]


OFF = CleanerSettings(contiguity_penalty=0.0, fallback_min_chars=0, news_bias=0.0)


def test_cleaner_smooths_a_page_in_document_order():
    plain = Cleaner(ScriptedKind(), settings=OFF).clean(PAGE)
    smoothed = Cleaner(ScriptedKind(), settings=CleanerSettings(contiguity_penalty=1.0)).clean(PAGE)
    assert [p.kept for p in plain.paragraphs] == [False, True, False, True, False, True, False]
    assert [p.kept for p in smoothed.paragraphs] == [False, True, True, True, False, False, False]
    # the dropped line takes its most probable other kind, the kept one is news
    assert smoothed.paragraphs[5].kind == "boilerplate"
    assert smoothed.paragraphs[2].kind == "news"


def test_cleaner_falls_back_when_it_would_return_an_empty_article():
    page = [
        "0.05 Home | World | Sport",
        "0.35 The council voted on Monday to add two evening ferry crossings to the island "
        "of Kerran, the first new crossings in ten years, after a long campaign by islanders.",
        "0.30 The crossings start in March and cost the same as the morning ones, the ferry "
        "company said in a statement on Tuesday; tickets go on sale next week.",
        "0.05 About us | Contact",
    ]
    settings = CleanerSettings(contiguity_penalty=0.0, fallback_min_chars=60, fallback_floor=0.2)
    empty = Cleaner(ScriptedKind(), settings=OFF).clean(page)
    rescued = Cleaner(ScriptedKind(), settings=settings).clean(page)
    assert empty.text == "" and not empty.fell_back
    assert rescued.fell_back
    assert [p.kept for p in rescued.paragraphs] == [False, True, True, False]


def test_a_byline_inside_the_article_run_stays_dropped():
    page = [PAGE[1], "0.45 By Jane Marlow", PAGE[3]]
    cleaned = Cleaner(ScriptedKind(), settings=CleanerSettings(contiguity_penalty=3.0)).clean(page)
    assert [p.kept for p in cleaned.paragraphs] == [True, False, True]


def test_an_article_without_blocks_reports_nothing_of_its_neighbour():
    from newsclean.clean.inputs import Article

    settings = CleanerSettings(contiguity_penalty=0.0, fallback_min_chars=50, fallback_floor=0.2)
    page = [
        "0.30 The crossings start in March and cost the same as the morning ones, the ferry "
        "company said in a statement on Tuesday; tickets go on sale next week.",
        "0.05 About us | Contact",
        "0.30 Islanders had asked for the change for three years, the harbour master said.",
    ]
    cleaned = Cleaner(ScriptedKind(), settings=settings).clean_many([Article("empty", []), page])
    assert cleaned[0].fell_back is False and cleaned[0].confidence is None
    assert cleaned[1].fell_back is True


def test_settings_round_trip_and_old_settings_get_the_defaults():
    settings = CleanerSettings(contiguity_penalty=0.75, fallback_min_chars=300)
    assert CleanerSettings.from_dict(settings.to_dict()) == settings
    old = {"keep": ["news"], "strip_threshold": 0.9}  # logged before the page pass existed
    assert CleanerSettings.from_dict(old).contiguity_penalty == CleanerSettings().contiguity_penalty


def test_text_input_gets_its_own_page_pass():
    """A page given as text uses the text pair of settings; the same lines as HTML do not."""
    from newsclean.clean.inputs import Article
    from newsclean.segmentation import segment_html

    settings = CleanerSettings(
        contiguity_penalty=0.0, news_bias=0.0, text_contiguity_penalty=1.0, text_news_bias=0.0
    )
    cleaner = Cleaner(ScriptedKind(), settings=settings)
    as_text = cleaner.clean(PAGE)
    html = "<html><body>" + "".join(f"<p>{line}</p>" for line in PAGE) + "</body></html>"
    as_html = cleaner.clean_many([Article("page", segment_html(html.encode()))])[0]
    assert [p.kept for p in as_text.paragraphs] == [False, True, True, True, False, False, False]
    assert [p.kept for p in as_html.paragraphs] == [False, True, False, True, False, True, False]


def test_text_settings_default_to_the_html_ones():
    settings = CleanerSettings(contiguity_penalty=0.5, news_bias=-0.25)
    assert settings.page_pass(text_input=True) == (0.5, -0.25)
    both = CleanerSettings(contiguity_penalty=0.5, text_contiguity_penalty=2.0, text_news_bias=0.1)
    assert both.page_pass(text_input=False) == (0.5, 0.0)
    assert both.page_pass(text_input=True) == (2.0, 0.1)


def _article_page_model(weight_on_kept_share: float = 4.0):
    from newsclean.clean.pagepass import ARTICLE_PAGE_FIGURES, ArticlePageModel

    n = len(ARTICLE_PAGE_FIGURES)
    coef = [0.0] * n
    coef[ARTICLE_PAGE_FIGURES.index("kept_share_chars")] = weight_on_kept_share
    return ArticlePageModel((0.5,) * n, (0.25,) * n, tuple(coef), 0.0)


def test_article_page_model_round_trips_and_refuses_other_figures():
    from newsclean.clean.pagepass import ArticlePageModel

    model = _article_page_model()
    assert ArticlePageModel.from_dict(model.to_dict()) == model
    other = {**model.to_dict(), "names": ["confidence"]}
    with pytest.raises(ValueError, match="other figures"):
        ArticlePageModel.from_dict(other)


def test_each_page_reports_its_article_probability_from_what_was_kept():
    from newsclean.clean.pagepass import article_figures

    model = _article_page_model()
    cleaner = Cleaner(ScriptedKind(), settings=CleanerSettings(article_page=model.to_dict()))
    listing = [
        "0.02 Home | World | Sport | Weather",
        "0.10 Ten things to do this weekend in the city and around it, from markets to music",
        "0.10 The week in pictures: floods, ferries and a festival of light on the coast",
        "0.90 Five new cafés open",
    ]
    article, menu = cleaner.clean_many([PAGE, listing])
    assert article.article_probability > menu.article_probability
    for cleaned in (article, menu):
        assert cleaned.article_probability == pytest.approx(
            model.probability(article_figures(cleaned)), abs=1e-3
        )
        assert cleaned.to_dict()["article_probability"] == round(cleaned.article_probability, 4)
    assert Cleaner(ScriptedKind()).clean(PAGE).article_probability is None
