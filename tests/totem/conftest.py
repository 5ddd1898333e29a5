"""Shared fixtures of the converter core tests: the read-only corpus in ../shared/data,
settings and a command-line environment that never reach the network, and small plans in tmp_path."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.totem import nomenclature

REPOSITORY = Path(__file__).resolve().parents[2]
SHARED_DATA = REPOSITORY / ".." / "shared" / "data"
TOTEM_DIR = SHARED_DATA / "totem"
BROKEN_DIR = TOTEM_DIR / "broken"
PLANS_DIR = SHARED_DATA / "plans-de-comptes"
SCHEMA_PATH = SHARED_DATA / "scdl-budget" / "schema-0.8.3.json"
CORPUS = sorted(TOTEM_DIR.glob("*.xml"))


def offline_settings(plans: Path | str = PLANS_DIR, **changes: Any) -> Settings:
    """Settings reading the plans de comptes under ``plans`` (the shared ones by default) and the
    shared schema, with ``changes`` (``Settings.replace``) over them."""
    return Settings(plans_de_comptes=str(plans), scdl_schema=str(SCHEMA_PATH)).replace(**changes)


@pytest.fixture
def offline_environment(monkeypatch, tmp_path_factory):
    """The command line's environment (``Settings.from_environment``): local plans and schema, a
    private cache; and French messages, fresh plan caches.

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
