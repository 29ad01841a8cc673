"""newsclean.data.sources: every reader's labels on the fake corpora, and every bad input counted.

A reader never raises on a bad record: it logs a drop naming the file and the record (printed
to stderr, counted in BuildLog.drops or, for problems that cost no row, BuildLog.kept) and goes
on with the rest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from newsclean.config import KINDS, PROJECT_ROOT, TOPICS
from newsclean.data.sources import SOURCES, iter_documents, pages, select_sources, texts
from newsclean.data.sources.base import (
    BuildLog,
    Document,
    Drop,
    Paragraph,
    check_labels,
    read_bytes,
)

SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
L3S_ID = "3f2c9a10-7b1e-4c55-9d2a-0a1b2c3d4e5f"
L3S_EMPTY_ID = "9a8b7c6d-0000-4e11-8f22-123456789abc"
KEPT = "bytes decoded with replacement (kept)"


def read(name: str, corpora: Path | None, log: BuildLog, max_docs: int = 0, workers: int = 1):
    return list(iter_documents(name, corpora, SAMPLE_DIR, log, 0.5, max_docs, workers))


def by_text(documents: list[Document]) -> dict[str, Paragraph]:
    return {p.text: p for doc in documents for p in doc.paragraphs}


def find(documents: list[Document], start: str) -> Paragraph:
    matches = [p for doc in documents for p in doc.paragraphs if p.text.startswith(start)]
    assert len(matches) == 1, f"expected one paragraph starting {start!r}, got {matches}"
    return matches[0]


def assert_dropped(log: BuildLog, err: str, source: str, reason: str, path: Path, record: str):
    """The drop is counted once and its warning names the file and the record."""
    assert log.drops[(source, reason)] == 1, dict(log.drops)
    assert f"warning: {source}: {path} record {record}: {reason}" in err


def assert_consistent(documents: list[Document]):
    for doc in documents:
        assert doc.paragraphs
        for paragraph in doc.paragraphs:
            assert check_labels(paragraph) is None
            assert paragraph.text.strip() == paragraph.text and paragraph.text


# --------------------------------------------------------------------------- BuildLog


def test_build_log_counts_drops_and_prints_the_first_few(capsys):
    log = BuildLog()
    for number in range(5):
        log.drop("bbc-news", Path("/data/bbc.jsonl.gz"), f"line {number}", "malformed row")
    log.drop("ag-news", "/data/test.csv.gz", "row 9", "empty text")
    err = capsys.readouterr().err
    assert log.drops == {("bbc-news", "malformed row"): 5, ("ag-news", "empty text"): 1}
    assert log.total_dropped() == 6
    assert not log.kept
    assert "warning: bbc-news: /data/bbc.jsonl.gz record line 0: malformed row" in err
    assert "record line 2: malformed row (further ones counted, not printed)" in err
    assert "line 3" not in err and "line 4" not in err
    assert "warning: ag-news: /data/test.csv.gz record row 9: empty text" in err


def test_build_log_keeps_kept_problems_apart(capsys):
    log = BuildLog()
    log.add(Drop("l3s-gn1", "/x/page.html.gz", "page", KEPT))
    assert log.kept == {("l3s-gn1", KEPT): 1}
    assert log.total_dropped() == 0
    assert "/x/page.html.gz record page: " + KEPT in capsys.readouterr().err


def test_check_labels():
    assert check_labels(Paragraph("t", is_news=True, kind="news", topic="world")) is None
    assert check_labels(Paragraph("t", is_news=False)) is None  # kind unknown is allowed
    assert check_labels(Paragraph("t", is_news=False, kind="advert")) == "unknown kind 'advert'"
    assert check_labels(Paragraph("t", is_news=True, kind="news", topic="weather")) == (
        "unknown topic 'weather'"
    )
    assert check_labels(Paragraph("t", is_news=True, kind="spam")) == "is_news disagrees with kind"
    assert check_labels(Paragraph("t", is_news=False, kind="news")) == "is_news disagrees with kind"


def test_read_bytes_handles_gzip_with_or_without_suffix(tmp_path, gz_writer):
    gz_writer(tmp_path / "a.txt.gz", "gzipped")
    gz_writer(tmp_path / "b.txt", "gzipped, no suffix")
    (tmp_path / "c.txt").write_bytes(b"plain")
    assert read_bytes(tmp_path / "a.txt.gz") == b"gzipped"
    assert read_bytes(tmp_path / "b.txt") == b"gzipped, no suffix"
    assert read_bytes(tmp_path / "c.txt") == b"plain"


def test_select_sources():
    assert select_sources("all") == list(SOURCES)
    assert select_sources("") == list(SOURCES)
    assert select_sources(" bbc-news , ag-news") == ["sample", "bbc-news", "ag-news"]
    assert select_sources("sample,dragnet") == ["sample", "dragnet"]
    with pytest.raises(ValueError, match="nope"):
        select_sources("bbc-news,nope")


def test_every_source_has_a_licence_and_a_reader():
    for name, info in SOURCES.items():
        assert info.licence
        assert info.kind in {"pages", "texts"}
        if info.kind == "pages":
            assert name in pages.PAGE_CORPORA


# --------------------------------------------------------------------------- sample


def test_sample_reader_reads_every_labelled_paragraph():
    raw = [
        json.loads(line)
        for line in (SAMPLE_DIR / "articles.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    log = BuildLog()
    documents = read("sample", None, log)
    assert not log.drops and not log.kept
    assert [d.doc_id for d in documents] == [r["id"] for r in raw]
    assert len({d.doc_id for d in documents}) == len(documents) >= 60
    for doc, record in zip(documents, raw, strict=True):
        assert doc.source == "sample"
        assert doc.stratum == record["topic"] in TOPICS
        # A paragraph with junk glued on becomes two rows: the junk, then the paragraph.
        expected = []
        for item in record["paragraphs"]:
            junk = item.get("junk")
            if junk and junk["where"] == "start":
                expected += [junk["kind"], item["kind"]]
            elif junk and junk["where"] == "end":
                expected += [item["kind"], junk["kind"]]
            else:
                expected.append(item["kind"])
        assert [p.kind for p in doc.paragraphs] == expected
        for paragraph in doc.paragraphs:
            assert paragraph.is_news is (paragraph.kind == "news")
            if paragraph.kind in {"spam", "boilerplate"}:
                assert paragraph.topic is None
            else:
                assert paragraph.topic in TOPICS
    assert {p.kind for d in documents for p in d.paragraphs} == set(KINDS)
    assert {d.stratum for d in documents} == set(TOPICS)
    assert_consistent(documents)


def write_sample(sample_dir: Path, lines: list[bytes]) -> Path:
    sample_dir.mkdir(parents=True, exist_ok=True)
    path = sample_dir / "articles.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _article(doc_id: str, paragraphs: list[dict]) -> bytes:
    return json.dumps({"id": doc_id, "topic": "world", "paragraphs": paragraphs}).encode()


def test_sample_reader_drops_bad_records_and_goes_on(tmp_path, capsys):
    good = {"text": "Ministers met in Corvin on Monday.", "kind": "news", "topic": "world"}
    path = write_sample(
        tmp_path / "sample",
        [
            _article(
                "s-1", [good, {"text": "Advertisement", "kind": "boilerplate", "topic": None}]
            ),
            b'{"id": "s-2", "paragraphs": [',  # malformed JSON
            b"",  # blank line: not a record
            _article(
                "s-3",
                [
                    {"text": "A paragraph of an odd kind", "kind": "advert", "topic": None},
                    {"text": "A paragraph with an odd topic", "kind": "news", "topic": "weather"},
                    {"text": "   \t ", "kind": "news", "topic": "world"},
                    "not an object",
                    {"text": "Read more: Valdoria votes", "kind": "teaser", "topic": "world"},
                ],
            ),
            _article("s-4", [{"text": "", "kind": "news", "topic": "world"}]),
            json.dumps({"id": "s-5", "paragraphs": "not a list"}).encode(),
            json.dumps({"paragraphs": []}).encode(),  # no id
        ],
    )
    log = BuildLog()
    documents = list(texts.sample(path.parent, log))
    err = capsys.readouterr().err
    assert [d.doc_id for d in documents] == ["s-1", "s-3"]
    assert [p.text for p in documents[1].paragraphs] == ["Read more: Valdoria votes"]
    assert_consistent(documents)
    assert log.drops[("sample", "unknown kind 'advert'")] == 1
    assert log.drops[("sample", "unknown topic 'weather'")] == 1
    assert log.drops[("sample", "empty text")] == 2
    assert log.drops[("sample", "malformed paragraph (not an object)")] == 1
    assert log.drops[("sample", "no usable paragraphs")] == 1
    assert sum(n for (_, r), n in log.drops.items() if r.startswith("malformed row")) == 3
    assert f"{path} record line 2: malformed row" in err
    assert f"{path} record line 4 (s-3) paragraph 0: unknown kind 'advert'" in err
    assert f"{path} record line 4 (s-3) paragraph 1: unknown topic 'weather'" in err
    assert f"{path} record line 4 (s-3) paragraph 2: empty text" in err
    assert f"{path} record line 5 (s-4): no usable paragraphs" in err


def test_sample_reader_without_its_file(tmp_path, capsys):
    log = BuildLog()
    assert list(texts.sample(tmp_path / "nowhere", log)) == []
    assert log.drops[("sample", "file missing (missing or partial folder)")] == 1
    assert str(tmp_path / "nowhere" / "articles.jsonl") in capsys.readouterr().err


# --------------------------------------------------------------------------- l3s-gn1


def test_l3s_labels(fake_corpora):
    log = BuildLog()
    documents = read("l3s-gn1", fake_corpora, log)
    assert [d.doc_id for d in documents] == [L3S_ID]
    (doc,) = documents
    assert doc.official_split is None and doc.stratum == "l3s-gn1"
    expected = {
        "Front page Local news Weather": None,  # sel0: not content
        "Riverton council approves": "news",  # sel1: headline
        "By Mara Lindqvist": "boilerplate",  # sel3: supplemental
        "Riverton city council voted": "news",  # sel2: full text
        "Construction is due": "news",
        "Opponents argued": "news",  # sel2 with a nested sel3 credit: majority wins
        "See also: Harbour district": "teaser",  # sel4 nested in sel2: innermost wins
        "Greta P. wrote": "boilerplate",  # sel5: user comments
        "Copyright Riverton": None,
    }
    assert len(doc.paragraphs) == len(expected)
    for (start, kind), paragraph in zip(expected.items(), doc.paragraphs, strict=True):
        assert paragraph.text.startswith(start)
        assert paragraph.kind == kind, start
        assert paragraph.is_news is (kind == "news")
        assert paragraph.topic is None
    assert_consistent(documents)
    headline = find(documents, "Riverton council approves")
    assert (headline.html_tag, headline.dom_depth, headline.css_tokens) == ("h1", 3, "title")
    assert headline.gold_score == 1.0
    assert find(documents, "Front page").link_density == 1.0
    assert find(documents, "Copyright").gold_score == 0.0
    assert log.notes["l3s-gn1.l3s_align_blocks"] == 9
    assert 8 <= log.notes["l3s-gn1.l3s_align_agree"] <= 9


def test_l3s_drops_blocks_without_words_and_pages_without_blocks(fake_corpora, capsys):
    log = BuildLog()
    read("l3s-gn1", fake_corpora, log)
    err = capsys.readouterr().err
    folder = fake_corpora / "l3s-gn1" / "annotated"
    assert_dropped(
        log, err, "l3s-gn1", "no word characters", folder / f"{L3S_ID}.html.gz", "block 6"
    )
    assert_dropped(
        log, err, "l3s-gn1", "no text blocks", folder / f"{L3S_EMPTY_ID}.html.gz", "page"
    )


# --------------------------------------------------------------------------- gold-text pages


def test_dragnet_labels_and_official_split(fake_corpora):
    log = BuildLog()
    documents = read("dragnet", fake_corpora, log)
    assert [(d.doc_id, d.official_split) for d in documents] == [
        ("D101", "train"),
        ("D102", "test"),
    ]
    assert find(documents, "Orchard Valley cider makers").kind == "news"
    assert find(documents, "Growers across").kind == "news"
    assert find(documents, '"We have not seen').kind == "news"
    assert find(documents, "Hilde K. said").kind == "boilerplate"  # a gold comment
    assert find(documents, "Jonas wrote").kind == "boilerplate"
    # D102's gold has a mistyped separator ("!@ $%^&*()  COMMENTS"): its comment is still one.
    assert find(documents, "Marta V. wrote").kind == "boilerplate"
    for start in ("Fieldnotes Archive", "Comments", "Powered by", "Club home", "Share this"):
        paragraph = find(documents, start)
        assert (paragraph.kind, paragraph.is_news) == (None, False), start
    assert find(documents, "Junior champion").gold_score == 1.0
    assert_consistent(documents)


@pytest.mark.parametrize(
    "separator",
    [
        "!@#$%^&*()  COMMENTS",
        "!@#$%^&*() COMMENTS",
        "!@ $%^&*()  COMMENTS",
        "@#$%^&*() COMMENTS",
        "!@#$%^&*   COMMENTS",
        "!#@$%^&*()  COMMENTS",
        "  #$%^&*()  COMMENTS",
    ],
)
def test_dragnet_comment_separator_variants(separator):
    """The annotators' mistyped separators (seen in the real gold files) still split."""
    gold = f"Article text.\n\n{separator}\n\nA reader wrote: nice."
    main, comments = pages.DRAGNET_COMMENTS_RE.split(gold, maxsplit=1)
    assert main.strip() == "Article text."
    assert comments.strip() == "A reader wrote: nice."


