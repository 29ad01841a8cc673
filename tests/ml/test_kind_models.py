"""Model behaviour tests for the kind classifier (Made-With-ML style).

A hierarchical model is trained once on the bundled sample (text only, written for this
project). The sentences below were written for these tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from newsclean.config import KINDS, load_config
from newsclean.data.dataset import build
from newsclean.ml.features import kind_features
from newsclean.ml.kind import (
    HierarchicalKind,
    JusTextParagraphs,
    KindRules,
    MajorityKind,
    NeighbourStack,
    linear_classifier,
)
from tests.conftest import config_overrides

NEWS = [
    "The regional council voted on Tuesday to extend the night bus network to three new "
    "suburbs, a decision officials said would cost about 4 million over five years.",
    "Engineers at the port said the new crane had already doubled the number of containers "
    "handled each hour, and that a second one would arrive in the spring.",
    "Police said the two men were arrested near the station after a short chase and would "
    "appear in court later this week.",
]
SPAM = [
    "Claim a 200% welcome bonus up to £300 and 50 free spins today!",
    "Exclusive offer: bet £10 and get £30 in free bets, plus 25 free spins at our casino!",
]
TEASER = [
    "© Harbor Wire Mayor unveils plan for floating market on the river Residents of…",
    "Read more: Ten quiet beaches you can still reach by train",
]
BOILERPLATE = [
    "Sign up for our morning newsletter and never miss a story.",
    "Share this article",
    "Photo: K. Alvarez/Northline Images Fans gather outside the stadium on Sunday.",
]


@pytest.fixture(scope="module")
def sample_frame(tmp_path_factory) -> pd.DataFrame:
    config = load_config(overrides=config_overrides(tmp_path_factory.mktemp("models")), environ={})
    frame, _ = build(config)
    return frame


# The sample has about a thousand paragraphs; the default SGD regularisation is sized for the
# real dataset (half a million), so the sample model needs a stronger one to stay calibrated.
SAMPLE_OVERRIDES = ["model.sgd_alpha=0.001"]


@pytest.fixture(scope="module")
def kind_model(sample_frame) -> HierarchicalKind:
    config = load_config(overrides=SAMPLE_OVERRIDES, environ={})
    model = HierarchicalKind(
        kind_features(config.model, chars=True),
        linear_classifier(config.model, 0),
        linear_classifier(config.model, 0),
    )
    return model.fit(sample_frame, sample_frame["kind"].to_numpy(dtype=object))


def _frame(texts: list[str]) -> pd.DataFrame:
    """The texts as the paragraphs of one page, in order (how a scraped article arrives)."""
    return pd.DataFrame({"doc_id": "page", "position": range(len(texts)), "text": texts})


PAGE = [BOILERPLATE[2], *NEWS, *SPAM, *BOILERPLATE[:2], *TEASER]
PAGE_KINDS = [
    "boilerplate",
    *["news"] * len(NEWS),
    *["spam"] * len(SPAM),
    "boilerplate",
    "boilerplate",
    *["teaser"] * len(TEASER),
]


def _proba(model, texts: list[str], kind: str) -> np.ndarray:
    """Probability of ``kind`` for each text when it stands in the middle of PAGE."""
    out = []
    for text in texts:
        page = [*PAGE[:3], text, *PAGE[3:]]
        out.append(model.predict_proba(_frame(page))[3, KINDS.index(kind)])
    return np.array(out)


# ------------------------------------------------------- minimum functionality


def test_minimum_functionality(kind_model):
    predicted = list(kind_model.predict(_frame(PAGE)))
    assert predicted == PAGE_KINDS


def test_probabilities_are_a_distribution_over_kinds(kind_model):
    proba = kind_model.predict_proba(_frame(NEWS + SPAM))
    assert proba.shape == (5, len(KINDS))
    assert np.allclose(proba.sum(axis=1), 1.0)


# ------------------------------------------------------------------- invariance


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("council", "assembly"),
        ("4 million", "7 million"),
        ("Tuesday", "Friday"),
        ("two men", "three women"),
    ],
)
def test_changing_names_and_numbers_keeps_news(kind_model, old, new):
    page = [t.replace(old, new) for t in PAGE]
    assert list(kind_model.predict(_frame(page))) == PAGE_KINDS


def test_works_without_html_columns_and_without_doc_id(kind_model):
    frame = pd.DataFrame({"text": NEWS + BOILERPLATE})
    assert len(kind_model.predict(frame)) == len(NEWS) + len(BOILERPLATE)


# ------------------------------------------------------------------ directional


def test_promo_moves_toward_spam(kind_model):
    before = _proba(kind_model, NEWS, "spam")
    after = _proba(kind_model, [t + " Click here for 200% bonus" for t in NEWS], "spam")
    assert (after > before).all()


def test_trailing_ellipsis_after_a_headline_moves_toward_teaser(kind_model):
    headlines = [
        "Mayor unveils plan for floating market on the river",
        "City rowing club wins its first national title in forty years",
    ]
    before = _proba(kind_model, headlines, "teaser")
    after = _proba(kind_model, [h + " Residents of the old quarter…" for h in headlines], "teaser")
    assert (after > before).all()


# ------------------------------------------------------------------- baselines


def test_baselines_predict_known_kinds(sample_frame):
    y = sample_frame["kind"].to_numpy(dtype=object)
    for model in (MajorityKind(), KindRules(), JusTextParagraphs()):
        predicted = model.fit(sample_frame, y).predict(sample_frame.head(30))
        assert set(predicted) <= set(KINDS)
    assert MajorityKind().fit(sample_frame, y).majority_ == pd.Series(y).value_counts().idxmax()


def test_rules_catch_the_obvious_cases():
    rules = KindRules().fit(None)
    assert list(rules.predict(_frame([SPAM[0], TEASER[1], BOILERPLATE[1]]))) == [
        "spam",
        "teaser",
        "boilerplate",
    ]


def _small_base() -> HierarchicalKind:
    """The stack tests' base: the hierarchical linear model without char n-grams."""
    config = load_config(overrides=SAMPLE_OVERRIDES, environ={})
    return HierarchicalKind(
        kind_features(config.model, chars=False),
        linear_classifier(config.model, 0),
        linear_classifier(config.model, 0),
    )


