"""Models registered before the packages still load: a pickle naming an old flat module
(``newsclean.features.CharTfidf``) gets the class from its new home."""

from __future__ import annotations

import importlib
import pickle

import pytest

import newsclean  # noqa: F401 - installs the old-path hook
from newsclean.legacy import OLD_MODULES


@pytest.mark.parametrize("old", sorted(OLD_MODULES))
def test_every_old_module_answers_with_its_new_one(old):
    assert importlib.import_module(old) is importlib.import_module(OLD_MODULES[old])


def test_a_pickle_naming_old_paths_loads():
    from newsclean.clean.pyfunc import CleanerModel
    from newsclean.clean.settings import CleanerSettings
    from newsclean.ml.features import CharTfidf
    from newsclean.ml.kind import NeighbourStack
    from newsclean.ml.topic import TopicTagger

    # Protocol 0 pickles of the classes, by the names the old layout gave them.
    for old, cls in [
        ("newsclean.features", CharTfidf),
        ("newsclean.models", NeighbourStack),
        ("newsclean.topics", TopicTagger),
        ("newsclean.serving", CleanerModel),
        ("newsclean.cleaning", CleanerSettings),
    ]:
        data = f"c{old}\n{cls.__name__}\np0\n.".encode()
        assert pickle.loads(data) is cls


def test_a_fitted_estimator_pickled_under_an_old_name_round_trips():
    from newsclean.ml.features import CharTfidf

    fitted = CharTfidf(ngram_range=(2, 3)).fit(["one two", "three four"])
    data = pickle.dumps(fitted, protocol=0).replace(b"newsclean.ml.features", b"newsclean.features")
    loaded = pickle.loads(data)
    assert type(loaded) is CharTfidf
    assert (loaded.transform(["one"]) != fitted.transform(["one"])).nnz == 0