def test_dragnet_comment_separator_needs_the_symbols():
    assert not pages.DRAGNET_COMMENTS_RE.search("Read all COMMENTS below! (12)")


def test_dragnet_page_without_gold_is_dropped(fake_corpora, capsys):
    log = BuildLog()
    documents = read("dragnet", fake_corpora, log)
    path = fake_corpora / "dragnet" / "HTML" / "D103.html.gz"
    assert_dropped(log, capsys.readouterr().err, "dragnet", "no gold file", path, "page")
    assert len(documents) == 2


def test_dragnet_without_split_lists(fake_corpora):
    (fake_corpora / "dragnet" / "training.txt").unlink()
    (fake_corpora / "dragnet" / "test.txt").unlink()
    documents = read("dragnet", fake_corpora, BuildLog())
    assert [d.official_split for d in documents] == [None, None]


def test_page_workers_give_the_same_documents(fake_corpora):
    serial = read("dragnet", fake_corpora, BuildLog(), workers=1)
    parallel = read("dragnet", fake_corpora, BuildLog(), workers=2)
    assert serial == parallel


def test_cleaneval_labels_and_cp1252_page(fake_corpora):
    log = BuildLog()
    documents = read("cleaneval", fake_corpora, log)
    assert [d.doc_id for d in documents] == ["dev-1", "dev-2", "final-7"]
    assert all(d.official_split is None for d in documents)
    for start in (
        "Growing tomatoes",  # <h> marker
        "Most guides say",  # <p> marker, wrapped over three gold lines
        "Choose bush varieties",  # <l> marker
        "Rowing club opens",
        "The building, paid for",
    ):
        assert find(documents, start).kind == "news", start
    for start in ("Home", "Guestbook", "You are visitor", "Start | News", "Last updated"):
        assert find(documents, start).kind is None, start
    # The windows-1252 page (no charset declared) decodes cleanly and aligns to its gold.
    cp1252_doc = documents[1]
    assert [p.text for p in cp1252_doc.paragraphs] == [
        "Café owners “welcome” the new €2 coffee levy",
        "Owners of the Kestrel Café in Brindle said the levy was “fair enough” — but naïve about"
        " costs.",
    ]
    assert all(p.kind == "news" for p in cp1252_doc.paragraphs)
    assert not log.kept and not log.drops


