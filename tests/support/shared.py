"""The shared read-only test data, ``../shared/data`` beside the checkout: the one place that finds it.

Importing this module checks that the data is there. Without it, a run under ``CI=true`` fails at
collection (a CI run must never pass without the data); elsewhere the modules that import it are
skipped, saying where the data was looked for."""
import os
from pathlib import Path

import pytest

from tests.support.repository import REPOSITORY


def shared_data() -> Path:
    """The shared data directory, or a collection failure under CI=true, or a skipped module."""
    location = REPOSITORY.parent / "shared" / "data"
    if not location.is_dir():
        reason = f"the shared test data is missing: {location} (see docs/development.md)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason, allow_module_level=True)
    return location


SHARED_DATA = shared_data()
SHARED_TOTEM = SHARED_DATA / "totem"
BROKEN_DIR = SHARED_TOTEM / "broken"
CORPUS = sorted(SHARED_TOTEM.glob("*.xml"))
PLANS_DIR = SHARED_DATA / "plans-de-comptes"
SCHEMA_PATH = SHARED_DATA / "scdl-budget" / "schema-0.8.3.json"
SWAGGER_PATH = SHARED_DATA / "udata" / "swagger-v1.json"