def _assert_scores_a_pasted_paragraph(base, frame: pd.DataFrame, **options) -> NeighbourStack:
    """Fit a small stack with ``options``; it must score one pasted paragraph (text only)."""
    y = frame["kind"].to_numpy(dtype=object)
    stack = NeighbourStack(base, folds=2, max_iter=20, **options).fit(frame, y)
    one = stack.predict_proba(pd.DataFrame({"text": ["The council approved the budget."]}))
    assert one.shape == (1, len(KINDS)) and np.isclose(one.sum(), 1.0)
    return stack


@pytest.mark.slow
def test_neighbour_stack_fits_and_predicts(sample_frame):
    base = _small_base()
    stack = NeighbourStack(base, neighbours=True, folds=2, max_iter=20)
    stack.fit(sample_frame, sample_frame["kind"].to_numpy(dtype=object))
    proba = stack.predict_proba(sample_frame.head(50))
    assert proba.shape == (50, len(KINDS))
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_container_stack_sees_its_containers(sample_frame):
    """With ``containers`` the second pass gets the mean probabilities (and size) of the
    blocks sharing the parent and the grandparent: 2 x (4 kinds + 1) more columns; text input
    (no container ids) still works."""
    frame = sample_frame.head(60).copy()
    plain = NeighbourStack(None, neighbours=True)
    pooled = NeighbourStack(None, neighbours=True, containers=True)
    proba = np.full((len(frame), len(KINDS)), 0.25)
    assert pooled._second_features(frame, proba).shape[1] == plain._second_features(
        frame, proba
    ).shape[1] + 2 * (len(KINDS) + 1)
    base = _small_base()
    frame["parent_id"] = frame["position"] // 3
    frame["grandparent_id"] = 0
    y = frame["kind"].to_numpy(dtype=object)
    stack = NeighbourStack(base, neighbours=True, folds=2, max_iter=20, containers=True)
    stack.fit(frame, y)
    assert np.allclose(stack.predict_proba(frame).sum(axis=1), 1.0)
    text_only = frame.drop(columns=["parent_id", "grandparent_id"])
    assert stack.predict_proba(text_only).shape == (len(frame), len(KINDS))


