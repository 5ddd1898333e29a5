"""How converted budget documents become CKAN datasets and resources.

Dataset model:

- One dataset per budget and year (grouping "budget", the default), named
  ``budget-{siret}-{exercice}``; or one dataset per document (grouping "document"), named
  ``budget-{document key}``.
- An annex budget (CodTypBud A, or attached to another établissement's budget) always adds
  ``-annexe-{budget code}`` to its dataset name and document key: TOTEM lets an annex carry the
  same SIRET as its main budget (IdEtab = IdColl in crach-lotissement-bp-2022.xml), and one
  document alone cannot tell whether the SIRET is shared, so the suffix is never left out.
- Each document adds three resources, stored in CKAN's filestore: the SCDL CSV (role ``scdl``),
  the original TOTEM XML (``totem``) and the validation report (``report``). They carry the
  document key (``budgetod_document``), so a document published again — even from another URL —
  replaces its own resources, keeping their ids.

Ownership: an import never changes the owner of an existing dataset, and a harvest source never
replaces nor removes the resources of a document that another active source of the dataset's
organisation published (``check_ownership``): a dataset name comes from the document alone, so
anyone could serve a copy of another community's document. Moving a collectivité to another
organisation is a sysadmin's act (see docs/authorisation.md).

Writers of one dataset are serialised by a PostgreSQL advisory lock keyed on the dataset name,
taken before the dataset is read and released when the update commits: several fetch consumers
may import documents of the same dataset at once without losing a resource.
"""
from __future__ import annotations

import contextlib
import filecmp
import hashlib
import json
import os
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import ckan.model as model
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan.lib import uploader
from werkzeug.datastructures import FileStorage

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.contract import (
    ROLE_REPORT,
    ROLE_SCDL,
    ROLE_TOTEM,
    ROLES,
    SCDL_SCHEMA_NAME,
)
from ckanext.budgetod.core.errors import BudgetodError, DocumentError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.pipeline import Processed
from ckanext.budgetod.core.report import Report, from_untrusted, to_json
from ckanext.budgetod.core.source_config import GROUPING_DOCUMENT
from ckanext.budgetod.core.totem import occultation
from ckanext.budgetod.core.totem.reader import DocumentHeader
from ckanext.budgetod.portal import metadata

_FILE_SUFFIXES = {ROLE_SCDL: ".csv", ROLE_TOTEM: ".xml", ROLE_REPORT: ".json"}
_FORMATS = {ROLE_SCDL: "CSV", ROLE_TOTEM: "XML", ROLE_REPORT: "JSON"}
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# A file that is not well-formed XML, or a DocumentBudgetaire in another namespace, may be a
# broken budget document: only another root element says "some other XML file".
_NOT_TOTEM = frozenset({"not_totem_root"})


# ---------------------------------------------------------------- names

