"""``make bench``: how fast and how good the cleaner is next to trafilatura, jusText and
boilerpipe.

On the test pages of the page corpora (``sources.pages.load_page``), in one run:

- pages/s on HTML input, one core, for newsclean and each peer (``train.pages.BENCH_PEERS``,
  resiliparse included), and the page-level shingle F1 of what each one keeps
  (``ml.metrics.page_f1``), per corpus and overall;
- the same on TEXT input, for newsclean and each peer: each page rendered as plain text, one
  paragraph per line, in each of ``segmentation.TEXT_RENDERINGS`` (``evaluation.page_inputs``;
  newsclean cleans the text, a peer reads the same lines as ``<p>``; rendering is not timed):
  pages/s and page F1 per corpus and overall (``quality_by_corpus`` rows with ``input``
  ``text:<rendering>``; MLflow ``<system>_page_f1_text_<rendering>_<corpus>``);
- paragraphs/s of newsclean on text input (the same pages, segmented, without HTML);
- peak memory (max RSS) of each system's process, and its RSS once loaded;
- how time grows with input size: 1×, 2×, 4×, 8× a base set of pages;
- the multi-core speed-up of ``newsclean clean`` on a directory of the pages;
- ``newsclean clean-spark`` on ``local[1]`` and ``local[2]`` against ``newsclean clean --jsonl``
  (one process, and every core) on one JSONL batch of a few thousand articles made of the pages:
  end-to-end and steady articles/s, and the start-up overhead of each command.

Every system runs in its own fresh process (spawned), pinned to one CPU with OpenMP/BLAS
threads limited to one, so timings and memory do not leak between systems; model loading and
imports are timed apart from cleaning. The Spark section is the exception: it times the
commands users run, end to end, each in its own process and not pinned (it measures
parallelism). The report goes to ``reports/bench.md`` and
``reports/bench.json``, its speed–quality frontier (``figures.frontier_figure``) to
``reports/speed_quality_frontier.png``, and all three to an MLflow run in the
experiment ``tracking.bench_experiment`` (``newsclean-bench``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCALES = (1, 2, 4, 8)
SCALE_BASE_PAGES = 100
CHUNK_PAGES = 16
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SPARK_ARTICLES = 3000  # articles in the Spark section's batch (`--spark-articles`)
SPARK_MASTERS = ("local[1]", "local[2]")
COMMAND_TIMEOUT = 3600  # seconds: a command of the Spark section that hangs is stopped
FRONTIER_PNG = "speed_quality_frontier.png"


@dataclass
class Page:
    corpus: str
    doc_id: str
    path: str  # the HTML file (written for the run)
    gold: str


# ------------------------------------------------------------------ in the measured process


def _pin(cpu: int | None) -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):  # pragma: no cover - not Linux
        return float("nan")


def _peak_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: a spawned process inherits its
    parent's ru_maxrss across fork + exec, so ru_maxrss would report the parent's peak."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


# The cleaner's two profiles (``registry.PROFILES``): the champion, and the ``fast`` one when
# it is registered.
FAST_SYSTEM = "newsclean-fast"
CLEANER_SYSTEMS = ("newsclean", FAST_SYSTEM)


def _fast_uri() -> str:
    from newsclean.clean.registry import FAST_ALIAS, PROFILES

    return PROFILES[FAST_ALIAS]


def _read(paths: list[str]) -> list[bytes]:
    return [Path(p).read_bytes() for p in paths]


def _load_cleaner(model_uri: str | None, tracking: dict[str, str]):
    from newsclean.clean.cleaner import Cleaner
    from newsclean.config import load_config

    config = load_config([f"{k}={v}" for k, v in tracking.items()], environ={})
    return Cleaner.load(model_uri, config)


def _clean_html(cleaner, pages: list[bytes], stages: dict[str, float] | None = None) -> list[str]:
    """What ``newsclean clean`` does per chunk of pages: segment, clean, serialise."""
    return _clean_raw(cleaner, pages, "html", stages)


def _clean_texts(cleaner, texts: list[str]) -> list[str]:
    """The same on plain-text articles (a JSONL ``{"text"}`` record each)."""
    return _clean_raw(cleaner, texts, "text")


def _clean_raw(
    cleaner, payloads: list, fmt: str, stages: dict[str, float] | None = None
) -> list[str]:
    from newsclean.clean.inputs import RawArticle
    from newsclean.clean.pyfunc import clean_raw_articles

    texts = []
    for start in range(0, len(payloads), CHUNK_PAGES):
        raws = [
            RawArticle(str(start + i), fmt, payload)
            for i, payload in enumerate(payloads[start : start + CHUNK_PAGES])
        ]
        if stages is not None:  # segmentation timed apart: the cleaner times its own stages
            clock = time.perf_counter()
            for raw in raws:
                raw.to_article()
            stages["segmentation"] = stages.get("segmentation", 0.0) + time.perf_counter() - clock
        texts += [r["text"] for r in clean_raw_articles(cleaner, raws)]
    return texts


def measure_system(
    system: str,
    paths: list[str],
    cpu: int | None,
    model_uri: str | None,
    tracking: dict[str, str],
    scale_base: int,
    scales: tuple[int, ...],
    repeats: int,
) -> dict[str, Any]:
    """Runs in a fresh process: load, then time ``system`` on the pages (best of ``repeats``)."""
    _pin(cpu)
    started = time.perf_counter()
    if system in CLEANER_SYSTEMS:
        cleaner = _load_cleaner(model_uri if system == "newsclean" else _fast_uri(), tracking)

        def extract_all(pages):
            return _clean_html(cleaner, pages)

        def extract_text_all(inputs):  # (record, peer bytes) pairs: the record's text
            return _clean_texts(cleaner, [record["text"] for record, _ in inputs])

    else:
        from newsclean.train.pages import BENCH_PEERS

        extract = BENCH_PEERS[system]

        def extract_all(pages):
            return [extract(p) for p in pages]

        def extract_text_all(inputs):  # the same lines as <p>
            return [extract(peer_bytes) for _, peer_bytes in inputs]

    pages = _read(paths)
    extract_all(pages[:1])  # warm-up: lazy imports, caches
    load_seconds = time.perf_counter() - started
    page_mb = sum(len(p) for p in pages) / 2**20
    loaded_rss = _rss_mb()
    best, outputs = math.inf, []
    for _ in range(repeats):
        started = time.perf_counter()
        outputs = extract_all(pages)
        best = min(best, time.perf_counter() - started)
    result: dict[str, Any] = {
        "system": system,
        "pages": len(pages),
        "seconds": best,
        "pages_per_s": len(pages) / best if best else float("nan"),
        "load_seconds": load_seconds,
        "rss_loaded_mb": loaded_rss,
        "pages_mb": page_mb,
        "outputs": outputs,
        "text_inputs": _text_inputs(extract_text_all, pages, repeats),
    }
    if system in CLEANER_SYSTEMS:
        result["stage_seconds"] = _stages(cleaner, pages)
        result.update(_text_input(cleaner, pages, repeats))
    if system == "newsclean":
        result["scaling"] = _scaling(extract_all, pages, scale_base, scales)
    result["peak_rss_mb"] = _peak_mb()
    return result


def _text_inputs(extract_text_all, pages: list[bytes], repeats: int) -> dict[str, dict]:
    """Per text input (``text:<rendering>``, one per ``segmentation.TEXT_RENDERINGS``): the
    outputs, seconds (best of ``repeats``) and pages/s of a system given each page as plain
    text (``evaluation.page_inputs``: newsclean the text, a peer the same lines as ``<p>``).
    Rendering the HTML to text is done beforehand, not timed."""
    from newsclean.segmentation import TEXT_RENDERINGS
    from newsclean.train.pages import page_inputs

    measured = {}
    for rendering in TEXT_RENDERINGS:
        name = f"text:{rendering}"
        inputs = [page_inputs(page, [name])[name] for page in pages]
        extract_text_all(inputs[:1])  # warm-up
        best, outputs = math.inf, []
        for _ in range(repeats):
            started = time.perf_counter()
            outputs = extract_text_all(inputs)
            best = min(best, time.perf_counter() - started)
        measured[name] = {
            "rendering": rendering,
            "pages": len(inputs),
            "seconds": best,
            "pages_per_s": len(inputs) / best if best else float("nan"),
            "outputs": outputs,
        }
    return measured


def _stages(cleaner, pages: list[bytes]) -> dict[str, float]:
    """Where newsclean's time goes on the pages (one more pass, stages timed)."""
    cleaner.stage_seconds.clear()
    stages: dict[str, float] = {}
    started = time.perf_counter()
    _clean_html(cleaner, pages, stages)
    total = time.perf_counter() - started
    stages.update(cleaner.stage_seconds)
    # The pass segmented twice (timed, then inside the cleaner's call): count it once.
    stages["other"] = max(
        total
        - 2 * stages.get("segmentation", 0.0)
        - sum(v for k, v in cleaner.stage_seconds.items()),
        0.0,
    )
    return {k: round(v, 3) for k, v in stages.items()}


