"""The cleaner: segment splitting, junk stripping, typed results, the Python API and the CLI.

The unit tests use a stub kind model (rules over the text) so they pin the logic, not a model;
the end-to-end tests use the cleaner trained on the sample (``cleaner_store`` in conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from clean_support import CLEAN_INPUTS
from newsclean import Cleaner
from newsclean.clean.cleaner import ordered_proba
from newsclean.clean.inputs import InputError
from newsclean.clean.junk import split_segments, strip_decision, url_spans
from newsclean.clean.results import ARTICLE_FIELDS, CleanedArticle, ModelNotFoundError
from newsclean.clean.settings import CleanerSettings, parse_keep
from newsclean.config import KINDS

NEWS_TEXT = (
    "The council in Saltmarsh voted seven to two on Monday to add two evening ferry crossings "
    "to the island of Kerran from March."
)


def pieces(text: str) -> list[str]:
    return [text[s.start : s.end].strip() for s in split_segments(text)]


# ------------------------------------------------------------------ segments


def test_split_at_a_glued_sentence_end_and_a_glued_word():
    assert pieces("Claim 50 free spins every Friday!Officials confirmed it.") == [
        "Claim 50 free spins every Friday!",
        "Officials confirmed it.",
    ]
    segments = split_segments("Deposit £20 today and get £500The council met on Monday.")
    assert [s.glued_before for s in segments] == [False, True]
    assert pieces("…said on Tuesday.Read more: Kerran islanders vote") == [
        "…said on Tuesday.",
        "Read more: Kerran islanders vote",
    ]


def test_split_at_ordinary_sentence_boundaries_marks_them_not_glued():
    segments = split_segments('The talks ended. Both sides left. "We agreed," she said.')
    assert len(segments) == 3
    assert not any(s.glued_before for s in segments)


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Okafor met Dr. Lindqvist at 3.30 p.m. in the U.S. capital.",
        "J. K. Harlow wrote the report, No. 9 in the series.",
        "YouTube, McDonald's, iPhone and PayPal sales all rose by 3.5% last year.",
        "Visit www.Example.com or Harbour.co.uk/News for the timetable.",
        "Prices rose 4.5%. Analysts expected 4.2%.",
    ],
)
def test_abbreviations_brands_decimals_and_urls_do_not_split(text):
    segments = split_segments(text)
    if text.startswith("Prices"):
        assert pieces(text) == ["Prices rose 4.5%.", "Analysts expected 4.2%."]
    else:
        assert len(segments) == 1, pieces(text)


@pytest.mark.parametrize(
    "text",
    [
        "Visit WWW.Example.COM today",
        "HTTP://harbour/news and https://x.y/z?q=1",
        "Harbour.Co.Uk/News, tessaro.io and mail.de.",
        "Not a url: e.g. the comet, a .comma, 3.5 units.",
        "ftp://files",
        "Ünïcode täxt www.beispiel.DE und ıo.ıo",
        "plain text without any dot",
        "",
    ],
)
def test_url_spans_equal_the_url_pattern(text):
    from newsclean.clean.junk import _URL_RE

    assert url_spans(text) == [m.span() for m in _URL_RE.finditer(text)]


def test_segments_cover_the_text_in_order():
    text = "  One sentence here.Two sentences there! And a third?Fourth  "
    segments = split_segments(text)
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert all(text[s.start : s.end].strip() for s in segments)
    assert split_segments("") == []
    assert pieces("x") == ["x"]


def test_split_is_linear_on_a_huge_paragraph():
    text = ("A sentence of plain news text. " * 50_000).strip()
    segments = split_segments(text)
    assert len(segments) == 50_000


# ------------------------------------------------------------------ stripping logic


class RuleKind:
    """A stand-in kind model: short promos → spam, 'Read more' → teaser, share → boilerplate,
    everything else (a long paragraph with a promo glued on too) → news."""

    classes_ = np.array(KINDS, dtype=object)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        rows = []
        for text in frame["text"]:
            lower = text.lower()
            if ("free spins" in lower or "bonus" in lower) and len(text) < 80:
                rows.append([0.02, 0.01, 0.95, 0.02])
            elif lower.startswith("read more") and len(text) < 80:
                rows.append([0.05, 0.9, 0.0, 0.05])
            elif lower.startswith("share") or lower.startswith("sign up"):
                rows.append([0.04, 0.0, 0.0, 0.96])
            else:
                rows.append([0.9, 0.04, 0.02, 0.04])
        return np.array(rows)


class SortedClassesKind(RuleKind):
    """The same model with sorted classes, like a plain scikit-learn pipeline."""

    classes_ = np.array(sorted(KINDS), dtype=object)

    def predict_proba(self, frame):
        proba = super().predict_proba(frame)
        return proba[:, [KINDS.index(c) for c in self.classes_]]


def test_ordered_proba_reorders_by_classes():
    frame = pd.DataFrame({"text": ["Read more: x", NEWS_TEXT]})
    np.testing.assert_allclose(
        ordered_proba(SortedClassesKind(), frame, KINDS), RuleKind().predict_proba(frame)
    )


def test_leading_spam_and_trailing_teaser_are_stripped_and_reported():
    cleaner = Cleaner(RuleKind())
    text = f"Claim 50 free spins every Friday!{NEWS_TEXT}Read more: Storm closes coastal road"
    result = cleaner.clean([text])
    paragraph = result.paragraphs[0]
    assert paragraph.kind == "news" and paragraph.kept
    assert paragraph.text == NEWS_TEXT
    assert [(s.kind, s.where, s.text) for s in paragraph.removed_spans] == [
        ("spam", "start", "Claim 50 free spins every Friday!"),
        ("teaser", "end", "Read more: Storm closes coastal road"),
    ]
    for span in paragraph.removed_spans:
        assert text[span.start : span.end] == span.text
    assert result.text == NEWS_TEXT


def test_junk_cut_off_in_several_segments_is_reported_as_one_span():
    cleaner = Cleaner(RuleKind())
    text = f"Claim your free spins!Share this article.{NEWS_TEXT}"
    (paragraph,) = cleaner.clean([text]).paragraphs
    assert paragraph.text == NEWS_TEXT
    (span,) = paragraph.removed_spans
    assert (span.where, span.start) == ("start", 0)
    assert span.text == "Claim your free spins!Share this article."
    assert span.kind in {"spam", "boilerplate"}


def test_what_stays_must_look_like_news_and_middle_junk_is_left_alone():
    cleaner = Cleaner(RuleKind())
    middle = f"{NEWS_TEXT} Claim a bonus today! {NEWS_TEXT}"
    assert cleaner.clean([middle]).paragraphs[0].removed_spans == []
    segments = split_segments("Share this!Sign up now")
    assert strip_decision(np.array([0.99, 0.1]), segments, CleanerSettings()) == (1, 2)
    # Every segment looks like junk, yet the paragraph was called news: cut nothing.
    assert strip_decision(np.array([0.99, 0.99]), segments, CleanerSettings()) == (0, 2)
    # A segment the model did not classify (the middle of a long paragraph) counts as news.
    three = split_segments("Share this!Officials met.Sign up now")
    assert strip_decision(np.array([0.99, np.nan, 0.99]), three, CleanerSettings()) == (1, 2)


def test_numbered_items_are_not_split_off():
    assert pieces("27. The best way to cook rice is slowly.") == [
        "27. The best way to cook rice is slowly."
    ]
    assert pieces("three hens.26 Phone notes that are funny") == [
        "three hens.",
        "26 Phone notes that are funny",
    ]


def test_thresholds_decide_and_a_spaced_join_needs_more_evidence():
    segments = split_segments("Share this. Officials said it.Sign up now")
    non_news = np.array([0.8, 0.1, 0.8])
    careful = CleanerSettings(strip_threshold=0.9, glued_threshold=0.7)
    # "Share this." is followed by a space (needs 0.9); "Sign up now" was glued (needs 0.7).
    assert strip_decision(non_news, segments, careful) == (0, 2)
    assert strip_decision(non_news, segments, CleanerSettings(strip_threshold=0.75)) == (1, 2)


def test_only_news_paragraphs_are_stripped_and_keep_decides_what_is_kept():
    cleaner = Cleaner(RuleKind())
    article = [NEWS_TEXT, "Read more: Storm closes coastal road.Share this", "Share this article"]
    result = cleaner.clean(article, keep="news,teaser")
    assert [p.kind for p in result.paragraphs] == ["news", "teaser", "boilerplate"]
    assert [p.kept for p in result.paragraphs] == [True, True, False]
    assert result.paragraphs[1].removed_spans == []  # teasers are not stripped
    assert result.text == "\n\n".join([NEWS_TEXT, article[1]])
    assert Cleaner(RuleKind(), settings=CleanerSettings(keep=("boilerplate",))).clean(
        article
    ).text == ("Share this article")


def test_results_are_typed_and_serialise_to_the_documented_json():
    result = Cleaner(RuleKind()).clean(f"Claim free spins now!{NEWS_TEXT}", id="ferry")
    assert isinstance(result, CleanedArticle)
    record = result.to_dict()
    assert tuple(record) == ARTICLE_FIELDS
    assert 0.0 <= record["confidence"] <= 1.0 and record["fell_back"] is False
    assert record["id"] == "ferry"
    paragraph = record["paragraphs"][0]
    assert list(paragraph) == ["text", "kind", "probabilities", "topics", "kept", "removed_spans"]
    assert list(paragraph["probabilities"]) == list(KINDS)
    assert paragraph["removed_spans"][0]["where"] == "start"
    json.dumps(record)


def test_every_kind_of_article_object_is_accepted():
    cleaner = Cleaner(RuleKind())
    html = f"<html><body><p>{NEWS_TEXT}</p><p>Share this</p></body></html>"
    for article in (
        NEWS_TEXT,
        NEWS_TEXT.encode("utf-8"),
        [NEWS_TEXT],
        {"id": "a", "text": NEWS_TEXT},
        {"id": "b", "paragraphs": [NEWS_TEXT]},
        {"id": "c", "html": html},
        html,
    ):
        assert cleaner.clean(article).text.startswith("The council"), article
    assert cleaner.clean(html).paragraphs[1].kind == "boilerplate"
    with pytest.raises(InputError, match="no text"):
        cleaner.clean("   \n  ")
    with pytest.raises(InputError, match="cannot clean"):
        cleaner.clean(42)
    assert cleaner.clean_many([]) == []


def test_a_huge_paragraph_is_cleaned_whole():
    huge = "Claim free spins today!" + " ".join([NEWS_TEXT] * 20_000)
    result = Cleaner(RuleKind()).clean([huge])
    paragraph = result.paragraphs[0]
    assert paragraph.kind == "news"
    assert len(paragraph.text) == len(huge) - len("Claim free spins today!")


def test_parse_keep():
    assert parse_keep("news, teaser") == ("news", "teaser")
    assert parse_keep(["spam"]) == ("spam",)
    with pytest.raises(ValueError, match="kinds to keep"):
        parse_keep("news,gossip")
    with pytest.raises(ValueError):
        parse_keep("")
    with pytest.raises(ValueError):
        CleanerSettings(keep=("nope",))
    settings = CleanerSettings(strip_threshold=0.8)
    assert CleanerSettings.from_dict({**settings.to_dict(), "unknown": 1}) == settings


# ------------------------------------------------------------------ the trained cleaner


@pytest.mark.slow
def test_registered_cleaner_cleans_text_and_html(cleaner_store, cleaner):
    assert cleaner_store.summary["task"] == "cleaner" and cleaner_store.summary["promoted"]
    text = (CLEAN_INPUTS / "ferry.txt").read_text()
    result = cleaner.clean(text, id="ferry")
    assert result.id == "ferry"
    assert len(result.paragraphs) == 7
    assert all(p.kind in KINDS for p in result.paragraphs)
    for paragraph in result.paragraphs:
        assert abs(sum(paragraph.probabilities.values()) - 1) < 1e-3
        assert paragraph.topics == [] or paragraph.kind in {"news", "teaser"}
        assert len(paragraph.topics) <= 2
    page = cleaner.clean((CLEAN_INPUTS / "library.html").read_bytes())
    texts = [p.original for p in page.paragraphs]
    assert not any("tracker" in t for t in texts)  # scripts are not paragraphs
    assert page.text  # something was kept
    batch = cleaner.clean_many([text, (CLEAN_INPUTS / "library.html").read_text()])
    assert [len(a.paragraphs) for a in batch] == [len(result.paragraphs), len(page.paragraphs)]


@pytest.mark.slow
def test_cleaner_load_without_a_trained_model_says_run_make_train(tmp_config):
    with pytest.raises(ModelNotFoundError, match="make train"):
        Cleaner.load(config=tmp_config)


@pytest.mark.slow
def test_cli_cleans_one_text_file_to_stdout(cleaner_store, cleaner):
    out = subprocess.run(
        [sys.executable, "-m", "newsclean", "clean", str(CLEAN_INPUTS / "ferry.txt")],
        env=cleaner_store.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    expected = cleaner.clean((CLEAN_INPUTS / "ferry.txt").read_text()).text
    assert out.stdout == expected + "\n"
    assert "==>" not in out.stdout


@pytest.mark.slow
def test_cli_no_topics_gives_the_same_text_without_topics(cleaner_store, cleaner):
    out = subprocess.run(
        [sys.executable, "-m", "newsclean", "clean", "--jsonl", "--no-topics"]
        + [str(CLEAN_INPUTS / "ferry.txt")],
        env=cleaner_store.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    (record,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert record["text"] == cleaner.clean((CLEAN_INPUTS / "ferry.txt").read_text()).text
    assert all(p["topics"] == [] for p in record["paragraphs"])


@pytest.mark.slow
def test_cli_without_a_model_prints_one_line_and_fails(tmp_path):
    from clean_support import overrides

    env = {"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "ignore"}
    args = [a for o in overrides(tmp_path) for a in ("--set", o)]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsclean",
            *args,
            "clean",
            str(CLEAN_INPUTS / "ferry.txt"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "make train" in lines[0], out.stderr


def test_cleaner_gives_old_models_the_numpy_tfidf_transform():
    """Models trained with scikit-learn's vectorizers (e.g. an earlier champion) get the
    faster, equivalent transform when a Cleaner wraps them."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from newsclean.clean.cleaner import Cleaner
    from newsclean.ml.features import CharTfidf, WordTfidf

    def model(analyzer: str):
        texts = ["Officials said the bridge reopened.", "Claim 50 free spins now!"] * 3
        return Pipeline(
            [("tfidf", TfidfVectorizer(analyzer=analyzer)), ("lr", LogisticRegression())]
        ).fit(texts, ["news", "spam"] * 3)

    kind, topic = model("word"), model("char_wb")
    Cleaner(kind, topic)
    assert type(kind.named_steps["tfidf"]) is WordTfidf
    assert type(topic.named_steps["tfidf"]) is CharTfidf


