"""The benchmark on two fixture pages: every number is produced, written and logged."""

from __future__ import annotations

import json
import os
import sys

import pytest

from clean_support import CLEAN_BENCH
from newsclean.segmentation import TEXT_RENDERINGS
from newsclean.tools import bench

pytestmark = pytest.mark.slow


def test_tiny_bench_writes_the_report_and_logs_it(cleaner_store, tmp_path):
    import mlflow

    from newsclean import tracking

    pages = bench.pages_from_files(
        sorted(CLEAN_BENCH.glob("*.html")), sorted(CLEAN_BENCH.glob("*.txt")), "fixtures"
    )
    assert [p.doc_id for p in pages] == ["lighthouse", "regatta"]
    out = tmp_path / "reports"
    report = bench.run(
        cleaner_store.config,
        pages,
        systems=("newsclean", "trafilatura"),
        scale_base=2,
        scales=(1, 2, 4),
        repeats=1,
        workers=2,
        out_dir=out,
    )
    saved = json.loads((out / "bench.json").read_text())
    markdown = (out / "bench.md").read_text()
    assert saved["pages"] == 2
    ours, peer = saved["systems"]
    assert ours["system"] == "newsclean" and peer["system"] == "trafilatura"
    for system in saved["systems"]:
        assert system["pages_per_s"] > 0 and 0 <= system["f1_f1"] <= 1
        assert system["peak_rss_mb"] >= system["rss_loaded_mb"] > 0
    assert ours["text_paragraphs"] > 0 and ours["text_paragraphs_per_s"] > 0
    assert {"segmentation", "kind", "junk", "topics"} <= set(ours["stage_seconds"])
    assert [r["pages"] for r in saved["scaling"]] == [2, 4, 8]
    assert "log_log_slope" in saved["linearity"]
    assert [r["workers"] for r in saved["batch"]] == [1, 2]
    assert all(r["failed"] == 0 and r["pages"] == 2 for r in saved["batch"])
    assert saved["versus_peers"]["trafilatura"]["speed_ratio"] > 0
    assert "| newsclean |" in markdown and "| trafilatura |" in markdown
    assert "Time against input size" in markdown
    assert saved["spark"]["skipped"] and "Not measured: not asked" in markdown
    older = {k: v for k, v in saved.items() if k != "spark"}  # reports before the Spark section
    assert "## Spark" not in bench.markdown(older) and "| newsclean |" in bench.markdown(older)
    # Text input: every system on every rendering, scored per corpus and overall.
    inputs = [f"text:{r}" for r in TEXT_RENDERINGS]
    for system in saved["systems"]:
        assert list(system["text_inputs"]) == inputs
        for measured in system["text_inputs"].values():
            assert measured["pages"] == 2 and measured["pages_per_s"] > 0
            assert 0 <= measured["f1_f1"] <= 1 and "outputs" not in measured
    rows = saved["quality_by_corpus"]
    assert {(q["system"], q["input"], q["corpus"]) for q in rows} == {
        (s, i, "fixtures") for s in ("newsclean", "trafilatura") for i in ["html", *inputs]
    }
    assert all(0 <= q[k] <= 1 for q in rows for k in ("precision", "recall", "f1"))
    assert "## Text input (the page as plain text, one paragraph per line" in markdown
    assert "Rendering the HTML to text is not timed" in markdown
    assert all(f"### `{i}`" in markdown for i in inputs)
    assert "| newsclean − best peer |" in markdown and "(trafilatura)" in markdown
    html_only = {  # reports before the text-input section
        **older,
        "systems": [{k: v for k, v in s.items() if k != "text_inputs"} for s in saved["systems"]],
        "quality_by_corpus": [
            {k: v for k, v in q.items() if k != "input"} for q in rows if q["input"] == "html"
        ],
    }
    assert "## Text input" not in bench.markdown(html_only)
    assert "| fixtures | 2 |" in bench.markdown(html_only)
    tracking.configure(cleaner_store.config)
    run = mlflow.get_run(report["mlflow_run_id"])
    assert run.data.metrics["newsclean_pages_per_s"] == pytest.approx(ours["pages_per_s"])
    assert "speed_ratio_vs_trafilatura" in run.data.metrics
    text = ours["text_inputs"]["text:html-text"]
    assert run.data.metrics["newsclean_page_f1_text_html_text_all"] == pytest.approx(text["f1_f1"])
    assert run.data.metrics["newsclean_text_html_text_pages_per_s"] == pytest.approx(
        text["pages_per_s"]
    )
    for system in ("newsclean", "trafilatura"):
        for rendering in ("blocks", "html_text"):
            assert f"{system}_page_f1_text_{rendering}_fixtures" in run.data.metrics
            assert f"{system}_page_f1_text_{rendering}_all" in run.data.metrics
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert experiment.name == cleaner_store.config.tracking.bench_experiment


