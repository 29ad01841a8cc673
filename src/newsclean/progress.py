"""Progress of the long steps (``newsclean data``, ``train`` per candidate and per fold,
``bench`` per system): a bar when standard error is a terminal; in a log, nothing more than the
plain line each step prints when it ends."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

T = TypeVar("T")


def on_terminal(stream: IO[str] | None = None) -> bool:
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


def steps(
    items: Iterable[T], what: str, total: int | None = None, stream: IO[str] | None = None
) -> Iterator[T]:
    """``items`` one by one, with a tqdm bar named ``what`` on a terminal."""
    stream = sys.stderr if stream is None else stream
    if not on_terminal(stream):
        yield from items
        return
    from tqdm import tqdm

    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with tqdm(items, desc=what, total=total, file=stream, leave=False, unit="step") as bar:
        yield from bar
