"""Peak memory of this process, per stage.

``ru_maxrss`` only ever grows, so a second task trained in the same ``make train`` would
report the first one's peak. Linux lets a process reset its own high-water mark
(``/proc/self/clear_refs``, value 5) and read it back as ``VmHWM``; where that is missing
``reset_peak`` returns False and ``peak_mb`` falls back to the lifetime peak.
"""

from __future__ import annotations

import resource
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak() -> bool:
    """Start a new measuring window; False where the platform cannot reset the peak."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """Peak resident memory (MB) since the last successful ``reset_peak``, else since start."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