def test_page_with_undecodable_bytes_is_kept_with_a_warning(fake_corpora, gz_writer, capsys):
    folder = fake_corpora / "cleaneval" / "dev"
    # A UTF-8 page with one byte that is neither UTF-8 nor cp1252.
    page = b"<html><body><p>Ferry timetable changes for the \x81 winter season</p></body></html>"
    path = gz_writer(folder / "input" / "3.html.gz", page)
    gz_writer(folder / "GoldStandard" / "3.txt.gz", "<p>Ferry timetable changes for the winter")
    log = BuildLog()
    documents = read("cleaneval", fake_corpora, log)
    assert [d.doc_id for d in documents] == ["dev-1", "dev-2", "dev-3", "final-7"]
    paragraph = find(documents, "Ferry timetable")
    assert "\ufffd" in paragraph.text
    assert log.kept == {("cleaneval", KEPT): 1}
    assert log.total_dropped() == 0
    assert f"{path} record page: {KEPT}" in capsys.readouterr().err


def test_wcxb_labels(fake_corpora):
    log = BuildLog()
    documents = read("wcxb", fake_corpora, log)
    # The test split is read first, so a page in both folders stays a test page.
    assert [(d.doc_id, d.official_split) for d in documents] == [
        ("6001", "test"),
        ("5001", "train"),
    ]
    assert find(documents, "The night train to Valdoria").kind == "news"
    assert find(documents, "A sleeper service").kind == "news"
    assert find(documents, "When the kitchen drops").kind == "news"
    # In the gold main text, but it contains a must-exclude snippet: not news.
    newsletter = find(documents, "Subscribe to our newsletter")
    assert (newsletter.kind, newsletter.is_news, newsletter.gold_score) == (None, False, 1.0)
    assert log.notes["wcxb.excluded_by_snippet"] == 1
    assert find(documents, "We use cookies").kind is None
    assert find(documents, "Crumb and Crust is an independent").kind is None
    assert_consistent(documents)


