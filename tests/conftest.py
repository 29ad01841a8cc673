"""Shared fixtures: a config that writes only under tmp_path, and a tiny fake corpora folder.

Every fixture text under tests/fixtures/ was written for these tests; none of it comes from the
real corpora.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

# Never let `datasets` (or anything it pulls in) reach the network during tests.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

from newsclean.config import Config, load_config  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
CORPORA_FIXTURES = FIXTURES / "corpora"
# Files copied as they are; everything else is gzipped to <name>.gz like the real corpora.
_PLAIN_FILES = {Path("dragnet/training.txt"), Path("dragnet/test.txt")}
READABILITY_CASE = "harbour-market"


def config_overrides(tmp_path: Path) -> list[str]:
    return [
        f"paths.processed_dir={tmp_path / 'processed'}",
        f"paths.reports_dir={tmp_path / 'reports'}",
        f"tracking.artifact_root={tmp_path / 'mlruns'}",
        f"paths.annotations_dir={tmp_path / 'annotations'}",
        f"tracking.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        "paths.corpora_dir=none",
    ]


@pytest.fixture
def tmp_config(tmp_path: Path) -> Config:
    """The project config with every output under tmp_path and the bundled sample only."""
    return load_config(overrides=config_overrides(tmp_path), environ={})


def write_gz(path: Path, data: bytes | str) -> Path:
    """Write ``data`` gzipped to ``path`` (parents created)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


@pytest.fixture
def gz_writer():
    """The write_gz helper, for tests that add their own (bad) files to a corpora folder."""
    return write_gz


def cp1252_bytes(extra: bytes = b"") -> bytes:
    """The cp1252 fixture page as windows-1252 bytes (no charset declared), plus ``extra``."""
    text = (FIXTURES / "pages" / "cp1252_page.html").read_text(encoding="utf-8")
    head, _, tail = text.partition("</h1>")
    return head.encode("cp1252") + extra + b"</h1>" + tail.encode("cp1252")


@pytest.fixture
def cp1252_page() -> bytes:
    return cp1252_bytes()


def _readability_padding(kind: str) -> str:
    """Invented site furniture, enough to push the test page past the 10,000-byte cut."""
    desks = ["Harbour", "Council", "Schools", "Weather", "Ferries", "Markets", "Sport", "Arts"]
    if kind == "NAV":
        items = "".join(
            f'<li class="nav-item"><a href="/section/{i}">{desks[i % len(desks)]} desk, '
            f"district {i}</a></li>\n"
            for i in range(80)
        )
        return f'<nav class="site-nav" id="primary-nav"><ul>\n{items}</ul></nav>'
    rows = "".join(
        f'<li><a href="/archive/{1990 + i}">Archive of the Coastal Ledger for the year '
        f"{1990 + i}</a></li>\n"
        for i in range(45)
    )
    return (
        f'<footer class="site-footer"><ul class="archive">\n{rows}</ul>'
        "<p>The Coastal Ledger is published by Quayside Media, Harbour Street 4, Saltmarsh.</p>"
        "</footer>"
    )


def build_fake_corpora(root: Path) -> Path:
    """Lay out tests/fixtures/corpora under ``root`` the way each source reader expects."""
    for source in sorted(CORPORA_FIXTURES.rglob("*")):
        if not source.is_file():
            continue
        relative = source.relative_to(CORPORA_FIXTURES)
        if relative in _PLAIN_FILES:
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            continue
        data = source.read_bytes()
        if relative == Path("readability-testpages", READABILITY_CASE, "source.html"):
            text = data.decode("utf-8")
            for kind in ("NAV", "FOOTER"):
                text = text.replace(f"<!-- PADDING:{kind} -->", _readability_padding(kind))
            data = text.encode("utf-8")
            assert len(data) >= 10_000, "the readability test page must look like a real page"
        if relative.name == "clickbait_data":
            # One line in no encoding at all: 0x81 is undefined in UTF-8 and in cp1252.
            data += b"\nThe caf\x81 that nobody could spell will surprise you\n"
        write_gz(root / f"{relative}.gz", data)
    # A cleaneval page saved in windows-1252 without a charset declaration.
    write_gz(root / "cleaneval/dev/input/2.html.gz", cp1252_bytes())
    write_gz(
        root / "cleaneval/dev/GoldStandard/2.txt.gz",
        (FIXTURES / "gold" / "cp1252_page.txt").read_bytes(),
    )
    return root


@pytest.fixture
def fake_corpora(tmp_path: Path) -> Path:
    """A tiny corpora folder (a few invented documents per corpus, good and bad records)."""
    return build_fake_corpora(tmp_path / "corpora")


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory):
    """One build of the bundled sample, shared by the tests that only read its outputs."""
    from newsclean.data import dataset

    tmp_path = tmp_path_factory.mktemp("sample_build")
    config = load_config(overrides=config_overrides(tmp_path), environ={})
    frame, card = dataset.build(config)
    return config, frame, card


# -- the cleaner (tests/clean/, tests/tools/test_bench.py) --------
@pytest.fixture(scope="session")
def cleaner_store(tmp_path_factory):
    """A temporary MLflow store with sample-trained kind and topic champions and the cleaner
    built, registered and promoted over them (tests/clean_support.py)."""
    from clean_support import train_sample_store

    return train_sample_store(tmp_path_factory.mktemp("cleaner_store"))


@pytest.fixture(scope="session")
def cleaner(cleaner_store):
    """The registered cleaner, loaded as users load it (``Cleaner.load``)."""
    from newsclean import Cleaner

    return Cleaner.load(config=cleaner_store.config)


# -- behaviour tests (tests/clean/test_behaviour.py) ------------------------------------------
def pytest_addoption(parser):
    parser.addoption(
        "--cleaner-uri",
        default=None,
        help="run tests/clean/test_behaviour.py on this registered cleaner (e.g. "
        "models:/newsclean-cleaner@champion in the project's store) instead of the "
        "sample-trained one (`make test-behaviour`)",
    )


@pytest.fixture(scope="session")
def behaviour_cleaner(request):
    """The cleaner the behaviour tests judge: the sample-trained one (CI), or ``--cleaner-uri``
    loaded from the project's store."""
    from newsclean import Cleaner

    uri = request.config.getoption("--cleaner-uri")
    if uri:
        return Cleaner.load(uri)
    return request.getfixturevalue("cleaner")
