"""data.gouv.fr sync tests: real CKAN, PostgreSQL, Redis and filestore; udata is the local stand-in
(tests/support/udata_standin.py), which checks every request against the real API's swagger. The budget
datasets and the helpers are in tests/support/ckan_datagouv.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from ckan.tests import factories, helpers

from ckanext.budgetod import settings
from ckanext.budgetod.datagouv import sync
from tests.support.ckan_datagouv import API_KEY, PORTAL_ORGANIZATION, ZONES, Portal
from tests.support.repository import REPOSITORY
from tests.support.udata_standin import UdataStandIn


@pytest.fixture
def udata():
    with UdataStandIn(stall_timeout=5) as standin:
        yield standin
        assert standin.internal_errors == []


@pytest.fixture
def udata_organization(udata) -> dict:
    for zone_id, name in ZONES.items():
        udata.add_zone(zone_id, name)
    return udata.add_organization("Région Bretagne — budgets", members={API_KEY: "editor"})


@pytest.fixture
def datagouv_config(clean_db, udata, udata_organization, ckan_config, monkeypatch, empty_jobs_queue) -> dict:
    """The sync enabled and pointed at the stand-in; returns the options as an ini section would set them."""
    options = {
        "ckanext.budgetod.datagouv.enabled": True,
        "ckanext.budgetod.datagouv.url": udata.origin(),
        "ckanext.budgetod.datagouv.api_key": API_KEY,
        # The portal organisation of the `portal` fixture, tied by the sysadmins to its udata organisation.
        "ckanext.budgetod.datagouv.organizations": f"{PORTAL_ORGANIZATION}={udata_organization['slug']}",
        # Stalled requests give up after a second.
        "ckanext.budgetod.http_timeout": 1,
    }
    for key, value in options.items():
        monkeypatch.setitem(ckan_config, key, value)
    return options


@pytest.fixture
def portal(datagouv_config, udata_organization) -> Portal:
    sysadmin = factories.Sysadmin()
    organization = factories.Organization(name=PORTAL_ORGANIZATION, title="Région Bretagne")
    source = helpers.call_action(
        "harvest_source_create", context={"user": sysadmin["name"]}, name="budgets-bretagne",
        title="Budgets", url="https://budgets.example.org/", source_type="budgetod_totem",
        config=json.dumps({"datagouv": {"organization": udata_organization["slug"]}}),
        owner_org=organization["id"], frequency="MANUAL")
    job = helpers.call_action("harvest_job_create", context={"user": sysadmin["name"]}, source_id=source["id"],
                              run=False)
    return Portal(sysadmin, organization, source, job)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def synchroniser(datagouv_config, waits):
    """Syncs in this process; the client's back-off waits are recorded instead of slept."""

    def make(**kwargs) -> sync.Synchroniser:
        options = settings.current()
        return sync.Synchroniser(sync.client(options, sleep=waits.append), options, **kwargs)

    return make


@pytest.fixture
def subprocess_ini(tmp_path, datagouv_config) -> Path:
    """An ini for `ckan` processes: test.ini (logging sections included) with this test's sync options."""
    options = "".join(f"{key} = {str(value).lower() if isinstance(value, bool) else value}\n"
                      for key, value in datagouv_config.items())
    lines = [line for line in (REPOSITORY / "test.ini").read_text().splitlines(keepends=True)
             if line.split("=", 1)[0].strip() not in datagouv_config]
    path = tmp_path / "datagouv.ini"
    path.write_text("".join(lines).replace("[app:main]\n", "[app:main]\n" + options, 1))
    return path
