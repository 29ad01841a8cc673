"""The topic tagger: tags news and teaser paragraphs with topics, abstaining when unsure.

For now a thin wrapper around the generic candidate loop in ``newsclean.training``.
"""

from __future__ import annotations

import pandas as pd

from newsclean.config import Config


def train_topic(frame: pd.DataFrame, config: Config, digest: str, card: dict) -> dict:
    from newsclean.training import TASKS, train_task

    return train_task(TASKS["topic"], frame, config, digest, card)
