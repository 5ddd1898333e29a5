"""The data.gouv.fr sync algorithm against the udata stand-in: mapping, idempotence, changes,
faults, lost state."""
from __future__ import annotations

import ckan.model as model
import pytest
from ckan.lib import uploader
from ckan.tests import helpers

from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestSource

from ckanext.budgetod import settings
from ckanext.budgetod.core import contract
from ckanext.budgetod.datagouv import sync
from ckanext.budgetod.datagouv.sync import state
from tests.support.ckan_datagouv import (
    API_KEY,
    CRACH_CA,
    CRACH_DM,
    MOHON_CFU,
    SAINT_MALO_BP,
    ZONES,
    file_digest,
    only_copies,
    publish_samples,
    sync_all,
    udata_state,
)
from tests.support.udata_standin import Fault, UdataStandIn

pytestmark = pytest.mark.usefixtures("portal")


def ckan_file(resource: dict) -> bytes:
    with open(uploader.get_resource_uploader(resource).get_path(resource["id"]), "rb") as stream:
        return stream.read()


def test_each_budget_dataset_becomes_one_udata_dataset_and_a_second_sync_writes_nothing(
        portal, udata, udata_organization, synchroniser):
    datasets = publish_samples(portal)

    outcomes = sync_all(synchroniser())

    assert {outcome.result for outcome in outcomes} == {"created"}, [outcome.message for outcome in outcomes]
    published = {remote["extras"][sync.KEY_DATASET]: remote for remote in udata.datasets()}
    assert set(published) == {dataset["id"] for dataset in datasets}
    for dataset in datasets:
        remote = published[dataset["id"]]
        assert remote["organization"]["id"] == udata_organization["id"]
        assert remote["title"] == dataset["title"]
        assert remote["description"] == dataset["notes"]
        assert remote["license"] == "lov2"
        assert remote["frequency"] == "annual"
        assert sorted(remote["tags"]) == sorted(["budget", "finances-publiques", "scdl", dataset["title"][7:11]])
        exercice = dataset["name"].rsplit("-", 1)[1]
        assert remote["temporal_coverage"] == {"start": f"{exercice}-01-01", "end": f"{exercice}-12-31"}
        assert remote["extras"][sync.KEY_PORTAL_URL] == f"http://test.ckan.net/dataset/{dataset['name']}"
        assert len(remote["resources"]) == len(dataset["resources"])
        by_key = {resource["extras"][sync.KEY_RESOURCE]: resource for resource in remote["resources"]}
        for resource in dataset["resources"]:
            copy = by_key[resource["id"]]
            assert copy["title"] == resource["name"]
            assert copy["extras"][sync.KEY_DOCUMENT] == resource["budgetod_document"]
            if resource["budgetod_role"] == "scdl":
                assert copy["filetype"] == "file"
                assert copy["format"] == "csv"
                assert copy["schema"] == {"name": "scdl/budget", "version": "0.8.3"}
                assert udata.file_content(copy["url"]) == ckan_file(resource)
            else:
                assert copy["filetype"] == "remote"
                assert copy["url"] == resource["url"]
                assert copy["type"] == ("documentation" if resource["budgetod_role"] == "report" else "main")
    spatial = {remote["title"]: remote["spatial"] for remote in published.values()}
    assert spatial == {
        "Budget 2021 — CRACH": {"zones": ["fr:commune:56046"], "granularity": "fr:commune"},
        "Budget 2022 — CRACH": {"zones": ["fr:commune:56046"], "granularity": "fr:commune"},
        "Budget 2023 — COMMUNE DE MOHON": {"zones": ["fr:commune:56134"], "granularity": "fr:commune"},
        "Budget 2022 — COMMUNE DE MOHON": {"zones": ["fr:commune:56134"], "granularity": "fr:commune"},
        "Budget 2022 — SAINT MALO AGGLOMERATION": {"zones": ["fr:epci:243500782"], "granularity": "fr:epci"},
    }
    rows = {row.package_id: row for row in state.all_rows()}
    assert {row.status for row in rows.values()} == {state.STATUS_OK}
    assert {row.package_id: row.udata_dataset_id for row in rows.values()} == {
        key: remote["id"] for key, remote in published.items()}

    writes_before = udata.write_calls
    second = synchroniser()
    outcomes = sync_all(second)

    assert {outcome.result for outcome in outcomes} == {"unchanged"}
    assert udata.write_calls == writes_before
    assert second.client.writes == 0
    assert udata.violations == []


