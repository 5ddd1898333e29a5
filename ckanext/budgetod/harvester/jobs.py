"""Background job: a TOTEM document uploaded by hand as an XML resource gets its SCDL CSV and its
validation report as sibling resources, like harvested documents do.

The upload's hooks enqueue ``build_siblings`` (run by ``ckan jobs worker``). The job fingerprints the
file: siblings made from the same content are left alone, so editing the resource's description does
not convert it again. XML files that are not TOTEM documents are ignored.
"""
from __future__ import annotations

import logging
import os
import tempfile

import ckan.plugins.toolkit as tk
from ckan.lib import uploader

from ckanext.budgetod import settings
from ckanext.budgetod.harvester import publish
from ckanext.budgetod.totem import fetch
from ckanext.budgetod.totem.errors import BudgetodError, DocumentError

log = logging.getLogger(__name__)

# Reader verdicts meaning "some other XML file", not "a broken budget document".
_NOT_TOTEM = frozenset({"not_totem_root", "wrong_namespace", "not_xml"})


def is_uploaded_totem(resource: dict) -> bool:
    """An XML resource people added: neither harvested nor one of the extension's siblings."""
    return ((resource.get("format") or "").strip().lower() in ("xml", "application/xml", "text/xml")
            and not resource.get("budgetod_source")
            and resource.get("budgetod_role") in (None, "", publish.ROLE_TOTEM))


def enqueue_if_uploaded_totem(resource: dict) -> None:
    if is_uploaded_totem(resource):
        tk.enqueue_job(build_siblings, [resource["id"]],
                       title=f"budgetod: SCDL CSV and validation report of resource {resource['id']}")


def build_siblings(resource_id: str) -> None:
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    try:
        resource = tk.get_action("resource_show")({"user": user, "ignore_auth": True}, {"id": resource_id})
    except tk.ObjectNotFound:
        return  # deleted before the job ran
    if not is_uploaded_totem(resource):
        return
    options = settings.current()
    os.makedirs(options.cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=options.cache_dir, prefix="upload-") as workdir:
        path = _local_copy(resource, workdir, options)
        sha256 = fetch.file_digest(path)
        dataset = tk.get_action("package_show")({"user": user, "ignore_auth": True, "use_cache": False},
                                                {"id": resource["package_id"]})
        if sha256 in publish.uploaded_siblings_sha256(dataset, resource_id):
            return
        try:
            doc = publish.convert(path, workdir, source=resource["url"], sha256=sha256)
        except BudgetodError as error:
            if isinstance(error, DocumentError) and error.message_id in _NOT_TOTEM:
                log.info("Resource %s is an XML file but no TOTEM document: left alone", resource_id)
                return
            doc = publish.ConvertedDocument(
                header=None, source=resource["url"], sha256=sha256, totem_path=path, csv_path=None,
                report=publish.failure_report(resource["url"], sha256, error), valid=False, schema_version="")
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