def _slug(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def dataset_name(header: DocumentHeader, grouping: str) -> str:
    if grouping == GROUPING_DOCUMENT:
        return contract.document_dataset_name(header.document_key)
    return contract.budget_dataset_name(header.siret, header.exercice, header.annex_suffix)


def etape_title(natdec: str, decision_number: str = "") -> str:
    title = contract.NATDEC_TITLES.get(natdec, natdec)
    # Several modifying decisions share a year: their number tells them apart.
    return (f"{title} n° {decision_number}" if natdec == contract.NATDEC_DECISION_MODIFICATIVE and decision_number
            else title)


# ---------------------------------------------------------------- lock and actions

def dataset_lock_key(name: str) -> int:
    """The key of the dataset's PostgreSQL advisory lock: 64 bits of a hash of its name."""
    digest = hashlib.sha256(f"ckanext-budgetod:dataset:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def locked_dataset(name: str) -> Iterator[None]:
    """Hold the dataset's advisory lock until the transaction ends (the update commits it)."""
    model.Session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": dataset_lock_key(name)})
    # CKAN's session keeps objects across commits: what it read before the lock may be stale.
    model.Session.expire_all()
    try:
        yield
    except BaseException:
        model.Session.rollback()
        raise
    model.Session.commit()


def _context(user: str, **extra: object) -> dict[str, Any]:
    # A fresh context per call: CKAN keeps per-call state in it. use_cache: read the database,
    # not the search index, which lags behind concurrent writers.
    return {"user": user, "ignore_auth": True, "use_cache": False, **extra}


def _show(name_or_id: str, user: str) -> dict[str, Any] | None:
    try:
        return cast("dict[str, Any]", tk.get_action("package_show")(_context(user), {"id": name_or_id}))
    except tk.ObjectNotFound:
        return None


def _update(dataset: dict[str, Any], user: str, uploads: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """package_update, storing the files of ``uploads`` (resource id → path, file name) in the filestore."""
    with contextlib.ExitStack() as files:
        for resource in dataset["resources"]:
            if resource.get("id") in uploads:
                path, filename = uploads[resource["id"]]
                stream = files.enter_context(open(path, "rb"))
                resource["upload"] = FileStorage(stream=stream, filename=filename)
        updated: dict[str, Any] = tk.get_action("package_update")(_context(user), dataset)
    _create_default_views(updated, user)
    return updated


def _create_default_views(dataset: dict[str, Any], user: str) -> None:
    """The portal's default views (the budget visualisation of SCDL CSVs) on resources that lack them:
    CKAN creates them on package_create and resource_create, not on package_update."""
    tk.get_action("package_create_default_resource_views")(_context(user), {"package": dataset})


# ---------------------------------------------------------------- resources

def _in_metadata_language(message: Message) -> str:
    """A resource's name or description, in the language of the portal's metadata (its template's)."""
    return message.render(metadata.LANGUAGE)


def _resource_fields(doc: Processed, role: str, identity: dict[str, Any]) -> dict[str, Any]:
    header = doc.header
    assert header is not None, "only a converted document has resources"
    etape = etape_title(header.natdec, header.decision_number)
    key = doc.key
    stage = Message("publish_stage", etape=etape.capitalize(), exercice=header.exercice)
    budget = metadata.escape_markdown(header.budget_name)  # descriptions are rendered as Markdown
    names = {
        ROLE_SCDL: Message("publish_scdl_name", stage=stage),
        ROLE_TOTEM: Message("publish_totem_name", stage=stage),
        ROLE_REPORT: Message("publish_report_name", stage=stage),
    }
    descriptions = {
        ROLE_SCDL: Message("publish_scdl_description", stage=stage, budget=budget, schema=SCDL_SCHEMA_NAME,
                           version=doc.schema_version),
        ROLE_TOTEM: Message("publish_totem_description", stage=stage, budget=budget,
                            nomenclature=metadata.escape_markdown(header.nomenclature)),
        ROLE_REPORT: (Message("publish_report_description_valid") if doc.valid
                      else Message("publish_report_description_invalid")),
    }
    fields = {
        **identity,
        "name": _in_metadata_language(names[role]),
        "description": _in_metadata_language(descriptions[role]),
        "format": _FORMATS[role],
        contract.RESOURCE_ROLE: role,
        contract.RESOURCE_DOCUMENT: key,
        contract.RESOURCE_ETAPE: header.natdec,
        contract.RESOURCE_DECISION: header.decision_number,
        contract.RESOURCE_VALID: "true" if doc.valid else "false",
        contract.RESOURCE_SHA256: doc.sha256,
    }
    if role == ROLE_SCDL:
        fields["schema"] = json.dumps({"name": SCDL_SCHEMA_NAME, "version": doc.schema_version})
    return fields


def _write_report(report: Report, workdir: str, file_name: str = "report.json") -> str:
    path = os.path.join(workdir, file_name)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(to_json(report))
    return path


def _place_document(resources: list[dict[str, Any]], doc: Processed, roles: tuple[str, ...],
                    belongs: Callable[[dict[str, Any]], bool], identity: dict[str, Any],
                    workdir: str) -> dict[str, tuple[str, str]]:
    """Put the document's resources in ``resources`` (in place: same position, same id when they
    exist); return the files to upload by resource id."""
    assert doc.csv_path is not None, "only a converted document has resources"
    files = {ROLE_SCDL: doc.csv_path, ROLE_TOTEM: doc.totem_path, ROLE_REPORT: _write_report(doc.report, workdir)}
    existing = {resource[contract.RESOURCE_ROLE]: resource for resource in resources if belongs(resource)}
    uploads = {}
    for role in roles:
        resource = existing.get(role)
        if resource is None:
            resource = {"id": str(uuid.uuid4())}
            resources.append(resource)
        resource.update(_resource_fields(doc, role, identity))
        uploads[resource["id"]] = (files[role], f"{_slug(doc.key)}-{role}{_FILE_SUFFIXES[role]}")
    return uploads


def _schema_version(resource: dict[str, Any]) -> str:
    schema = resource.get("schema")
    try:
        schema = json.loads(schema) if isinstance(schema, str) else schema
    except ValueError:
        return ""
    return str(schema.get("version", "")) if isinstance(schema, dict) else ""


def _etapes(resources: list[dict[str, Any]]) -> list[str]:
    stages = {(resource.get(contract.RESOURCE_ETAPE, ""), resource.get(contract.RESOURCE_DECISION, ""))
              for resource in resources if resource.get(contract.RESOURCE_ROLE) == ROLE_SCDL}
    ordered = sorted(stages, key=lambda stage: (stage[0], stage[1].zfill(8)))
    return [etape_title(natdec, number) for natdec, number in ordered]


# ---------------------------------------------------------------- datasets

@dataclass(frozen=True)
class DatasetTarget:
    """Where harvested documents go: the dataset name and how its metadata is made;
    ``harvest_source``, the id of the source writing (recorded on the resources it publishes)."""

    name: str
    owner_org: str | None
    template: dict[str, Any]
    harvest_source: str | None = None


def dataset_facts(header: DocumentHeader) -> dict[str, Any]:
    """Dataset extras from a document; they also fill the template when a removal rebuilds it."""
    return {
        contract.EXTRA_SIRET: header.siret,
        contract.EXTRA_EXERCICE: str(header.exercice),
        contract.EXTRA_BUDGET: header.budget_name,
        contract.EXTRA_COLLECTIVITE: header.collectivite or header.budget_name,
        contract.EXTRA_NOMENCLATURE: header.nomenclature,
        contract.EXTRA_INSEE: header.insee,
    }


def _organisation_title(owner_org: str | None) -> str:
    group = model.Group.get(owner_org) if owner_org else None
    return cast(str, (group.title or group.name) if group else tk.config.get("ckan.site_title", ""))


def _apply_metadata(dataset: dict[str, Any], target: DatasetTarget, facts: dict[str, Any]) -> None:
    resources = dataset["resources"]
    etapes = _etapes(resources)
    versions = sorted({_schema_version(resource) for resource in resources
                       if resource.get(contract.RESOURCE_ROLE) == ROLE_SCDL} - {""})
    values = {
        "exercice": facts[contract.EXTRA_EXERCICE],
        "budget": facts[contract.EXTRA_BUDGET],
        "collectivite": facts[contract.EXTRA_COLLECTIVITE],
        "siret": facts[contract.EXTRA_SIRET],
        "insee": facts[contract.EXTRA_INSEE],
        "nomenclature": facts[contract.EXTRA_NOMENCLATURE],
        "etapes": ", ".join(etapes),
        "organisation": _organisation_title(target.owner_org),
        "schema_version": ", ".join(versions),
    }
    fields = metadata.dataset_fields(target.template, values)
    extras = {extra["key"]: extra["value"] for extra in dataset.get("extras", [])}
    extras.update(fields.pop("extras"))
    extras.update(facts)
    extras[contract.EXTRA_ETAPES] = ", ".join(etapes)
    dataset.update(fields)
    dataset["extras"] = [{"key": key, "value": value} for key, value in extras.items() if value != ""]
    dataset["owner_org"] = target.owner_org
    dataset["state"] = "active"  # a dataset deleted once all its documents vanished comes back


class OwnershipError(BudgetodError):
    """An import would move a dataset out of its organisation, or write over another source's resources."""


def _active_source_of(source_id: str, owner_org: str | None) -> model.Package | None:
    """The harvest source ``source_id`` when it still exists, is active and belongs to ``owner_org``."""
    source = model.Package.get(source_id)
    return source if source is not None and source.state == "active" and source.owner_org == owner_org else None


def check_ownership(dataset: dict[str, Any], target: DatasetTarget, key: str | None = None) -> None:
    """Refuse (OwnershipError naming the owner) to write into ``dataset`` when it belongs to another
    organisation than the target's, or over document ``key``'s resources published by another
    active source of its organisation. Resources of a source since deleted, or moved to another
    organisation, may be taken over; so may those published before sources were recorded."""
    if (dataset.get("owner_org") or None) != (target.owner_org or None):
        owner = _organisation_title(dataset.get("owner_org")) if dataset.get("owner_org") else ""
        raise OwnershipError(dataset["name"], Message("publish_dataset_of_another_organisation", owner=owner)
                             if owner else Message("publish_dataset_of_no_organisation"))
    if key is None or not target.harvest_source:
        return
    belongs = _harvested(key)
    for resource in dataset["resources"]:
        other = resource.get(contract.RESOURCE_HARVEST_SOURCE)
        if not belongs(resource) or not other or other == target.harvest_source:
            continue
        source = _active_source_of(other, dataset.get("owner_org"))
        if source is not None:
            raise OwnershipError(dataset["name"], Message("publish_document_published_there_harvest_source",
                key=key, source=source.title or source.name))


def _harvested(key: str) -> Callable[[dict[str, Any]], bool]:
    def belongs(resource: dict[str, Any]) -> bool:
        return (resource.get(contract.RESOURCE_DOCUMENT) == key and contract.RESOURCE_TOTEM_RESOURCE not in resource
                and resource.get(contract.RESOURCE_ROLE) in ROLES)
    return belongs


def upsert_document(doc: Processed, target: DatasetTarget, *, user: str, workdir: str) -> dict[str, Any]:
    """Create or update the target dataset with the document's three resources; returns the dataset."""
    assert doc.header is not None, "only a converted document is published"
    with locked_dataset(target.name):
        dataset = _show(target.name, user)
        if dataset is not None:
            check_ownership(dataset, target, doc.key)
        belongs = _harvested(doc.key)
        if dataset is None:
            # Not committed: the lock must cover the creation and the update with the files.
            tk.get_action("package_create")(_context(user, defer_commit=True), {
                "name": target.name, "title": target.name, "owner_org": target.owner_org})
            dataset = _show(target.name, user)
            assert dataset is not None, "created just above"
        elif dataset["state"] == "deleted":
            # Deleted when its last document vanished: that document's resources are stale.
            dataset["resources"] = [resource for resource in dataset["resources"] if belongs(resource)]
        identity = {contract.RESOURCE_SOURCE: doc.source, contract.RESOURCE_HARVEST_SOURCE: target.harvest_source or ""}
        uploads = _place_document(dataset["resources"], doc, ROLES,
                                  belongs, identity, workdir)
        _apply_metadata(dataset, target, dataset_facts(doc.header))
        return _update(dataset, user, uploads)


def remove_document(target: DatasetTarget, key: str, source: str, *, user: str) -> str | None:
    """Remove the resources the document ``key`` got from ``source``; delete the dataset when no
    resource is left. Returns the dataset id, or None when there is no such dataset."""
    with locked_dataset(target.name):
        dataset = _show(target.name, user)
        if dataset is None or dataset["state"] == "deleted":
            return dataset["id"] if dataset is not None else None
        check_ownership(dataset, target)
        belongs = _harvested(key)
        kept = [resource for resource in dataset["resources"]
                if not (belongs(resource) and resource.get(contract.RESOURCE_SOURCE) == source
                        and resource.get(contract.RESOURCE_HARVEST_SOURCE) in (None, "", target.harvest_source))]
        if len(kept) == len(dataset["resources"]):
            return cast(str, dataset["id"])  # another URL publishes this document now
        if not kept:
            tk.get_action("package_delete")(_context(user), {"id": dataset["id"]})
            return cast(str, dataset["id"])
        dataset["resources"] = kept
        extras = {extra["key"]: extra["value"] for extra in dataset["extras"]}
        _apply_metadata(dataset, target, {name: extras.get(name, "") for name in contract.FACT_EXTRAS})
        return cast(str, _update(dataset, user, {})["id"])


# ---------------------------------------------------------------- hand-uploaded documents

def upsert_siblings(dataset_id: str, totem_resource_id: str, doc: Processed, *, user: str,
                    workdir: str) -> dict[str, Any] | None:
    """Give an uploaded TOTEM resource its CSV and report siblings (only the report when the
    conversion failed). Returns the dataset, or None when the resource is gone."""
    dataset = _show(dataset_id, user)
    if dataset is None:
        return None
    with locked_dataset(dataset["name"]):
        dataset = _show(dataset_id, user)
        if dataset is None:
            return None
        resources = dataset["resources"]
        totem = next((resource for resource in resources if resource["id"] == totem_resource_id), None)
        if totem is None:
            return None

        def belongs(resource: dict[str, Any]) -> bool:
            return resource.get(contract.RESOURCE_TOTEM_RESOURCE) == totem_resource_id

        identity = {contract.RESOURCE_TOTEM_RESOURCE: totem_resource_id}
        if doc.csv_path is None:
            # Nothing converted: the report says why, and a CSV of an older upload would mislead.
            dataset["resources"] = resources = [
                resource for resource in resources
                if not (belongs(resource) and resource.get(contract.RESOURCE_ROLE) == ROLE_SCDL)]
            uploads = _place_failure(resources, doc, belongs, identity, workdir)
        else:
            uploads = _place_document(resources, doc, (ROLE_SCDL, ROLE_REPORT), belongs, identity, workdir)
            totem.update({contract.RESOURCE_ROLE: ROLE_TOTEM, contract.RESOURCE_DOCUMENT: doc.key,
                          contract.RESOURCE_VALID: "true" if doc.valid else "false"})
        return _update(dataset, user, uploads)


def _place_failure(resources: list[dict[str, Any]], doc: Processed, belongs: Callable[[dict[str, Any]], bool],
                   identity: dict[str, Any], workdir: str) -> dict[str, tuple[str, str]]:
    report = next((resource for resource in resources
                   if belongs(resource) and resource.get(contract.RESOURCE_ROLE) == ROLE_REPORT), None)
    if report is None:
        report = {"id": str(uuid.uuid4())}
        resources.append(report)
    report.update({
        **identity,
        "name": _in_metadata_language(Message("publish_failure_report_name")),
        "description": _in_metadata_language(Message("publish_failure_report_description")),
        "format": "JSON",
        contract.RESOURCE_ROLE: ROLE_REPORT,
        contract.RESOURCE_VALID: "false",
        contract.RESOURCE_SHA256: doc.sha256,
    })
    return {report["id"]: (_write_report(doc.report, workdir), "rapport-conversion.json")}


def named_file(resource: dict[str, Any]) -> str:
    """The file name of a resource: its upload's (before it is saved), or its URL's."""
    named = getattr(resource.get("upload"), "filename", None) or urllib.parse.urlparse(resource.get("url") or "").path
    return os.path.basename(named or "")


def is_uploaded_totem(resource: dict[str, Any]) -> bool:
    """An XML resource people added (uploaded or linked): neither harvested nor one of the
    extension's siblings. An empty format counts as XML for a file named *.xml (CKAN guesses the
    format of a new resource only after its hooks ran, and not at all on update)."""
    file_format = (resource.get("format") or "").strip().lower()
    if not file_format and named_file(resource).lower().endswith(".xml"):
        file_format = "xml"
    return (file_format in ("xml", "application/xml", "text/xml")
            and not resource.get(contract.RESOURCE_SOURCE)
            and resource.get(contract.RESOURCE_ROLE) in (None, "", ROLE_TOTEM))


def released(resource: dict[str, Any]) -> bool:
    """Whether the portal may serve and sync the resource's file: yes, except a file whose
    occultation is pending or failed, and a hand-added XML resource until its job stored its
    occulted version in the filestore (or found no TOTEM document in it)."""
    state = resource.get(contract.RESOURCE_OCCULTATION)
    if state in (contract.OCCULTATION_PENDING, contract.OCCULTATION_FAILED):
        return False
    if not is_uploaded_totem(resource):
        return True
    return state == contract.OCCULTATION_NOT_TOTEM or (
        state == contract.OCCULTATION_DONE and resource.get("url_type") == "upload")


def not_totem(error: BudgetodError) -> bool:
    """The reader's verdict means "some other XML file", not "a broken budget document"."""
    return isinstance(error, DocumentError) and error.message_id in _NOT_TOTEM


def _file_name(resource: dict[str, Any]) -> str:
    return named_file(resource) or f"{resource['id']}.xml"


def file_identity(resource: dict[str, Any]) -> tuple[str, str, str, str | None]:
    """What changes with each new file of a resource: a job compares it to tell that its file is still current."""
    return (resource.get("url_type") or "", _file_name(resource), resource.get("last_modified") or "",
            resource.get(contract.RESOURCE_OCCULTATION))


def _set_occultation(resource: dict[str, Any], state: str, error: BudgetodError | None = None) -> None:
    """Set a hand-added XML resource's occultation state, with the cause of a failure (``error``)."""
    for field in (contract.RESOURCE_OCCULTATION_ERROR_FR, contract.RESOURCE_OCCULTATION_ERROR_EN):
        resource.pop(field, None)
    resource[contract.RESOURCE_OCCULTATION] = state
    if error is not None:
        # Named by its file name: the error's source is a path in the filestore or a work directory.
        cause = Message("publish_file_cause", name=_file_name(resource), cause=error.cause)
        resource.update({contract.RESOURCE_OCCULTATION_ERROR_FR: cause.render("fr"),
                         contract.RESOURCE_OCCULTATION_ERROR_EN: cause.render("en")})


def _failed_or_not_totem(resource: dict[str, Any], error: BudgetodError) -> None:
    if not_totem(error):
        _set_occultation(resource, contract.OCCULTATION_NOT_TOTEM)
    else:
        _set_occultation(resource, contract.OCCULTATION_FAILED, error)


def record_occultation(dataset_id: str, resource_id: str, started: tuple[str, str, str, str | None], *, user: str,
                       occulted_path: str | None = None, error: BudgetodError | None = None) -> bool:
    """Record what the job found of a hand-added XML resource, in one update: ``occulted_path``, the
    occulted document, becomes its file (a linked one becomes an upload, its URL kept as
    provenance) and it is done; or the ``error`` says it is no TOTEM document, or why it failed.
    Nothing is written, and False returned, when the resource is gone or got another file since
    the job ``started``."""
    dataset = _show(dataset_id, user)
    if dataset is None:
        return False
    with locked_dataset(dataset["name"]):
        dataset = _show(dataset_id, user)
        resource = next((resource for resource in (dataset or {}).get("resources", [])
                         if resource["id"] == resource_id), None)
        if dataset is None or resource is None or file_identity(resource) != started:
            return False
        uploads: dict[str, tuple[str, str]] = {}
        if error is not None:
            _failed_or_not_totem(resource, error)
        elif occulted_path is not None:
            _set_occultation(resource, contract.OCCULTATION_DONE)
            if resource.get("url_type") != "upload":
                resource[contract.RESOURCE_SOURCE_URL] = resource["url"]
            # Stored even when unchanged: what the portal serves is the occultation's output, never the input.
            uploads[resource_id] = (occulted_path, _file_name(resource))
        _update(dataset, user, uploads)
        return True


# ---------------------------------------------------------------- republishing occulted

@dataclass
class Republished:
    """What ``republish_occulted`` did to one stored TOTEM resource."""

    resource_id: str
    name: str
    occulted: occultation.OccultationResult | None
    replaced: bool
    error: BudgetodError | None = None


def stored_path(resource: dict[str, Any]) -> str | None:
    """The file of an uploaded resource in the filestore; None for a link or a missing file."""
    if resource.get("url_type") != "upload":
        return None
    path = uploader.get_resource_uploader(resource).get_path(resource["id"])
    return path if os.path.isfile(path) else None


def _with_occultation(report_path: str | None, occulted: occultation.OccultationResult, workdir: str,
                      resource_id: str) -> str | None:
    """A copy of a published report saying what the occultation did; None when it already says so,
    or is no report."""
    if report_path is None:
        return None
    try:
        with open(report_path, encoding="utf-8") as stream:
            content = json.load(stream)
    except (OSError, ValueError, RecursionError):  # anyone with upload rights wrote it
        return None
    done = occulted.to_dict()
    # Compared as stored: a report read back may be cut to its bounds.
    if isinstance(content, dict) and content.get("occultation") == done:
        return None
    report = from_untrusted(content)
    if report is None:
        return None
    report["occultation"] = done
    return _write_report(report, workdir, f"{resource_id}-report.json")


def republish_occulted(dataset_id: str, rules: occultation.Rules, *, user: str, workdir: str,
                       max_bytes: int) -> list[Republished]:
    """Replace the stored TOTEM documents of a dataset (harvested or uploaded) by their occulted
    version, and say so in the harvested ones' reports. Idempotent: what is already occulted by
    these rules is left as it is. The update queues the data.gouv.fr sync like any change.
    A hand-added resource without an occultation state (added before the portal recorded it) gets
    one: an upload is done (or failed), a link pending, for its job to store its occulted copy."""
    dataset = _show(dataset_id, user)
    if dataset is None:
        return []
    outcomes: list[Republished] = []
    with locked_dataset(dataset["name"]):
        dataset = _show(dataset_id, user)
        if dataset is None:
            return outcomes  # purged before the lock was ours
        resources = dataset["resources"]
        uploads: dict[str, tuple[str, str]] = {}
        marked = False
        for resource in resources:
            if resource.get(contract.RESOURCE_ROLE) != ROLE_TOTEM and not is_uploaded_totem(resource):
                continue
            unmarked = is_uploaded_totem(resource) and contract.RESOURCE_OCCULTATION not in resource
            path = stored_path(resource)
            if path is None:
                if unmarked:  # a link added before: its job stores its occulted copy (portal/uploads.py)
                    _set_occultation(resource, contract.OCCULTATION_PENDING)
                    marked = True
                continue
            occulted_path = os.path.join(workdir, f"{resource['id']}.xml")
            try:
                occulted = occultation.occult_document(path, occulted_path, rules=rules, max_bytes=max_bytes)
            except BudgetodError as error:
                if unmarked:
                    _failed_or_not_totem(resource, error)
                    marked = True
                if not not_totem(error):
                    outcomes.append(Republished(resource["id"], resource.get("name") or "", None, False, error))
                continue
            replaced = not filecmp.cmp(path, occulted_path, shallow=False)
            if replaced:
                uploads[resource["id"]] = (occulted_path, _file_name(resource))
            if is_uploaded_totem(resource) and (replaced or unmarked):
                # A replaced upload is pending again: its job rebuilds its siblings (occulting it once more).
                _set_occultation(resource, contract.OCCULTATION_PENDING if replaced else contract.OCCULTATION_DONE)
                marked = True
            report = next((sibling for sibling in resources if sibling.get(contract.RESOURCE_ROLE) == ROLE_REPORT
                           and contract.RESOURCE_SOURCE in resource
                           and _harvested(resource[contract.RESOURCE_DOCUMENT])(sibling)
                           and sibling.get(contract.RESOURCE_SOURCE) == resource[contract.RESOURCE_SOURCE]), None)
            report_path = _with_occultation(stored_path(report) if report else None, occulted, workdir,
                                            resource["id"])
            if report is not None and report_path is not None:
                uploads[report["id"]] = (report_path, _file_name(report))
            outcomes.append(Republished(resource["id"], resource.get("name") or "", occulted, replaced))
        if uploads or marked:
            _update(dataset, user, uploads)
    return outcomes


def uploaded_siblings_sha256(dataset: dict[str, Any], totem_resource_id: str) -> set[str]:
    """The content fingerprints the siblings of an uploaded TOTEM resource were made from."""
    return {resource.get(contract.RESOURCE_SHA256, "") for resource in dataset["resources"]
            if resource.get(contract.RESOURCE_TOTEM_RESOURCE) == totem_resource_id}