def _text_input(cleaner, pages: list[bytes], repeats: int) -> dict[str, Any]:
    """Paragraphs/s on text input: the same pages' paragraphs, without their HTML."""
    from newsclean.clean.inputs import RawArticle
    from newsclean.clean.pyfunc import clean_raw_articles
    from newsclean.segmentation import segment_html

    articles = [[b.text for b in segment_html(p)] for p in pages]
    articles = [a for a in articles if a]
    paragraphs = sum(len(a) for a in articles)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(articles), CHUNK_PAGES):
            raws = [
                RawArticle(str(i), "paragraphs", a)
                for i, a in enumerate(articles[start : start + CHUNK_PAGES])
            ]
            clean_raw_articles(cleaner, raws)
        best = min(best, time.perf_counter() - started)
    return {
        "text_paragraphs": paragraphs,
        "text_seconds": best,
        "text_paragraphs_per_s": paragraphs / best if best else float("nan"),
    }


def _scaling(extract_all, pages: list[bytes], base: int, scales: tuple[int, ...]) -> list[dict]:
    """Seconds for 1×, 2×, 4×, 8× a base set of ``base`` pages (drawn at random, seeded, then
    repeated), so only the size changes, not the mix of pages."""
    import random

    base_pages = random.Random(0).sample(pages, max(1, min(base, len(pages))))
    rows = []
    for scale in scales:
        batch = base_pages * scale
        n = len(batch)
        started = time.perf_counter()
        extract_all(batch)
        seconds = time.perf_counter() - started
        rows.append(
            {"scale": scale, "pages": n, "seconds": seconds, "ms_per_page": 1000 * seconds / n}
        )
    return rows


def measure_batch(
    paths: list[str],
    workers: int,
    cpu: int | None,
    model_uri: str | None,
    tracking: dict[str, str],
) -> dict[str, Any]:
    """Runs in a fresh process: ``newsclean clean`` on the page files with ``workers``
    processes (reading, segmentation and cleaning: the command's own path)."""
    from newsclean.clean import batch

    # One worker: one core and one thread, as the single-core figures; more: every core,
    # one thread per worker process (what `newsclean clean` does).
    _pin(cpu if workers == 1 else None)
    cleaner = _load_cleaner(model_uri, tracking)
    started = time.perf_counter()
    outcomes = list(batch.process(cleaner, paths, workers=workers))
    seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "pages": len(outcomes),
        "failed": sum(o.error is not None for o in outcomes),
        "seconds": seconds,
        "pages_per_s": len(outcomes) / seconds if seconds else float("nan"),
    }


