"""The commands `make demo` runs: a harvest source created and harvested from the command line."""
from __future__ import annotations

import pytest

from ckan.cli.cli import ckan as ckan_command

from tests.ckan.harvester.conftest import SAMPLE_DATASETS, SHARED_TOTEM, dataset
from tests.harvester_sources.servers import LocalServer

pytestmark = pytest.mark.usefixtures("harvest_db")


def test_source_create_then_run_test_publishes_the_samples(cli, organization):
    with LocalServer(directory=SHARED_TOTEM) as server:
        created = cli.invoke(ckan_command, [
            "harvester", "source", "create", "budgets-demo", server.url("/"), "budgetod_totem",
            "Budgets de démonstration", "true", organization["name"], "MANUAL", '{"kind": "index"}'])
        assert created.exit_code == 0, created.output
        harvested = cli.invoke(ckan_command, ["harvester", "run-test", "budgets-demo"])
        assert harvested.exit_code == 0, harvested.output
        # A GUID after the source forces that document to be published again, changed or not.
        again = cli.invoke(ckan_command, ["harvester", "run-test", "budgets-demo", server.url("/mohon-cfu-2023.xml")])
        assert again.exit_code == 0, again.output

    for name in set(SAMPLE_DATASETS.values()):
        assert dataset(name)["organization"]["name"] == organization["name"]
    assert len(server.statuses("/mohon-cfu-2023.xml")) == 2 and set(server.statuses("/mohon-cfu-2023.xml")) == {200}
