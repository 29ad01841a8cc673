"""newsclean.data.dataset and newsclean.data.datacard: build, schema, splits, dedup, saved files."""

from __future__ import annotations

import copy
import json
from collections import Counter

import datasets
import pandas as pd
import pytest

from newsclean.config import KINDS, SPLITS, TOPICS
from newsclean.data import dataset
from newsclean.data.sources import SOURCES, BuildLog, Document, Paragraph
from newsclean.kindrules import rule_for
from newsclean.text import text_sha1

LONG = (
    "The harbour authority said the new breakwater would protect two hundred moorings from"
    " the winter storms that flooded the quay last year."
)


def doc(doc_id: str, texts: list[str], source: str = "src", **fields) -> Document:
    return Document(
        source, doc_id, [Paragraph(t, is_news=True, kind="news") for t in texts], **fields
    )


def check_schema(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == dataset.COLUMNS
    assert set(frame["kind"].dropna()) <= set(KINDS)
    assert set(frame["topic"].dropna()) <= set(TOPICS)
    assert frame["kind"].isna().sum() + frame["kind"].isin(KINDS).sum() == len(frame)
    assert set(frame.loc[frame["topic"].notna(), "kind"]) <= {"news", "teaser"}
    known = frame[frame["kind"].notna()]
    assert (known["is_news"] == (known["kind"] == "news")).all()
    assert not frame.loc[frame["kind"].isna(), "is_news"].any()  # unknown kind: not news
    assert set(frame["split"]) <= set(SPLITS)
    assert set(frame["source"]) <= set(SOURCES)
    assert frame["text"].str.strip().astype(bool).all()
    assert (frame["text_sha1"] == frame["text"].map(text_sha1)).all()
    # A document lives in exactly one split.
    assert (frame.groupby(["source", "doc_id"])["split"].nunique() == 1).all()
    # Positions are unique within a document and n_paragraphs counts its rows.
    assert not frame.duplicated(["source", "doc_id", "position"]).any()
    sizes = frame.groupby(["source", "doc_id"])["position"].transform("size")
    assert (frame["n_paragraphs"] == sizes).all()
    assert (frame["position"] >= 0).all()


# --------------------------------------------------------------------------- sample build


def test_build_on_the_sample(sample_build):
    config, frame, card = sample_build
    assert set(frame["source"]) == {"sample"}
    assert len(frame) > 1000
    assert set(frame["kind"]) == set(KINDS)
    assert set(frame["topic"].dropna()) == set(TOPICS)
    assert set(frame["split"]) == set(SPLITS)
    assert frame["html_tag"].isna().all()  # text source: no page facts
    assert card["rows"] == len(frame)
    assert card["notes"]["sources"] == ["sample"]
    # The label rules ran: no byline, timestamp or picture credit is left labelled news.
    assert "label_rules.changed" in card["notes"]
    assert frame.loc[frame["kind"] == "news", "text"].map(rule_for).isna().all()


def test_schema_of_the_sample_build(sample_build):
    check_schema(sample_build[1])


def test_rows_are_sorted(sample_build):
    frame = sample_build[1]
    ordered = frame.sort_values(["source", "split", "doc_id", "position"], kind="stable")
    assert list(ordered.index) == list(frame.index)


def test_split_sizes_follow_the_ratios(sample_build):
    frame = sample_build[1]
    docs = frame.drop_duplicates(["source", "doc_id"])["split"].value_counts()
    total = docs.sum()
    assert docs["test"] == pytest.approx(0.1 * total, abs=6)
    assert docs["validation"] == pytest.approx(0.1 * total, abs=6)


def test_hf_dataset_is_saved(sample_build):
    config, frame, _ = sample_build
    loaded = datasets.load_from_disk(str(config.paths.processed_dir / "hf"))
    assert isinstance(loaded, datasets.DatasetDict)
    assert set(loaded) == set(SPLITS)
    for split in SPLITS:
        assert loaded[split].num_rows == int((frame["split"] == split).sum()) > 0
        assert loaded[split].column_names == dataset.COLUMNS
    first = frame[frame["split"] == "train"].iloc[0]
    assert loaded["train"][0]["text"] == first["text"]


def test_parquet_copy_round_trips(sample_build):
    config, frame, _ = sample_build
    assert (config.paths.processed_dir / "paragraphs.parquet").is_file()
    loaded = dataset.load(config.paths.processed_dir)
    assert list(loaded.columns) == dataset.COLUMNS

    # pandas may read text columns back as its string dtype; the values are what matter.
    def plain(table: pd.DataFrame) -> pd.DataFrame:
        return table.astype(object).where(table.notna(), None)

    pd.testing.assert_frame_equal(plain(loaded), plain(frame))


def test_digest_is_saved_and_matches(sample_build):
    config, frame, card = sample_build
    digest = dataset.dataset_digest(frame)
    assert card["digest"] == digest
    assert dataset.load_digest(config.paths.processed_dir) == digest
    assert len(digest) == 64


def test_load_without_a_build(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        dataset.load(tmp_path)
    assert dataset.load_digest(tmp_path) == "unknown"


def test_data_card_files(sample_build):
    config, frame, card = sample_build
    reports, processed = config.paths.reports_dir, config.paths.processed_dir
    saved = json.loads((reports / "data_card.json").read_text())
    assert saved == json.loads((processed / "data_card.json").read_text())
    assert saved["rows"] == len(frame) == card["rows"]
    assert saved["digest"] == card["digest"]
    assert saved["documents"] == frame.groupby(["source", "doc_id"]).ngroups
    assert saved["per_split"] == {s: int((frame["split"] == s).sum()) for s in SPLITS}
    assert sum(saved["per_kind"].values()) == len(frame)
    assert saved["seed"] == config.data.seed
    assert saved["licences"] == {"sample": SOURCES["sample"].licence}
    reasons = {(d["source"], d["reason"]): d["count"] for d in saved["dropped"]}
    assert saved["dropped_total"] == sum(reasons.values())

    markdown = (reports / "data_card.md").read_text()
    assert card["digest"] in markdown
    assert f"- rows: {len(frame):,} paragraphs" in markdown
    assert "## Dropped rows and why" in markdown
    for (source, reason), count in reasons.items():  # every drop has its row in the table
        assert f"| {source} | {reason} | {count:,} |" in markdown
    for split in SPLITS:
        assert f"{split} {saved['per_split'][split]:,}" in markdown


def test_build_is_deterministic_and_the_seed_matters(tmp_config, tmp_path):
    first, first_card = dataset.build(tmp_config)
    second, second_card = dataset.build(tmp_config)
    assert first_card["digest"] == second_card["digest"]
    pd.testing.assert_frame_equal(first, second)

    other = copy.deepcopy(tmp_config)
    other.set("data.seed", "7")
    other.set("paths.processed_dir", str(tmp_path / "seed7"))
    third, third_card = dataset.build(other)
    assert third_card["digest"] != first_card["digest"]
    split_of = first.drop_duplicates("doc_id").set_index("doc_id")["split"]
    split_7 = third.drop_duplicates("doc_id").set_index("doc_id")["split"]
    assert (split_of != split_7.reindex(split_of.index)).any()
    # Same rows, only split differently.
    assert sorted(first["text_sha1"]) == sorted(third["text_sha1"])


def test_missing_corpora_dir_falls_back_to_the_sample(tmp_config, tmp_path, capsys):
    tmp_config.set("paths.corpora_dir", str(tmp_path / "no-such-corpora"))
    frame, card = dataset.build(tmp_config)
    assert set(frame["source"]) == {"sample"}
    assert f"corpora directory {tmp_path / 'no-such-corpora'} not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- deduplicate


def test_deduplicate_drops_an_exact_duplicate_document(tmp_config):
    log = BuildLog()
    texts = ["Alpha paragraph one", "Beta paragraph two", "Gamma paragraph three"]
    kept = dataset.deduplicate([doc("a", texts), doc("b", list(texts))], tmp_config, log)
    assert [d.doc_id for d in kept] == ["a"]
    assert log.drops == {("src", "exact duplicate document"): 1}


def test_exact_duplicate_ignores_case_and_punctuation(tmp_config):
    log = BuildLog()
    kept = dataset.deduplicate(
        [
            doc("a", ["Storm closes the pass", "Snow ploughs sent"]),
            doc("b", ["STORM closes the pass!", "snow  ploughs sent."]),
        ],
        tmp_config,
        log,
    )
    assert [d.doc_id for d in kept] == ["a"]
    assert log.drops[("src", "exact duplicate document")] == 1


def test_deduplicate_drops_a_near_duplicate_document(tmp_config):
    log = BuildLog()
    base = [f"Paragraph number {n} of the ferry story" for n in range(5)]
    near = [*base, "A sixth paragraph added by the second site"]  # Jaccard 5/6 ≥ 0.8
    far = [base[0], "Different paragraph one", "Different two", "Different three"]
    kept = dataset.deduplicate([doc("a", base), doc("b", near), doc("c", far)], tmp_config, log)
    assert [d.doc_id for d in kept] == ["a", "c"]
    assert log.drops[("src", "near-duplicate document")] == 1
    assert "exact duplicate document" not in {r for _, r in log.drops}


def test_near_duplicate_threshold_is_configurable(tmp_config):
    base = [f"Paragraph number {n} of the ferry story" for n in range(5)]
    near = [*base, "A sixth paragraph added by the second site"]
    tmp_config.set("data.near_dup_jaccard", "0.9")
    kept = dataset.deduplicate([doc("a", base), doc("b", near)], tmp_config, BuildLog())
    assert [d.doc_id for d in kept] == ["a", "b"]


def test_one_paragraph_document_is_not_a_near_duplicate_of_a_longer_one(tmp_config):
    log = BuildLog()
    kept = dataset.deduplicate(
        [
            doc("a", ["Council approves budget", "Second paragraph"]),
            doc("b", ["Council approves budget"]),
        ],
        tmp_config,
        log,
    )
    assert [d.doc_id for d in kept] == ["a", "b"]
    assert not log.drops


def test_deduplicate_drops_a_repeated_long_paragraph(tmp_config):
    log = BuildLog()
    kept = dataset.deduplicate(
        [
            doc("a", [LONG, "Short line", "The first story's own paragraph"]),
            doc("b", ["Short line", LONG, "The second story's own paragraph", "And more"]),
            doc("c", [LONG]),  # nothing left once the repeat goes: the document goes too
        ],
        tmp_config,
        log,
    )
    assert [d.doc_id for d in kept] == ["a", "b"]
    assert [p.text for p in kept[0].paragraphs] == [
        LONG,
        "Short line",
        "The first story's own paragraph",
    ]
    # The short repeat is kept (below dedup_min_chars); the long one goes.
    assert [p.text for p in kept[1].paragraphs] == [
        "Short line",
        "The second story's own paragraph",
        "And more",
    ]
    assert log.drops == {("src", "duplicate of a paragraph in another document"): 2}


def test_long_paragraph_repeated_inside_one_document_is_kept(tmp_config):
    log = BuildLog()
    kept = dataset.deduplicate([doc("a", [LONG, "Middle", LONG])], tmp_config, log)
    assert len(kept[0].paragraphs) == 3
    assert not log.drops


def test_repeated_long_paragraph_across_sources_with_the_same_doc_id(tmp_config):
    log = BuildLog()
    kept = dataset.deduplicate(
        [
            doc("001", [LONG, "The first story's own paragraph"], source="wcxb"),
            doc("001", [LONG, "Another site's own paragraph"], source="readability-testpages"),
        ],
        tmp_config,
        log,
    )
    assert [p.text for p in kept[1].paragraphs] == ["Another site's own paragraph"]


# --------------------------------------------------------------------------- assign_splits


def test_splits_are_stratified_and_follow_the_ratios(tmp_config):
    documents = [doc(f"a{n}", ["x"], stratum="a") for n in range(100)]
    documents += [doc(f"b{n}", ["x"], stratum="b") for n in range(50)]
    splits = dataset.assign_splits(documents, tmp_config)
    for stratum, n in (("a", 100), ("b", 50)):
        counts = Counter(s for (_, d), s in splits.items() if d.startswith(stratum))
        assert counts == {"train": n * 8 // 10, "validation": n // 10, "test": n // 10}


def test_splits_are_deterministic_and_seeded(tmp_config):
    documents = [doc(f"d{n}", ["x"]) for n in range(60)]
    first = dataset.assign_splits(documents, tmp_config)
    assert dataset.assign_splits(list(reversed(documents)), tmp_config) == first
    tmp_config.set("data.seed", "14")
    assert dataset.assign_splits(documents, tmp_config) != first


def test_tiny_strata_go_to_train(tmp_config):
    documents = [
        doc("only", ["x"], stratum="rare"),
        doc("two", ["y"], stratum="pair"),
        doc("three", ["z"], stratum="pair"),
    ]
    assert set(dataset.assign_splits(documents, tmp_config).values()) == {"train"}


def test_official_test_documents_stay_in_test(tmp_config):
    documents = [doc(f"t{n}", ["x"], official_split="test") for n in range(30)]
    documents += [doc(f"r{n}", ["x"], official_split="train") for n in range(90)]
    splits = dataset.assign_splits(documents, tmp_config)
    assert {s for (_, d), s in splits.items() if d.startswith("t")} == {"test"}
    official_train = Counter(s for (_, d), s in splits.items() if d.startswith("r"))
    assert set(official_train) == {"train", "validation"}  # never test
    assert official_train["validation"] == round(90 * 0.1 / 0.9)


def test_a_group_stays_together(tmp_config):
    documents = [doc(f"single{n}", ["x"]) for n in range(40)]
    for group in ("g1", "g2", "g3", "g4"):
        documents += [doc(f"{group}-{n}", ["x"], group=group) for n in range(5)]
    # One member of g1 sits in another stratum: the group still decides its split.
    documents.append(doc("g1-odd", ["x"], group="g1", stratum="other"))
    splits = dataset.assign_splits(documents, tmp_config)
    for group in ("g1", "g2", "g3", "g4"):
        assert len({s for (_, d), s in splits.items() if d.startswith(group)}) == 1, group
    assert len(splits) == len(documents)


def test_adding_a_source_does_not_move_another_sources_documents(tmp_config):
    first = [doc(f"d{n}", ["x"], source="bbc-news", stratum="world") for n in range(30)]
    other = [doc(f"e{n}", ["x"], source="ag-news", stratum="world") for n in range(30)]
    alone = dataset.assign_splits(first, tmp_config)
    together = dataset.assign_splits(first + other, tmp_config)
    assert {k: v for k, v in together.items() if k[0] == "bbc-news"} == alone


# --------------------------------------------------------------------------- fake corpora


def test_build_on_fake_corpora_has_every_kind_from_real_sources(tmp_config, fake_corpora):
    tmp_config.set("paths.corpora_dir", str(fake_corpora))
    frame, card = dataset.build(tmp_config)
    check_schema(frame)
    corpora = frame[frame["source"] != "sample"]
    assert set(corpora["source"]) == set(SOURCES) - {"sample"}
    assert set(corpora["kind"].dropna()) == set(KINDS)
    assert corpora["kind"].isna().any()  # blocks the gold text does not cover
    assert set(corpora["topic"].dropna()) == {
        "world",
        "business",
        "sci_tech",
        "sports",
        "entertainment",
    }
    pages = corpora[corpora["source"].isin(["l3s-gn1", "dragnet", "cleaneval", "wcxb"])]
    html = pages[pages["view"] == "html"]
    assert html["html_tag"].notna().all() and html["dom_depth"].notna().all()
    assert pages["gold_score"].notna().all()
    # Text views (textviews): no HTML columns, each in its page's split, counted in the card.
    views = pages[pages["view"] != "html"]
    assert set(views["view"]) <= {"blocks", "html-text"} and len(views)
    assert views["html_tag"].isna().all() and views["dom_depth"].isna().all()
    page_split = html.drop_duplicates(["source", "doc_id"]).set_index(["source", "doc_id"])["split"]
    for (source, doc_id), split in views.groupby(["source", "doc_id"])["split"].first().items():
        assert page_split[(source, doc_id.split("|")[0])] == split
    assert set(frame.loc[frame["source"] == "sample", "view"]) == {"text"}
    card_views = {(r["source"], r["view"]) for r in card["per_source_view"]}
    assert {(s, v) for s, v in zip(views["source"], views["view"], strict=True)} <= card_views
    kinds_by_source = corpora.groupby("source")["kind"].apply(lambda k: set(k.dropna()))
    assert kinds_by_source["l3s-gn1"] == {"news", "teaser", "boilerplate"}
    assert kinds_by_source["sms-spam"] == {"spam"}
    assert kinds_by_source["webis-native-ads"] == {"spam"}
    # Official splits are kept.
    split_of = corpora.drop_duplicates(["source", "doc_id"]).set_index(["source", "doc_id"])
    assert split_of.loc[("dragnet", "D102"), "split"] == "test"
    assert split_of.loc[("wcxb", "6001"), "split"] == "test"
    assert split_of.loc[("webis-native-ads", "5002-000003-A"), "split"] == "test"
    assert split_of.loc[("dragnet", "D101"), "split"] in {"train", "validation"}

    # Every bad record of the fake corpora is in the data card's drop table.
    dropped = {(d["source"], d["reason"]) for d in card["dropped"]}
    for expected in [
        ("dragnet", "no gold file"),
        ("l3s-gn1", "no text blocks"),
        ("wcxb", "page type is not article"),
        ("readability-testpages", "synthetic parser test page"),
        ("sms-spam", "ham message (no newsclean label)"),
        ("bbc-news", "unknown category 'weather'"),
        ("ag-news", "malformed row (2 fields)"),
        ("webis-native-ads", "no label row"),
    ]:
        assert expected in dropped
    assert {(k["source"], k["reason"]) for k in card["kept_with_warnings"]} == {
        ("clickbait-chakraborty", "bytes decoded with replacement (kept)")
    }
    assert 0 < card["notes"]["l3s_alignment_agreement"] <= 1
    markdown = (tmp_config.paths.reports_dir / "data_card.md").read_text()
    assert "alignment vs L3S span labels" in markdown
    assert "(not dropped)" in markdown
    assert set(card["licences"]) == set(SOURCES)


def test_source_selection(tmp_config, fake_corpora):
    tmp_config.set("paths.corpora_dir", str(fake_corpora))
    tmp_config.set("data.sources", "bbc-news,sms-spam")
    frame, card = dataset.build(tmp_config)
    assert set(frame["source"]) == {"sample", "bbc-news", "sms-spam"}
    assert card["notes"]["sources"] == ["sample", "bbc-news", "sms-spam"]