def test_wcxb_bad_pages_are_dropped(fake_corpora, capsys):
    log = BuildLog()
    read("wcxb", fake_corpora, log)
    err = capsys.readouterr().err
    truth = fake_corpora / "wcxb" / "test" / "ground-truth"
    assert_dropped(log, err, "wcxb", "page type is not article", truth / "6002.json.gz", "page")
    (reason,) = [r for (s, r) in log.drops if r.startswith("malformed gold JSON")]
    assert f"{truth / '6003.json.gz'} record gold: {reason}" in err
    assert log.total_dropped() == 2


def test_readability_labels(fake_corpora):
    log = BuildLog()
    documents = read("readability-testpages", fake_corpora, log)
    assert [d.doc_id for d in documents] == ["harbour-market"]
    assert find(documents, "By Oskar Brandt").kind == "boilerplate"  # the metadata byline
    for start in ("Saltmarsh's open-air", "The hall has been empty", "Harbour master Lene"):
        assert find(documents, start).kind == "news"
    # Captions are taken out of the expected article, so they are not news.
    assert find(documents, "The customs hall during").kind is None
    assert find(documents, "Harbour desk, district 0").kind is None
    assert_consistent(documents)


def test_readability_small_and_partial_cases_are_dropped(fake_corpora, capsys):
    root = fake_corpora / "readability-testpages"
    partial = root / "no-expected"
    partial.mkdir()
    shutil.copyfile(root / "harbour-market" / "source.html.gz", partial / "source.html.gz")
    log = BuildLog()
    documents = read("readability-testpages", fake_corpora, log)
    err = capsys.readouterr().err
    assert [d.doc_id for d in documents] == ["harbour-market"]
    tiny = root / "tiny-parser-test"
    assert_dropped(log, err, "readability-testpages", "synthetic parser test page", tiny, "page")
    assert_dropped(log, err, "readability-testpages", "source or expected missing", partial, "page")


