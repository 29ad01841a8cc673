"""newsclean.features: surface statistics, context, HTML columns (text-only input too)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from newsclean.features import (
    SHALLOW_NAMES,
    DenseFeatures,
    container_means,
    ensure_page_columns,
    html_features,
    shallow_features,
)

TEXTS = [
    "Claim a 150% welcome BONUS up to £500!Officials said on Monday that talks resumed.",
    "© Tessaro Tribune Harbour bridge reopens after two-year repair…",
    "Photo: R. Dalca The bridge at dawn",
    "by Ilse Varga",
    "Published at 9:40 a.m. GMT",
    "",
]


def _column(values: np.ndarray, name: str) -> np.ndarray:
    return values[:, SHALLOW_NAMES.index(name)]


def test_shallow_flags_and_counts():
    values = shallow_features(pd.Series(TEXTS, dtype=object))
    assert values.shape == (len(TEXTS), len(SHALLOW_NAMES))
    assert list(_column(values, "has_promo")) == [1, 0, 0, 0, 0, 0]
    assert list(_column(values, "has_percent")) == [1, 0, 0, 0, 0, 0]
    assert list(_column(values, "has_currency")) == [1, 0, 0, 0, 0, 0]
    assert list(_column(values, "glued_join")) == [1, 0, 0, 0, 0, 0]
    assert list(_column(values, "starts_copyright")) == [0, 1, 0, 0, 0, 0]
    assert list(_column(values, "ends_ellipsis")) == [0, 1, 0, 0, 0, 0]
    assert list(_column(values, "starts_photo")) == [0, 0, 1, 0, 0, 0]
    # Case-insensitive patterns run on lower-cased text: "by" + a name still counts.
    assert list(_column(values, "starts_by")) == [0, 0, 0, 1, 0, 0]
    assert list(_column(values, "has_time")) == [0, 0, 0, 0, 1, 0]
    assert _column(values, "n_exclaim")[0] == 1
    assert _column(values, "log_words")[3] == pytest.approx(np.log1p(3))
    # "BONUS" + the other capitals over every ASCII letter of the first text
    first = TEXTS[0]
    letters = sum(c.isascii() and c.isalpha() for c in first)
    assert _column(values, "frac_upper")[0] == pytest.approx(
        sum(c.isupper() for c in first) / letters
    )
    assert not values[-1].any()  # empty text: all zeros, no division by zero


def test_shallow_features_accept_missing_values_and_return_private_copies():
    texts = pd.Series(["One short line.", None, np.nan], dtype=object)
    first = shallow_features(texts)
    first[:] = -1  # the remembered result must not change with the caller's copy
    again = shallow_features(texts)
    assert (again != -1).all()
    np.testing.assert_array_equal(again[1], again[2])
    assert _column(again, "ends_sentence")[0] == 1


def test_text_only_input_gets_empty_html_columns():
    frame = ensure_page_columns(pd.DataFrame({"text": ["A paragraph.", "Another one."]}))
    assert frame["doc_id"].tolist() == ["document", "document"]
    assert frame["position"].tolist() == [0, 1]
    assert frame["container_share"].isna().all()
    html = html_features(frame)
    assert not html[:, -5:].any()  # no HTML: no flag, no container, no link density, no depth


def test_container_columns_reach_the_dense_features():
    frame = pd.DataFrame(
        {
            "doc_id": ["d", "d"],
            "position": [0, 1],
            "text": ["Home", "The council approved the budget on Monday after a long debate."],
            "html_tag": ["li", "p"],
            "link_density": [1.0, 0.0],
            "dom_depth": [4.0, 5.0],
            "css_tokens": ["nav", "article body"],
            "container_share": [0.0, 0.9],
            "in_main_container": [0.0, 1.0],
        }
    )
    with_container = DenseFeatures().transform(frame)
    without = DenseFeatures().transform(frame.drop(columns=["container_share"]))
    assert with_container.shape == without.shape
    assert not np.array_equal(with_container[1], without[1])


def test_container_means_pool_over_blocks_that_share_a_container():
    frame = pd.DataFrame(
        {
            "doc_id": ["a", "a", "a", "b", "b"],
            "parent_id": [0, 0, 1, 0, np.nan],
        }
    )
    values = np.array([[1.0], [0.0], [0.5], [0.2], [0.8]])
    pooled = container_means(values, frame, "parent_id")
    # mean over the container, then log(1 + its size)
    np.testing.assert_allclose(pooled[:, 0], [0.5, 0.5, 0.5, 0.2, 0.8])
    np.testing.assert_allclose(pooled[:, 1], np.log1p([2, 2, 1, 1, 1]))
    # the same container number in another document is another container
    text_only = container_means(values, frame[["doc_id"]], "parent_id")
    np.testing.assert_allclose(text_only[:, 0], [0.5, 0.5, 0.5, 0.5, 0.5])
