"""newsclean.ml.features: surface statistics, context, HTML columns (text-only input too)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from newsclean.ml import features
from newsclean.ml.features import (
    SHALLOW_NAMES,
    DenseFeatures,
    container_means,
    ensure_page_columns,
    html_features,
    page_similarity,
    sequence_features,
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


def _reference_shallow(texts: list[str]) -> np.ndarray:
    """The statistics written the plain way, one regex per count or flag: shallow_features
    takes faster routes (byte counts, prechecks) that must give exactly these values."""

    def counts(function) -> np.ndarray:
        return np.array([function(t) for t in texts], dtype=np.float32)

    chars = counts(len)
    n_words = counts(lambda t: len(t.split()))
    letters = np.maximum(counts(lambda t: sum(c.isascii() and c.isalpha() for c in t)), 1)
    stop = counts(
        lambda t: sum(
            w.lower().strip(features._STRIP_CHARS) in features._STOPWORDS for w in t.split()
        )
    )
    safe_chars, safe_words = np.maximum(chars, 1), np.maximum(n_words, 1)
    columns = [
        np.log1p(chars),
        np.log1p(n_words),
        chars / safe_words,
        counts(lambda t: len(re.findall(r"[A-Z]", t))) / letters,
        counts(lambda t: len(re.findall(r"(?:^|\s)[A-Z]", t))) / safe_words,
        counts(lambda t: len(re.findall(r"\d", t))) / safe_chars,
        counts(lambda t: len(re.findall(r"[^\w\s]", t))) / safe_chars,
        stop / safe_words,
        np.minimum(counts(lambda t: t.count("!")), 5),
    ]
    for name, pattern in features._PATTERNS.items():
        flags = 0 if name in features._CASE_SENSITIVE else re.IGNORECASE
        columns.append(counts(lambda t, p=pattern, f=flags: re.search(p, t, f) is not None))
    return np.column_stack(columns).astype(np.float32)


FRAGMENTS = [
    "Officials said",
    "THE",
    "Éclair",
    "İstanbul",
    "ΣΟΦΙΑ",
    "naïve",
    "o'clock",
    "9:40",
    "a.m.",
    "pm",
    "GMT",
    "utc",
    "Jan 5",
    "12 march",
    "2019",
    "1850",
    "٣٤",
    "²",
    "$",
    "£500",
    "€",
    "¥",
    "₹",
    "usd",
    "EURO",
    "gbp",
    "euros",
    "100%",
    "!",
    "?!",
    "…",
    "...",
    "©",
    "(c)",
    "Photo:",
    "by Ada",
    "|",
    "•",
    "www.x.com",
    "https://a.b",
    "bonus",
    "betting",
    "better",
    "Read more",
    "sign up",
    "log in",
    "login",
    "won",
    "_",
    "a_b",
    "\t",
    "\x1c",
    "\u00a0",
    "\u2003",
    "\n",
    "—",
    "«quoted»",
    "\udcff",
    "x" * 3,
    "",
]


def test_shallow_features_equal_the_plain_regex_definitions():
    rng = np.random.default_rng(7)
    texts = (
        [
            "".join(
                rng.choice([" ", "", ". ", "  "]) + str(f) for f in rng.choice(FRAGMENTS, size=k)
            )
            for k in rng.integers(0, 12, size=3000)
        ]
        + TEXTS
        + FRAGMENTS
    )
    np.testing.assert_array_equal(shallow_features(texts), _reference_shallow(texts))


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


def test_sequence_features_place_a_block_relative_to_the_news_mass():
    """A page of menu, two news blocks, comments; rows shuffled, and a second page: each
    block's share of the news mass before/after and its distance to likely news."""
    frame = pd.DataFrame(
        {
            "doc_id": ["a"] * 5 + ["b"] * 2,
            "position": [0, 1, 2, 3, 4, 0, 1],
            "text": ["x" * 99] * 7,
        }
    )
    p_news = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 0.2, 0.9])
    shuffled = [4, 0, 6, 2, 5, 1, 3]
    features = sequence_features(p_news[shuffled], frame.iloc[shuffled])
    by_row = np.empty_like(features)
    by_row[shuffled] = features
    before, after, d_before, d_after, window, past_end, before_start = by_row.T
    np.testing.assert_allclose(before[:5], [0, 0, 0.5, 1, 1], atol=1e-6)
    np.testing.assert_allclose(after[:5], [1, 0.5, 0, 0, 0], atol=1e-6)
    # the comments sit 1 and 2 blocks after the last news block, with none after them
    np.testing.assert_allclose(np.expm1(d_before[:5]), [50, 50, 1, 1, 2], rtol=1e-5)
    np.testing.assert_allclose(np.expm1(d_after[:5]), [1, 1, 50, 50, 50], rtol=1e-5)
    assert past_end[:5].tolist() == [0, 0, 1, 1, 1]
    assert before_start[:5].tolist() == [1, 1, 0, 0, 0]
    # the window mean stays inside its page; page b's menu is before its only news block
    np.testing.assert_allclose(window, [0.4] * 5 + [0.55] * 2, rtol=1e-5)
    assert np.expm1(d_after[5]) == pytest.approx(1) and before_start[5] == 1
    assert sequence_features(np.zeros(0), frame.head(0)).shape == (0, 7)


