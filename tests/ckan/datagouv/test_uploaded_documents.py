"""A TOTEM document added by hand reaches data.gouv.fr only occulted: while pending, no sync is queued
and a sync leaves it out; the job's update that stores the occulted document queues the sync
(issue 20, items 2 and 9). Even with ``upload_all``, the original's bytes never reach udata."""
from __future__ import annotations

import io

import pytest
from ckan.lib import jobs as ckan_jobs
from ckan.lib import uploader
from ckan.tests import helpers
from werkzeug.datastructures import FileStorage

from ckanext.budgetod.datagouv import sync
from tests.support.ckan_datagouv import MOHON_CFU
from tests.support.occultation_oracle import assert_occulted, named_persons
from tests.support.servers import LocalServer
from tests.support.shared import SHARED_TOTEM

pytestmark = pytest.mark.usefixtures("portal", "with_test_worker")

MOHON = (SHARED_TOTEM / "mohon-cfu-2023.xml").read_bytes()


def queued(queue) -> list[str]:
    return [job.func_name.rsplit(".", 1)[-1] for job in queue.jobs]


def stored(resource: dict) -> bytes:
    with open(uploader.get_resource_uploader(resource).get_path(resource["id"]), "rb") as stream:
        return stream.read()


def udata_copy(udata, resource_id: str) -> dict | None:
    return next((resource for dataset in udata.datasets() for resource in dataset["resources"]
                 if resource["extras"].get(sync.KEY_RESOURCE) == resource_id), None)


def assert_never_reached(udata) -> None:
    for content in udata.uploaded_files():
        assert content != MOHON
        for person in named_persons(MOHON):
            assert person.encode("iso-8859-1") not in content and person.encode() not in content


@pytest.mark.parametrize("added", ["uploaded", "linked"])
def test_a_document_added_by_hand_is_synced_only_once_occulted(portal, udata, synchroniser, empty_jobs_queue,
                                                               ckan_config, monkeypatch, added):
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.datagouv.upload_all", True)
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    empty_jobs_queue.empty()
    synchroniser().sync(mohon["id"])

    with LocalServer(files={"/docs/cfu-2023.xml": MOHON}) as server:
        fields = ({"upload": FileStorage(io.BytesIO(MOHON), "cfu-2023.xml"), "url": "cfu-2023.xml"}
                  if added == "uploaded" else {"url": server.url("/docs/cfu-2023.xml")})
        totem = helpers.call_action("resource_create", context=portal.context(), package_id=mohon["id"],
                                    name="CFU 2023 (dépôt)", format="XML", **fields)

        assert queued(empty_jobs_queue) == ["build_siblings"]  # no sync before the occultation
        synchroniser().sync(mohon["id"])  # as `datagouv sync --all` would: the pending file is left out
        assert udata_copy(udata, totem["id"]) is None

        ckan_jobs.Worker().work(burst=True)  # the occultation, then the sync its update queued

    totem = helpers.call_action("resource_show", id=totem["id"])
    assert totem["budgetod_occultation"] == "done" and totem["url_type"] == "upload"
    copy = udata_copy(udata, totem["id"])
    assert copy is not None and copy["filetype"] == "file"
    assert udata.file_content(copy["url"]) == stored(totem)
    assert assert_occulted(MOHON, stored(totem)) == 112
    assert_never_reached(udata)
    assert udata.violations == []


def test_an_unreadable_upload_never_reaches_data_gouv_fr(portal, udata, synchroniser, empty_jobs_queue,
                                                         ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.datagouv.upload_all", True)
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    truncated = MOHON[:len(MOHON) // 2]
    totem = helpers.call_action("resource_create", context=portal.context(), package_id=mohon["id"],
                                name="CFU 2023 (dépôt)", format="XML", url="cfu-2023.xml",
                                upload=FileStorage(io.BytesIO(truncated), "cfu-2023.xml"))

    ckan_jobs.Worker().work(burst=True)
    synchroniser().sync(mohon["id"])

    assert helpers.call_action("resource_show", id=totem["id"])["budgetod_occultation"] == "failed"
    assert udata_copy(udata, totem["id"]) is None
    assert {resource["extras"][sync.KEY_ROLE] for resource in udata.datasets()[0]["resources"]} >= {"scdl"}
    assert all(truncated[:4096] not in content for content in udata.uploaded_files())
    assert_never_reached(udata)