def test_sequence_stack_adds_the_page_position_columns(sample_frame):
    """``sequence`` adds the seven sequence features of the base p(news) to the second pass,
    and the fitted stack still serves text-only input."""
    frame = sample_frame.head(60).copy()
    plain = NeighbourStack(None, neighbours=True, containers=True)
    ordered = NeighbourStack(None, neighbours=True, containers=True, sequence=True)
    proba = np.tile([0.7, 0.1, 0.1, 0.1], (len(frame), 1))
    assert ordered._second_features(frame, proba).shape[1] == (
        plain._second_features(frame, proba).shape[1] + 7
    )
    base = _small_base()
    y = frame["kind"].to_numpy(dtype=object)
    stack = NeighbourStack(base, neighbours=True, folds=2, max_iter=20, sequence=True).fit(frame, y)
    assert np.allclose(stack.predict_proba(frame[["text"]]).sum(axis=1), 1.0)


def test_similarity_stack_adds_two_columns_and_serves_text_input(sample_frame):
    """``similarity`` adds the block's likeness to its page (two columns); a fitted stack
    still scores a single pasted paragraph."""
    frame = sample_frame.head(60).copy()
    plain = NeighbourStack(None, neighbours=True, sequence=True)
    similar = NeighbourStack(None, neighbours=True, sequence=True, similarity=True)
    proba = np.tile([0.7, 0.1, 0.1, 0.1], (len(frame), 1))
    assert similar._second_features(frame, proba).shape[1] == (
        plain._second_features(frame, proba).shape[1] + 2
    )
    base = _small_base()
    _assert_scores_a_pasted_paragraph(base, frame, similarity=True)


class _FixedKind:
    """A fitted stand-in: every row news 0.4, spam 0.6."""

    classes_ = np.array(KINDS, dtype=object)

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return np.tile([0.4, 0.0, 0.6, 0.0], (len(X), 1))

    def get_params(self, deep=True):
        return {}


def test_reweighted_kind_moves_the_decision_and_keeps_probabilities_normalised():
    from newsclean.ml.kind import ReweightedKind

    frame = pd.DataFrame({"text": ["a", "b"]})
    plain = ReweightedKind(_FixedKind()).use_fitted((1.0, 1.0, 1.0, 1.0))
    assert np.allclose(plain.predict_proba(frame), [[0.4, 0.0, 0.6, 0.0]] * 2)
    assert plain.predict(frame).tolist() == ["spam", "spam"]
    halved = ReweightedKind(_FixedKind()).use_fitted((1.0, 1.0, 0.5, 1.0))
    assert halved.predict(frame).tolist() == ["news", "news"]
    assert np.allclose(halved.predict_proba(frame), [[0.4 / 0.7, 0.0, 0.3 / 0.7, 0.0]] * 2)
    # As a meta-estimator it also fits a clone of its model itself.
    fitted = ReweightedKind(_FixedKind(), (1.0, 1.0, 0.5, 1.0)).fit(frame, ["spam", "news"])
    assert fitted.predict(frame).tolist() == ["news", "news"]


def test_css_cue_stack_adds_one_column_per_cue_and_serves_text_input(sample_frame):
    """``css_cues`` adds the class-name flags (``features.CSS_CUES``) to the second pass; a
    fitted stack still scores a pasted paragraph, which has no class names."""
    from newsclean.ml.features import CSS_CUES

    frame = sample_frame.head(60).copy()
    plain = NeighbourStack(None, neighbours=True)
    cued = NeighbourStack(None, neighbours=True, css_cues=True)
    proba = np.tile([0.7, 0.1, 0.1, 0.1], (len(frame), 1))
    assert cued._second_features(frame, proba).shape[1] == (
        plain._second_features(frame, proba).shape[1] + len(CSS_CUES)
    )
    base = _small_base()
    stack = _assert_scores_a_pasted_paragraph(base, frame, css_cues=True)
    # a stack pickled before the option existed has no css_cues attribute of its own
    del stack.__dict__["css_cues"]
    assert stack.css_cues is False


def test_reweighted_kind_with_text_weights_uses_them_for_rows_without_html():
    from newsclean.ml.kind import ReweightedKind

    frame = pd.DataFrame({"text": ["a", "b"], "link_density": [0.1, np.nan]})
    model = ReweightedKind(_FixedKind()).use_fitted((1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 0.5, 1.0))
    assert model.predict(frame).tolist() == ["spam", "news"]  # HTML row, text row
    assert model.predict(pd.DataFrame({"text": ["c"]})).tolist() == ["news"]  # no HTML at all
    old = ReweightedKind(_FixedKind()).use_fitted((1.0, 1.0, 0.5, 1.0))
    del old.text_weights  # a model pickled before the option
    assert old.predict(frame).tolist() == ["news", "news"]