def test_page_similarity_tells_a_teaser_for_another_story_from_the_article():
    """Two article blocks about a harbour budget, a caption about the same, a teaser about a
    football transfer; rows shuffled, plus a one-block page and an empty block."""
    frame = pd.DataFrame(
        {
            "doc_id": ["a"] * 5 + ["b"],
            "position": [0, 1, 2, 3, 4, 0],
            "text": [
                "The council approved the harbour budget after a long debate.",
                "Councillors said the harbour budget would fund new piers.",
                "The harbour, where the new piers will be built.",
                "Striker signs record football transfer deal with rivals",
                "",
                "The council approved the harbour budget.",
            ],
        }
    )
    p_news = np.array([0.9, 0.9, 0.2, 0.8, 0.5, 0.9])
    shuffled = [3, 5, 0, 4, 2, 1]
    features = page_similarity(p_news[shuffled], frame.iloc[shuffled])
    by_row = np.empty_like(features)
    by_row[shuffled] = features
    to_article, to_page = by_row.T
    assert to_article[3] == pytest.approx(0, abs=1e-6)  # the teaser shares no words
    assert min(to_article[:3]) > 0.2 and min(to_page[:3]) > 0.2
    assert to_article[4] == 0 and to_page[4] == 0  # no words, no similarity
    assert to_article[5] == 0 and to_page[5] == 0  # alone on its page
    assert np.all(by_row <= 1 + 1e-6)
    # A block is never compared with itself: two identical blocks are exactly alike.
    twins = pd.DataFrame({"doc_id": ["c", "c"], "position": [0, 1], "text": ["harbour budget"] * 2})
    np.testing.assert_allclose(page_similarity(np.array([1.0, 0.3]), twins), 1.0, rtol=1e-6)
    assert page_similarity(np.zeros(0), frame.head(0)).shape == (0, 2)


# ------------------------------------------------------------------ numpy n-gram counts
NGRAM_FIT = [
    "The council approved the harbour budget on Monday.",
    "Claim 50 free spins!Officials said the bridge reopened.",
    "Café owners in Tessaro welcome the bridge; naïve résumé façade.",
    "Share this article · Sign up for our newsletter",
    "Photo: R. Dalca/Portside Images The bridge at dawn.",
    "© Tessaro Tribune Harbour bridge reopens after two-year repair…",
] * 3
NGRAM_TEXTS = [
    *NGRAM_FIT[:6],
    "",
    "   ",
    "a",
    "tab\there\nnew line  double  space",
    "ÉCOLE İstanbul ß ǅ Titlecase",  # lower() changes the length of some characters
    "unknown characters: 😀 ✓ ∑",
    "\x00 nul",
]


@pytest.mark.parametrize("ngram_range", [(2, 4), (2, 5)])
@pytest.mark.parametrize("min_df", [1, 2])
def test_char_tfidf_gives_scikit_learns_matrix(ngram_range, min_df):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from newsclean.ml.features import CharTfidf

    params = dict(analyzer="char_wb", ngram_range=ngram_range, min_df=min_df, sublinear_tf=True)
    expected = TfidfVectorizer(**params).fit(NGRAM_FIT).transform(NGRAM_TEXTS)
    fast = CharTfidf(**params).fit(NGRAM_FIT)
    got = fast.transform(NGRAM_TEXTS)
    assert got.shape == expected.shape
    assert (got != expected).nnz == 0
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    assert fast._index() is not None  # the numpy path was taken
    # A model pickled by the version that cached sorted keys: that cache is dropped, not used.
    stale = CharTfidf(**params).fit(NGRAM_FIT)
    stale._index_cache = (stale.vocabulary_, ({}, 1, np.array([0]), np.array([0])))
    assert (stale.transform(NGRAM_TEXTS) != expected).nnz == 0
    assert not hasattr(stale, "_index_cache")


