"""Acceptance: each of the five source kinds, end to end, from local servers answering like the real
thing (static files, an autoindex page, a ZIP archive, a CKAN action API, the udata API v1)."""
from __future__ import annotations

import io
import zipfile

import pytest

from tests.support.ckan_harvest import by_role, create_source, dataset, harvest, occulted, stored_file
from tests.support.servers import CkanStandIn, LocalServer, UdataStandIn
from tests.support.shared import SHARED_TOTEM

pytestmark = pytest.mark.usefixtures("harvest_db")

LOTISSEMENT = ("crach-lotissement-bp-2022.xml", "budget-21560046100085-2022-annexe-06",
               "21560046100085-2022-01-annexe-06")
CRACH_CA = ("crach-principal-ca-2021.xml", "budget-21560046100010-2021", "21560046100010-2021-09")
TRANSPORT = ("transport-m43-bp-2022.xml", "budget-24350078200095-2022-annexe-06",
             "24350078200095-2022-01-annexe-06")


@pytest.fixture
def server():
    with LocalServer(files={f"/docs/{name}": (SHARED_TOTEM / name).read_bytes()
                            for name, _dataset, _key in (LOTISSEMENT, CRACH_CA, TRANSPORT)}) as local:
        yield local


def assert_published(*documents) -> None:
    for filename, name, key in documents:
        resources = by_role(dataset(name)["resources"], key)
        assert set(resources) == {"scdl", "totem", "report"}, name
        assert stored_file(resources["totem"]).read_bytes() == occulted(SHARED_TOTEM / filename)


def assert_clean(run, added: int) -> None:
    assert run.errors() == []
    assert run.stats["added"] == added and run.stats["errored"] == 0


def test_file(sysadmin, organization, server):
    run = harvest(create_source(sysadmin, organization, server.url("/docs/crach-principal-ca-2021.xml")))
    assert_clean(run, 1)
    assert_published(CRACH_CA)
    assert list(run.results) == [server.url("/docs/crach-principal-ca-2021.xml")]


def test_index_page(sysadmin, organization):
    with LocalServer(directory=SHARED_TOTEM) as shared:
        run = harvest(create_source(sysadmin, organization, shared.url("/"),
                                    {"pattern": "crach-lotissement|transport"}))
    assert_clean(run, 2)
    assert_published(LOTISSEMENT, TRANSPORT)


def test_zip_archive(sysadmin, organization, server):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as budgets:
        for filename, _name, _key in (LOTISSEMENT, TRANSPORT):
            budgets.writestr(f"budgets-2022/{filename}", (SHARED_TOTEM / filename).read_bytes())
    server.put("/budgets-2022.zip", archive.getvalue())
    source = create_source(sysadmin, organization, server.url("/budgets-2022.zip"))

    run = harvest(source)

    assert_clean(run, 2)
    assert_published(LOTISSEMENT, TRANSPORT)
    again = harvest(source)
    assert again.stats["not modified"] == 2 and again.stats["added"] == 0


def test_ckan_portal(sysadmin, organization, server):
    remote = CkanStandIn(server)
    remote.add_organization("crach", "Commune de Crach")
    remote.add_dataset("budgets-crach", [
        {"url": server.url("/docs/crach-principal-ca-2021.xml"), "format": "XML", "name": "CA 2021"},
        {"url": server.url("/docs/crach-lotissement-bp-2022.xml"), "format": "XML", "name": "BP 2022"},
    ], organization="crach")

    run = harvest(create_source(sysadmin, organization, remote.organization_url("crach")))

    assert_clean(run, 2)
    assert_published(CRACH_CA, LOTISSEMENT)


def test_udata_portal(sysadmin, organization, server):
    remote = UdataStandIn(server)
    remote.add_organization("saint-malo-agglomeration")
    remote.add_dataset("budget-transport-2022", [
        {"url": server.url("/docs/transport-m43-bp-2022.xml"), "format": "xml", "title": "BP 2022"},
    ], organization="saint-malo-agglomeration")

    run = harvest(create_source(sysadmin, organization, remote.dataset_url("budget-transport-2022")))

    assert_clean(run, 1)
    assert_published(TRANSPORT)
