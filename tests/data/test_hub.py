"""The AG News hub loader: real `datasets` call, failing fast and clearly when offline."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from newsclean.config import load_config
from newsclean.data.sources.base import BuildLog
from newsclean.data.sources.hub import (
    HUB_REPOS,
    HubUnavailableError,
    ag_news_hub,
    load_ag_news,
)

OFFLINE_SCRIPT = """
import sys
from newsclean.data.sources.base import BuildLog
from newsclean.data.sources.hub import HubUnavailableError, ag_news_hub
try:
    next(ag_news_hub(BuildLog()))
except HubUnavailableError as error:
    print(error)
    sys.exit(3)
sys.exit(0)
"""


@pytest.mark.slow  # about 5 s: a fresh interpreter importing datasets
def test_offline_hub_load_fails_fast_with_a_clear_message(tmp_path):
    """Through the real datasets.load_dataset, in a fresh interpreter with the offline flags
    and an empty Hugging Face cache, as CI runs it."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 3, done.stderr[-2000:]
    message = done.stdout
    assert "offline mode is on" in message
    assert "fancyzhx/ag_news" in message
    assert "data.ag_news_hub=false" in message
    assert seconds < 30  # interpreter + datasets import + two refused lookups, no retries


class FakeLabel:
    names = ["World", "Sports", "Business", "Sci/Tech"]


class FakeSplit(list):
    features = {"label": FakeLabel()}


def fake_loader(calls: list[str]):
    def load(repo: str):
        calls.append(repo)
        return {
            "train": FakeSplit(
                [
                    {"text": "Rovers win the cup final after extra time", "label": 1},
                    {"text": "Harlan Bank lifts profits \\$2bn as rates rise", "label": 2},
                    {"text": "  ", "label": 0},
                    {"text": "Unlabelled row", "label": 7},
                ]
            ),
            "test": FakeSplit(
                [
                    {"text": "Probe finds ice on the moon of a far planet", "label": 3},
                    {"text": "Ministers agree a ceasefire at border talks", "label": 0},
                ]
            ),
        }

    return load


def test_hub_rows_become_news_documents_with_ag_splits_kept():
    calls: list[str] = []
    log = BuildLog()
    documents = list(ag_news_hub(log, loader=fake_loader(calls)))
    assert calls == [HUB_REPOS[0]]
    assert [d.doc_id for d in documents] == [
        "ag-hub-train-1",
        "ag-hub-train-2",
        "ag-hub-test-1",
        "ag-hub-test-2",
    ]
    assert {d.source for d in documents} == {"ag-news"}
    assert [d.official_split for d in documents] == ["train", "train", "test", "test"]
    topics = [d.paragraphs[0].topic for d in documents]
    assert topics == ["sports", "business", "sci_tech", "world"]
    assert all(p.kind == "news" and p.is_news for d in documents for p in d.paragraphs)
    assert documents[1].paragraphs[0].text == "Harlan Bank lifts profits $2bn as rates rise"
    reasons = {reason for (_, reason) in log.drops}
    assert reasons == {"empty text", "unknown class 7"}


def test_the_legacy_name_is_tried_when_the_first_fails():
    calls: list[str] = []
    good = fake_loader(calls)

    def flaky(repo: str):
        if repo == HUB_REPOS[0]:
            calls.append(repo)
            raise ConnectionError("no route to host")
        return good(repo)

    data = load_ag_news(loader=flaky)
    assert calls == list(HUB_REPOS) and "train" in data


def test_every_failure_is_reported(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)

    def refuse(repo: str):
        raise ConnectionError(f"cannot reach {repo}")

    with pytest.raises(HubUnavailableError) as error:
        load_ag_news(loader=refuse)
    text = str(error.value)
    assert "could not be reached" in text
    assert all(f"cannot reach {repo}" in text for repo in HUB_REPOS)


def test_the_hub_is_off_unless_asked_for():
    assert load_config(environ={}).data.ag_news_hub is False
    assert load_config(overrides=["data.ag_news_hub=true"], environ={}).data.ag_news_hub is True
    assert load_config(environ={"NEWSCLEAN_AG_NEWS_HUB": "1"}).data.ag_news_hub is True