def test_readability_not_readerable_and_bad_metadata(fake_corpora, gz_writer, capsys):
    root = fake_corpora / "readability-testpages"
    source = (root / "harbour-market" / "source.html.gz").read_bytes()
    expected = (root / "harbour-market" / "expected.html.gz").read_bytes()
    for case, metadata in (("not-readerable", '{"readerable": false}'), ("bad-meta", "{oops")):
        (root / case).mkdir()
        (root / case / "source.html.gz").write_bytes(source)
        (root / case / "expected.html.gz").write_bytes(expected)
        gz_writer(root / case / "expected-metadata.json.gz", metadata)
    log = BuildLog()
    documents = read("readability-testpages", fake_corpora, log)
    err = capsys.readouterr().err
    assert [d.doc_id for d in documents] == ["harbour-market"]
    assert_dropped(
        log,
        err,
        "readability-testpages",
        "not readerable (no article)",
        root / "not-readerable",
        "page",
    )
    (bad,) = [r for (_, r) in log.drops if r.startswith("bad JSON")]
    assert f"{root / 'bad-meta' / 'expected-metadata.json.gz'} record metadata: {bad}" in err


def test_page_that_fails_is_a_counted_drop(fake_corpora, capsys):
    broken = fake_corpora / "dragnet" / "HTML" / "D100.html.gz"
    broken.write_bytes(b"\x1f\x8b this is not really gzip")
    (fake_corpora / "dragnet" / "Corrected" / "D100.html.corrected.txt.gz").write_bytes(
        (fake_corpora / "dragnet" / "Corrected" / "D101.html.corrected.txt.gz").read_bytes()
    )
    log = BuildLog()
    documents = read("dragnet", fake_corpora, log)
    assert [d.doc_id for d in documents] == ["D101", "D102"]  # the rest goes on
    failures = {key: n for key, n in log.drops.items() if key[1].startswith("failed: ")}
    assert list(failures.values()) == [1]
    assert f"{broken} record page: failed: " in capsys.readouterr().err


def test_page_failure_is_counted_under_its_source(fake_corpora):
    (fake_corpora / "dragnet" / "HTML" / "D100.html.gz").write_bytes(b"\x1f\x8b not gzip")
    (fake_corpora / "dragnet" / "Corrected" / "D100.html.corrected.txt.gz").write_bytes(
        (fake_corpora / "dragnet" / "Corrected" / "D101.html.corrected.txt.gz").read_bytes()
    )
    log = BuildLog()
    read("dragnet", fake_corpora, log)
    assert {source for source, _ in log.drops} == {"dragnet"}


@pytest.mark.parametrize("name", list(pages.PAGE_CORPORA))
def test_page_corpus_cap(fake_corpora, name):
    assert len(read(name, fake_corpora, BuildLog(), max_docs=1)) <= 1


@pytest.mark.parametrize("name", list(pages.PAGE_CORPORA))
def test_empty_page_corpus_folder_is_a_counted_drop(tmp_path, name, capsys):
    (tmp_path / name).mkdir()
    log = BuildLog()
    assert read(name, tmp_path, log) == []
    reason = "no pages found (missing or partial folder)"
    assert_dropped(log, capsys.readouterr().err, name, reason, tmp_path / name, "corpus")


# --------------------------------------------------------------------------- text corpora


def test_clickbait_labels_and_undecodable_line(fake_corpora, capsys):
    log = BuildLog()
    documents = read("clickbait-chakraborty", fake_corpora, log)
    assert [d.doc_id for d in documents] == [
        "teaser-1",
        "teaser-3",
        "teaser-5",
        "teaser-7",
        "news-1",
        "news-3",
    ]
    labels = {(p.kind, p.is_news) for d in documents for p in d.paragraphs}
    assert labels == {("teaser", False), ("news", True)}
    assert find(documents, "17 kitchen gadgets").kind == "teaser"
    assert find(documents, "Storm closes Harrow").kind == "news"
    assert {d.stratum for d in documents} == {"teaser", "news"}
    # The line in no known encoding is kept, with its problem counted apart from drops.
    assert (
        find(documents, "The caf").text == "The caf\ufffd that nobody could spell will surprise you"
    )
    assert log.kept == {("clickbait-chakraborty", KEPT): 1}
    assert log.total_dropped() == 0
    path = fake_corpora / "clickbait-chakraborty" / "clickbait_data.gz"
    assert f"{path} record line 7: {KEPT}" in capsys.readouterr().err
    assert_consistent(documents)


def test_sms_spam_labels_and_drops(fake_corpora, capsys):
    log = BuildLog()
    documents = read("sms-spam", fake_corpora, log)
    err = capsys.readouterr().err
    assert [d.doc_id for d in documents] == ["sms-2", "sms-4"]
    assert all(p.kind == "spam" and not p.is_news for d in documents for p in d.paragraphs)
    assert find(documents, "WINNER!!").topic is None
    path = fake_corpora / "sms-spam" / "SMSSpamCollection.tsv.gz"
    assert log.drops[("sms-spam", "ham message (no newsclean label)")] == 2  # counted, not used
    assert f"{path} record line 1: ham message (no newsclean label)" in err
    assert_dropped(log, err, "sms-spam", "empty text", path, "line 6")
    (malformed,) = [r for (_, r) in log.drops if r.startswith("malformed row")]
    assert f"{path} record line 5: {malformed}" in err
    assert log.total_dropped() == 4


