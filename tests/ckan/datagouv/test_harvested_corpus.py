"""The whole chain: the shared sample corpus harvested, then synced to data.gouv.fr (stand-in)."""
from __future__ import annotations

import json

from ckan.tests import factories, helpers

from ckanext.budgetod.datagouv import sync

from tests.ckan.harvester.conftest import SAMPLE_DATASETS, SHARED_TOTEM, create_source, harvest
from tests.harvester_sources.servers import LocalServer
from tests.occultation_oracle import leftover_personal_values, named_persons

from .conftest import sync_all


def test_the_harvested_corpus_gives_one_udata_dataset_per_dataset_and_a_second_sync_writes_nothing(
        udata, udata_organization, synchroniser):
    sysadmin, organization = factories.Sysadmin(), factories.Organization()
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
        udata, udata_organization, synchroniser, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.budgetod.datagouv.upload_all", True)
    sysadmin, organization = factories.Sysadmin(), factories.Organization()
    with LocalServer(directory=SHARED_TOTEM) as server:
        source = create_source(sysadmin, organization, server.url("/"),
                               {"kind": "index", "datagouv": {"organization": udata_organization["slug"]}})
        assert harvest(source).errors() == []

    sync_all(synchroniser())

    persons = set().union(*(named_persons(path.read_bytes()) for path in SHARED_TOTEM.glob("*.xml")))
    assert "PRESSARD TITOUAN" in persons
    remote_datasets = udata.datasets()
    payloads = json.dumps(remote_datasets, ensure_ascii=False)
    documents = [udata.file_content(resource["url"]) for remote in remote_datasets
                 for resource in remote["resources"] if resource["format"] == "xml"]
    assert len(documents) == len(SAMPLE_DATASETS)
    for document in documents:
        assert leftover_personal_values(document) == []
    files = [udata.file_content(resource["url"]).decode("utf-8", "replace") for remote in remote_datasets
             for resource in remote["resources"]]
    for person in persons:
        assert person not in payloads and not any(person in content for content in files), person
    assert udata.violations == []
