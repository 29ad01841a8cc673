"""Old import paths of models registered before the packages (``newsclean.features``,
``newsclean.models``, ``newsclean.topics``, ``newsclean.serving``, ...).

A pickled model names each class by the module it lived in. Models logged before the layout
of ``data`` / ``ml`` / ``train`` / ``clean`` / ``tools`` name the old flat modules, so
``install()`` (run by ``import newsclean``) adds an import hook that answers each old name
with the module that holds its classes now. Nothing imports an old name otherwise."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# old module -> new module (the classes and functions a pickle can name live there, or are
# imported there).
OLD_MODULES = {
    "newsclean.features": "newsclean.ml.features",
    "newsclean.models": "newsclean.ml.kind",
    "newsclean.topics": "newsclean.ml.topic",
    "newsclean.serving": "newsclean.clean.pyfunc",
    "newsclean.cleaning": "newsclean.clean.cleaner",
    "newsclean.pagepass": "newsclean.clean.pagepass",
    "newsclean.inputs": "newsclean.clean.inputs",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:  # already executed as its new name
        return None


class OldPathFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = OLD_MODULES.get(fullname)
        if new is None or new == fullname:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    if not any(isinstance(finder, OldPathFinder) for finder in sys.meta_path):
        sys.meta_path.append(OldPathFinder())
