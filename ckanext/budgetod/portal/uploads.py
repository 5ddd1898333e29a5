"""XML resources added by hand (uploaded, or linked to another site): nothing of them is served nor
synced before their personal data are occulted.

- The resource hooks (``plugin.py``) mark a new file ``pending`` before it is saved
  (``mark_new_file``, ``carry_occultation``): the state is the portal's alone, never the editor's.
- ``refuse_unreleased_download`` (a hook before every request) answers CKAN's download route with
  a 403 for a resource not ``released``: while pending, when the occultation failed, for everyone —
  its editors included.
- The job ``build_siblings`` (run by ``ckan jobs worker``) occults the document and stores the
  occulted version as the resource's file — a linked document becomes an upload of its occulted
  copy, its URL kept in ``budgetod_source_url`` — in the same update that marks it ``done``; a
  document it cannot read is marked ``failed`` with the reason, which its editors see on the
  resource page. A well-formed XML file that is no TOTEM document is ``not_totem`` and served as it is.
  The job then builds the SCDL CSV and the validation report as sibling resources, like harvested
  documents get; siblings made from the same content are left alone.
- The data.gouv.fr sync leaves out every unreleased resource (``datagouv/sync/mapping``), and is not
  queued while a file of the dataset is pending: the job's update queues it once occulted.

A job killed (``ckan.jobs.timeout``) leaves its file pending, hence unreachable; the page says so.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from typing import Any, NoReturn, cast

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib import uploader
from flask import Blueprint
from flask.typing import ResponseReturnValue

from ckanext.budgetod import settings
from ckanext.budgetod.core import contract
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.net import fetch
from ckanext.budgetod.core.pipeline import Pipeline
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.portal import publish

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the state, set before a file is saved

def _mark(resource: dict[str, Any], state: str | None) -> None:
    for field in contract.OCCULTATION_FIELDS:
        resource.pop(field, None)
    if state is not None:
        resource[contract.RESOURCE_OCCULTATION] = state


def mark_new_file(resource: dict[str, Any]) -> None:
    """A resource being created: a hand XML file is pending, whatever the request said."""
    _mark(resource, contract.OCCULTATION_PENDING if publish.is_uploaded_totem(resource) else None)


def carry_occultation(current: dict[str, Any], resource: dict[str, Any]) -> None:
    """A resource being updated: a new file (uploaded, or another URL) starts pending again; otherwise
    the state stays what the portal recorded, whatever the request said."""
    new_file = bool(resource.get("upload")) or (
        (resource.get("url_type") or "") != (current.get("url_type") or "")
        or publish.named_file(resource) != publish.named_file(current))
    if new_file:
        mark_new_file(resource)
        return
    _mark(resource, None)
    resource.update({field: current[field] for field in contract.OCCULTATION_FIELDS if field in current})


def enqueue_if_pending(resource: dict[str, Any]) -> None:
    if resource.get(contract.RESOURCE_OCCULTATION) == contract.OCCULTATION_PENDING:
        tk.enqueue_job(build_siblings, [resource["id"]],
                       title=f"budgetod: occultation, SCDL CSV and validation report of resource {resource['id']}")


# ---------------------------------------------------------------- what is served

def _stored_fields(resource: model.Resource) -> dict[str, Any]:
    return {**(resource.extras or {}), "format": resource.format, "url": resource.url,
            "url_type": resource.url_type}


def refuse_unreleased_download() -> ResponseReturnValue | None:
    """Before CKAN's download route (``/dataset/<id>/resource/<rid>/download[/<name>]``, any dataset
    type): a 403 when the resource's file is not released."""
    blueprint, _, view = (tk.request.endpoint or "").rpartition(".")
    if view != "download" or not blueprint.endswith("resource"):
        return None
    resource = model.Resource.get((tk.request.view_args or {}).get("resource_id") or "")
    if resource is None or publish.released(_stored_fields(resource)):
        return None
    return cast(NoReturn, tk.abort(  # abort raises
        403, tk._("This document is not downloadable: the portal serves a TOTEM document only "
                  "once its personal data are occulted (CRPA, article L311-7).")))


def get_blueprints() -> list[Blueprint]:
    """No route: a hook before every request of the application, ahead of CKAN's download route."""
    gate = Blueprint("budgetod_download_gate", __name__)
    gate.before_app_request(refuse_unreleased_download)
    return [gate]