def test_changes_replace_files_in_place_and_removed_documents_lose_their_resources(
        portal, udata, synchroniser):
    crach = portal.budget("21560046100010", 2021, "CRACH", "56046", [CRACH_CA, CRACH_DM])
    sync_all(synchroniser())
    before = udata.datasets()[0]
    csv = next(resource for resource in crach["resources"]
               if resource["budgetod_role"] == "scdl" and resource["budgetod_document"] == CRACH_CA.key)
    csv_copy = next(resource for resource in before["resources"]
                    if resource["extras"][sync.KEY_RESOURCE] == csv["id"])

    # A new version of the compte administratif, and the décision modificative withdrawn.
    portal.publish(crach["id"], [CRACH_CA], version=2)
    crach = portal.remove(crach["id"], CRACH_DM.key)
    outcome = synchroniser().sync(crach["id"])

    assert outcome.result == "updated"
    after = udata.dataset(before["id"])
    assert {resource["extras"][sync.KEY_RESOURCE] for resource in after["resources"]} == {
        resource["id"] for resource in crach["resources"]}
    replaced = next(resource for resource in after["resources"] if resource["id"] == csv_copy["id"])
    assert udata.file_content(replaced["url"]) == ckan_file(csv)
    assert file_digest(udata, replaced) != file_digest(udata, csv_copy)
    assert len(udata.datasets()) == 1
    assert udata.violations == []