def test_char_tfidf_falls_back_where_numpy_counts_do_not_apply():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from newsclean.ml.features import CharTfidf

    for params in ({"analyzer": "char", "ngram_range": (1, 3)}, {"lowercase": False}):
        params = {"analyzer": "char_wb", "ngram_range": (2, 4), **params}
        expected = TfidfVectorizer(**params).fit(NGRAM_FIT).transform(NGRAM_TEXTS)
        got = CharTfidf(**params).fit(NGRAM_FIT).transform(NGRAM_TEXTS)
        assert (got != expected).nnz == 0
    with pytest.raises(ValueError, match="strings"):
        CharTfidf(analyzer="char_wb", ngram_range=(2, 4)).fit(NGRAM_FIT).transform(["ok", None])


@pytest.mark.parametrize(
    "params",
    [
        {"ngram_range": (1, 2), "min_df": 1},
        {"ngram_range": (1, 2), "min_df": 2, "max_features": 40},
        {"ngram_range": (1, 3), "min_df": 1},
        {"ngram_range": (2, 2), "min_df": 1},
    ],
)
def test_word_tfidf_gives_scikit_learns_matrix(params):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from newsclean.ml.features import WordTfidf

    params = {"sublinear_tf": True, **params}
    expected = TfidfVectorizer(**params).fit(NGRAM_FIT).transform(NGRAM_TEXTS)
    fast = WordTfidf(**params).fit(NGRAM_FIT)
    got = fast.transform(NGRAM_TEXTS)
    assert (got != expected).nnz == 0
    np.testing.assert_array_equal(got.indices, expected.indices)
    assert fast._index() is not None


def test_fast_tfidf_swaps_fitted_vectorizers_inside_models():
    """A model trained with scikit-learn's vectorizer gets the fast transform in place; its
    predictions do not change."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    from newsclean.ml.features import CharTfidf, WordTfidf, fast_tfidf

    model = Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        ("word", TfidfVectorizer()),
                        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))),
                    ]
                ),
            ),
            ("classifier", LogisticRegression()),
        ]
    )
    labels = ["news", "spam", "news", "boilerplate", "news", "teaser"] * 3
    model.fit(NGRAM_FIT, labels)
    before = model.predict_proba(NGRAM_TEXTS)
    assert fast_tfidf(model) == 2
    union = model.named_steps["features"]
    assert type(union.transformer_list[0][1]) is WordTfidf
    assert type(union.transformer_list[1][1]) is CharTfidf
    np.testing.assert_allclose(model.predict_proba(NGRAM_TEXTS), before)
    assert fast_tfidf(model) == 0  # already swapped


def test_css_tokens_vectorise_repeated_class_strings_once_with_the_same_matrix():
    from sklearn.feature_extraction.text import CountVectorizer

    from newsclean.ml.features import CssTokens

    tokens = ["article body", "nav menu", None, "article body", "share", "nav menu", ""] * 3
    frame = pd.DataFrame({"css_tokens": tokens})
    model = CssTokens(min_df=1).fit(frame)
    expected = CountVectorizer(binary=True, min_df=1, dtype=np.float32).fit(
        [t or "" for t in tokens]
    )
    got = model.transform(frame)
    want = expected.transform([t or "" for t in tokens])
    assert got.shape == want.shape and (got != want).nnz == 0
    np.testing.assert_array_equal(got.indices, want.indices)
    assert model.transform(frame.iloc[:0]).shape == (0, want.shape[1])


def test_css_cue_flags_read_what_class_names_say_across_naming_styles():
    """The same thing named three ways on three sites gets the same flag; text input (no
    class names) gets zeros; repeated class strings give the same rows."""
    from newsclean.ml.features import CSS_CUES, css_cue_flags

    names = list(CSS_CUES)
    frame = pd.DataFrame(
        {
            "css_tokens": [
                "commenttext content blog",
                "individualcomment comments",
                "disqus thread",
                "story body",
                "header main nav",
                "ad slot",
                "headline",  # "ad" inside a word is not an advert
                None,
                "commenttext content blog",
            ]
        }
    )
    flags = css_cue_flags(frame)
    assert flags.shape == (len(frame), len(CSS_CUES))
    comment, article, advert = (names.index(n) for n in ("comment", "article", "advert"))
    assert flags[:3, comment].tolist() == [1, 1, 1]
    assert flags[3, comment] == 0 and flags[3, article] == 1
    assert flags[4, names.index("navigation")] == 1
    assert flags[5, advert] == 1 and flags[6, advert] == 0
    assert not flags[7].any()
    np.testing.assert_array_equal(flags[8], flags[0])
    assert css_cue_flags(pd.DataFrame({"text": ["no html"]})).tolist() == [[0] * len(CSS_CUES)]
