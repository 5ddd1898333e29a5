"""The whole chain: the shared sample corpus harvested, then synced to data.gouv.fr (stand-in)."""
from __future__ import annotations

import json

from ckan.cli.cli import ckan as ckan_command
from ckan.tests import factories, helpers

from ckanext.budgetod.core.totem.reader import read_header
from ckanext.budgetod.datagouv import sync
from ckanext.budgetod.datagouv.sync import state
from tests.support.ckan_datagouv import PORTAL_ORGANIZATION, sync_all
from tests.support.ckan_harvest import SAMPLE_DATASETS, by_role, create_source, harvest, stored_file
from tests.support.occultation_oracle import leftover_personal_values, named_persons
from tests.support.servers import LocalServer
from tests.support.shared import SHARED_TOTEM


def test_the_harvested_corpus_gives_one_udata_dataset_per_dataset_and_a_second_sync_writes_nothing(
        udata, udata_organization, synchroniser):
    sysadmin, organization = factories.Sysadmin(), factories.Organization(name=PORTAL_ORGANIZATION)
    with LocalServer(directory=SHARED_TOTEM) as server:
        source = create_source(sysadmin, organization, server.url("/"),
                               {"kind": "index", "datagouv": {"organization": udata_organization["slug"]}})
        run = harvest(source)
    assert run.errors() == []
    datasets = [helpers.call_action("package_show", id=name) for name in sorted(set(SAMPLE_DATASETS.values()))]

    outcomes = sync_all(synchroniser())

    assert sorted(outcome.result for outcome in outcomes) == ["created"] * len(datasets)
    remote_datasets = udata.datasets()
    assert len(remote_datasets) == len(datasets)
    published = {remote["extras"][sync.KEY_DATASET]: remote for remote in remote_datasets}
    for dataset in datasets:
        remote = published[dataset["id"]]
        assert len(remote["resources"]) == len(dataset["resources"])
        csv_copies = [resource for resource in remote["resources"] if resource["format"] == "csv"]
        assert len(csv_copies) == len(dataset["resources"]) // 3
        assert all(copy["schema"] == {"name": "scdl/budget", "version": "0.8.3"} for copy in csv_copies)

    writes = udata.write_calls
    sync_all(synchroniser())
    assert udata.write_calls == writes
    assert udata.violations == []


def test_nothing_personal_reaches_data_gouv_fr_even_with_every_file_uploaded(
        cli, udata, udata_organization, synchroniser, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.datagouv.upload_all", True)
    sysadmin, organization = factories.Sysadmin(), factories.Organization(name=PORTAL_ORGANIZATION)
    with LocalServer(directory=SHARED_TOTEM) as server:
        source = create_source(sysadmin, organization, server.url("/"),
                               {"kind": "index", "datagouv": {"organization": udata_organization["slug"]}})
        assert harvest(source).errors() == []
    corpus = [path.read_bytes() for path in SHARED_TOTEM.glob("*.xml")]
    persons = set().union(*(named_persons(document, *corpus) for document in corpus))
    assert "PRESSARD TITOUAN" in persons

    def assert_nothing_personal_on_udata() -> None:
        remote_datasets = udata.datasets()
        payloads = json.dumps(remote_datasets, ensure_ascii=False)
        files = {resource["format"]: [] for remote in remote_datasets for resource in remote["resources"]}
        for remote in remote_datasets:
            for resource in remote["resources"]:
                files[resource["format"]].append(udata.file_content(resource["url"]))
        assert len(files["xml"]) == len(SAMPLE_DATASETS)
        for document in files["xml"]:
            assert leftover_personal_values(document) == []
        contents = [content.decode("utf-8", "replace") for contents in files.values() for content in contents]
        for person in persons:
            assert person not in payloads and not any(person in content for content in contents), person

    sync_all(synchroniser())
    assert_nothing_personal_on_udata()

    # A portal that published before occultation existed: its stored documents are the originals,
    # and so are data.gouv.fr's copies. `occult --all` republishes them; the next sync follows.
    for path in SHARED_TOTEM.glob("*.xml"):
        key = read_header(path).document_key
        totem = by_role(helpers.call_action("package_show", id=SAMPLE_DATASETS[path.name])["resources"], key)["totem"]
        stored_file(totem).write_bytes(path.read_bytes())
        helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=totem["id"],
                            description="publié avant l'occultation")
    sync_all(synchroniser())
    leaked = [resource for remote in udata.datasets() for resource in remote["resources"]
              if resource["format"] == "xml" and leftover_personal_values(udata.file_content(resource["url"]))]
    assert len(leaked) == 5  # the lotissement's document names nobody

    result = cli.invoke(ckan_command, ["budgetod", "occult", "--all"])
    assert result.exit_code == 0, result.output
    statuses = {state.get(package_id).package_name: state.get(package_id).status for package_id in sync.candidate_ids()}
    lotissement = SAMPLE_DATASETS["crach-lotissement-bp-2022.xml"]
    assert statuses.pop(lotissement) != "pending" and set(statuses.values()) == {"pending"}
    sync_all(synchroniser())
    assert_nothing_personal_on_udata()
    assert udata.violations == []