def test_upload_all_uploads_every_file_and_turning_it_off_links_them_again(
        portal, udata, synchroniser, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.datagouv.upload_all", True)
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    synchroniser().sync(mohon["id"])
    uploaded = udata.datasets()[0]["resources"]

    monkeypatch.setitem(ckan_config, "ckanext.budgetod.datagouv.upload_all", False)
    synchroniser().sync(mohon["id"])
    linked = {resource["extras"][sync.KEY_ROLE]: resource for resource in udata.datasets()[0]["resources"]}

    by_id = {resource["id"]: resource for resource in mohon["resources"]}
    assert {resource["filetype"] for resource in uploaded} == {"file"}
    assert all(udata.file_content(resource["url"]) == ckan_file(by_id[resource["extras"][sync.KEY_RESOURCE]])
               for resource in uploaded)
    assert {role: resource["filetype"] for role, resource in linked.items()} == {
        "scdl": "file", "totem": "remote", "report": "remote"}
    assert linked["totem"]["url"] == by_id[linked["totem"]["extras"][sync.KEY_RESOURCE]]["url"]
    assert len(udata.datasets()[0]["resources"]) == 3
    assert udata.violations == []


@pytest.mark.parametrize("on_delete", ["delete", "archive"])
def test_a_deleted_dataset_is_taken_down_and_comes_back_when_restored(
        portal, udata, synchroniser, ckan_config, monkeypatch, on_delete):
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.datagouv.on_delete", on_delete)
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    sync_all(synchroniser())
    udata_id = state.get(mohon["id"]).udata_dataset_id

    helpers.call_action("package_delete", context=portal.context(), id=mohon["id"])
    outcome = synchroniser().sync(mohon["id"])
    writes = udata.write_calls
    again = synchroniser().sync(mohon["id"])

    assert outcome.result == {"delete": "deleted", "archive": "archived"}[on_delete]
    remote = udata.dataset(udata_id)
    assert bool(remote["deleted"]) == (on_delete == "delete")
    assert bool(remote["archived"]) == (on_delete == "archive")
    assert again.result == "unchanged" and udata.write_calls == writes

    helpers.call_action("package_patch", context=portal.context(), id=mohon["id"], state="active")
    restored = synchroniser().sync(mohon["id"])

    assert restored.udata_id == udata_id
    remote = udata.dataset(udata_id)
    assert not remote["deleted"] and not remote["archived"]
    assert len(udata.datasets()) == 1
    assert udata.violations == []


def test_a_purged_dataset_is_taken_down_through_its_state_row(portal, udata, synchroniser):
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    sync_all(synchroniser())
    udata_id = state.get(mohon["id"]).udata_dataset_id

    helpers.call_action("dataset_purge", context=portal.context(), id=mohon["id"])
    outcomes = sync_all(synchroniser())

    assert [outcome.result for outcome in outcomes] == ["deleted"]
    assert udata.dataset(udata_id)["deleted"]
    assert udata.violations == []


# Before the write: every kind. After it (the write applied, then the answer lost): not 429, which
# a server sends before doing anything, and which the client therefore retries even for a create.
FAULTS = {"before-write": ("error", "throttle", "stall", "reset"), "after-write": ("error", "stall", "reset")}
# Played first whatever the draw: each kind at least once, on the requests that matter most.
SURE_FAULTS = {
    "before-write": (Fault("throttle", method="GET"), Fault("stall", method="POST", path="/datasets/"),
                     Fault("reset", method="POST", path="/datasets/[^/]+/upload/"),
                     Fault("error", method="PUT")),
    "after-write": (Fault("stall", after_write=True, method="POST", path="/datasets/"),
                    Fault("reset", after_write=True, method="POST", path="/datasets/[^/]+/upload/"),
                    Fault("error", after_write=True, method="POST", path="/datasets/[^/]+/resources/"),
                    Fault("error", after_write=True, method="PUT")),
}


@pytest.mark.parametrize("when", FAULTS)
@pytest.mark.parametrize("seed", [7, 11])
def test_faults_leave_the_same_udata_state_as_a_fault_free_run(portal, udata, synchroniser, waits, when, seed):
    publish_samples(portal)
    sync_all(synchroniser())
    expected = udata_state(udata)
    # The same portal synced from scratch into a second udata, where 30 % of the requests fail:
    # HTTP 500, 429 with Retry-After, stalls past the timeout, connection resets.
    model.Session.query(state.DatagouvSync).delete()
    model.Session.commit()
    with UdataStandIn(stall_timeout=5) as faulty:
        for zone_id, name in ZONES.items():
            faulty.add_zone(zone_id, name)
        faulty.add_organization("Région Bretagne — budgets", members={API_KEY: "editor"})
        options = settings.current().replace(datagouv={"url": faulty.origin()})
        faulty.script(*SURE_FAULTS[when])
        faulty.fail_randomly(0.3, seed=seed, kinds=FAULTS[when], after_write=when == "after-write")
        rounds = 0
        # Retries live in the client; what still fails stays in error and the next run resumes it.
        while rounds < 6:
            rounds += 1
            outcomes = sync_all(sync.Synchroniser(sync.client(options, sleep=waits.append), options))
            if all(outcome.result != "error" for outcome in outcomes):
                break
        played = {request.fault for request in faulty.requests} - {None}
        faulty.clear_faults()
        writes = faulty.write_calls
        last = sync_all(sync.Synchroniser(sync.client(options, sleep=waits.append), options))

        assert all(outcome.result != "error" for outcome in outcomes), [outcome.message for outcome in outcomes]
        assert played == set(FAULTS[when])
        if when == "before-write":
            assert 1.0 in waits  # Retry-After honoured
        assert udata_state(faulty) == expected
        assert only_copies(expected)
        assert {outcome.result for outcome in last} == {"unchanged"} and faulty.write_calls == writes
        assert faulty.violations == [] and faulty.internal_errors == []
    assert udata.violations == []


@pytest.mark.parametrize("lost", ["ids", "rows"])
def test_a_lost_state_finds_the_udata_datasets_again(portal, udata, synchroniser, lost):
    datasets = publish_samples(portal)
    sync_all(synchroniser())
    expected = udata_state(udata)
    if lost == "ids":
        for row in state.all_rows():
            row.udata_dataset_id, row.udata_resources, row.content_hash = None, {}, None
    else:
        model.Session.query(state.DatagouvSync).delete()
    model.Session.commit()
    writes = udata.write_calls

    outcomes = sync_all(synchroniser())

    assert {outcome.result for outcome in outcomes} == {"unchanged"}
    assert udata.write_calls == writes
    assert udata_state(udata) == expected and only_copies(expected)
    assert {row.package_id: row.udata_dataset_id for row in state.all_rows()} == {
        remote["extras"][sync.KEY_DATASET]: remote["id"] for remote in udata.datasets()}
    assert len(datasets) == len(udata.datasets())
    assert udata.violations == []


def test_a_lost_state_and_a_changed_file_replace_the_file_of_the_same_resource(portal, udata, synchroniser):
    crach = portal.budget("21560046100010", 2021, "CRACH", "56046", [CRACH_CA])
    sync_all(synchroniser())
    before = {resource["extras"][sync.KEY_RESOURCE]: resource["id"]
              for resource in udata.datasets()[0]["resources"]}
    model.Session.query(state.DatagouvSync).delete()
    model.Session.commit()

    crach = portal.publish(crach["id"], [CRACH_CA], version=2)
    outcome = synchroniser().sync(crach["id"])

    remote = udata.datasets()[0]
    assert outcome.result == "updated"
    assert {resource["extras"][sync.KEY_RESOURCE]: resource["id"] for resource in remote["resources"]} == before
    csv = next(resource for resource in crach["resources"] if resource["budgetod_role"] == "scdl")
    csv_copy = next(resource for resource in remote["resources"] if resource["id"] == before[csv["id"]])
    assert udata.file_content(csv_copy["url"]) == ckan_file(csv)
    assert udata.violations == []


def test_copies_left_on_udata_by_an_older_failure_are_removed(portal, udata, udata_organization, synchroniser):
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    for _copy in range(2):
        udata.add_dataset(udata_organization["id"], "Budget 2023 — COMMUNE DE MOHON",
                          extras={sync.KEY_DATASET: mohon["id"]})
    oldest = min(udata.datasets(), key=lambda remote: (remote["created_at"], remote["id"]))

    outcome = synchroniser().sync(mohon["id"])

    alive = [remote for remote in udata.datasets() if not remote["deleted"]]
    assert [remote["id"] for remote in alive] == [oldest["id"]] == [outcome.udata_id]
    assert only_copies(udata_state(udata))
    assert len(alive[0]["resources"]) == 3
    assert udata.violations == []


def test_a_dataset_without_a_udata_organisation_is_not_synced(portal, udata, synchroniser):
    portal.source["config"] = "{}"
    helpers.call_action("harvest_source_update", context=portal.context(), **portal.source)
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])

    outcome = synchroniser().sync(mohon["id"])

    assert outcome.result == "skipped"
    assert udata.datasets() == [] and udata.write_calls == 0
    assert state.get(mohon["id"]) is None


