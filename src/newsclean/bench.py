"""``make bench``: how fast and how good the cleaner is next to trafilatura and jusText.

On the test pages of the page corpora (``sources.pages.load_page``), in one run:

- pages/s on HTML input, one core, for newsclean and each peer (``evaluation.PEERS``), and the
  page-level shingle F1 of what each one keeps (``evaluation.page_f1``), per corpus and overall;
- paragraphs/s of newsclean on text input (the same pages, segmented, without HTML);
- peak memory (max RSS) of each system's process, and its RSS once loaded;
- how time grows with input size: 1×, 2×, 4×, 8× a base set of pages;
- the multi-core speed-up of ``newsclean clean`` on a directory of the pages.

Every system runs in its own fresh process (spawned), pinned to one CPU with OpenMP/BLAS
threads limited to one, so timings and memory do not leak between systems; model loading and
imports are timed apart from cleaning. The report goes to ``reports/bench.md`` and
``reports/bench.json`` and to an MLflow run in the ``newsclean-bench`` experiment.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_EXPERIMENT = "newsclean-bench"
SCALES = (1, 2, 4, 8)
SCALE_BASE_PAGES = 100
CHUNK_PAGES = 16
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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


def _read(paths: list[str]) -> list[bytes]:
    return [Path(p).read_bytes() for p in paths]


def _load_cleaner(model_uri: str | None, tracking: dict[str, str]):
    from newsclean.cleaning import Cleaner
    from newsclean.config import load_config

    config = load_config([f"{k}={v}" for k, v in tracking.items()], environ={})
    return Cleaner.load(model_uri, config)


def _clean_html(cleaner, pages: list[bytes], stages: dict[str, float] | None = None) -> list[str]:
    """What ``newsclean clean`` does per chunk of pages: segment, clean, serialise."""
    from newsclean.inputs import RawArticle
    from newsclean.serving import clean_raw_articles

    texts = []
    for start in range(0, len(pages), CHUNK_PAGES):
        raws = [
            RawArticle(str(start + i), "html", page)
            for i, page in enumerate(pages[start : start + CHUNK_PAGES])
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
    if system == "newsclean":
        cleaner = _load_cleaner(model_uri, tracking)

        def extract_all(pages):
            return _clean_html(cleaner, pages)

    else:
        from newsclean.evaluation import PEERS

        extract = PEERS[system]

        def extract_all(pages):
            return [extract(p) for p in pages]

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
    }
    if system == "newsclean":
        result["stage_seconds"] = _stages(cleaner, pages)
        result.update(_text_input(cleaner, pages, repeats))
        result["scaling"] = _scaling(extract_all, pages, scale_base, scales)
    result["peak_rss_mb"] = _peak_mb()
    return result


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
    from newsclean.inputs import RawArticle
    from newsclean.segmentation import segment_html
    from newsclean.serving import clean_raw_articles

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
    from newsclean import batch

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

    if function.__module__ == "__main__":  # `python -m newsclean.bench`: pickle by module name
        function = getattr(importlib.import_module("newsclean.bench"), function.__name__)

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


# ------------------------------------------------------------------ the run


def load_test_pages(config, out_dir: Path, max_pages_per_corpus: int = 0) -> list[Page]:
    """The test pages of every page corpus (raw HTML written to ``out_dir``) with their gold."""
    from newsclean import dataset
    from newsclean.sources.pages import load_page
    from newsclean.training import PAGE_CORPORA

    corpora_dir = config.paths.corpora_dir
    if corpora_dir is None or not Path(corpora_dir).is_dir():
        raise FileNotFoundError(
            "the benchmark needs the real corpora (paths.corpora_dir); none configured"
        )
    frame = dataset.load(config.paths.processed_dir)
    pages = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for corpus in PAGE_CORPORA:
        part = frame[(frame["source"] == corpus) & (frame["split"] == "test")]
        doc_ids = sorted(part["doc_id"].unique())
        if max_pages_per_corpus:
            doc_ids = doc_ids[:max_pages_per_corpus]
        for doc_id in doc_ids:
            case = load_page(corpus, doc_id, Path(corpora_dir))
            if case is None:
                continue
            path = out_dir / f"{corpus}--{doc_id.replace('/', '_')}.html"
            path.write_bytes(case.html)
            pages.append(Page(corpus, doc_id, str(path), case.gold))
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
) -> dict[str, Any]:
    """Measure everything, write the report, log it; return the report as a dict."""
    from newsclean.batch import default_workers
    from newsclean.evaluation import PEERS, page_f1

    if not pages:
        raise ValueError("no pages to benchmark")
    systems = systems or ("newsclean", *PEERS)
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
    for system in systems:
        print(f"bench: {system} on {len(pages)} pages (one core)...", file=sys.stderr)
        results[system] = _in_fresh_process(
            measure_system, system, paths, cpu, model_uri, tracking, scale_base, scales, repeats
        )
    quality = []
    for system, result in results.items():
        outputs = result.pop("outputs")
        pairs = [(o, p.gold) for o, p in zip(outputs, pages, strict=True)]
        result.update({f"f1_{k}": v for k, v in page_f1(pairs).items() if k != "pages"})
        for corpus in sorted({p.corpus for p in pages}):
            scores = page_f1(
                [pair for pair, p in zip(pairs, pages, strict=True) if p.corpus == corpus]
            )
            quality.append({"system": system, "corpus": corpus, **scores})
    multi = []
    if "newsclean" in systems:
        for count in sorted({1, workers}):
            print(
                f"bench: newsclean clean on {len(pages)} pages, {count} worker(s)...",
                file=sys.stderr,
            )
            multi.append(_in_fresh_process(measure_batch, paths, count, cpu, model_uri, tracking))
    report = _summarise(results, quality, multi, pages, model_uri, workers, cpu)
    report["load_average_before"] = load_before
    report["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else []
    report["seconds_total"] = time.perf_counter() - started
    out_dir = out_dir or config.paths.reports_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(report, indent=2, default=str))
    (out_dir / "bench.md").write_text(markdown(report))
    if log_mlflow:
        report["mlflow_run_id"] = _log(config, report, out_dir)
        (out_dir / "bench.json").write_text(json.dumps(report, indent=2, default=str))
    return report


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
    if ours:
        lines += [
            "",
            f"Text input (the same pages' paragraphs, no HTML): "
            f"**{ours['text_paragraphs_per_s']:,.0f} paragraphs/s** "
            f"({ours['text_paragraphs']:,} paragraphs in {ours['text_seconds']:.1f} s, one core).",
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
    if report["quality_by_corpus"]:
        lines += ["", "## Page F1 by corpus", ""]
        systems = [s["system"] for s in report["systems"]]
        lines += ["| corpus | pages | " + " | ".join(systems) + " |"]
        lines += ["|---|---:|" + "---:|" * len(systems)]
        corpora = sorted({q["corpus"] for q in report["quality_by_corpus"]})
        for corpus in corpora:
            cells = {q["system"]: q for q in report["quality_by_corpus"] if q["corpus"] == corpus}
            pages = next(iter(cells.values()))["pages"]
            lines.append(
                f"| {corpus} | {pages} | "
                + " | ".join(f"{cells[s]['f1']:.4f}" for s in systems)
                + " |"
            )
    return "\n".join(lines) + "\n"


def _loads(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if values else "-"


def _log(config, report: dict[str, Any], out_dir: Path) -> str:
    import mlflow

    from newsclean import tracking

    tracking.configure(config)
    tracking.experiment(config, BENCH_EXPERIMENT)
    with mlflow.start_run(run_name=f"bench-{time.strftime('%Y%m%d-%H%M%S')}") as run:
        mlflow.set_tags({"git_commit": tracking.git_commit(), "role": "bench"})
        mlflow.log_params(
            {
                "model_uri": report["model_uri"],
                "pages": report["pages"],
                "workers": report["workers"],
                "cpus": report["cpus"],
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
        for peer, values in report["versus_peers"].items():
            metrics[f"speed_ratio_vs_{peer.replace('-', '_')}"] = values["speed_ratio"]
            metrics[f"f1_difference_vs_{peer.replace('-', '_')}"] = values["f1_difference"]
        if report["linearity"]:
            metrics["scaling_log_log_slope"] = report["linearity"]["log_log_slope"]
        if report["multi_core"]:
            metrics["multi_core_speedup"] = report["multi_core"]["speedup"]
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        mlflow.log_artifact(str(out_dir / "bench.md"))
        mlflow.log_artifact(str(out_dir / "bench.json"))
    return run.info.run_id


def _check_model(model_uri: str | None, tracking: dict[str, str]) -> str | None:
    from newsclean.cleaning import ModelNotFoundError

    try:
        _load_cleaner(model_uri, tracking)
    except ModelNotFoundError as error:
        return str(error)
    return None


def main(argv: list[str] | None = None) -> int:
    from newsclean.config import load_config

    parser = argparse.ArgumentParser(
        prog="python -m newsclean.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--model", metavar="URI", help="cleaner model (default: the champion)")
    parser.add_argument("--max-pages", type=int, default=0, help="test pages per corpus (0 = all)")
    parser.add_argument("--scale-base", type=int, default=SCALE_BASE_PAGES, help="pages at 1×")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per system (best kept)")
    parser.add_argument("--workers", type=int, help="processes for the batch run (default: all)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    args = parser.parse_args(argv)
    config = load_config(args.overrides)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    tracking = {
        "tracking.tracking_uri": config.tracking.tracking_uri,
        "tracking.artifact_root": str(config.tracking.artifact_root),
    }
    # Checked in a fresh process: loading a model puts its logged code first on sys.path,
    # which the measured processes would inherit (and run that copy of newsclean).
    problem = _in_fresh_process(_check_model, args.model, tracking)
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="newsclean-bench-") as tmp:
        try:
            pages = load_test_pages(config, Path(tmp) / "pages", args.max_pages)
        except FileNotFoundError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 1
        report = run(
            config,
            pages,
            args.model,
            scale_base=args.scale_base,
            repeats=args.repeats,
            workers=args.workers,
            log_mlflow=not args.no_mlflow,
        )
    print(markdown(report))
    print(f"written: {config.paths.reports_dir / 'bench.md'} and bench.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
