"""The benchmark on two fixture pages: every number is produced, written and logged."""

from __future__ import annotations

import json

import pytest

from clean_support import CLEAN_BENCH
from newsclean import bench

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
    tracking.configure(cleaner_store.config)
    run = mlflow.get_run(report["mlflow_run_id"])
    assert run.data.metrics["newsclean_pages_per_s"] == pytest.approx(ours["pages_per_s"])
    assert "speed_ratio_vs_trafilatura" in run.data.metrics
    experiment = mlflow.get_experiment(run.info.experiment_id)
    assert experiment.name == bench.BENCH_EXPERIMENT


def test_markdown_of_a_saved_report_and_missing_corpora(tmp_config):
    with pytest.raises(FileNotFoundError, match="real corpora"):
        bench.load_test_pages(tmp_config, tmp_config.paths.reports_dir / "pages")
