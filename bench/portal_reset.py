"""Empty the CKAN database and search index a bench script loaded (test.ini plus CKAN_* variables):
CKAN's tables anew, the harvest, activity and budgetod migrations, an empty index and queues."""
from __future__ import annotations


def reset_portal() -> None:
    from ckan.cli.db import _run_migrations
    from ckan.lib import search
    from ckan.tests import helpers

    from ckanext.harvest import queue

    helpers.reset_db()
    for plugin in ("harvest", "activity", "budgetod"):
        _run_migrations(plugin, "head", True)
    search.clear_all()
    queue.purge_queues()
