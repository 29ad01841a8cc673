"""Our kind annotations: the build join, merging labelled batches, sampling, the CLI tool."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from newsclean.config import load_config
from newsclean.data import annotations as ann
from newsclean.data.sources.base import BuildLog
from newsclean.text import text_sha1
from newsclean.tools import annotate

STALE = "stale annotation: text hash changed"

NEWS = "Officials said on Monday that the new bridge would open to traffic in the spring."
NAV = ["Home", "World", "Sport", "Business"]
PROMO = [
    "Claim a 150% welcome bonus up to £500 plus 50 free spins at Jackpot Casino",
    "Deal of the day: save 60% on wireless earbuds, buy now for $29",
]


def _row(source, doc_id, position, text, kind=None, **extra):
    row = {
        "source": source,
        "doc_id": doc_id,
        "position": position,
        "n_paragraphs": 0,
        "text": text,
        "is_news": kind == "news",
        "kind": kind,
        "topic": None,
        "split": "train",
        "html_tag": "p",
        "link_density": 0.0,
        "dom_depth": 5,
        "css_tokens": "",
        "gold_score": 0.0,
        "text_sha1": text_sha1(text),
    }
    row.update(extra)
    return row


def make_frame(n_docs: int = 6) -> pd.DataFrame:
    """Small page-corpus documents: nav links, the article, promos, related links, footer."""
    rows = []
    for source in ("dragnet", "wcxb", "l3s-gn1"):
        for d in range(n_docs):
            doc = f"{source[:2]}-{d}"
            blocks = [(t, None, {"html_tag": "li", "link_density": 1.0}) for t in NAV]
            blocks += [(f"{NEWS} Paragraph {d}-{i}.", "news", {}) for i in range(3)]
            blocks += [(f"{p} (offer {d})", None, {"css_tokens": "ad sidebar"}) for p in PROMO]
            related = "teaser" if source == "l3s-gn1" else None
            blocks += [
                (f"Council votes to rename harbour square {d}", related, {"html_tag": "li"}),
                (f"Comments ({d})", "boilerplate" if source == "l3s-gn1" else None, {}),
                ("© 2024 The Harwick Herald. All rights reserved.", None, {}),
                ("18.", None, {}),  # trivially empty: no letters
            ]
            for position, (text, kind, extra) in enumerate(blocks):
                rows.append(_row(source, doc, position, text, kind, **extra))
    frame = pd.DataFrame(rows)
    frame["n_paragraphs"] = frame.groupby(["source", "doc_id"])["text"].transform("size")
    return frame


def write_annotations(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=ann.CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({"guideline_version": "v1", "pass": 1, "annotator": "test", **row})


def annotation_for(frame, source, doc_id, position, kind, **extra):
    row = frame[
        (frame["source"] == source) & (frame["doc_id"] == doc_id) & (frame["position"] == position)
    ].iloc[0]
    return {
        "source": source,
        "doc_id": doc_id,
        "position": position,
        "text_sha1": row["text_sha1"],
        "kind": kind,
        **extra,
    }


def _get(frame, source, doc_id, position):
    return frame[
        (frame["source"] == source) & (frame["doc_id"] == doc_id) & (frame["position"] == position)
    ].iloc[0]


# ------------------------------------------------------------------ the join


def test_matching_hash_applies_kind_and_is_news(tmp_path):
    frame = make_frame()
    write_annotations(
        tmp_path / "kind_v1.csv",
        [
            annotation_for(frame, "dragnet", "dr-0", 7, "spam"),
            annotation_for(frame, "dragnet", "dr-0", 0, "boilerplate"),
            annotation_for(frame, "wcxb", "wc-1", 9, "teaser"),
            annotation_for(frame, "wcxb", "wc-1", 11, "news"),  # alignment missed it
        ],
    )
    log = BuildLog()
    out = ann.apply_annotations(frame, tmp_path, log)
    assert _get(out, "dragnet", "dr-0", 7)["kind"] == "spam"
    assert _get(out, "dragnet", "dr-0", 0)["kind"] == "boilerplate"
    assert _get(out, "wcxb", "wc-1", 9)["kind"] == "teaser"
    news = _get(out, "wcxb", "wc-1", 11)
    assert news["kind"] == "news" and bool(news["is_news"]) is True
    assert not bool(_get(out, "dragnet", "dr-0", 7)["is_news"])
    assert log.notes["annotation.dragnet.applied.spam"] == 1
    assert log.notes["annotation.wcxb.applied.news"] == 1
    assert log.notes["annotation.applied"] == 4
    assert log.total_dropped() == 0
    # the input frame is not modified; other rows are untouched
    assert pd.isna(_get(frame, "dragnet", "dr-0", 7)["kind"])
    assert pd.isna(_get(out, "dragnet", "dr-1", 7)["kind"])
    assert out["is_news"].dtype == bool


def test_stale_hash_is_reported_and_skipped(tmp_path):
    frame = make_frame()
    stale = annotation_for(frame, "dragnet", "dr-2", 7, "spam", text_sha1=text_sha1("old text"))
    write_annotations(tmp_path / "kind_v1.csv", [stale])
    log = BuildLog()
    out = ann.apply_annotations(frame, tmp_path, log)
    assert pd.isna(_get(out, "dragnet", "dr-2", 7)["kind"])
    assert log.drops[("dragnet", STALE)] == 1
    assert log.notes["annotation.stale"] == 1
    assert log.notes["annotation.applied"] == 0


def test_unknown_label_is_reported_and_skipped(tmp_path):
    frame = make_frame()
    write_annotations(
        tmp_path / "kind_v1.csv",
        [
            annotation_for(frame, "dragnet", "dr-0", 7, "advert"),
            annotation_for(frame, "dragnet", "dr-0", 8, "spam", **{"pass": 3}),
        ],
    )
    log = BuildLog()
    out = ann.apply_annotations(frame, tmp_path, log)
    assert pd.isna(_get(out, "dragnet", "dr-0", 7)["kind"])
    assert pd.isna(_get(out, "dragnet", "dr-0", 8)["kind"])
    assert log.drops[("dragnet", "unknown annotation kind 'advert'")] == 1
    assert log.drops[("dragnet", "unknown annotation pass '3'")] == 1


def test_missing_row_and_unbuilt_source(tmp_path):
    frame = make_frame()
    missing = {**annotation_for(frame, "dragnet", "dr-0", 7, "spam"), "doc_id": "no-such-doc"}
    other = {**annotation_for(frame, "dragnet", "dr-0", 7, "spam"), "source": "cleaneval"}
    write_annotations(tmp_path / "kind_v1.csv", [missing, other])
    log = BuildLog()
    ann.apply_annotations(frame, tmp_path, log)
    assert log.notes["annotation.missing_row"] == 1
    assert [reason for (_, reason) in log.drops] == [
        "annotation points at no row (document or block not in the build)"
    ]
    # annotations of a corpus the build did not read are counted, not reported as drops
    assert log.notes["annotation.skipped_source_not_built"] == 1


def test_unclear_is_stored_but_not_applied(tmp_path):
    frame = make_frame()
    write_annotations(
        tmp_path / "kind_v1.csv", [annotation_for(frame, "wcxb", "wc-0", 12, "unclear")]
    )
    log = BuildLog()
    out = ann.apply_annotations(frame, tmp_path, log)
    assert pd.isna(_get(out, "wcxb", "wc-0", 12)["kind"])
    assert log.notes["annotation.unclear"] == 1
    assert log.notes["annotation.wcxb.unclear"] == 1
    assert log.total_dropped() == 0


def test_known_kinds_are_not_overridden_but_compared(tmp_path):
    frame = make_frame()
    write_annotations(
        tmp_path / "kind_v1.csv",
        [
            annotation_for(frame, "l3s-gn1", "l3-0", 9, "teaser"),  # L3S related → agrees
            annotation_for(frame, "l3s-gn1", "l3-1", 9, "teaser"),
            annotation_for(frame, "l3s-gn1", "l3-2", 9, "boilerplate"),  # disagrees
            annotation_for(frame, "l3s-gn1", "l3-0", 10, "boilerplate"),  # comments → agrees
            annotation_for(frame, "l3s-gn1", "l3-0", 4, "boilerplate"),  # L3S news
        ],
    )
    log = BuildLog()
    out = ann.apply_annotations(frame, tmp_path, log)
    assert _get(out, "l3s-gn1", "l3-2", 9)["kind"] == "teaser"
    assert _get(out, "l3s-gn1", "l3-0", 4)["kind"] == "news"
    assert log.notes["annotation.applied"] == 0
    assert log.notes["annotation.l3s-gn1.corpus_label_n"] == 5
    assert log.notes["annotation.l3s-gn1.corpus_label_agreement"] == pytest.approx(3 / 5, abs=1e-4)
    confusion = log.notes["annotation.l3s-gn1.corpus_label_confusion"]
    assert "teaser→teaser 2" in confusion and "teaser→boilerplate 1" in confusion
    assert "news→boilerplate 1" in confusion


def test_conflicting_annotations_are_skipped(tmp_path):
    frame = make_frame()
    write_annotations(
        tmp_path / "kind_v1.csv", [annotation_for(frame, "dragnet", "dr-0", 7, "spam")]
    )
    write_annotations(
        tmp_path / "kind_user.csv",
        [
            annotation_for(frame, "dragnet", "dr-0", 7, "teaser"),
            annotation_for(frame, "dragnet", "dr-0", 8, "spam"),
        ],
    )
    write_annotations(
        tmp_path / "kind_zz.csv", [annotation_for(frame, "dragnet", "dr-0", 8, "spam")]
    )
    log = BuildLog()
    out = ann.apply_annotations(frame, tmp_path, log)
    assert pd.isna(_get(out, "dragnet", "dr-0", 7)["kind"])
    assert log.drops[("dragnet", "conflicting annotations")] == 2
    assert _get(out, "dragnet", "dr-0", 8)["kind"] == "spam"  # identical repeats are fine


def test_no_annotations_leaves_the_frame_alone(tmp_path):
    frame = make_frame()
    log = BuildLog()
    assert ann.apply_annotations(frame, tmp_path / "absent", log) is frame
    assert log.notes == {} and log.total_dropped() == 0


def test_kappa_between_passes(tmp_path):
    frame = make_frame()
    first_kinds = ["spam", "spam", "boilerplate", "teaser", "boilerplate", "unclear"]
    second_kinds = ["spam", "boilerplate", "boilerplate", "teaser", "boilerplate", "boilerplate"]
    blocks = [("dragnet", f"dr-{d}", p) for d in range(3) for p in (7, 8)]
    write_annotations(
        tmp_path / "kind_v1.csv",
        [annotation_for(frame, *b, k) for b, k in zip(blocks, first_kinds, strict=True)]
        + [
            annotation_for(frame, *b, k, **{"pass": 2, "annotator": "second"})
            for b, k in zip(blocks, second_kinds, strict=True)
        ]
        # pass 2 only: no pair, not counted
        + [annotation_for(frame, "wcxb", "wc-0", 0, "boilerplate", **{"pass": 2})],
    )
    log = BuildLog()
    out = ann.apply_annotations(frame, tmp_path, log)
    expected = round(cohen_kappa_score(first_kinds, second_kinds), 4)
    assert log.notes["annotation.kappa"] == pytest.approx(expected)
    assert log.notes["annotation.kappa_n"] == 6
    assert log.notes["annotation.pass2_blocks"] == 7
    assert log.notes["annotation.pass_agreement"] == pytest.approx(4 / 6, abs=1e-4)
    assert log.notes["annotation.kappa_kinds_n"] == 5
    assert "spam→boilerplate 1" in log.notes["annotation.pass_disagreements"]
    # pass 2 is never applied
    assert pd.isna(_get(out, "wcxb", "wc-0", 0)["kind"])
    assert _get(out, "dragnet", "dr-0", 8)["kind"] == "spam"


def test_cohen_kappa_edge_cases():
    assert ann.cohen_kappa([], []) is None
    assert ann.cohen_kappa(["spam"], ["spam"]) is None
    assert ann.cohen_kappa(["spam", "spam"], ["spam", "spam"]) == 1.0


# ------------------------------------------------------------------ sampling and export


def test_sampler_is_deterministic_and_stratified():
    frame = make_frame(n_docs=10)
    first = annotate.sample_for_annotation(frame, 40, seed=7, n_check=6)
    again = annotate.sample_for_annotation(
        frame.sample(frac=1, random_state=3), 40, seed=7, n_check=6
    )
    cols = ["source", "doc_id", "position"]
    pd.testing.assert_frame_equal(
        first[cols].sort_values(cols).reset_index(drop=True),
        again[cols].sort_values(cols).reset_index(drop=True),
    )
    other = annotate.sample_for_annotation(frame, 40, seed=8, n_check=6)
    assert set(map(tuple, other[cols].values)) != set(map(tuple, first[cols].values))

    unknown = first[~first["check"]]
    assert len(unknown) == 40
    assert unknown["kind"].isna().all()  # only blocks of unknown kind, never the article
    assert set(unknown["source"]) == {"dragnet", "wcxb", "l3s-gn1"}
    assert not (unknown["text"] == "18.").any()  # trivially empty blocks left out
    # promotional blocks are oversampled: 2 of 10 candidates per page, far more in the sample
    pool = ann.candidate_blocks(frame)
    share_pool = (pool["promo_bucket"] == 2).mean()
    share_sample = (unknown["promo_bucket"] == 2).mean()
    assert share_sample > 1.5 * share_pool
    # identical texts are capped (the footer repeats on every page)
    assert (unknown["text"].str.startswith("© 2024")).sum() <= 2 * 3

    checks = first[first["check"]]
    assert len(checks) == 6
    assert set(checks["source"]) == {"l3s-gn1"}
    assert sorted(checks["kind"].value_counts().tolist()) == [3, 3]


def test_export_batches_and_pass2(tmp_path):
    frame = make_frame(n_docs=10)
    sample = annotate.sample_for_annotation(frame, 36, seed=3, n_check=6)
    manifest = annotate.export_batches(frame, sample, tmp_path, n_batches=3, n_pass2=9, seed=3)
    assert manifest["batches"] == {f"batch_0{i}.jsonl": 14 for i in (1, 2, 3)}
    records = [
        json.loads(line)
        for i in (1, 2, 3)
        for line in (tmp_path / f"batch_0{i}.jsonl").read_text().splitlines()
    ]
    assert len(records) == 42 and len({r["id"] for r in records}) == 42
    for record in records:
        assert "kind" not in record and "is_news" not in record  # annotators see no label
        row = _get(frame, record["source"], record["doc_id"], record["position"])
        assert record["text"] == row["text"] and record["text_sha1"] == row["text_sha1"]
        assert len(record["context_before"]) <= 2 and len(record["context_after"]) <= 2
    promo = next(r for r in records if r["position"] == 7)
    doc = promo["doc_id"].split("-")[1]
    assert promo["context_before"] == [f"{NEWS} Paragraph {doc}-1.", f"{NEWS} Paragraph {doc}-2."]
    assert promo["context_after"][0].startswith(PROMO[1])
    assert promo["page_article"][0] == f"{NEWS} Paragraph {doc}-0."
    assert set(records[0]) >= {"html_tag", "link_density", "css_tokens"}

    second = [json.loads(x) for x in (tmp_path / "pass2.jsonl").read_text().splitlines()]
    assert len(second) == 9 and all(r["id"].startswith("p2-") for r in second)
    keys = {(r["source"], r["doc_id"], r["position"]) for r in records}
    assert {(r["source"], r["doc_id"], r["position"]) for r in second} <= keys
    assert sum(manifest["pass2"]["per_batch"].values()) == 9
    assert len(manifest["pass2"]["per_batch"]) == 3  # spread over the batches

    (tmp_path / "labels_batch_01.csv").write_text("id,kind\n")
    with pytest.raises(FileExistsError):
        annotate.export_batches(frame, sample, tmp_path, n_batches=3, n_pass2=9, seed=3)


def test_merge_labels_writes_keys_not_text(tmp_path):
    frame = make_frame(n_docs=4)
    sample = annotate.sample_for_annotation(frame, 20, seed=1, n_check=0)
    interim = tmp_path / "interim"
    annotate.export_batches(frame, sample, interim, n_batches=2, n_pass2=4, seed=1)
    batch1 = [json.loads(x) for x in (interim / "batch_01.jsonl").read_text().splitlines()]
    batch2 = [json.loads(x) for x in (interim / "batch_02.jsonl").read_text().splitlines()]
    codes = ["s", "teaser", "B", "u", "news"]
    (interim / "labels_batch_01.csv").write_text(
        "id,kind\n" + "".join(f"{r['id']},{codes[i % 5]}\n" for i, r in enumerate(batch1))
    )
    (interim / "labels_batch_02.csv").write_text(
        "id,kind\n" + "".join(f"{r['id']},boilerplate\n" for r in batch2[:3])
    )
    out = tmp_path / "annotations" / "kind_v1.csv"
    result = annotate.merge_labels(interim, out, 1, "alice", "v1")
    assert result["written"] == len(batch1) + 3
    assert result["unlabelled"] == len(batch2) - 3
    text = out.read_text()
    lines = text.splitlines()
    assert lines[0] == ",".join(ann.CSV_COLUMNS)
    for record in batch1 + batch2:
        assert record["text"] not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["kind"] for r in rows} == {"spam", "teaser", "boilerplate", "unclear", "news"}
    assert {r["pass"] for r in rows} == {"1"} and {r["annotator"] for r in rows} == {"alice"}
    keys = [(r["pass"], r["source"], r["doc_id"], int(r["position"])) for r in rows]
    assert keys == sorted(keys)
    by_id = {r["id"]: r for r in batch1}
    sample_row = by_id[batch1[0]["id"]]
    assert any(
        r["doc_id"] == sample_row["doc_id"] and r["text_sha1"] == sample_row["text_sha1"]
        for r in rows
    )

    # idempotent: merging again changes nothing
    annotate.merge_labels(interim, out, 1, "alice", "v1")
    assert out.read_text() == text

    # pass 2 goes to the same file with pass = 2
    second = [json.loads(x) for x in (interim / "pass2.jsonl").read_text().splitlines()]
    (interim / "labels_pass2.csv").write_text(
        "id,kind\n" + "".join(f"{r['id']},b\n" for r in second)
    )
    assert annotate.merge_labels(interim, out, 2, "bob", "v1")["same_annotator_both_passes"] == 0
    assert annotate.merge_labels(interim, out, 2, "alice", "v1")["same_annotator_both_passes"] > 0
    annotate.merge_labels(interim, out, 2, "bob", "v1")
    rows = list(csv.DictReader(out.open()))
    assert sum(r["pass"] == "2" for r in rows) == len(second)
    labelled = {(r["doc_id"], r["position"]) for r in batch1 + batch2[:3]}
    log = BuildLog()
    ann.apply_annotations(frame, out.parent, log)
    assert log.notes["annotation.pass2_blocks"] == len(second)
    assert log.notes["annotation.kappa_n"] == sum(
        (r["doc_id"], r["position"]) in labelled for r in second
    )


def test_merge_labels_rejects_unknown_ids_and_kinds(tmp_path):
    frame = make_frame(n_docs=2)
    sample = annotate.sample_for_annotation(frame, 8, seed=1, n_check=0)
    annotate.export_batches(frame, sample, tmp_path, n_batches=1, n_pass2=2, seed=1)
    first = json.loads((tmp_path / "batch_01.jsonl").read_text().splitlines()[0])
    (tmp_path / "labels_batch_01.csv").write_text(f"id,kind\n{first['id']},ad\nb01-9999,spam\n")
    out = tmp_path / "kind_v1.csv"
    with pytest.raises(ValueError, match="unknown kind 'ad'") as error:
        annotate.merge_labels(tmp_path, out, 1, "alice")
    assert "unknown id 'b01-9999'" in str(error.value)
    assert not out.exists()


# ------------------------------------------------------------------ newsclean annotate


def test_annotate_interactive_writes_rows_from_a_scripted_session(tmp_path):
    frame = make_frame(n_docs=2)
    config = load_config(environ={})
    config.paths.annotations_dir = tmp_path / "annotations"
    out_path = config.paths.annotations_dir / "kind_user.csv"
    answers = io.StringIO("t\nx\nb\nk\nu\nspam\nq\n")
    screen = io.StringIO()
    written = annotate.annotate_interactive(
        config, "wcxb", 10, "carol", out_path, input=answers, output=screen, frame=frame
    )
    assert written == 4  # t, b, u, spam; "x" re-asked, "k" skipped, "q" stopped
    text = screen.getvalue()
    assert ">>>" in text and "wcxb" in text and "css:" in text and "n = news" in text
    rows = list(csv.DictReader(out_path.open()))
    assert [r["kind"] for r in rows] == ["teaser", "boilerplate", "unclear", "spam"]
    for r in rows:
        assert r["source"] == "wcxb" and r["pass"] == "1" and r["guideline_version"] == "v1"
        assert r["annotator"] == "carol"
        assert r["text_sha1"] == _get(frame, "wcxb", r["doc_id"], int(r["position"]))["text_sha1"]
    assert list(rows[0]) == ann.CSV_COLUMNS

    # a second session skips what is annotated (and what was skipped comes back)
    again = annotate.annotate_interactive(
        config,
        "wcxb",
        3,
        "carol",
        out_path,
        input=io.StringIO(""),
        output=io.StringIO(),
        frame=frame,
    )
    assert again == 0
    keys = {(r["doc_id"], r["position"]) for r in csv.DictReader(out_path.open())}
    assert len(keys) == 4

    # the tool's rows are what the build joins
    log = BuildLog()
    ann.apply_annotations(frame, config.paths.annotations_dir, log)
    assert log.notes["annotation.applied"] == 3 and log.notes["annotation.unclear"] == 1


def test_annotate_interactive_rejects_a_text_corpus(tmp_path):
    config = load_config(environ={})
    config.paths.annotations_dir = tmp_path
    with pytest.raises(ValueError):
        annotate.annotate_interactive(config, "sms-spam", frame=make_frame(1), output=io.StringIO())


# ------------------------------------------------------------------ estimates and the build


def test_estimate_kinds_scales_stratum_shares_to_stratum_sizes():
    frame = make_frame(n_docs=10)
    pool = ann.candidate_blocks(frame, ["dragnet"])
    promos = pool[pool["stratum"].str.startswith("promo2")]
    labelled = promos.head(4).assign(kind="spam")
    table = ann.estimate_kinds(frame, labelled)
    # the labelled promo stratum holds 20 blocks (2 per page): all estimated spam
    assert table.loc["dragnet", "spam"] == len(promos)
    assert table.loc["dragnet", "candidates"] == len(pool)
    assert table.loc["dragnet", "unlabelled_strata_blocks"] == len(pool) - len(promos)


def test_the_dataset_build_joins_annotations(tmp_config, fake_corpora, tmp_path):
    from newsclean.data import dataset

    tmp_config.set("paths.corpora_dir", str(fake_corpora))
    tmp_config.set("paths.annotations_dir", str(tmp_path / "annotations"))
    frame, _ = dataset.build(tmp_config)
    unknown = frame[frame["source"].isin(ann.PAGE_SOURCES) & frame["kind"].isna()]
    first, second = unknown.iloc[0], unknown.iloc[1]
    keys = ["source", "doc_id", "position", "text_sha1"]
    write_annotations(
        tmp_config.paths.annotations_dir / "kind_v1.csv",
        [
            {**first[keys].to_dict(), "kind": "spam"},
            {**second[keys].to_dict(), "kind": "teaser", "text_sha1": text_sha1("old")},
            {**first[keys].to_dict(), "kind": "spam", "pass": 2, "annotator": "second"},
        ],
    )
    frame, card = dataset.build(tmp_config)
    row = _get(frame, first["source"], first["doc_id"], first["position"])
    assert row["kind"] == "spam" and not row["is_news"]
    assert pd.isna(_get(frame, second["source"], second["doc_id"], second["position"])["kind"])
    assert card["notes"][f"annotation.{first['source']}.applied.spam"] == 1
    assert {"source": second["source"], "reason": STALE, "count": 1} in card["dropped"]
    markdown = (tmp_config.paths.reports_dir / "data_card.md").read_text()
    assert f"annotation.{first['source']}.applied.spam" in markdown
    assert "annotation.kappa" in markdown
