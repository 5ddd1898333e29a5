"""The background job that syncs a changed dataset to data.gouv.fr, and how it gets queued.

The dataset hooks (``plugin.py``) call ``dataset_changed`` inside the transaction that changes the
dataset. It marks the state row pending in that same transaction — so the need to sync is durable
and rolls back with the change — and the job is queued only once that transaction commits: a job
queued earlier could run before the change is visible, or for a change that is rolled back.
A harvest import commits once per document, so each import queues one job per changed dataset.
While a hand-added file of the dataset waits for its occultation (``portal/uploads.py``), no job is
queued: the job's update that stores the occulted file queues it.
"""
from __future__ import annotations

import logging
from typing import cast

import ckan.model as model
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from rq.job import Job
from sqlalchemy import orm

from ckanext.budgetod import settings
from ckanext.budgetod.core import contract
from ckanext.budgetod.datagouv import sync
from ckanext.budgetod.datagouv.sync import state

log = logging.getLogger(__name__)

_CHANGED = "budgetod_datagouv_changed"  # key of Session.info: dataset ids waiting for the commit


def enabled() -> bool:
    return settings.current().datagouv.enabled


def dataset_changed(package_id: str) -> None:
    if not enabled():
        return
    package = model.Package.get(package_id)
    if package is None or not (sync.is_candidate(package) or state.get(package.id)):
        return
    state.mark_pending(package.id, package.name)
    if any(resource.extras.get(contract.RESOURCE_OCCULTATION) == contract.OCCULTATION_PENDING
           for resource in package.resources):
        return
    model.Session.info.setdefault(_CHANGED, set()).add(package.id)


def _enqueue_committed(session: orm.Session) -> None:
    for package_id in sorted(session.info.pop(_CHANGED, ())):
        try:
            enqueue(package_id)
        except Exception:  # the change is committed: a queue outage must not fail the request
            log.exception("Could not queue the data.gouv.fr sync of %s; it stays pending "
                          "(ckan budgetod datagouv sync --all)", package_id)


def _forget_rolled_back(session: orm.Session) -> None:
    session.info.pop(_CHANGED, None)


def listen_to_commits() -> None:
    for event, handler in (("after_commit", _enqueue_committed), ("after_rollback", _forget_rolled_back)):
        if not sa.event.contains(model.Session, event, handler):
            sa.event.listen(model.Session, event, handler)


def enqueue(package_id: str) -> Job:
    return cast(Job, tk.enqueue_job(sync_dataset, [package_id], title=f"budgetod: data.gouv.fr sync of {package_id}"))


def sync_dataset(package_id: str) -> None:
    """The job (run by ``ckan jobs worker``); its outcome is kept in the dataset's state row."""
    if not enabled():
        return
    portal_settings = settings.current()
    outcome = sync.Synchroniser(sync.client(portal_settings), portal_settings).sync(package_id)
    log.info("data.gouv.fr sync of %s: %s %s", outcome.package_name, outcome.result,
             "; ".join(outcome.operations))
