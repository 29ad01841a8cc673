"""The fast profile: registered beside the champion under its own alias, loaded by profile."""

from __future__ import annotations

import mlflow
import pytest

from newsclean import Cleaner
from newsclean.clean.registry import CLEANER_MODEL_NAME, FAST_ALIAS, PROFILES, profile_uri

pytestmark = pytest.mark.slow


def test_the_fast_cleaner_has_its_own_alias_and_the_champion_keeps_its_own(cleaner_store):
    from newsclean import tracking

    tracking.configure(cleaner_store.config)  # other tests point MLflow at their own stores
    client = mlflow.MlflowClient()
    fast = client.get_model_version_by_alias(CLEANER_MODEL_NAME, FAST_ALIAS)
    champion = client.get_model_version_by_alias(CLEANER_MODEL_NAME, "champion")
    assert fast.version != champion.version
    assert cleaner_store.fast_summary["promoted"] is True
    assert fast.tags["promotion"] == "no 'fast' yet"


def test_the_fast_profile_loads_by_name_and_cleans(cleaner_store):
    from pathlib import Path

    fast = Cleaner.load(config=cleaner_store.config, profile="fast")
    accurate = Cleaner.load(config=cleaner_store.config)
    assert fast.settings.junk_gate and not accurate.settings.junk_gate
    text = (Path(__file__).parents[1] / "fixtures/behaviour/typical_article.txt").read_text()
    assert fast.clean(text).kept  # a body survives
    # no char n-grams in the fast kind model's features (ReweightedKind > stack > base)
    columns = fast.kind_model.model.base_.features_.named_steps["features"]
    assert "char_tfidf" not in columns.named_transformers_


def test_profiles_name_registered_uris():
    assert profile_uri() == PROFILES["accurate"] == "models:/newsclean-cleaner@champion"
    assert profile_uri("FAST") == "models:/newsclean-cleaner@fast"
    assert profile_uri("fast", model="runs:/abc/cleaner") == "runs:/abc/cleaner"
    with pytest.raises(ValueError, match="unknown profile 'quick'"):
        profile_uri("quick")
