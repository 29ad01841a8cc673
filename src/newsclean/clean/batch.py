"""``newsclean clean``: clean files, directories and standard input, on every core.

The main process reads the inputs (``inputs.read_path``: cheap) and hands chunks of articles to
worker processes, which segment and clean them (the expensive part). Results come back in input
order. A bad input (a file or one JSONL record) is reported on standard error, counted, and the
batch goes on; the exit status is 1 when anything failed.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from newsclean.clean.cleaner import Cleaner
from newsclean.clean.inputs import InputError, RawArticle, expand_paths, read_path
from newsclean.clean.results import ModelNotFoundError
from newsclean.clean.settings import parse_keep
from newsclean.config import Config

CHUNK_ARTICLES = 16
_WORKER_CLEANER: Cleaner | None = None  # set before forking: the workers inherit it


@dataclass
class Outcome:
    """A cleaned article (``result``) or why it could not be cleaned (``error``)."""

    result: dict[str, Any] | None = None
    error: InputError | None = None


def clean_chunk(
    cleaner: Cleaner, raws: list[RawArticle], keep: tuple[str, ...] | None
) -> list[Outcome]:
    """Segment and clean a chunk; one failing article never takes its chunk down."""
    outcomes: list[Outcome | None] = []
    articles, slots = [], []
    for raw in raws:
        try:
            articles.append(raw.to_article())
            slots.append(len(outcomes))
            outcomes.append(None)
        except InputError as error:
            outcomes.append(Outcome(error=error))
        except Exception as error:  # noqa: BLE001 - reported per article, the batch goes on
            outcomes.append(Outcome(error=raw.error(f"cannot read: {error}")))
    try:
        results = cleaner.clean_many(articles, keep=keep)
    except Exception:  # noqa: BLE001 - find the article that fails, clean the others
        results = []
        for article in articles:
            try:
                results.append(cleaner.clean_many([article], keep=keep)[0])
            except Exception as error:  # noqa: BLE001
                results.append(
                    InputError(f"cleaning failed: {error}", article.path, article.record)
                )
    for slot, result in zip(slots, results, strict=True):
        outcomes[slot] = (
            Outcome(error=result) if isinstance(result, InputError) else Outcome(result.to_dict())
        )
    return outcomes  # type: ignore[return-value]


def _worker_init() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # one process per core: no nested OpenMP/BLAS threads
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def _worker_chunk(raws: list[RawArticle], keep: tuple[str, ...] | None) -> list[Outcome]:
    assert _WORKER_CLEANER is not None, "worker started without a cleaner"
    return clean_chunk(_WORKER_CLEANER, raws, keep)


def _chunks(
    paths: Iterable[str], stdin: IO[bytes] | None, size: int
) -> Iterator[list[RawArticle] | InputError]:
    """Articles of every input in order, grouped in chunks; errors in between, in order."""
    chunk: list[RawArticle] = []
    for path in expand_paths(paths):
        if isinstance(path, InputError):
            if chunk:
                yield chunk
                chunk = []
            yield path
            continue
        for item in read_path(path, stdin):
            if isinstance(item, InputError):
                if chunk:
                    yield chunk
                    chunk = []
                yield item
                continue
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def process(
    cleaner: Cleaner,
    paths: list[str],
    keep: tuple[str, ...] | None = None,
    workers: int = 1,
    stdin: IO[bytes] | None = None,
    chunk_size: int = CHUNK_ARTICLES,
) -> Iterator[Outcome]:
    """Every article's outcome, in input order, cleaned by ``workers`` processes."""
    global _WORKER_CLEANER
    items = _chunks(paths, stdin, chunk_size)
    head = list(itertools.islice(items, 2))
    items = itertools.chain(head, items)
    if workers <= 1 or len(head) < 2:  # one chunk: no pool to start
        for item in items:
            if isinstance(item, InputError):
                yield Outcome(error=item)
            else:
                yield from clean_chunk(cleaner, item, keep)
        return
    import multiprocessing

    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    _WORKER_CLEANER = cleaner
    pending: deque[Future | InputError] = deque()
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            for item in items:
                pending.append(
                    item if isinstance(item, InputError) else pool.submit(_worker_chunk, item, keep)
                )
                while len(pending) > 2 * workers:
                    yield from _drain(pending.popleft())
            while pending:
                yield from _drain(pending.popleft())
    finally:
        _WORKER_CLEANER = None


def _drain(item: Future | InputError) -> Iterator[Outcome]:
    if isinstance(item, InputError):
        yield Outcome(error=item)
    else:
        yield from item.result()


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def run(
    config: Config,
    paths: list[str],
    model_uri: str | None = None,
    jsonl: bool = False,
    keep: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    stdin: IO[bytes] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    topics: bool = True,
) -> int:
    """The ``newsclean clean`` command; returns the exit status. ``topics=False`` skips the
    topic model (every paragraph's ``topics`` is empty)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        keep_kinds = parse_keep(keep) if keep else None
    except ValueError as error:
        print(f"newsclean clean: {error}", file=stderr)
        return 2
    if paths.count("-") > 1:
        print("newsclean clean: '-' (standard input) can be given once", file=stderr)
        return 2
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # standard error is for our messages
    try:
        cleaner = Cleaner.load(model_uri, config)
    except ModelNotFoundError as error:
        print(f"newsclean clean: {error}", file=stderr)
        return 1
    if not topics:  # before the workers fork: they inherit it
        cleaner = cleaner.with_settings(topics=False)
    workers = workers or default_workers()
    many = len(paths) > 1 or any(os.path.isdir(p) for p in paths if p != "-")
    show = many if progress is None else progress
    from tqdm import tqdm

    bar = tqdm(
        total=None,
        unit=" articles",
        file=stderr,
        disable=not show,
        dynamic_ncols=True,
        desc="cleaning",
    )
    cleaned = failed = 0
    first: dict | None = None  # text mode: a header only when there is a second article
    headers = False

    def write_text(result: dict) -> None:
        if headers:
            stdout.write(f"==> {result['path'] or result['id']} <==\n")
        stdout.write(result["text"] + "\n")
        if headers:
            stdout.write("\n")

    try:
        for outcome in process(cleaner, paths, keep_kinds, workers, stdin):
            bar.update(1)
            if outcome.error is not None:
                failed += 1
                bar.write(f"newsclean clean: {outcome.error}", file=stderr)
                continue
            cleaned += 1
            result = outcome.result
            assert result is not None
            if jsonl:
                stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            elif first is None and not headers:
                first = result
            else:
                if first is not None:
                    headers = True
                    write_text(first)
                    first = None
                write_text(result)
        if first is not None:
            write_text(first)
        stdout.flush()
    except KeyboardInterrupt:
        bar.close()
        print("newsclean clean: interrupted", file=stderr)
        return 130
    except BrokenPipeError:  # e.g. `newsclean clean ... | head`
        return 0
    bar.close()
    if many or failed:
        print(
            f"newsclean clean: {cleaned:,} article(s) cleaned, {failed:,} failed",
            file=stderr,
        )
    if cleaned == 0 and failed == 0:
        print("newsclean clean: no input", file=stderr)
        return 1
    return 1 if failed else 0