def _in_fresh_process(function, *args):
    import importlib
    import multiprocessing

    if (
        function.__module__ == "__main__"
    ):  # `python -m newsclean.tools.bench`: pickle by module name
        function = getattr(importlib.import_module("newsclean.tools.bench"), function.__name__)

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


# ------------------------------------------------------------------ Spark against the CLI


def spark_unavailable() -> str | None:
    """Why ``newsclean clean-spark`` cannot run here (no PySpark, no Java), or None."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install 'newsclean[spark]', or `make setup`)"
    from newsclean.clean.spark import java_problem

    return java_problem()


def write_spark_batch(pages: list[Page], articles: int, path: Path) -> list[str]:
    """A JSONL batch of ``articles`` records ``{"id", "html"}``: the pages in order, repeated
    with distinct ids (``<corpus>-<doc>-<copy>``) when more articles than pages are asked;
    the HTML decoded as ``newsclean clean`` decodes an HTML file. Returns the ids in order."""
    from newsclean.text import decode_bytes

    texts: dict[int, str] = {}
    ids = []
    with path.open("w", encoding="utf-8") as handle:
        for number in range(articles):
            index = number % len(pages)
            if index not in texts:
                texts[index] = decode_bytes(Path(pages[index].path).read_bytes())[0]
            page = pages[index]
            ids.append(f"{page.corpus}-{page.doc_id}-{number // len(pages)}")
            handle.write(json.dumps({"id": ids[-1], "html": texts[index]}) + "\n")
    return ids


def _run_command(argv: list[str], env: dict[str, str], stdout: Path, stderr: Path):
    """Run ``argv`` to the end (its own process group, stopped after ``COMMAND_TIMEOUT``);
    its exit status (None when it had to be stopped) and wall seconds."""
    started = time.perf_counter()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, start_new_session=True
        )
        try:
            status = process.wait(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # Spark's JVM too
            process.wait()
            status = None
    return status, time.perf_counter() - started


def _stderr_tail(path: Path, lines: int = 3) -> str:
    """The last lines a command wrote to standard error, without Spark's progress bars."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r", "\n")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip() and "[Stage" not in line]
    return " | ".join(kept[-lines:])


def _cli_output_ids(path: Path) -> list[str]:
    ids = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    ids.append(json.loads(line).get("id"))
                except (json.JSONDecodeError, AttributeError):
                    ids.append(None)
    return ids


def _spark_output_ids(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=["id"]).column("id").to_pylist()


def _measure_command(
    name: str,
    argv: list[str],
    out: Path,
    env: dict[str, str],
    work: Path,
    spark: bool,
    expected: list[str],
    logs_dir: Path | None = None,
) -> dict[str, Any]:
    """One run of a command on a batch: exit status, wall seconds, and the articles it wrote
    (their ids checked against ``expected``); ``problem`` says what went wrong, if anything.
    A failed command's whole standard error is kept in ``logs_dir`` (``stderr_log``)."""
    stdout, stderr = work / f"{name}.stdout", work / f"{name}.stderr"
    result: dict[str, Any] = {"status": None, "seconds": float("nan"), "articles": 0}
    problems = []
    try:
        result["status"], result["seconds"] = _run_command(argv, env, stdout, stderr)
    except OSError as error:
        problems.append(f"cannot run: {error}")
    if result["status"] is None and not problems:
        problems.append(f"stopped after {COMMAND_TIMEOUT} s")
    elif result["status"]:
        problems.append(f"exit status {result['status']}")
    try:
        ids = _spark_output_ids(out) if spark else _cli_output_ids(stdout)
    except Exception as error:  # noqa: BLE001 - no or unreadable output: reported
        ids = []
        if not problems:
            problems.append(f"cannot read the output: {error}")
    result["articles"] = len(ids)
    if len(ids) != len(expected):
        problems.append(f"{len(ids)} articles out of {len(expected)}")
    elif Counter(ids) != Counter(expected):  # Spark writes them in its own order
        problems.append("the output's ids are not the batch's")
    if spark:
        summary = re.findall(r"cleaned, .* in ([0-9.]+) s \(", _stderr_tail(stderr, 1))
        result["job_seconds"] = float(summary[-1]) if summary else None
    if problems:
        tail = _stderr_tail(stderr)
        result["problem"] = "; ".join(problems) + (f" (stderr: {tail})" if tail else "")
        if logs_dir is not None and stderr.exists():
            logs_dir.mkdir(parents=True, exist_ok=True)
            kept = logs_dir / f"bench-{name}.stderr"
            shutil.copyfile(stderr, kept)
            result["stderr_log"] = str(kept)
    for path in (stdout, stderr):
        path.unlink(missing_ok=True)
    for path in (out, Path(f"{out}_rejects")):
        shutil.rmtree(path, ignore_errors=True)
    return result


