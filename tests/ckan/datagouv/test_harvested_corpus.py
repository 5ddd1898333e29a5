"""The whole chain: the shared sample corpus harvested, then synced to data.gouv.fr (stand-in)."""
from __future__ import annotations

from ckan.tests import factories, helpers

from ckanext.budgetod.datagouv import sync

from tests.ckan.harvester.conftest import SAMPLE_DATASETS, SHARED_TOTEM, create_source, harvest
from tests.harvester_sources.servers import LocalServer

from .conftest import PORTAL_ORGANIZATION, sync_all


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
