"""Shared fixtures of the converter core tests: the read-only corpus in ../shared/data,
an environment that never reaches the network, and small plans in tmp_path."""
from __future__ import annotations

from pathlib import Path

import pytest

from ckanext.budgetod.core.totem import nomenclature

REPOSITORY = Path(__file__).resolve().parents[2]
SHARED_DATA = REPOSITORY / ".." / "shared" / "data"
TOTEM_DIR = SHARED_DATA / "totem"
BROKEN_DIR = TOTEM_DIR / "broken"
PLANS_DIR = SHARED_DATA / "plans-de-comptes"
SCHEMA_PATH = SHARED_DATA / "scdl-budget" / "schema-0.8.3.json"
CORPUS = sorted(TOTEM_DIR.glob("*.xml"))


@pytest.fixture
def offline_environment(monkeypatch, tmp_path_factory):
    """Local plans and schema by default, a private cache, French messages, fresh plan caches.

    The converter's test modules use it for every test (``pytestmark``); it is not
    autouse so that other modules here keep the environment they set up themselves."""
    monkeypatch.setenv("BUDGETOD_PLANS_DE_COMPTES", str(PLANS_DIR))
    monkeypatch.setenv("BUDGETOD_SCDL_SCHEMA", str(SCHEMA_PATH))
    monkeypatch.setenv("BUDGETOD_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("BUDGETOD_LANG", raising=False)
    nomenclature.clear_caches()
    yield
    nomenclature.clear_caches()


@pytest.fixture
def plans_dir(tmp_path) -> Path:
    """An empty plans de comptes mirror; tests write the plans they need with write_plan."""
    directory = tmp_path / "plans"
    directory.mkdir()
    return directory
