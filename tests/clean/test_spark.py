"""``newsclean clean-spark``: a local Spark job with the registered cleaner gives exactly what
``newsclean clean --jsonl`` gives, and bad records are counted and written to the rejects.

The Spark tests are marked ``spark``: they run in ``make test`` (and CI). pyspark comes from the
``spark`` extra that ``make setup`` installs; Java comes from Debian's openjdk package, which
the session fixture installs with apt-get when it is missing (CI runs as root).
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
from pathlib import Path

import pytest

from clean_support import CLEAN_INPUTS
from newsclean.clean import batch
from newsclean.clean import spark as nc_spark
from newsclean.tools import cli

BATCH = CLEAN_INPUTS / "batch.jsonl"


# ------------------------------------------------------------------ helpers without Spark


def test_detect_format_by_name_and_by_directory_content(tmp_path):
    assert nc_spark.detect_format(["crawl/part-0.jsonl.gz", "x.ndjson"]) == "jsonl"
    assert nc_spark.detect_format(["s3a://bucket/crawl.parquet"]) == "parquet"
    (tmp_path / "a.parquet").write_bytes(b"")
    (tmp_path / "_SUCCESS").write_bytes(b"")
    assert nc_spark.detect_format([str(tmp_path)]) == "parquet"
    (tmp_path / "b.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="both JSONL and Parquet.*--format"):
        nc_spark.detect_format([str(tmp_path)])
    with pytest.raises(ValueError, match="--format"):
        nc_spark.detect_format(["hdfs://crawl/articles"])


def test_local_path_turns_file_uris_into_the_paths_the_cli_prints():
    assert nc_spark.local_path("file:/data/my%20crawl/a.jsonl") == "/data/my crawl/a.jsonl"
    assert nc_spark.local_path("file:///data/a.jsonl") == "/data/a.jsonl"
    assert nc_spark.local_path("s3a://bucket/a.jsonl") == "s3a://bucket/a.jsonl"


def test_check_records_parses_like_the_cli_and_names_bad_records():
    values = [
        '{"id": "a", "text": "Some text."}',
        '{"paragraphs": ["One.", "Two."]}',
        '{"id": "c", "html": "<p>Hi</p>"}',
        "{not json",
        '{"id": "e", "title": "no text"}',
        '{"id": "f", "text": 5}',
    ]
    numbers = [1, 2, 3, 4, 5, 6]
    frame = nc_spark.check_records(values, ["file:/in/b.jsonl"] * 6, numbers, "line")
    rows = frame.to_dict(orient="records")
    assert [r["id"] for r in rows[:3]] == ["a", "b-2", "c"]  # the CLI's default id: file-line
    assert [r["format"] for r in rows[:3]] == ["text", "paragraphs", "html"]
    assert rows[1]["paragraphs"] == ["One.", "Two."]
    assert frame["error"].isna().tolist()[:3] == [True, True, True]
    assert rows[3]["error"].startswith("invalid JSON")
    assert "no 'text', 'paragraphs' or 'html' field (unknown fields: title)" in rows[4]["error"]
    assert rows[5]["error"] == "'text' must be a string, got int"


def test_package_zip_is_importable_for_executors(tmp_path):
    import subprocess
    import sys

    archive = nc_spark.package_zip(tmp_path)
    code = (
        "import newsclean.clean.spark, newsclean.clean.inputs; "
        "print(newsclean.clean.spark.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(archive)!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == str(archive / "newsclean" / "clean" / "spark.py")


def test_missing_java_is_a_clear_message(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(nc_spark.shutil, "which", lambda name: None)
    problem = nc_spark.java_problem()
    assert "Java runtime" in problem and "openjdk-17-jre-headless" in problem
    with pytest.raises(nc_spark.SparkUnavailableError, match="Java"):
        nc_spark.start_session("local[1]")


def test_an_old_java_is_a_clear_message(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert nc_spark.java_major_version(fake) == 11
    assert "Java 17 or newer" in nc_spark.java_problem()
    assert "is Java 11" in nc_spark.java_problem()
    fake.write_text("#!/bin/sh\necho 'java version \"1.8.0_292\"' >&2\n")
    assert nc_spark.java_major_version(fake) == 8


def test_cli_without_a_model_fails_before_starting_spark(tmp_path, capsys):
    status = cli.main(
        [
            "--set",
            f"tracking.tracking_uri=sqlite:///{tmp_path / 'none.db'}",
            "--set",
            f"tracking.artifact_root={tmp_path / 'mlruns'}",
            "clean-spark",
            str(BATCH),
            str(tmp_path / "out"),
        ]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert "newsclean clean-spark: no trained cleaner" in err and "make train" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ Spark jobs


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark", reason="pyspark (`spark` extra)")
    if nc_spark.java_problem():
        from newsclean.tools.server import apt_install

        reason = apt_install(["openjdk-17-jre-headless"])
        if nc_spark.java_problem():
            pytest.skip(f"no Java for Spark: openjdk could not be installed ({reason})")
    session = nc_spark.start_session("local[2]", "newsclean-tests")
    yield session
    session.stop()


def cli_jsonl(config, paths: list[str]) -> tuple[list[dict], str]:
    """What ``newsclean clean --jsonl`` prints for ``paths``, and its standard error."""
    out, err = io.StringIO(), io.StringIO()
    batch.run(config, paths, jsonl=True, workers=1, progress=False, stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def read_output(path: Path) -> list[dict]:
    """The Parquet output as the CLI's JSON objects (maps as dicts), sorted by id."""
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    for row in rows:
        for paragraph in row["paragraphs"]:
            paragraph["probabilities"] = dict(paragraph["probabilities"])
    return sorted(rows, key=lambda r: r["id"])


