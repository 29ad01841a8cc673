"""newsclean.train.pages: the metrics every model, baseline and peer is scored by."""

import numpy as np
import pandas as pd
import pytest

from newsclean.ml.metrics import classification_metrics, news_f1, page_f1, page_shingle_scores
from newsclean.train.kind import kind_metrics

BODY = "the council approved the harbour budget on monday after a long debate"


def test_classification_metrics_name_every_class_and_skip_absent_ones_in_macro():
    truth = ["news", "news", "spam", "teaser"]
    predicted = ["news", "spam", "spam", "news"]
    metrics = classification_metrics(truth, predicted, ["news", "teaser", "spam"], "test")
    assert metrics["test_accuracy"] == pytest.approx(0.5)
    assert metrics["test_f1_news"] == pytest.approx(0.5)  # P 1/2, R 1/2
    assert metrics["test_f1_spam"] == pytest.approx(2 / 3)  # P 1/2, R 1
    assert metrics["test_f1_teaser"] == 0
    assert metrics["test_macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    # a class absent from the truth does not drag macro-F1 down
    only_news = classification_metrics(["news"], ["news"], ["news", "teaser"], "val")
    assert only_news["val_macro_f1"] == 1.0 and only_news["val_f1_teaser"] == 0


def test_news_f1_in_blocks_and_in_characters():
    """Three long news blocks kept, one short menu item kept by mistake: one error in four
    blocks, but a sliver of the text."""
    truth = ["news", "news", "news", "rest"]
    predicted = ["news", "news", "news", "news"]
    assert news_f1(truth, predicted) == pytest.approx(6 / 7)
    lengths = np.array([300, 300, 300, 10])
    assert news_f1(truth, predicted, lengths) == pytest.approx(1800 / 1810)
    assert news_f1(["rest"], ["rest"]) == 0  # no news at all: nothing to find


def test_page_shingle_scores_match_multisets_of_four_token_shingles():
    gold = BODY  # 12 tokens: 9 shingles
    assert page_shingle_scores(gold, gold) == (1.0, 1.0)
    # keeping the body plus a 5-token menu adds shingles that straddle it and the menu's own
    precision, recall = page_shingle_scores(BODY + " home news sport weather contact", gold)
    assert recall == 1.0 and precision == pytest.approx(9 / 14)
    # keeping half of the body: 3 of its 9 shingles survive
    precision, recall = page_shingle_scores("the council approved the harbour budget", gold)
    assert precision == 1.0 and recall == pytest.approx(3 / 9)
    # repeated text is matched once per occurrence in the gold, not every time
    precision, _ = page_shingle_scores(BODY + " " + BODY, gold)
    assert precision == pytest.approx(9 / 21)
    assert page_shingle_scores("", "") == (1.0, 1.0)
    assert page_shingle_scores("", gold) == (0.0, 0.0)


def test_page_f1_averages_precision_and_recall_over_pages_before_the_harmonic_mean():
    perfect = (BODY, BODY)
    nothing = ("", BODY)
    scores = page_f1([perfect, nothing])
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5
    assert scores["f1"] == pytest.approx(0.5) and scores["pages"] == 2
    assert np.isnan(page_f1([])["f1"]) and page_f1([])["pages"] == 0


def test_kind_metrics_count_news_in_blocks_and_characters_per_corpus():
    frame = pd.DataFrame(
        {
            "source": ["l3s-gn1"] * 4 + ["dragnet"] * 2,
            "text": ["x" * 300] * 3 + ["Home"] + ["y" * 100, "Share"],
            "kind": ["news", "news", "news", None, "news", "boilerplate"],
            "is_news": [True, True, True, False, True, False],
        }
    )
    proba = np.tile([1.0, 0.0, 0.0, 0.0], (len(frame), 1))  # everything called news
    metrics = kind_metrics(frame, proba, "test")
    assert metrics["test_news_f1_l3s_gn1"] == pytest.approx(6 / 7)
    assert metrics["test_news_f1_chars_l3s_gn1"] == pytest.approx(1800 / 1804)
    assert metrics["test_news_f1_dragnet"] == pytest.approx(2 / 3)
    assert metrics["test_news_f1_chars_dragnet"] == pytest.approx(200 / 205)
    assert metrics["test_news_f1_chars"] == pytest.approx(2000 / 2009)
    assert "test_news_f1_chars_wcxb" not in metrics  # corpora absent from the frame


def test_news_threshold_sweep_finds_each_corpus_boundary_and_its_ceiling():
    """Corpus a's gold calls news only blocks above 0.7, corpus b every block above 0.3: one
    decision at 0.5 is wrong for both; each corpus's own threshold separates it exactly."""
    from newsclean.ml.metrics import news_threshold_sweep

    p_news = np.array([0.9, 0.8, 0.6, 0.4, 0.2] * 2)
    is_news = np.array([True, True, False, False, False] + [True, True, True, True, False])
    groups = ["a"] * 5 + ["b"] * 5
    table = news_threshold_sweep(is_news, p_news, p_news >= 0.5, groups).set_index("group")
    assert table.loc["a", "news_f1"] == pytest.approx(0.8)  # kept 0.6 by mistake
    assert table.loc["b", "news_f1"] == pytest.approx(6 / 7)  # dropped 0.4 by mistake
    assert 0.6 < table.loc["a", "best_threshold"] <= 0.8
    assert 0.2 < table.loc["b", "best_threshold"] <= 0.4
    assert (table["news_f1_at_best"] == 1.0).all()
    assert table.loc["a", "blocks"] == 5
    # a group without any news block has no F1 to report
    assert news_threshold_sweep([False], [0.3], [False], ["c"]).empty


@pytest.mark.parametrize("peer", ["trafilatura", "justext", "boilerpipe"])
def test_every_peer_extracts_an_article_and_survives_broken_input(peer):
    from pathlib import Path

    from lxml import html as lxml_html

    from newsclean.train.pages import PEERS

    page = (Path(__file__).parents[1] / "fixtures" / "pages" / "long_article.html").read_bytes()
    body = lxml_html.fromstring(page).xpath("//article/p")
    gold = "\n".join(p.text_content() for p in body)
    precision, recall = page_shingle_scores(PEERS[peer](page), gold)
    assert recall > 0.9 and precision > 0.6, (precision, recall)
    for broken in (b"", b"<html><body><p>unclosed", b"\xff\xfe\x00<div"):
        assert isinstance(PEERS[peer](broken), str)


# ------------------------------------------------ page-level evaluation over text renderings

PAGE_HTML = b"""<html><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<p>Photo: Lena Voss/Harbourlight Images Volunteers stack sandbags outside the library.</p>
<article>
<p>The council in Saltmarsh voted on Monday to add two evening ferry crossings to the island.</p>
<p>Councillors said the extra sailings would be paid for from the harbour reserve fund.</p>
</article>
<p>Share this article</p>
</body></html>"""
PAGE_GOLD = (
    "The council in Saltmarsh voted on Monday to add two evening ferry crossings to the island.\n"
    "Councillors said the extra sailings would be paid for from the harbour reserve fund."
)


def test_text_input_reaches_peers_as_the_same_lines_wrapped_in_paragraphs():
    from newsclean.train.pages import keep_everything, lines_as_html, page_inputs

    inputs = page_inputs(PAGE_HTML, ["html", "text:blocks", "text:html-text"])
    assert inputs["html"][1] == PAGE_HTML and "html" in inputs["html"][0]
    for name in ("text:blocks", "text:html-text"):
        record, peer_bytes = inputs[name]
        lines = record["text"].splitlines()
        assert "Share this article" in lines
        assert keep_everything(peer_bytes).splitlines() == [line for line in lines if line]
    assert (
        lines_as_html("a < b\n\n c ") == b"<html><body>\n<p>a &lt; b</p>\n<p>c</p>\n</body></html>"
    )


def test_page_metric_names_are_stable():
    from newsclean.train.pages import page_metric_name

    assert page_metric_name("html", "l3s-gn1") == "page_f1_l3s_gn1"
    assert page_metric_name("text:html-text", "wcxb") == "page_f1_text_html_text_wcxb"
    assert page_metric_name("text:blocks", "all") == "page_f1_text_blocks_all"


def test_evaluate_pages_scores_the_cleaner_and_every_peer_on_every_input():
    from types import SimpleNamespace

    from newsclean.clean.cleaner import Cleaner
    from newsclean.train.pages import evaluate_pages, keep_everything

    class BodyOnly:
        """Calls a paragraph news when it mentions the council: the gold body here."""

        classes_ = np.array(["news", "teaser", "spam", "boilerplate"], dtype=object)

        def predict_proba(self, frame):
            news = frame["text"].str.contains("ouncil").to_numpy()
            return np.where(news[:, None], [0.9, 0.0, 0.0, 0.1], [0.1, 0.0, 0.0, 0.9])

    pages = [SimpleNamespace(corpus="wcxb", html=PAGE_HTML, gold=PAGE_GOLD)]
    table = evaluate_pages(Cleaner(BodyOnly()), pages, peers={"keep-all": keep_everything})
    assert set(table["input"]) == {"html", "text:blocks", "text:html-text"}
    assert set(table["system"]) == {"newsclean", "keep-all"}
    assert set(table["corpus"]) == {"wcxb", "all"}
    ours = table[(table["system"] == "newsclean") & (table["corpus"] == "all")]
    keep_all = table[(table["system"] == "keep-all") & (table["corpus"] == "all")]
    assert (ours["f1"] > 0.99).all()  # the body, nothing else, from HTML and from text
    assert (keep_all["f1"].to_numpy() < ours["f1"].to_numpy()).all()
    assert (keep_all["recall"] > 0.99).all()


def test_per_page_scores_and_pages_lost_to_a_peer():
    from types import SimpleNamespace

    from newsclean.train.pages import losses_to_peer, score_pages, summarise_pages

    class Nothing:
        """Keeps nothing: every page is lost where the peer keeps the body."""

        classes_ = np.array(["news", "teaser", "spam", "boilerplate"], dtype=object)

        def predict_proba(self, frame):
            return np.tile([0.0, 0.0, 0.0, 1.0], (len(frame), 1))

    from newsclean.clean.cleaner import Cleaner
    from newsclean.train.pages import keep_everything

    pages = [
        SimpleNamespace(corpus="wcxb", doc_id=d, html=PAGE_HTML, gold=PAGE_GOLD, page_type=t)
        for d, t in (("a", "article"), ("b", "forum"))
    ]
    scores = score_pages(Cleaner(Nothing()), pages, ["html"], {"keep-all": keep_everything})
    assert len(scores) == 4 and set(scores["page_type"]) == {"article", "forum"}
    by_type = summarise_pages(scores, by="page_type")
    assert set(by_type["page_type"]) == {"article", "forum", "all"}
    assert (by_type[by_type["system"] == "newsclean"]["f1"] == 0).all()
    lost = losses_to_peer(scores, peer="keep-all", peer_above=0.5)
    assert sorted(lost["doc_id"]) == ["a", "b"]
    assert losses_to_peer(scores, peer="keep-all", peer_above=0.99).empty


def test_resiliparse_keeps_the_main_content_of_a_page():
    from newsclean.train.pages import BENCH_PEERS, PEERS, resiliparse_extract

    page = (
        b"<html><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav><article>"
        b"<p>The council voted on Monday to add two evening ferry crossings to the island, "
        b"the first new crossings in ten years, after a long campaign by islanders.</p>"
        b"<p>The crossings start in March and cost the same as the morning ones.</p>"
        b"</article><footer>About us | Contact</footer></body></html>"
    )
    text = resiliparse_extract(page)
    assert "evening ferry crossings" in text and "About us" not in text
    assert set(BENCH_PEERS) == {*PEERS, "resiliparse"}