def test_while_the_first_import_runs_the_source_is_found_by_the_document_urls(
        portal, udata, udata_organization, synchroniser):
    # The harvest object links its dataset only once the import is done; the sync job may run before.
    dataset = helpers.call_action("package_create", context=portal.context(), name="budget-21560134500014-2023",
                                  title="Budget 2023 — COMMUNE DE MOHON", owner_org=portal.organization["id"],
                                  extras=[{"key": "budgetod_siret", "value": "21560134500014"}])
    dataset = portal.publish(dataset["id"], [MOHON_CFU])
    model.Session.add(HarvestObject(
        guid=dataset["resources"][0]["budgetod_source"], job=HarvestJob.get(portal.job["id"]),
        source=HarvestSource.get(portal.source["id"])))
    model.Session.commit()

    outcome = synchroniser().sync(dataset["id"])

    assert outcome.result == "created"
    assert udata.dataset(outcome.udata_id)["organization"]["id"] == udata_organization["id"]
    assert udata.violations == []


def test_the_dataset_extra_names_the_organisation_of_datasets_no_source_publishes(
        portal, udata, udata_organization, synchroniser):
    dataset = helpers.call_action(
        "package_create", context=portal.context(), name="budget-annexe-saisi-a-la-main",
        title="Budget annexe 2022", owner_org=portal.organization["id"],
        extras=[{"key": contract.EXTRA_DATAGOUV_ORGANIZATION, "value": udata_organization["id"]}])
    dataset = portal.publish(dataset["id"], [SAINT_MALO_BP])

    outcome = synchroniser().sync(dataset["id"])

    assert outcome.result == "created"
    remote = udata.dataset(outcome.udata_id)
    assert remote["organization"]["id"] == udata_organization["id"]
    assert remote["temporal_coverage"] is None and remote["spatial"] is None
    assert remote["description"] == "Budget annexe 2022"
    assert udata.violations == []