def test_sms_spam_undecodable_line_is_kept(tmp_path, gz_writer, capsys):
    path = gz_writer(
        tmp_path / "sms-spam" / "SMSSpamCollection.tsv.gz",
        b"spam\tWin a \x81 cruise! Text GO to 80999\nspam\tCheap loans today, reply LOAN\n",
    )
    log = BuildLog()
    documents = read("sms-spam", tmp_path, log)
    assert len(documents) == 2
    assert log.kept == {("sms-spam", KEPT): 1}
    assert f"{path} record line 1: {KEPT}" in capsys.readouterr().err


def test_webis_ads_labels(fake_corpora):
    log = BuildLog()
    documents = read("webis-native-ads", fake_corpora, log)
    assert [(d.doc_id, d.official_split, d.group) for d in documents] == [
        ("5001-000001-A", "train", "5001-000001"),
        ("5002-000003-A", "test", "5002-000003"),
    ]
    assert [p.text for d in documents for p in d.paragraphs] == [
        "For rugged trails, the TrailMaster X9 boots from Summitgear are on sale this week at 30%"
        " off with free delivery.",
        "Book with SkyHopper today and save 25% on every return ticket with code SPRING25!",
    ]
    assert all(p.kind == "spam" and not p.is_news for d in documents for p in d.paragraphs)
    assert_consistent(documents)


def test_webis_ads_bad_rows(fake_corpora, capsys):
    log = BuildLog()
    read("webis-native-ads", fake_corpora, log)
    err = capsys.readouterr().err
    path = fake_corpora / "webis-native-ads" / "responses-validation.jsonl.gz"
    assert_dropped(log, err, "webis-native-ads", "no label row", path, "line 3")
    (malformed,) = [r for (_, r) in log.drops if r.startswith("malformed row")]
    assert f"{path} record line 4: {malformed}" in err
    assert log.total_dropped() == 2  # the ad-free answer is skipped, not dropped


def test_webis_ads_bad_labels(tmp_path, gz_writer, capsys):
    folder = tmp_path / "webis-native-ads"
    response = "Pack light. Try the FeatherBag 20 for just 49 euros today! Enjoy the trip."
    ad = "Try the FeatherBag 20 for just 49 euros today!"
    start = response.index(ad)
    responses = [{"id": f"7-1-{c}", "response": response} for c in "ABC"]
    labels = [
        {"id": "7-1-A", "label": 1, "sen_span": f"({start}, {start + len(ad)})"},
        {"id": "7-1-B", "label": 1, "sen_span": "none"},  # an ad without a span
        {"id": "7-1-C", "label": 1, "sen_span": "(0, 0)"},  # an empty sentence
    ]
    responses_path = gz_writer(
        folder / "responses-test.jsonl.gz", "\n".join(json.dumps(r) for r in responses)
    )
    labels_path = gz_writer(
        folder / "responses-test-labels.jsonl.gz",
        "{bad label row\n" + "\n".join(json.dumps(r) for r in labels),
    )
    # The validation split has its labels but not its responses: a partial folder.
    gz_writer(folder / "responses-validation-labels.jsonl.gz", "")
    log = BuildLog()
    documents = read("webis-native-ads", tmp_path, log)
    err = capsys.readouterr().err
    assert [(d.doc_id, d.official_split) for d in documents] == [("7-1-A", "test")]
    assert [p.text for d in documents for p in d.paragraphs] == [ad]
    missing = folder / "responses-validation.jsonl.gz"
    reason = "file missing (missing or partial folder)"
    assert_dropped(log, err, "webis-native-ads", reason, missing, "corpus")
    (malformed,) = [r for (_, r) in log.drops if r.startswith("malformed label row")]
    assert f"{labels_path} record line 1: {malformed}" in err
    reason = "ad without a sentence span"
    assert_dropped(log, err, "webis-native-ads", reason, labels_path, "7-1-B")
    assert_dropped(log, err, "webis-native-ads", "empty ad sentence", responses_path, "7-1-C")
    assert log.total_dropped() == 4


def test_bbc_news_labels(fake_corpora):
    log = BuildLog()
    documents = read("bbc-news", fake_corpora, log)
    topics = {d.doc_id: d.stratum for d in documents}
    assert topics == {
        "politics/001": "world",
        "sport/001": "sports",
        "tech/001": "sci_tech",
        "business/001": "business",
        "entertainment/001": "entertainment",
    }
    politics = documents[0]
    assert [p.text for p in politics.paragraphs] == [
        "Valdoria's parliament passes election reform bill",
        "Valdoria's parliament has passed a bill that lowers the voting age to sixteen and moves"
        " the general election to a Sunday.",
        "The reform was backed by 214 members and opposed by 87, after a debate that lasted two"
        " days.",
    ]
    assert len(documents[1].paragraphs) == 3  # title + two paragraphs split by 3 newlines
    for doc in documents:
        assert {(p.kind, p.is_news, p.topic) for p in doc.paragraphs} == {
            ("news", True, topics[doc.doc_id])
        }
    assert_consistent(documents)


