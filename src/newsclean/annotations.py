"""Our own kind annotations of page blocks, joined onto the dataset by (source, doc_id,
position, text hash). Placeholder until the annotation issue lands: no annotations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from newsclean.sources.base import BuildLog


def apply_annotations(frame: pd.DataFrame, annotations_dir: Path, log: BuildLog) -> pd.DataFrame:
    return frame
