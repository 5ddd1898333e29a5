"""Background job: a TOTEM document uploaded by hand as an XML resource has its personal data occulted
(the uploaded file is replaced by the occulted document) and gets its SCDL CSV and its validation
report as sibling resources, like harvested documents do.

The upload's hooks enqueue ``build_siblings`` (run by ``ckan jobs worker``). The job fingerprints the
file: siblings made from the same content are left alone, so editing the resource's description does
not convert it again. XML files that are not TOTEM documents are ignored.
"""
from __future__ import annotations

import filecmp
import logging
import os
import tempfile

import ckan.plugins.toolkit as tk
from ckan.lib import uploader

from ckanext.budgetod import settings
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.net import fetch
from ckanext.budgetod.portal import publish

log = logging.getLogger(__name__)


def enqueue_if_uploaded_totem(resource: dict) -> None:
    if publish.is_uploaded_totem(resource):
        tk.enqueue_job(build_siblings, [resource["id"]],
                       title=f"budgetod: SCDL CSV and validation report of resource {resource['id']}")


def build_siblings(resource_id: str) -> None:
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    try:
        resource = tk.get_action("resource_show")({"user": user, "ignore_auth": True}, {"id": resource_id})
    except tk.ObjectNotFound:
        return  # deleted before the job ran
    if not publish.is_uploaded_totem(resource):
        return
    options = settings.current()
    os.makedirs(options.cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=options.cache_dir, prefix="upload-") as workdir:
        path = _local_copy(resource, workdir, options)
        failure: BudgetodError | None
        try:
            occulted_path, occulted = publish.occult(path, workdir)
        except BudgetodError as error:
            if publish.not_totem(error):
                log.info("Resource %s is an XML file but no TOTEM document: left alone", resource_id)
                return
            occulted_path, occulted, failure = path, None, error
        else:
            failure = None
            if resource.get("url_type") == "upload" and not filecmp.cmp(path, occulted_path, shallow=False):
                # The stored file names persons: replaced before anything is built from it.
                publish.replace_upload(resource["package_id"], resource_id, occulted_path, user=user)
        sha256 = fetch.file_digest(occulted_path)
        dataset = tk.get_action("package_show")({"user": user, "ignore_auth": True, "use_cache": False},
                                                {"id": resource["package_id"]})
        if sha256 in publish.uploaded_siblings_sha256(dataset, resource_id):
            return
        if failure is None:
            try:
                doc = publish.convert(path, workdir, source=resource["url"], sha256=sha256)
            except BudgetodError as error:
                failure = error
        if failure is not None:
            doc = publish.ConvertedDocument(
                header=None, source=resource["url"], sha256=sha256, totem_path=occulted_path, csv_path=None,
                report=publish.failure_report(resource["url"], sha256, failure, occulted), valid=False,
                schema_version="")
        publish.upsert_siblings(resource["package_id"], resource_id, doc, user=user, workdir=workdir)


def _local_copy(resource: dict, workdir: str, options: settings.Settings) -> str:
    """The uploaded file in the filestore, or a download of the resource's URL."""
    if resource.get("url_type") == "upload":
        store = uploader.get_resource_uploader(resource)
        path = store.get_path(resource["id"]) if hasattr(store, "get_path") else None
        if path and os.path.isfile(path):
            return path
    destination = os.path.join(workdir, "document.xml")
    with fetch.http_get(resource["url"], timeout=options.http_timeout, max_bytes=options.max_document_size,
                        allow_private=options.allow_private_urls, spool_dir=workdir) as response:
        response.raise_for_status()
        response.save_to(destination)
    return destination