class KeywordTopics:
    """A stand-in topic model: everything is about sports."""

    classes_ = np.array(["world", "business", "sci_tech", "sports", "entertainment", "lifestyle"])

    def predict_proba(self, frame):
        return np.tile([0.0, 0.0, 0.0, 1.0, 0.0, 0.0], (len(frame), 1))


def test_teasers_get_topics_even_when_dropped_and_dropped_junk_gets_none():
    cleaner = Cleaner(RuleKind(), KeywordTopics())
    article = cleaner.clean([NEWS_TEXT, "Read more: Harwick Rovers win the cup", "Share this"])
    news, teaser, share = article.paragraphs
    assert news.kept and news.topics == ["sports"]
    assert teaser.kind == "teaser" and not teaser.kept and teaser.topics == ["sports"]
    assert share.kind == "boilerplate" and share.topics == []


def test_without_topics_the_topic_model_is_not_asked():
    class NotAsked(KeywordTopics):
        def predict_proba(self, frame):
            raise AssertionError("the topic model was asked")

    cleaner = Cleaner(RuleKind(), NotAsked(), CleanerSettings(topics=False))
    article = cleaner.clean([NEWS_TEXT, "Read more: Harwick Rovers win the cup"])
    assert [p.topics for p in article.paragraphs] == [[], []]
    assert article.paragraphs[0].kept


