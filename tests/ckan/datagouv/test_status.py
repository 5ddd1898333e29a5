"""Where administrators see the sync state: the action budgetod_datagouv_status (and who may call
it), the dataset page, and `ckan budgetod datagouv sync|status`."""
from __future__ import annotations

import ckan.model as model
import ckan.plugins.toolkit as tk
import pytest
from ckan.tests import factories, helpers

from ckanext.budgetod.datagouv.sync import state
from tests.support.ckan_datagouv import MOHON_CFU, ckan_process, ended, sync_all

pytestmark = pytest.mark.usefixtures("portal")


@pytest.fixture
def mohon(portal, synchroniser) -> dict:
    dataset = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    sync_all(synchroniser())
    return dataset


@pytest.fixture
def people(portal) -> dict:
    """Users by their role in the dataset's organisation ("outsider": an editor elsewhere)."""
    people = {role: factories.UserWithToken() for role in ("admin", "editor", "member", "outsider")}
    for role in ("admin", "editor", "member"):
        helpers.call_action("organization_member_create", context=portal.context(), id=portal.organization["id"],
                            username=people[role]["name"], role=role)
    factories.Organization(users=[{"name": people["outsider"]["name"], "capacity": "editor"}])
    return people


def status_as(user: str | None, dataset_id: str) -> dict:
    return helpers.call_action("budgetod_datagouv_status", context={"user": user, "ignore_auth": False},
                               id=dataset_id)


def test_the_status_action_answers_sysadmins_and_the_organisations_editors_and_admins(portal, mohon, people,
                                                                                      udata):
    row = state.get(mohon["id"])

    for user in (portal.sysadmin["name"], people["admin"]["name"], people["editor"]["name"]):
        described = status_as(user, mohon["name"])
        assert described["status"] == "ok"
        assert described["attempts"] == 0 and described["message"] == ""
        assert described["udata_dataset_id"] == row.udata_dataset_id
        assert described["udata_url"] == f"{udata.origin()}/datasets/{row.udata_dataset_id}/"
        assert described["last_success"] and described["enabled"] is True
        assert set(described["udata_resources"]) == {resource["id"] for resource in mohon["resources"]}
    for user in (None, people["member"]["name"], people["outsider"]["name"]):
        with pytest.raises(tk.NotAuthorized):
            status_as(user, mohon["id"])
    with pytest.raises(tk.ObjectNotFound):
        status_as(portal.sysadmin["name"], "no-such-dataset")


def test_a_dataset_never_synced_has_no_status_yet(portal, people, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.datagouv.enabled", False)
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])

    described = status_as(people["editor"]["name"], mohon["id"])

    assert (described["status"], described["udata_dataset_id"], described["enabled"]) == (None, None, False)


def test_the_dataset_page_shows_the_sync_state_to_its_editors_only(app, mohon, people, udata):
    udata_url = f"{udata.origin()}/datasets/{state.get(mohon['id']).udata_dataset_id}/"

    seen = {role: app.get(f"/dataset/{mohon['name']}", headers={"Authorization": people[role]["token"]}).body
            for role in ("editor", "member")}
    anonymous = app.get(f"/dataset/{mohon['name']}").body

    assert "budgetod-datagouv" in seen["editor"] and udata_url in seen["editor"]
    assert "budgetod-datagouv" not in seen["member"] and udata_url not in seen["member"]
    assert "budgetod-datagouv" not in anonymous


def test_the_command_line_syncs_dry_or_for_real_and_lists_the_states(portal, udata, subprocess_ini):
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])

    def ckan(*args: str) -> tuple[int, str]:
        with ended(ckan_process(subprocess_ini, "budgetod", "datagouv", *args)) as process:
            output, _ = process.communicate(timeout=180)
        return process.returncode, output

    dry = ckan("sync", "--dry-run", mohon["name"])
    assert udata.write_calls == 0
    done = ckan("sync", mohon["name"])
    again = ckan("sync", "--all")
    listed = ckan("status")
    neither = ckan("sync")

    assert dry[0] == 0 and f"{mohon['name']}: " in dry[1]
    assert dry[1].count("\n  - ") == 4, dry[1]  # the dataset, the CSV upload, two links
    model.Session.expire_all()
    udata_id = state.get(mohon["id"]).udata_dataset_id
    assert done[0] == 0 and f"{udata.origin()}/datasets/{udata_id}/" in done[1]
    assert again[0] == 0 and "\n  - " not in again[1]
    assert listed[0] == 0 and mohon["name"] in listed[1] and udata_id in listed[1]
    assert neither[0] == 2
    assert len(udata.datasets()) == 1
    assert udata.violations == []
