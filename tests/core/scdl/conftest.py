"""Fixtures of the SCDL tests: the shared corpus converted once by the real converter."""
from __future__ import annotations

from pathlib import Path

import pytest

from ckanext.budgetod.core.scdl import conversion
from tests.support.settings import offline_settings
from tests.support.shared import CORPUS


@pytest.fixture(scope="session")
def converted(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Every sample document converted once: name → (XML, CSV)."""
    directory = tmp_path_factory.mktemp("scdl")
    settings = offline_settings(cache_dir=str(tmp_path_factory.mktemp("cache")))
    paths = {}
    for document in CORPUS:
        target = directory / f"{document.stem}.csv"
        conversion.convert_document(document, target, settings)
        paths[document.stem] = (document, target)
    return paths
