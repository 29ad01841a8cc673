"""The per-stage peak memory that training reports."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from newsclean import memory

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


@linux_only
def test_peak_rises_with_an_allocation_and_a_reset_forgets_it():
    """A second task must not report the first task's peak, and must see its own."""
    assert memory.reset_peak() is True
    low = memory.peak_mb()
    block = np.full(200_000_000 // 8, 2.0)  # 200 MB, touched
    high = memory.peak_mb()
    assert high > low + 150
    del block
    assert memory.reset_peak() is True
    assert memory.peak_mb() < high - 150


def test_without_proc_the_lifetime_peak_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(memory, "_CLEAR_REFS", tmp_path / "missing" / "clear_refs")
    monkeypatch.setattr(memory, "_STATUS", tmp_path / "missing" / "status")
    assert memory.reset_peak() is False
    lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert memory.peak_mb() == pytest.approx(lifetime, rel=0.05)