def test_bbc_news_bad_rows(fake_corpora, capsys):
    log = BuildLog()
    read("bbc-news", fake_corpora, log)
    err = capsys.readouterr().err
    path = fake_corpora / "bbc-news" / "bbc-news.jsonl.gz"
    (malformed,) = [r for (_, r) in log.drops if r.startswith("malformed row")]
    assert f"{path} record line 6: {malformed}" in err
    assert_dropped(log, err, "bbc-news", "unknown category 'weather'", path, "line 7")
    assert_dropped(log, err, "bbc-news", "empty article", path, "line 8")
    assert log.total_dropped() == 3


def test_ag_news_labels_and_cleaning(fake_corpora):
    log = BuildLog()
    documents = read("ag-news", fake_corpora, log)
    assert [(d.doc_id, d.stratum) for d in documents] == [
        ("ag-row-1", "world"),
        ("ag-row-2", "sports"),
        ("ag-row-3", "business"),
        ("ag-row-4", "sci_tech"),
    ]
    bank = documents[2]
    assert [p.text for p in bank.paragraphs] == [
        "Harlan Bank's profit rises",  # '#39;' is an apostrophe
        "Harlan Bank's quarterly profit rose to $2.1 billion, helped by higher interest income"
        " and fees .",  # '\$' is a dollar sign, escaped markup is removed
    ]
    for doc in documents:
        assert len(doc.paragraphs) == 2
        assert all(p.kind == "news" and p.topic == doc.stratum for p in doc.paragraphs)
        assert doc.official_split is None
    assert_consistent(documents)


def test_ag_news_bad_rows(fake_corpora, capsys):
    log = BuildLog()
    read("ag-news", fake_corpora, log)
    err = capsys.readouterr().err
    path = fake_corpora / "ag-news" / "test.csv.gz"
    assert_dropped(log, err, "ag-news", "unknown class '7'", path, "row 5")
    assert_dropped(log, err, "ag-news", "malformed row (2 fields)", path, "row 6")


def test_ag_news_empty_row(tmp_path, gz_writer, capsys):
    path = gz_writer(
        tmp_path / "ag-news" / "test.csv.gz", '"1","  ","<b></b>"\n"2","Cup final tonight","x"\n'
    )
    log = BuildLog()
    documents = read("ag-news", tmp_path, log)
    assert [d.doc_id for d in documents] == ["ag-row-2"]
    assert_dropped(log, capsys.readouterr().err, "ag-news", "empty text", path, "row 1")


def test_ag_news_names_the_file_row_after_a_malformed_row(tmp_path, gz_writer, capsys):
    path = gz_writer(
        tmp_path / "ag-news" / "test.csv.gz",
        '"1","Treaty signed","Two nations signed a treaty."\n'
        '"2","only two fields"\n'
        '"9","Unknown class","A class AG News does not have."\n'
        '"4","Probe reaches asteroid","After six years."\n',
    )
    log = BuildLog()
    documents = read("ag-news", tmp_path, log)
    err = capsys.readouterr().err
    assert f"{path} record row 2: malformed row (2 fields)" in err
    assert f"{path} record row 3: unknown class '9'" in err
    assert [d.doc_id for d in documents] == ["ag-row-1", "ag-row-4"]


def test_ag_news_undecodable_byte_is_reported(tmp_path, gz_writer):
    gz_writer(
        tmp_path / "ag-news" / "test.csv.gz",
        '"1","Café talks in Zürich","Ministers met in Zürich."\n'.encode()
        + b'"2","A bad \x81 byte","Sports text."\n',
    )
    log = BuildLog()
    documents = read("ag-news", tmp_path, log)
    assert log.kept[("ag-news", KEPT)] == 1
    assert documents[0].paragraphs[0].text == "Café talks in Zürich"


@pytest.mark.parametrize("source", ["bbc-news", "webis-native-ads", "sample"])
def test_json_line_with_undecodable_bytes_does_not_stop_the_reader(tmp_path, gz_writer, source):
    bad = b'{"id": "x-1", "category": "tech", "title": "Caf\x81 robots", "body": "Text."}'
    good = json.dumps({"id": "x-2", "category": "tech", "title": "Robots", "body": "Text."})
    if source == "bbc-news":
        gz_writer(tmp_path / source / "bbc-news.jsonl.gz", bad + b"\n" + good.encode())
    elif source == "webis-native-ads":
        for split in ("validation", "test"):
            gz_writer(tmp_path / source / f"responses-{split}.jsonl.gz", bad)
            gz_writer(tmp_path / source / f"responses-{split}-labels.jsonl.gz", b"")
    else:
        article = {"id": "x-2", "paragraphs": [{"text": "Robots", "kind": "news", "topic": None}]}
        write_sample(tmp_path / "sample", [bad, json.dumps(article).encode()])
    log = BuildLog()
    if source == "sample":
        documents = list(texts.sample(tmp_path / "sample", log))
    else:
        documents = read(source, tmp_path, log)
    assert log.kept[(source, KEPT)] + log.total_dropped() >= 1
    if source != "webis-native-ads":
        assert "x-2" in [d.doc_id for d in documents]


