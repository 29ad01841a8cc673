"""The product's kind definition, applied to the block shapes the corpora disagree on.

docs/labels.md calls bylines, timestamps and picture captions/credits ``boilerplate``. The page
corpora do not agree: CleanEval's gold text keeps about three in four bylines and dragnet's
about one in six, where L3S marks 97% of them "not content". Trained on the mix, the kind model
learned "a byline is sometimes news" and kept them on every corpus. The dataset build therefore
relabels blocks that are *only* a byline, a timestamp or a picture credit as ``boilerplate``,
in every split, and counts each change in the build log; the page-level scores still use each
corpus's own gold text.

The patterns live in ``kindrules`` (the cleaner applies the same definition).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from newsclean.data.sources.base import BuildLog
from newsclean.kindrules import rule_for


def apply_label_rules(frame: pd.DataFrame, log: BuildLog) -> pd.DataFrame:
    """Relabel the blocks a rule matches as boilerplate (``is_news`` false, no topic).

    Notes ``label_rules.<source>.<rule>.<old kind>`` for every change, so the data card shows
    what the rules moved and from where."""
    rules = frame["text"].map(rule_for)
    old_kinds = frame["kind"].fillna("unknown")  # the note's name for a block of unknown kind
    changed = rules.notna() & (old_kinds != "boilerplate")
    out = frame.copy()
    if not changed.any():
        log.note("label_rules.changed", 0)
        return out
    counts = Counter(
        zip(
            frame.loc[changed, "source"],
            rules[changed],
            old_kinds[changed],
            strict=True,
        )
    )
    for (source, rule, old), count in sorted(counts.items()):
        log.note(f"label_rules.{source}.{rule}.{old}", count)
    rows = np.flatnonzero(changed.to_numpy())
    out.iloc[rows, out.columns.get_loc("kind")] = "boilerplate"
    out.iloc[rows, out.columns.get_loc("is_news")] = False
    if "topic" in out:
        out.iloc[rows, out.columns.get_loc("topic")] = None
    out["is_news"] = out["is_news"].astype(bool)
    log.note("label_rules.changed", int(changed.sum()))
    return out