def measure_spark(
    config,
    pages: list[Page],
    articles: int,
    model_uri: str | None,
    workers: int,
    masters: tuple[str, ...] = SPARK_MASTERS,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """``newsclean clean --jsonl`` (one worker, then ``workers``) and ``newsclean clean-spark``
    on each of ``masters``, each on a batch of ``articles`` articles and on its first article
    alone, as users run them: a fresh process each, wall time end to end, not pinned.

    The big batch runs first, so the 1-article run (the start-up overhead) finds the files
    Spark and Python load warm. Steady articles/s is (articles - 1) / (wall of the batch - wall
    of 1 article): the rate once started."""
    section: dict[str, Any] = {"articles": articles, "masters": list(masters)}
    reason = spark_unavailable()
    if reason:
        section["skipped"] = reason
        print(f"bench: Spark section skipped: {reason}", file=sys.stderr)
        return section
    env = {
        **os.environ,
        "NEWSCLEAN_TRACKING_URI": config.tracking.tracking_uri,
        "NEWSCLEAN_ARTIFACT_ROOT": str(config.tracking.artifact_root),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    command = [sys.executable, "-m", "newsclean.tools.cli"]
    model = ["--model", model_uri] if model_uri else []
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else []
    with tempfile.TemporaryDirectory(prefix="spark-", dir=work_dir) as tmp:
        work = Path(tmp)
        batch, single = work / "batch.jsonl", work / "first.jsonl"
        ids = write_spark_batch(pages, articles, batch)
        with batch.open(encoding="utf-8") as handle:
            single.write_text(handle.readline(), encoding="utf-8")
        section.update(
            {
                "pages": len(pages),
                "copies": math.ceil(articles / len(pages)),
                "batch_mb": batch.stat().st_size / 2**20,
            }
        )
        systems = [
            (f"cli{count}", _cli_label(count), None, count) for count in sorted({1, workers})
        ]
        systems += [(_spark_key(m), f"Spark `{m}`", m, None) for m in masters]
        rows = []
        for key, label, master, count in systems:
            row: dict[str, Any] = {"key": key, "system": label, "articles_in": articles}
            row["master" if master else "workers"] = master or count
            for size, path, expected in ((articles, batch, ids), (1, single, ids[:1])):
                out = work / f"{key}-{size}.out"
                if master:
                    argv = [*command, "clean-spark", str(path), str(out), "--master", master]
                    argv += ["--overwrite", *model]
                else:
                    argv = [*command, "clean", "--jsonl", "--workers", str(count)]
                    argv += ["--no-progress", *model, str(path)]
                print(f"bench: {label} on {size:,} article(s)...", file=sys.stderr)
                measured = _measure_command(
                    f"{key}-{size}",
                    argv,
                    out,
                    env,
                    work,
                    bool(master),
                    expected,
                    config.paths.reports_dir,
                )
                row["single" if size == 1 else "batch"] = measured
            rows.append(row)
    section["load_average_before"] = load_before
    section["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else []
    section["systems"] = [_spark_rates(row) for row in rows]
    base = section["systems"][0]
    for row in section["systems"]:
        row["speedup_vs_cli1"] = _ratio(row["articles_per_s"], base["articles_per_s"])
        row["steady_speedup_vs_cli1"] = _ratio(
            row["steady_articles_per_s"], base["steady_articles_per_s"]
        )
    section["problems"] = [
        f"{row['system']} on {n:,} article(s): {row[part]['problem']}"
        + (f"; whole stderr in {row[part]['stderr_log']}" if row[part].get("stderr_log") else "")
        for row in section["systems"]
        for part, n in (("batch", articles), ("single", 1))
        if row[part].get("problem")
    ]
    section["cpus"] = os.cpu_count()
    return section


def _cli_label(workers: int) -> str:
    return "`newsclean clean`, " + ("1 process" if workers == 1 else f"{workers} workers")


def _spark_key(master: str) -> str:
    """``local[2]`` → ``spark_local2`` (report keys and MLflow metric names)."""
    return "spark_" + re.sub(r"[^0-9a-z]", "", master.lower())


def _spark_rates(row: dict[str, Any]) -> dict[str, Any]:
    batch, single = row["batch"], row["single"]
    n = row["articles_in"]
    row["articles"] = batch["articles"]
    row["seconds"] = batch["seconds"]
    row["startup_seconds"] = single["seconds"]
    row["articles_per_s"] = _ratio(n, batch["seconds"])
    # Too small a batch to tell the rate from the start-up's noise: no steady rate.
    row["steady_articles_per_s"] = (
        _ratio(n - 1, batch["seconds"] - single["seconds"])
        if n > 1 and batch["seconds"] > single["seconds"]
        else None
    )
    row["ok"] = not batch.get("problem") and not single.get("problem")
    return row


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or b <= 0:
        return None
    return a / b


# ------------------------------------------------------------------ the run


def load_test_pages(config, out_dir: Path, max_pages_per_corpus: int = 0) -> list[Page]:
    """The test pages of every page corpus (``train.pages.test_pages``: the pages and order
    training scores; raw HTML written to ``out_dir``) with their gold."""
    from newsclean.data import dataset
    from newsclean.train.pages import test_pages

    corpora_dir = config.paths.corpora_dir
    if corpora_dir is None or not Path(corpora_dir).is_dir():
        raise FileNotFoundError(
            "the benchmark needs the real corpora (paths.corpora_dir); none configured"
        )
    frame = dataset.load(config.paths.processed_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = []
    for case in test_pages(frame[frame["split"] == "test"], config, max_pages_per_corpus):
        path = out_dir / f"{case.corpus}--{case.doc_id.replace('/', '_')}.html"
        path.write_bytes(case.html)
        pages.append(Page(case.corpus, case.doc_id, str(path), case.gold))
    return pages


def pages_from_files(html_files: list[Path], gold_files: list[Path], corpus: str) -> list[Page]:
    """Pages given as files (tests, own data): each HTML file with its gold text file."""
    return [
        Page(corpus, Path(h).name.split(".")[0], str(h), Path(g).read_text(encoding="utf-8"))
        for h, g in zip(html_files, gold_files, strict=True)
    ]


def run(
    config,
    pages: list[Page],
    model_uri: str | None = None,
    systems: tuple[str, ...] | None = None,
    scale_base: int = SCALE_BASE_PAGES,
    scales: tuple[int, ...] = SCALES,
    repeats: int = 2,
    workers: int | None = None,
    log_mlflow: bool = True,
    out_dir: Path | None = None,
    spark_articles: int = 0,
    spark_masters: tuple[str, ...] = SPARK_MASTERS,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Measure everything, write the report, log it; return the report as a dict.

    ``spark_articles``: the Spark section's batch (``measure_spark``; 0, the default here: no
    Spark section; ``python -m newsclean.tools.bench`` asks for ``SPARK_ARTICLES``), written under
    ``work_dir`` (default: the system's temporary directory)."""
    from newsclean.clean.batch import default_workers
    from newsclean.progress import steps
    from newsclean.train.pages import BENCH_PEERS, HTML_INPUT

    if not pages:
        raise ValueError("no pages to benchmark")
    systems = systems or ("newsclean", *BENCH_PEERS)
    workers = workers or default_workers()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [None]
    cpu = cpus[0]
    tracking = {
        "tracking.tracking_uri": config.tracking.tracking_uri,
        "tracking.artifact_root": str(config.tracking.artifact_root),
    }
    paths = [p.path for p in pages]
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else []
    started = time.perf_counter()
    results = {}
    for system in steps(systems, "bench: systems"):
        print(f"bench: {system} on {len(pages)} pages (one core)...", file=sys.stderr)
        results[system] = _in_fresh_process(
            measure_system, system, paths, cpu, model_uri, tracking, scale_base, scales, repeats
        )
    quality = []
    for system, result in results.items():
        overall, rows = _quality(system, HTML_INPUT, result.pop("outputs"), pages)
        result.update({f"f1_{k}": v for k, v in overall.items() if k != "pages"})
        quality += rows
        for name, measured in result.get("text_inputs", {}).items():
            overall, rows = _quality(system, name, measured.pop("outputs"), pages)
            measured.update({f"f1_{k}": v for k, v in overall.items() if k != "pages"})
            quality += rows
    multi = []
    if "newsclean" in systems:
        for count in sorted({1, workers}):
            print(
                f"bench: newsclean clean on {len(pages)} pages, {count} worker(s)...",
                file=sys.stderr,
            )
            multi.append(_in_fresh_process(measure_batch, paths, count, cpu, model_uri, tracking))
    spark: dict[str, Any] = {"articles": 0, "skipped": "not asked (--spark-articles 0)"}
    if spark_articles > 0:
        spark = measure_spark(
            config, pages, spark_articles, model_uri, workers, spark_masters, work_dir
        )
    report = _summarise(results, quality, multi, pages, model_uri, workers, cpu)
    report["spark"] = spark
    report["load_average_before"] = load_before
    report["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else []
    report["seconds_total"] = time.perf_counter() - started
    out_dir = out_dir or config.paths.reports_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(report, indent=2, default=str))
    (out_dir / "bench.md").write_text(markdown(report))
    save_frontier(report, out_dir)
    if log_mlflow:
        report["mlflow_run_id"] = _log(config, report, out_dir)
        (out_dir / "bench.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def save_frontier(report: dict[str, Any], out_dir: Path) -> Path:
    """The systems' pages/s against page F1 on HTML input (``figures.frontier_figure``), saved
    as ``FRONTIER_PNG`` in ``out_dir``."""
    import matplotlib.pyplot as plt

    from newsclean.train.figures import frontier_figure

    figure = frontier_figure(report["systems"], quality="f1_f1")
    path = out_dir / FRONTIER_PNG
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _quality(
    system: str, input_name: str, outputs: list[str], pages: list[Page]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Page F1 of ``outputs`` over every page, and one row per corpus (``quality_by_corpus``:
    system, input, corpus, precision, recall, f1, pages)."""
    from newsclean.ml.metrics import page_f1

    pairs = [(o, p.gold) for o, p in zip(outputs, pages, strict=True)]
    rows = [
        {
            "system": system,
            "input": input_name,
            "corpus": corpus,
            **page_f1([pair for pair, p in zip(pairs, pages, strict=True) if p.corpus == corpus]),
        }
        for corpus in sorted({p.corpus for p in pages})
    ]
    return page_f1(pairs), rows


def _summarise(results, quality, multi, pages, model_uri, workers, cpu) -> dict[str, Any]:
    systems = list(results.values())
    ours = results.get("newsclean")
    peers = {}
    if ours:
        for name, result in results.items():
            if name != "newsclean":
                peers[name] = {
                    "speed_ratio": ours["pages_per_s"] / result["pages_per_s"],
                    "f1_difference": ours["f1_f1"] - result["f1_f1"],
                }
    scaling = ours.get("scaling", []) if ours else []
    linearity = {}
    if len(scaling) >= 2:
        xs = [math.log(r["pages"]) for r in scaling]
        ys = [math.log(max(r["seconds"], 1e-9)) for r in scaling]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mean_x) ** 2 for x in xs
        )
        first, last = scaling[0], scaling[-1]
        linearity = {
            "log_log_slope": slope,
            "ms_per_page_ratio_last_first": last["ms_per_page"] / first["ms_per_page"],
        }
    speedup = {}
    if len(multi) == 2:
        speedup = {
            "workers": multi[1]["workers"],
            "speedup": multi[1]["pages_per_s"] / multi[0]["pages_per_s"],
        }
    return {
        "model_uri": model_uri or "models:/newsclean-cleaner@champion",
        "pages": len(pages),
        "corpora": {
            c: sum(p.corpus == c for p in pages) for c in sorted({p.corpus for p in pages})
        },
        "cpu_pinned": cpu,
        "cpus": os.cpu_count(),
        "workers": workers,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "systems": systems,
        "versus_peers": peers,
        "quality_by_corpus": quality,
        "scaling": scaling,
        "linearity": linearity,
        "batch": multi,
        "multi_core": speedup,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def markdown(report: dict[str, Any]) -> str:
    corpora = ", ".join(f"{c} {n}" for c, n in report["corpora"].items())
    lines = [
        "# newsclean benchmark",
        "",
        f"{report['pages']} test pages ({corpora}); "
        f"model `{report['model_uri']}`; {report['date']}, {report['cpus']} CPUs, Python "
        f"{report['python']}. Each system runs in its own process pinned to one CPU "
        "(best of the repeats); load time is not in pages/s.",
        "",
        "| system | pages/s (1 core) | × newsclean speed | page F1 | precision | recall | "
        "load s | RSS loaded MB | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ours = next((s for s in report["systems"] if s["system"] == "newsclean"), None)
    for s in report["systems"]:
        ratio = ours["pages_per_s"] / s["pages_per_s"] if ours else float("nan")
        lines.append(
            f"| {s['system']} | {s['pages_per_s']:.1f} | {ratio:.2f} | {s['f1_f1']:.4f} | "
            f"{s['f1_precision']:.4f} | {s['f1_recall']:.4f} | {s['load_seconds']:.1f} | "
            f"{s['rss_loaded_mb']:.0f} | {s['peak_rss_mb']:.0f} |"
        )
    if report["systems"]:
        first = report["systems"][0]
        lines += [
            "",
            f"Peak RSS includes the {first.get('pages_mb', 0):.0f} MB of pages each process "
            "holds for the run and the outputs it sends back. Load average before / after: "
            f"{_loads(report.get('load_average_before'))} / "
            f"{_loads(report.get('load_average_after'))}.",
        ]
    if ours and ours.get("stage_seconds"):
        stages = ours["stage_seconds"]
        total = sum(stages.values()) or 1.0
        lines += ["", "Where newsclean's time goes (one more pass over the pages):", ""]
        lines += ["| stage | seconds | share |", "|---|---:|---:|"]
        for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {stage} | {seconds:.1f} | {seconds / total:.0%} |")
    for cleaner_system in (s for s in report["systems"] if s["system"] in CLEANER_SYSTEMS):
        lines += [
            "",
            f"Text input, {cleaner_system['system']} (the same pages' paragraphs, no HTML): "
            f"**{cleaner_system['text_paragraphs_per_s']:,.0f} paragraphs/s** "
            f"({cleaner_system['text_paragraphs']:,} paragraphs in "
            f"{cleaner_system['text_seconds']:.1f} s, one core).",
        ]
    if report["scaling"]:
        lines += ["", "## Time against input size (newsclean, one core)", ""]
        lines += ["| scale | pages | seconds | ms/page |", "|---:|---:|---:|---:|"]
        for r in report["scaling"]:
            lines.append(
                f"| {r['scale']}× | {r['pages']} | {r['seconds']:.2f} | {r['ms_per_page']:.1f} |"
            )
        lin = report["linearity"]
        if lin:
            lines += [
                "",
                f"log-log slope {lin['log_log_slope']:.3f} (1 = linear); ms/page at the largest "
                f"scale ÷ the smallest: {lin['ms_per_page_ratio_last_first']:.2f}.",
            ]
    if report["batch"]:
        lines += ["", "## `newsclean clean` on the page files (reading included)", ""]
        lines += ["| workers | pages/s | seconds | failed |", "|---:|---:|---:|---:|"]
        for r in report["batch"]:
            lines.append(
                f"| {r['workers']} | {r['pages_per_s']:.1f} | {r['seconds']:.1f} | {r['failed']} |"
            )
        if report["multi_core"]:
            lines += [
                "",
                f"Speed-up with {report['multi_core']['workers']} workers: "
                f"{report['multi_core']['speedup']:.2f}×.",
            ]
    lines += _spark_markdown(report.get("spark"))
    if report["quality_by_corpus"]:
        lines += ["", "## Page F1 by corpus", ""]
        systems = [s["system"] for s in report["systems"]]
        lines += ["| corpus | pages | " + " | ".join(systems) + " |"]
        lines += ["|---|---:|" + "---:|" * len(systems)]
        html = [q for q in report["quality_by_corpus"] if q.get("input", "html") == "html"]
        corpora = sorted({q["corpus"] for q in html})
        for corpus in corpora:
            cells = {q["system"]: q for q in html if q["corpus"] == corpus}
            pages = next(iter(cells.values()))["pages"]
            lines.append(
                f"| {corpus} | {pages} | "
                + " | ".join(f"{cells[s]['f1']:.4f}" for s in systems)
                + " |"
            )
    lines += _text_markdown(report)
    return "\n".join(lines) + "\n"


def _text_markdown(report: dict[str, Any]) -> list[str]:
    """The text-input section: per rendering, page F1 per system and corpus, pages/s, and
    newsclean's lead over keep-all and over the best other peer (none in older reports)."""
    names = list(dict.fromkeys(n for s in report["systems"] for n in s.get("text_inputs", {})))
    if not names:
        return []
    lines = [
        "",
        "## Text input (the page as plain text, one paragraph per line; peers get the same "
        "lines as `<p>`)",
        "",
        "Each page rendered to plain text (`segmentation.render_text`: `blocks` is newsclean's "
        "own segmentation, one block per line; `html-text` the html-text library's browser-like "
        'rendering); newsclean cleans the text as a `{"text"}` record, each peer reads the same '
        "lines wrapped as `<p>`. One core, best of the repeats; page F1 against the same gold "
        "text as for HTML input.",
        "",
        "Rendering the HTML to text is not timed: pages/s is the cleaning of the text alone.",
    ]
    systems = [s["system"] for s in report["systems"] if s.get("text_inputs")]
    for name in names:
        rows = [q for q in report["quality_by_corpus"] if q.get("input") == name]
        corpora = sorted({q["corpus"] for q in rows})
        f1 = {(q["system"], q["corpus"]): q["f1"] for q in rows}
        measured = {
            s["system"]: s["text_inputs"][name]
            for s in report["systems"]
            if name in s.get("text_inputs", {})
        }
        for system, values in measured.items():
            f1[(system, "all")] = values["f1_f1"]
        columns = [*corpora, "all"]
        lines += [
            "",
            f"### `{name}`",
            "",
            "| system | pages/s (1 core) | " + " | ".join(columns) + " |",
            "|---|---:|" + "---:|" * len(columns),
        ]
        for system in systems:
            if system in measured:
                cells = [_num(f1.get((system, c)), ".4f") for c in columns]
                lines.append(
                    f"| {system} | {_num(measured[system]['pages_per_s'], '.1f')} | "
                    + " | ".join(cells)
                    + " |"
                )
        if "newsclean" not in measured:
            continue
        others = [s for s in measured if s not in ("newsclean", "keep-all")]
        if "keep-all" in measured:
            leads = [f1[("newsclean", c)] - f1[("keep-all", c)] for c in columns]
            lines.append(
                "| newsclean − keep-all | | " + " | ".join(f"{d:+.4f}" for d in leads) + " |"
            )
        if others:
            cells = []
            for c in columns:
                best = max(others, key=lambda s, c=c: f1[(s, c)])
                cells.append(f"{f1[('newsclean', c)] - f1[(best, c)]:+.4f} ({best})")
            lines.append("| newsclean − best peer | | " + " | ".join(cells) + " |")
    return lines


def _spark_markdown(spark: dict[str, Any] | None) -> list[str]:
    """The Spark section of the report (none in reports written before it existed)."""
    if not spark:
        return []
    lines = ["", "## Spark (`newsclean clean-spark`)", ""]
    if spark.get("skipped"):
        return [*lines, f"Not measured: {spark['skipped']}."]
    n = spark["articles"]
    lines += [
        f"One JSONL batch of {n:,} articles ({spark['batch_mb']:,.0f} MB of "
        f'`{{"id", "html"}}` records): the {spark["pages"]:,} test pages in order, repeated '
        f"up to {spark['copies']} times with distinct ids. Each command runs as users run it, in "
        "its own process, not pinned, timed end to end (Python and model loading, the Spark "
        f"session, reading, cleaning, writing); {spark['cpus']} CPUs, load average before / "
        f"after {_loads(spark.get('load_average_before'))} / "
        f"{_loads(spark.get('load_average_after'))}. Start-up: the same command on the batch's "
        f"first article alone. Steady articles/s: ({n:,} − 1) / (wall − start-up). × CLI 1 "
        "process: end-to-end / steady articles/s over those of `newsclean clean --workers 1`.",
        "",
        "| system | articles | wall s | start-up s | articles/s end-to-end | articles/s steady "
        "| × CLI 1 process |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in spark["systems"]:
        articles = f"{r['articles']:,}" + ("" if r["ok"] else " ⚠")
        lines.append(
            f"| {r['system']} | {articles} | {_num(r['seconds'], '.1f')} | "
            f"{_num(r['startup_seconds'], '.1f')} | {_num(r['articles_per_s'], '.1f')} | "
            f"{_num(r['steady_articles_per_s'], '.1f')} | {_num(r['speedup_vs_cli1'], '.2f')} / "
            f"{_num(r['steady_speedup_vs_cli1'], '.2f')} |"
        )
    cli = spark["systems"][0]
    ours = [r for r in spark["systems"] if r.get("master")]
    if ours:
        startups = ", ".join(
            f"{_num(r['startup_seconds'], '.1f')} s on `{r['master']}`" for r in ours
        )
        jobs = ", ".join(
            f"{_num(r['batch'].get('job_seconds'), '.1f')} s on `{r['master']}`" for r in ours
        )
        lines += [
            "",
            f"Spark start-up overhead: {startups} for a 1-article job, against "
            f"{_num(cli['startup_seconds'], '.1f')} s for `newsclean clean`. Spark's own time for "
            f"the {n:,}-article job (reading to writing, session start and model resolution "
            f"left out, as `clean-spark` reports it): {jobs}.",
        ]
    if spark.get("problems"):
        lines += ["", "⚠ Problems (these rows' figures are not comparable):", ""]
        lines += [f"- {problem}" for problem in spark["problems"]]
    return lines


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def _loads(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if values else "-"


def _log(config, report: dict[str, Any], out_dir: Path) -> str:
    import mlflow

    from newsclean import tracking
    from newsclean.train.pages import page_metric_name

    tracking.configure(config)
    tracking.experiment(config, config.tracking.bench_experiment)
    with mlflow.start_run(run_name=f"bench-{time.strftime('%Y%m%d-%H%M%S')}") as run:
        mlflow.set_tags({"git_commit": tracking.git_commit(), "role": "bench"})
        mlflow.log_params(
            {
                "model_uri": report["model_uri"],
                "pages": report["pages"],
                "workers": report["workers"],
                "cpus": report["cpus"],
                "spark_articles": (report.get("spark") or {}).get("articles", 0),
            }
        )
        metrics = {}
        for s in report["systems"]:
            name = s["system"].replace("-", "_")
            metrics[f"{name}_pages_per_s"] = s["pages_per_s"]
            metrics[f"{name}_page_f1"] = s["f1_f1"]
            metrics[f"{name}_peak_rss_mb"] = s["peak_rss_mb"]
            if "text_paragraphs_per_s" in s:
                metrics[f"{name}_text_paragraphs_per_s"] = s["text_paragraphs_per_s"]
            for input_name, measured in s.get("text_inputs", {}).items():
                key = input_name.replace(":", "_").replace("-", "_")  # text_html_text
                metrics[f"{name}_{key}_pages_per_s"] = measured["pages_per_s"]
                metrics[f"{name}_{page_metric_name(input_name, 'all')}"] = measured["f1_f1"]
        for q in report["quality_by_corpus"]:  # newsclean_page_f1_text_blocks_wcxb, ...
            name = q["system"].replace("-", "_")
            metrics[f"{name}_{page_metric_name(q.get('input', 'html'), q['corpus'])}"] = q["f1"]
        for peer, values in report["versus_peers"].items():
            metrics[f"speed_ratio_vs_{peer.replace('-', '_')}"] = values["speed_ratio"]
            metrics[f"f1_difference_vs_{peer.replace('-', '_')}"] = values["f1_difference"]
        if report["linearity"]:
            metrics["scaling_log_log_slope"] = report["linearity"]["log_log_slope"]
        if report["multi_core"]:
            metrics["multi_core_speedup"] = report["multi_core"]["speedup"]
        metrics.update(_spark_metrics(report.get("spark")))
        mlflow.log_metrics(
            {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}
        )
        mlflow.log_artifact(str(out_dir / "bench.md"))
        mlflow.log_artifact(str(out_dir / "bench.json"))
        if (out_dir / FRONTIER_PNG).exists():
            mlflow.log_artifact(str(out_dir / FRONTIER_PNG))
    return run.info.run_id


def _spark_metrics(spark: dict[str, Any] | None) -> dict[str, float | None]:
    """``cli1_articles_per_s``, ``spark_local2_speedup_vs_cli1``, ``spark_startup_s`` (the
    last master's 1-article job), ...: the Spark section's figures as MLflow metrics."""
    if not spark or spark.get("skipped"):
        return {}
    metrics: dict[str, float | None] = {}
    for r in spark["systems"]:
        key = r["key"]
        metrics[f"{key}_articles_per_s"] = r["articles_per_s"]
        metrics[f"{key}_steady_articles_per_s"] = r["steady_articles_per_s"]
        metrics[f"{key}_startup_s"] = r["startup_seconds"]
        if key != "cli1":
            metrics[f"{key}_speedup_vs_cli1"] = r["speedup_vs_cli1"]
            metrics[f"{key}_steady_speedup_vs_cli1"] = r["steady_speedup_vs_cli1"]
    ours = [r for r in spark["systems"] if r.get("master")]
    if ours:
        metrics["spark_startup_s"] = ours[-1]["startup_seconds"]
        metrics["spark_startup_overhead_vs_cli1_s"] = (
            ours[-1]["startup_seconds"] - spark["systems"][0]["startup_seconds"]
        )
    metrics["spark_problems"] = len(spark["problems"])
    return metrics


def _check_model(model_uri: str | None, tracking: dict[str, str]) -> str | None:
    from newsclean.clean.results import ModelNotFoundError

    try:
        _load_cleaner(model_uri, tracking)
    except ModelNotFoundError as error:
        return str(error)
    return None


def main(
    config,
    model_uri: str | None = None,
    max_pages: int = 0,
    scale_base: int = SCALE_BASE_PAGES,
    repeats: int = 2,
    workers: int | None = None,
    spark_articles: int = SPARK_ARTICLES,
    log_mlflow: bool = True,
) -> int:
    """``newsclean bench`` (``make bench``): every system on the test pages, one core each;
    writes reports/bench.md and bench.json and logs an MLflow run."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    tracking = {
        "tracking.tracking_uri": config.tracking.tracking_uri,
        "tracking.artifact_root": str(config.tracking.artifact_root),
    }
    # Checked in a fresh process: loading a model puts its logged code first on sys.path,
    # which the measured processes would inherit (and run that copy of newsclean).
    problem = _in_fresh_process(_check_model, model_uri, tracking)
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 1
    from newsclean.train.pages import BENCH_PEERS

    systems = ("newsclean", *BENCH_PEERS)
    if model_uri is None:  # the fast profile beside the champion, when one is registered
        fast_problem = _in_fresh_process(_check_model, _fast_uri(), tracking)
        if fast_problem:
            print(f"bench: no fast profile ({fast_problem})", file=sys.stderr)
        else:
            systems = ("newsclean", FAST_SYSTEM, *BENCH_PEERS)
    with tempfile.TemporaryDirectory(prefix="newsclean-bench-") as tmp:
        try:
            pages = load_test_pages(config, Path(tmp) / "pages", max_pages)
        except FileNotFoundError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 1
        report = run(
            config,
            pages,
            model_uri,
            systems=systems,
            scale_base=scale_base,
            repeats=repeats,
            workers=workers,
            log_mlflow=log_mlflow,
            spark_articles=spark_articles,
            work_dir=Path(tmp),
        )
    print(markdown(report))
    print(f"written: {config.paths.reports_dir / 'bench.md'} and bench.json", file=sys.stderr)
    return 0
