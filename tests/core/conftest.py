"""Fixtures of the core tests: the command line's environment, which never reaches the network (the
plans and schema of the shared data), small plans in tmp_path, and a local misbehaving HTTP site."""
from __future__ import annotations

from pathlib import Path

import pytest

from ckanext.budgetod.core.totem import nomenclature
from tests.support.http_site import start_site, stop_site
from tests.support.shared import PLANS_DIR, SCHEMA_PATH


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


@pytest.fixture
def site():
    """The misbehaving local site (tests.support.http_site), stopped after the test."""
    server, site, thread = start_site()
    yield site
    stop_site(server, site, thread)
