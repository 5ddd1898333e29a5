"""Harvester integration tests: real CKAN, database, Redis queues and filestore; documents served by
local HTTP servers (tests/support/servers.py); the helpers are in tests/support/ckan_harvest.py."""
from __future__ import annotations

import pytest
from ckan.tests import factories, helpers

from ckanext.harvest import queue


@pytest.fixture
def harvest_db(clean_db):
    """An empty portal with empty harvest queues (a previous test may have left messages)."""
    queue.purge_queues()
    yield
    queue.purge_queues()


@pytest.fixture
def organization(harvest_db):
    return factories.Organization(name="collectivites", title="Collectivités du Morbihan")


@pytest.fixture
def sysadmin(harvest_db):
    return factories.Sysadmin()


@pytest.fixture
def editor_dataset(organization):
    """An editor of the organisation and an empty dataset of it, for uploads by hand."""
    editor = factories.User()
    helpers.call_action("organization_member_create", id=organization["id"], username=editor["name"],
                        role="editor")
    return editor, factories.Dataset(owner_org=organization["id"], name="budgets-deposes")