def test_an_error_is_recorded_with_its_cause_and_the_next_run_resumes(portal, udata, synchroniser):
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    # Each create whose outcome is unknown is looked for, then sent again, a few times.
    udata.script(*[Fault("error", status=503, method="POST", path="/datasets/")] * sync.AMBIGUOUS_CREATE_TRIES)

    failed = synchroniser().sync(mohon["id"])

    row = state.get(mohon["id"])
    assert failed.result == "error"
    assert (row.status, row.attempts) == (state.STATUS_ERROR, 1)
    assert "HTTP 503" in row.message and "erreur du serveur" in row.message and "server error" in row.message
    assert API_KEY not in row.message
    assert udata.datasets() == []

    resumed = synchroniser().sync(mohon["id"])

    model.Session.refresh(row)
    assert resumed.result == "created"
    assert (row.status, row.attempts, row.message) == (state.STATUS_OK, 0, "")
    assert row.last_success is not None
    assert udata.violations == []


def test_a_dry_run_writes_nothing_and_says_what_it_would_write(portal, udata, synchroniser):
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])

    outcome = synchroniser(dry_run=True).sync(mohon["id"])

    assert outcome.result == "created"
    assert len(outcome.operations) == 4  # the dataset, the CSV upload, two links
    assert udata.write_calls == 0
    assert state.get(mohon["id"]).status == state.STATUS_PENDING  # left as the change marked it
    assert udata.violations == []


@pytest.mark.parametrize("status", [404, 500, 501, 503])
def test_zones_udata_cannot_resolve_leave_spatial_empty_and_a_later_sync_fills_it_in(
        portal, udata, synchroniser, status):
    datasets = publish_samples(portal)
    udata.fail_spatial_zones(status)

    outcomes = sync_all(synchroniser())

    # Every dataset published, without its zone; the state says which zone is missing and why.
    assert {outcome.result for outcome in outcomes} == {"created"}, [outcome.message for outcome in outcomes]
    published = {remote["extras"][sync.KEY_DATASET]: remote for remote in udata.datasets()}
    assert set(published) == {dataset["id"] for dataset in datasets}
    assert all(not remote["spatial"] for remote in published.values())
    assert all(len(remote["resources"]) == 3 * (2 if "2021" in remote["title"] else 1) for remote in published.values())
    rows = state.all_rows()
    assert {row.status for row in rows} == {state.STATUS_OK}
    for row in rows:
        assert "spatial" in row.message, row.message
        assert any(zone.rsplit(":", 1)[1] in row.message for zone in ZONES), row.message
        assert ("unknown zone" if status == 404 else f"HTTP {status}") in row.message, row.message
    # Each zone is looked up in one run only once (its attempts included), not once per dataset.
    lookups = [request for request in udata.requests if "/spatial/zone/" in request.path]
    assert len(lookups) <= len(ZONES) * synchroniser().client.max_attempts

    udata.fail_spatial_zones(None)
    again = sync_all(synchroniser())

    assert {outcome.result for outcome in again} == {"updated"}
    assert {remote["title"]: remote["spatial"]["zones"] for remote in udata.datasets()} == {
        "Budget 2021 — CRACH": ["fr:commune:56046"], "Budget 2022 — CRACH": ["fr:commune:56046"],
        "Budget 2023 — COMMUNE DE MOHON": ["fr:commune:56134"], "Budget 2022 — COMMUNE DE MOHON": ["fr:commune:56134"],
        "Budget 2022 — SAINT MALO AGGLOMERATION": ["fr:epci:243500782"]}
    model.Session.expire_all()
    assert {(row.status, row.message) for row in state.all_rows()} == {(state.STATUS_OK, "")}
    writes = udata.write_calls
    assert {outcome.result for outcome in sync_all(synchroniser())} == {"unchanged"}
    assert udata.write_calls == writes
    assert udata.violations == []


def test_an_unresolved_zone_keeps_the_spatial_coverage_udata_already_has(portal, udata, synchroniser):
    mohon = portal.budget("21560134500014", 2023, "COMMUNE DE MOHON", "56134", [MOHON_CFU])
    assert synchroniser().sync(mohon["id"]).result == "created"
    udata.fail_spatial_zones(503)
    helpers.call_action("package_patch", context={"user": portal.sysadmin["name"]}, id=mohon["id"],
                        notes="Compte financier unique 2023, corrigé.")

    outcome = synchroniser().sync(mohon["id"])

    assert outcome.result == "updated" and "56134" in outcome.message
    (remote,) = udata.datasets()
    assert remote["description"] == "Compte financier unique 2023, corrigé."
    assert remote["spatial"] == {"zones": ["fr:commune:56134"], "granularity": "fr:commune"}