@pytest.mark.spark
def test_spark_section_times_clean_spark_against_the_cli(cleaner_store, tmp_path):
    """The Spark section on 4 articles (the 2 fixture pages twice), Spark on local[2] only to
    keep it short: every command ran, wrote every article, and its figures are logged."""
    import mlflow

    from newsclean import tracking

    pytest.importorskip("pyspark", reason="pyspark (`spark` extra)")
    if bench.spark_unavailable():
        pytest.skip(bench.spark_unavailable())
    pages = bench.pages_from_files(
        sorted(CLEAN_BENCH.glob("*.html")), sorted(CLEAN_BENCH.glob("*.txt")), "fixtures"
    )
    out = tmp_path / "reports"
    report = bench.run(
        cleaner_store.config,
        pages,
        systems=("newsclean",),
        scale_base=1,
        scales=(1,),
        repeats=1,
        workers=1,
        out_dir=out,
        spark_articles=4,
        spark_masters=("local[2]",),
        work_dir=tmp_path,
    )
    spark = json.loads((out / "bench.json").read_text())["spark"]
    assert spark["articles"] == 4 and spark["copies"] == 2 and spark["problems"] == []
    assert [r["key"] for r in spark["systems"]] == ["cli1", "spark_local2"]
    for row in spark["systems"]:
        assert row["ok"] and row["articles"] == 4 and row["single"]["articles"] == 1
        assert row["batch"]["status"] == 0 and row["single"]["status"] == 0
        assert row["seconds"] > 0 and row["startup_seconds"] > 0 and row["articles_per_s"] > 0
        assert row["speedup_vs_cli1"] > 0
        # 4 articles are too few to tell the steady rate from start-up noise every time
        assert row["steady_articles_per_s"] is None or row["steady_articles_per_s"] > 0
    assert spark["systems"][1]["batch"]["job_seconds"] > 0  # parsed from its summary line
    assert list(tmp_path.glob("spark-*")) == []  # the batch and outputs are removed
    markdown = (out / "bench.md").read_text()
    assert "## Spark (`newsclean clean-spark`)" in markdown
    assert "| Spark `local[2]` | 4 |" in markdown
    assert "| `newsclean clean`, 1 process | 4 |" in markdown
    assert "Spark start-up overhead:" in markdown and "⚠" not in markdown
    tracking.configure(cleaner_store.config)
    metrics = mlflow.get_run(report["mlflow_run_id"]).data.metrics
    assert metrics["spark_local2_articles_per_s"] == pytest.approx(
        spark["systems"][1]["articles_per_s"]
    )
    assert metrics["cli1_articles_per_s"] > 0 and metrics["spark_startup_s"] > 0
    assert metrics["spark_local2_speedup_vs_cli1"] > 0 and metrics["spark_problems"] == 0


def test_spark_batch_and_a_failed_or_skipped_section(tmp_path, monkeypatch):
    """The batch cycles through the pages with distinct ids; a failed command is flagged in
    the report, not raised; no PySpark or Java: the section says so."""
    pages = bench.pages_from_files(
        sorted(CLEAN_BENCH.glob("*.html")), sorted(CLEAN_BENCH.glob("*.txt")), "fixtures"
    )
    ids = bench.write_spark_batch(pages, 5, tmp_path / "batch.jsonl")
    assert ids == [
        "fixtures-lighthouse-0",
        "fixtures-regatta-0",
        "fixtures-lighthouse-1",
        "fixtures-regatta-1",
        "fixtures-lighthouse-2",
    ]
    records = [json.loads(line) for line in (tmp_path / "batch.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ids and records[0]["html"] == records[2]["html"]
    assert "<html" in records[0]["html"].lower()

    failed = bench._measure_command(
        "fails",
        [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"],
        tmp_path / "none.out",
        dict(os.environ),
        tmp_path,
        False,
        ids,
        tmp_path / "logs",
    )
    assert (tmp_path / "logs" / "bench-fails.stderr").read_text() == "boom\n"
    assert failed["stderr_log"] == str(tmp_path / "logs" / "bench-fails.stderr")
    assert failed["status"] == 3 and failed["articles"] == 0 and failed["seconds"] > 0
    assert "exit status 3" in failed["problem"] and "0 articles out of 5" in failed["problem"]
    assert "boom" in failed["problem"]

    monkeypatch.setattr(bench, "spark_unavailable", lambda: "no Java here")
    section = bench.measure_spark(None, pages, 4, None, 2)
    assert section["skipped"] == "no Java here"
    assert bench._spark_metrics(section) == {}
    assert "Not measured: no Java here." in "\n".join(bench._spark_markdown(section))


def test_text_input_section_leads_over_keep_all_and_the_best_peer():
    """newsclean's lead per corpus and overall, over keep-all and over the best other peer."""
    f1 = {
        ("newsclean", "a"): 0.9,
        ("newsclean", "b"): 0.5,
        ("trafilatura", "a"): 0.8,
        ("trafilatura", "b"): 0.4,
        ("justext", "a"): 0.7,
        ("justext", "b"): 0.6,
        ("keep-all", "a"): 0.3,
        ("keep-all", "b"): 0.2,
    }
    systems = ["newsclean", "trafilatura", "justext", "keep-all"]
    report = {
        "systems": [
            {"system": s, "text_inputs": {"text:blocks": {"pages_per_s": 10.0, "f1_f1": 0.5}}}
            for s in systems
        ],
        "quality_by_corpus": [
            {"system": s, "input": i, "corpus": c, "f1": f}
            for (s, c), f in f1.items()
            for i in ("html", "text:blocks")
        ],
    }
    lines = bench._text_markdown(report)
    assert "| system | pages/s (1 core) | a | b | all |" in lines
    assert "| justext | 10.0 | 0.7000 | 0.6000 | 0.5000 |" in lines
    assert "| newsclean − keep-all | | +0.6000 | +0.3000 | +0.0000 |" in lines
    assert (
        "| newsclean − best peer | | +0.1000 (trafilatura) | -0.1000 (justext) | "
        "+0.0000 (trafilatura) |"
    ) in lines


def test_markdown_of_a_saved_report_and_missing_corpora(tmp_config):
    with pytest.raises(FileNotFoundError, match="real corpora"):
        bench.load_test_pages(tmp_config, tmp_config.paths.reports_dir / "pages")