def test_bylines_timestamps_and_credits_are_boilerplate_whatever_the_model_says():
    cleaner = Cleaner(RuleKind())  # calls all three news
    lines = ["By Tomas Reyes, Staff Writer", "Published at 9:40 a.m.", "Photo: L. Voss/Images"]
    article = cleaner.clean([*lines, NEWS_TEXT, "By Monday the flood had receded."])
    assert [p.kind for p in article.paragraphs] == ["boilerplate"] * 3 + ["news", "news"]
    assert article.text == f"{NEWS_TEXT}\n\nBy Monday the flood had receded."


def test_a_paragraph_called_spam_for_its_glued_promo_is_rescued_as_news():
    class SpamWhenPromo(RuleKind):
        def predict_proba(self, frame):
            proba = super().predict_proba(frame)
            promo = frame["text"].str.contains("free spins").to_numpy()
            proba[promo] = [0.05, 0.0, 0.9, 0.05]
            return proba

    cleaner = Cleaner(SpamWhenPromo())
    glued = f"Claim 50 free spins every Friday!{NEWS_TEXT}"
    standalone = "Claim 50 free spins every Friday at LuckyQuay, new players only, T&Cs apply!"
    article = cleaner.clean([glued, standalone])
    rescued, promo = article.paragraphs
    assert rescued.kind == "news" and rescued.kept and rescued.text == NEWS_TEXT
    assert [(s.kind, s.where) for s in rescued.removed_spans] == [("spam", "start")]
    assert rescued.probabilities["news"] > 0.5  # the kept part's own probabilities
    assert promo.kind == "spam" and not promo.kept  # no glued join: left as it is


class ThreadCountingKind(RuleKind):
    """RuleKind that records how many threads OpenMP and BLAS may use while it predicts."""

    seen: list[set[int]] = []

    def predict_proba(self, frame):
        from threadpoolctl import threadpool_info

        self.seen.append({pool["num_threads"] for pool in threadpool_info()})
        return super().predict_proba(frame)


def test_models_run_on_one_thread_while_cleaning_and_the_process_keeps_its_threads():
    import sklearn.ensemble  # noqa: F401 - its OpenMP runtime is what the models use
    from threadpoolctl import threadpool_info

    before = [pool["num_threads"] for pool in threadpool_info()]
    model = ThreadCountingKind()
    Cleaner(model).clean([NEWS_TEXT, "Read more: the week in pictures"])
    assert model.seen and all(counts == {1} for counts in model.seen)
    assert [pool["num_threads"] for pool in threadpool_info()] == before