def occultation_notice(resource: dict[str, Any]) -> dict[str, str] | None:
    """What the resource page says of an unreleased file: ``message`` for everyone, ``advice`` and
    ``reason`` (the cause of a failure, in the page's language) for its editors. None when released."""
    if publish.released(resource):
        return None
    state = resource.get(contract.RESOURCE_OCCULTATION)
    if state == contract.OCCULTATION_FAILED:
        error = (contract.RESOURCE_OCCULTATION_ERROR_EN if tk.h.lang() == "en"
                 else contract.RESOURCE_OCCULTATION_ERROR_FR)
        return {"message": tk._("This TOTEM document could not be read, so its personal data could not be "
                                "occulted: it is not downloadable, here or on data.gouv.fr."),
                "advice": tk._("Upload a corrected document to publish it."),
                "reason": resource.get(error) or ""}
    return {"message": tk._("The personal data of this TOTEM document are being occulted: it will be "
                            "downloadable once that is done."),
            "advice": tk._("If this lasts, the background job may have stopped (ckan.jobs.timeout): upload "
                           "the file again, or ask an administrator to check the jobs worker."),
            "reason": ""}


def get_helpers() -> dict[str, Callable[..., Any]]:
    return {"budgetod_occultation_notice": occultation_notice}


# ---------------------------------------------------------------- the job

def build_siblings(resource_id: str) -> None:
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    try:
        resource = tk.get_action("resource_show")({"user": user, "ignore_auth": True}, {"id": resource_id})
    except tk.ObjectNotFound:
        return  # deleted before the job ran
    if (resource.get(contract.RESOURCE_OCCULTATION) != contract.OCCULTATION_PENDING
            or not publish.is_uploaded_totem(resource)):
        return  # another job did it, or it is no XML resource any more (it stays pending: unreachable)
    started = publish.file_identity(resource)
    portal_settings = settings.current()
    pipeline = Pipeline(portal_settings)
    with tempfile.TemporaryDirectory(dir=settings.cache_dir(), prefix="upload-") as workdir:
        try:
            path = _local_copy(resource, workdir, portal_settings)
        except BudgetodError as error:
            publish.record_occultation(resource["package_id"], resource_id, started, user=user, error=error)
            return
        occulted_path = os.path.join(workdir, "occulted.xml")
        try:
            occulted = pipeline.occult(path, occulted_path)
        except BudgetodError as error:
            recorded = publish.record_occultation(resource["package_id"], resource_id, started, user=user,
                                                  error=error)
            if recorded and not publish.not_totem(error):  # a report says why, like a failed conversion's
                doc = pipeline.failure(path, error, source=resource["url"], sha256=fetch.file_digest(path))
                publish.upsert_siblings(resource["package_id"], resource_id, doc, user=user, workdir=workdir)
            return
        if not publish.record_occultation(resource["package_id"], resource_id, started, user=user,
                                          occulted_path=occulted_path):
            return  # a newer file came meanwhile: its own job converts it
        sha256 = fetch.file_digest(occulted_path)
        dataset = tk.get_action("package_show")({"user": user, "ignore_auth": True, "use_cache": False},
                                                {"id": resource["package_id"]})
        if sha256 in publish.uploaded_siblings_sha256(dataset, resource_id):
            return
        source = resource["url"]  # a linked document's original URL
        try:
            doc = pipeline.run(occulted_path, os.path.join(workdir, "scdl.csv"), source=source,
                               sha256=sha256, occulted=occulted)
        except BudgetodError as error:
            doc = pipeline.failure(occulted_path, error, source=source, sha256=sha256, occulted=occulted)
        publish.upsert_siblings(resource["package_id"], resource_id, doc, user=user, workdir=workdir)


def _local_copy(resource: dict[str, Any], workdir: str, settings: Settings) -> str:
    """The uploaded file in the filestore, or a download of the resource's URL."""
    if resource.get("url_type") == "upload":
        store = uploader.get_resource_uploader(resource)
        path: str | None = store.get_path(resource["id"]) if hasattr(store, "get_path") else None
        if path and os.path.isfile(path):
            return path
    destination = os.path.join(workdir, "document.xml")
    with fetch.http_get(resource["url"], timeout=settings.network.timeout, max_bytes=settings.max_document_size,
                        allow_private=settings.network.allow_private, spool_dir=workdir) as response:
        response.raise_for_status()
        response.save_to(destination)
    return destination