def test_webis_null_response_is_dropped(tmp_path, gz_writer):
    folder = tmp_path / "webis-native-ads"
    for split in ("validation", "test"):
        gz_writer(folder / f"responses-{split}.jsonl.gz", '{"id": "8-1-A", "response": null}')
        gz_writer(
            folder / f"responses-{split}-labels.jsonl.gz",
            '{"id": "8-1-A", "label": 1, "sen_span": "(0, 5)"}',
        )
    log = BuildLog()
    assert read("webis-native-ads", tmp_path, log) == []
    assert log.total_dropped() == 2


def test_bbc_wrongly_typed_title_is_dropped(tmp_path, gz_writer):
    rows = [
        {"id": "tech/1", "category": "tech", "title": 5, "body": "Body text."},
        {"id": "tech/2", "category": "tech", "title": "Robots", "body": "Body text."},
    ]
    gz_writer(tmp_path / "bbc-news" / "bbc-news.jsonl.gz", "\n".join(map(json.dumps, rows)))
    log = BuildLog()
    assert [d.doc_id for d in read("bbc-news", tmp_path, log)] == ["tech/2"]
    assert log.total_dropped() == 1


# --------------------------------------------------------------------------- missing folders


@pytest.mark.parametrize("name", [n for n in SOURCES if n != "sample"])
def test_missing_corpus_folder_is_a_counted_drop(fake_corpora, name, capsys):
    shutil.rmtree(fake_corpora / name)
    log = BuildLog()
    assert read(name, fake_corpora, log) == []
    reason = "corpus folder not found (skipped)"
    assert_dropped(log, capsys.readouterr().err, name, reason, fake_corpora / name, "corpus")
    assert log.total_dropped() == 1


def test_no_corpora_dir_at_all(capsys):
    log = BuildLog()
    assert read("bbc-news", None, log) == []
    assert log.drops == {("bbc-news", "corpus folder not found (skipped)"): 1}
    assert "warning: bbc-news: bbc-news record corpus" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "file_name"),
    [
        ("clickbait-chakraborty", "non_clickbait_data.gz"),
        ("sms-spam", "SMSSpamCollection.tsv.gz"),
        ("webis-native-ads", "responses-test-labels.jsonl.gz"),
        ("bbc-news", "bbc-news.jsonl.gz"),
        ("ag-news", "test.csv.gz"),
    ],
)
def test_partial_text_corpus_folder(fake_corpora, name, file_name, capsys):
    path = fake_corpora / name / file_name
    path.unlink()
    log = BuildLog()
    documents = read(name, fake_corpora, log)
    reason = "file missing (missing or partial folder)"
    assert_dropped(log, capsys.readouterr().err, name, reason, path, "corpus")
    if name == "clickbait-chakraborty":
        assert {d.stratum for d in documents} == {"teaser"}  # the other file is still read
    if name == "webis-native-ads":
        assert [d.official_split for d in documents] == ["train"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("clickbait-chakraborty", 2), ("sms-spam", 1), ("bbc-news", 2), ("ag-news", 2)],
)
def test_text_corpus_cap(fake_corpora, name, expected):
    assert len(read(name, fake_corpora, BuildLog(), max_docs=expected)) == expected


def test_sample_glued_junk_is_split_off():
    log = BuildLog()
    documents = read("sample", None, log)
    texts = [p.text for d in documents for p in d.paragraphs]
    raw = [json.loads(line) for line in (SAMPLE_DIR / "articles.jsonl").read_text().splitlines()]
    glued = [(i["text"], i["junk"]) for r in raw for i in r["paragraphs"] if i.get("junk")]
    assert glued
    for text, junk in glued:
        assert text not in texts  # the glued form is not a training row
        assert " ".join(junk["text"].split()) in texts


def test_wcxb_pages_of_every_type_a_test_copy_stays_in_test_and_the_declared_language(
    tmp_path, gz_writer
):
    """WCXB's folders as pages for the page-level evaluation: every page type, the test copy
    of a page that is also in dev (as the dataset keeps it), the page's declared language."""

    def page(folder: str, stem: str, page_type: str, lang: str = "en") -> None:
        root = tmp_path / "wcxb" / folder
        body = f"<p>The {page_type} page {stem} of the harbour office.</p>"
        gz_writer(root / "html" / f"{stem}.html.gz", f"<html lang='{lang}'><body>{body}</body>")
        gold = {
            "_internal": {"page_type": {"primary": page_type}},
            "ground_truth": {"main_content": f"The {page_type} page {stem}."},
        }
        gz_writer(root / "ground-truth" / f"{stem}.json.gz", json.dumps(gold))

    page("test", "0001", "article")
    page("test", "0002", "forum", lang="pt-BR")
    page("dev-articles", "0001", "article")  # also a test page: it belongs to test
    page("dev-articles", "0003", "article")
    page("dev-other", "0004", "listing")
    test = pages.wcxb_test_pages(tmp_path)
    assert [(p.doc_id, p.page_type, p.language) for p in test] == [
        ("0001", "article", "en"),
        ("0002", "forum", "pt"),
    ]
    assert [p.doc_id for p in pages.wcxb_pages(tmp_path, "dev-articles")] == ["0003"]
    assert [(p.doc_id, p.page_type) for p in pages.wcxb_pages(tmp_path, "dev-other")] == [
        ("0004", "listing")
    ]
