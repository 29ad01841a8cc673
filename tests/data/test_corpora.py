"""A small build on the real corpora (../shared/corpora): skipped when they are absent.

Nothing from the corpora is written into the repository: the build goes to tmp_path.
"""

from __future__ import annotations

import json

import pytest

from newsclean.config import KINDS, PROJECT_ROOT, SPLITS
from newsclean.data import dataset
from newsclean.data.textviews import page_doc_id

CORPORA = PROJECT_ROOT.parent / "shared" / "corpora"

pytestmark = [
    pytest.mark.corpora,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CORPORA.is_dir(), reason=f"real corpora not found at {CORPORA} (optional)"
    ),
]


@pytest.fixture(scope="module")
def real_build(tmp_path_factory):
    from newsclean.config import load_config

    tmp_path = tmp_path_factory.mktemp("corpora_build")
    config = load_config(
        overrides=[
            f"paths.processed_dir={tmp_path / 'processed'}",
            f"paths.reports_dir={tmp_path / 'reports'}",
            f"tracking.artifact_root={tmp_path / 'mlruns'}",
            f"tracking.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
            f"paths.corpora_dir={CORPORA}",
            "data.max_docs_per_source=30",
        ],
        environ={},
    )
    frame, card = dataset.build(config)
    return config, frame, card


def test_real_sources_give_every_kind(real_build):
    _, frame, _ = real_build
    real = frame[frame["source"] != "sample"]
    assert set(real["kind"].dropna()) == set(KINDS)
    assert real["kind"].isna().any()
    present = {name for name in ("l3s-gn1", "dragnet", "cleaneval") if (CORPORA / name).is_dir()}
    assert present <= set(real["source"])
    assert set(frame["split"]) <= set(SPLITS)
    assert (frame.groupby(["source", "doc_id"])["split"].nunique() == 1).all()
    # At most 30 documents were read per source (the cap), fewer after drops and dedup.
    pages = real["doc_id"].map(page_doc_id)  # a page's text view is the same page
    assert (pages.groupby(real["source"]).nunique() <= 30).all()


def test_l3s_alignment_agreement(real_build):
    config, _, card = real_build
    if not (CORPORA / "l3s-gn1").is_dir():
        pytest.skip("l3s-gn1 is not among the corpora")
    assert card["notes"]["l3s-gn1.l3s_align_blocks"] > 100
    assert card["notes"]["l3s_alignment_agreement"] >= 0.95
    saved = json.loads((config.paths.reports_dir / "data_card.json").read_text())
    assert saved["notes"]["l3s_alignment_agreement"] == card["notes"]["l3s_alignment_agreement"]