def read_rejects(path: Path) -> list[dict]:
    return [
        json.loads(line)
        for part in sorted(path.glob("part-*.json"))
        for line in part.read_text().splitlines()
    ]


@pytest.mark.slow
@pytest.mark.spark
def test_spark_job_gives_exactly_the_cli_output_and_writes_the_rejects(
    spark, cleaner_store, tmp_path
):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(BATCH, inputs / "batch.jsonl")
    extra = inputs / "more.jsonl.gz"  # gzipped, with a blank line and an empty page
    lines = [
        {"id": "quay-text", "text": (CLEAN_INPUTS / "ferry.txt").read_text()},
        {"id": "library-html", "html": (CLEAN_INPUTS / "library.html").read_text()},
        {"id": "empty-page", "html": "<html><body><p> </p></body></html>"},
    ]
    extra.write_bytes(
        gzip.compress(
            "\n".join([json.dumps(lines[0]), "", *map(json.dumps, lines[1:])]).encode() + b"\n"
        )
    )
    paths = [str(inputs / "batch.jsonl"), str(extra)]
    expected, cli_errors = cli_jsonl(cleaner_store.config, paths)
    assert len(expected) == 6 and cli_errors.count("newsclean clean:") == 4

    output = tmp_path / "out"
    status = nc_spark.run(cleaner_store.config, [str(inputs)], str(output), master="local[2]")
    assert status == 1  # something was rejected, as with the CLI

    assert read_output(output) == sorted(expected, key=lambda r: r["id"])
    rejects = sorted(
        read_rejects(Path(f"{output}_rejects")), key=lambda r: (r["path"], r["record"])
    )
    assert [(Path(r["path"]).name, r["record"]) for r in rejects] == [
        ("batch.jsonl", "line 4"),
        ("batch.jsonl", "line 5"),
        ("more.jsonl.gz", "line 4"),
    ]
    assert rejects[0]["error"].startswith("invalid JSON")
    assert rejects[1]["error"].startswith("no 'text', 'paragraphs' or 'html' field")
    assert rejects[2] == {
        "path": str(extra),
        "record": "line 4",
        "id": "empty-page",
        "error": "no text found in the HTML (empty or unparsable page)",
    }
    for reject in rejects:  # the same messages as the CLI's
        assert f"{reject['path']}: {reject['record']}: {reject['error']}" in cli_errors


@pytest.mark.slow
@pytest.mark.spark
def test_parquet_input_keep_and_an_existing_output(spark, cleaner_store, tmp_path, capsys):
    import pandas as pd

    articles = [json.loads(line) for line in BATCH.read_text().splitlines()[:3]]
    frame = pd.DataFrame(articles, columns=["id", "text", "paragraphs", "html"])
    frame.to_parquet(tmp_path / "articles.parquet")
    config = cleaner_store.config
    uri = nc_spark.resolve_model(config, None)

    report = nc_spark.clean(
        spark, [str(tmp_path / "articles.parquet")], str(tmp_path / "out"), uri, keep="news,teaser"
    )
    assert (report.cleaned, report.rejected) == (3, 0)
    rows = read_output(tmp_path / "out")
    assert [r["id"] for r in rows] == sorted(a["id"] for a in articles)
    kept_kinds = {p["kind"] for r in rows for p in r["paragraphs"] if p["kept"]}
    assert kept_kinds <= {"news", "teaser"}

    # The output exists: the run refuses to overwrite it unless told to.
    status = nc_spark.run(config, [str(tmp_path / "articles.parquet")], str(tmp_path / "out"))
    assert status == 1
    assert "already exists" in capsys.readouterr().err
    status = nc_spark.run(
        config, [str(tmp_path / "articles.parquet")], str(tmp_path / "out"), overwrite=True
    )
    assert status == 0


@pytest.mark.slow
@pytest.mark.spark
def test_line_numbers_are_right_when_spark_splits_a_file_in_blocks(spark, tmp_path):
    path = tmp_path / "big.jsonl"
    lines = [
        json.dumps({"text": f"Paragraph number {n} of a long file. " * 3}) for n in range(1, 301)
    ]
    lines[99] = ""  # a blank line counts as a line, as for the CLI
    path.write_text("\n".join(lines) + "\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    try:
        frame = nc_spark.check(nc_spark.read_records(spark, [str(path)], "jsonl"))
        assert frame.rdd.getNumPartitions() > 1
        rows = frame.select("_number", "checked.id", "checked.text").collect()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert len(rows) == 299
    for number, article_id, text in rows:
        assert article_id == f"big-{number}"
        assert text.startswith(f"Paragraph number {number} of")


def test_conf_items_are_parsed_and_a_bad_one_is_a_usage_error(tmp_path, capsys):
    assert nc_spark.parse_conf(["spark.executor.memory=4g", "a.b = c=d"]) == {
        "spark.executor.memory": "4g",
        "a.b": "c=d",
    }
    status = cli.main(["clean-spark", str(BATCH), str(tmp_path / "o"), "--conf", "nokey"])
    assert status == 2
    assert "--conf takes KEY=VALUE" in capsys.readouterr().err


def test_the_spark_output_has_the_fields_of_every_cleaned_article():
    from newsclean.clean.results import ARTICLE_FIELDS
    from newsclean.clean.spark import result_type

    assert result_type().fieldNames() == [f for f in ARTICLE_FIELDS if f != "path"]
