"""The idempotent sync that makes a udata dataset match a budget dataset.

Algorithm (``Synchroniser.sync``):

1. What udata should hold (``Wanted``) is computed from the CKAN dataset alone, with a fingerprint
   of it (metadata, the files' SHA-1, the target organisation).
2. When the state row says the last sync succeeded with that fingerprint, nothing is called at all.
3. Otherwise udata is read and compared field by field with what we own: the udata dataset is found
   by the stored id, else by walking every page of the organisation's datasets for its extra; it is
   created, or written whole (read, merged, written back: udata resets what a PUT leaves out) only
   when a field differs. Then each resource: a changed file replaces the file of the same udata
   resource (checksum compared), changed metadata is written whole, resources of removed documents
   are deleted. udata's own additions (other extras, resources added there) are kept.
4. Every udata id is saved in the state row as soon as the object exists, so a restart resumes.

A create is not idempotent: when the client cannot tell whether the server applied it, the object
is looked for (by its extras, or for an upload by its file name and checksum) before it is created
again. Leftovers of interrupted runs found that way (a second copy, an upload whose metadata was
never written) are adopted or deleted, so no duplicate survives.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import ckan.model as model
import ckan.plugins.toolkit as tk
import sqlalchemy as sa

from ckanext.budgetod import settings
from ckanext.budgetod.core.messages import Message, both_languages
from ckanext.budgetod.core.net.udata import (
    AmbiguousWriteError,
    UdataClient,
    UdataError,
)
from ckanext.budgetod.core.settings import DATAGOUV_API_KEY_ENV, Settings
from ckanext.budgetod.datagouv.sync import state
from ckanext.budgetod.datagouv.sync.mapping import (
    KEY_DATASET,
    KEY_RESOURCE,
    SPATIAL_MISSING,
    Wanted,
    WantedResource,
    checksum_of,
    differences,
    extra_of,
    merged,
    wanted_dataset,
)
from ckanext.budgetod.datagouv.sync.targets import (
    OPTION,
    ORGANIZATIONS_OPTION,
    SyncError,
    checked,
    parse_organizations,
    target_organization,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")


# How often a create whose outcome is unknown is looked for, then sent again.
AMBIGUOUS_CREATE_TRIES = 3


def dataset_page(udata_id: str) -> str:
    """The udata dataset's page for people (udata redirects an id to the page of its slug)."""
    return f"{settings.current().datagouv.url}/datasets/{udata_id}/"


def status(package: model.Package) -> dict[str, Any]:
    """The sync state of a dataset as the action and the dataset page show it."""
    row = state.get(package.id)
    described = row.as_dict() if row is not None else {
        "status": None, "message": "", "attempts": 0, "changed": None, "last_attempt": None,
        "last_success": None, "udata_organization": None, "udata_dataset_id": None, "udata_resources": {}}
    described.update(package_id=package.id, package_name=package.name,
                     enabled=settings.current().datagouv.enabled)
    described["udata_url"] = dataset_page(described["udata_dataset_id"]) if described["udata_dataset_id"] else None
    return described


@dataclass
class Outcome:
    """What one sync did (or, dry, would do) to one dataset."""

    package_id: str
    package_name: str
    result: str = "unchanged"  # unchanged, created, updated, deleted, archived, skipped, error
    operations: list[str] = field(default_factory=list)
    udata_id: str | None = None
    message: str = ""


class _Recorder:
    """Keeps the state row up to date while a sync runs; writes nothing on a dry run."""

    def __init__(self, package_id: str, dry_run: bool):
        self.package_id, self.package_name, self.dry_run = package_id, package_id, dry_run
        self.row = state.get(package_id)
        self.started = state.utcnow()
        self.begun = False

    def begin(self) -> None:
        """An attempt starts: counted (and the row made) before anything is written to udata."""
        self.begun = True
        if self.dry_run:
            return
        if self.row is None:
            self.row = state.DatagouvSync(package_id=self.package_id, status=state.STATUS_PENDING,
                                          message="", attempts=0, udata_resources={})
            model.Session.add(self.row)
        self.row.package_name = self.package_name
        self.row.attempts = (self.row.attempts or 0) + 1
        self.row.last_attempt = self.started
        model.Session.commit()

    def organization(self, organization_id: str) -> None:
        if not self.dry_run:
            assert self.row is not None, "begin() creates the row"
            self.row.udata_organization = organization_id
            model.Session.commit()

    def dataset(self, udata_id: str) -> None:
        if not self.dry_run and self.row is not None and self.row.udata_dataset_id != udata_id:
            self.row.udata_dataset_id = udata_id
            self.row.udata_resources = {}  # they belonged to another udata dataset
            model.Session.commit()

    def stored_resources(self) -> dict[str, Any]:
        return dict(self.row.udata_resources or {}) if self.row is not None else {}

    def resource(self, ckan_id: str, udata_id: str | None, file_sha1: str | None = None) -> None:
        if self.dry_run:
            return
        resources = self.stored_resources()
        if udata_id is None:
            resources.pop(ckan_id, None)
        else:
            resources[ckan_id] = {"id": udata_id, "file": file_sha1}
        assert self.row is not None, "begin() creates the row"
        self.row.udata_resources = resources  # a new dict: JSONB changes are seen on assignment
        model.Session.commit()

    def succeeded(self, content_hash: str, warning: str = "") -> None:
        if self.dry_run:
            return
        row = self.row
        assert row is not None, "begin() creates the row"
        # The dataset changed again while this ran: the job queued since will sync it.
        row.status = state.STATUS_PENDING if row.changed and row.changed > self.started else state.STATUS_OK
        row.message, row.attempts, row.last_success, row.content_hash = warning, 0, state.utcnow(), content_hash
        model.Session.commit()

    def failed(self, message: str) -> None:
        if self.dry_run:
            return
        model.Session.rollback()
        if not self.begun:
            self.begin()
        assert self.row is not None, "begin() creates the row"
        self.row.status, self.row.message = state.STATUS_ERROR, message
        model.Session.commit()

    def forget(self) -> None:
        """Nothing was published and nothing is to be: no row."""
        if not self.dry_run and self.row is not None:
            model.Session.delete(self.row)
            model.Session.commit()
            self.row = None


def _takedown_hash(on_delete: str) -> str:
    return f"taken-down:{on_delete}"


def _oldest_first(copies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(copies, key=lambda remote: (remote.get("created_at") or "", remote["id"]))


@contextlib.contextmanager
def _advisory_lock(name: str) -> Iterator[None]:
    """One sync of a dataset at a time, across workers. A session lock on a connection of its own:
    the sync commits its state as it goes, and a killed worker's lock goes with its connection."""
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with model.meta.engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def _show(package_id: str) -> dict[str, Any] | None:
    user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    try:
        # use_cache: the database, not the search index, which lags behind writers.
        return cast("dict[str, Any]", tk.get_action("package_show")(
            {"user": user, "ignore_auth": True, "use_cache": False}, {"id": package_id}))
    except tk.ObjectNotFound:
        return None


class Synchroniser:
    """Syncs datasets through one client. Organisations, zones and organisation listings are
    cached for the run: ``sync --all`` walks an organisation's datasets once, not once per dataset."""

    def __init__(self, client: UdataClient, settings: Settings, *, dry_run: bool = False):
        self.client = client
        self.settings = checked(settings)
        self._tied = parse_organizations(settings.datagouv.organizations)
        self.dry_run = dry_run
        self._organizations: dict[str, dict[str, Any]] = {}
        self._zones: dict[tuple[str, str], tuple[str | None, Message | None]] = {}
        self._listings: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._outcome = Outcome("", "")

    # ------------------------------------------------------------ entry point

    def sync(self, package_id: str) -> Outcome:
        """Make udata match the CKAN dataset ``package_id``, whether active, deleted or purged."""
        lock = (contextlib.nullcontext() if self.dry_run
                else _advisory_lock(f"ckanext-budgetod:datagouv:{package_id}"))
        with lock:
            dataset = _show(package_id)
            recorder = _Recorder(package_id, self.dry_run)
            recorder.package_name = name = dataset["name"] if dataset else (
                recorder.row.package_name if recorder.row is not None else package_id)
            self._outcome = outcome = Outcome(package_id, name)
            try:
                self._sync(dataset, recorder)
            except (UdataError, SyncError) as error:
                text = (Message("synchroniser_data_gouv_fr", error=error.description)
                        if isinstance(error, UdataError) else error.description)
                outcome.result, outcome.message = "error", both_languages(text)
                log.warning("data.gouv.fr sync of %s failed: %s", name, text.render("en"))
                recorder.failed(outcome.message)
            except Exception as error:
                log.exception("data.gouv.fr sync of %s failed", name)
                detail = str(error).splitlines()[0][:300] if str(error) else ""
                recorder.failed(both_languages(Message("unexpected_error_see_server_log",
                                                       kind=type(error).__name__, detail=detail)))
                raise
            return outcome

    def _sync(self, dataset: dict[str, Any] | None, recorder: _Recorder) -> None:
        outcome, row = self._outcome, recorder.row
        organization = target_organization(dataset) if dataset else None
        if dataset is None or dataset["state"] != "active":
            # Only the tied organisation is searched for copies to take down.
            permitted = None
            if dataset is not None and organization is not None:
                with contextlib.suppress(SyncError):
                    permitted = self._permitted(dataset, organization)
            self._take_down(permitted, recorder)
            return
        if organization is None:
            if row is not None and row.udata_dataset_id:
                raise SyncError(dataset["name"], Message("synchroniser_no_data_gouv_fr_organisation_2",
                    udata_dataset_id=row.udata_dataset_id))
            outcome.result = "skipped"
            recorder.forget()
            return
        organization = self._permitted(dataset, organization)
        wanted = wanted_dataset(dataset, organization, self.settings)
        fingerprint = wanted.fingerprint()
        if (row is not None and row.udata_dataset_id and row.content_hash == fingerprint
                and row.status != state.STATUS_ERROR):
            outcome.udata_id = row.udata_dataset_id
            recorder.succeeded(fingerprint)
            return
        self._check_api_key()
        recorder.begin()
        organization_id = self._organization_id(organization)
        recorder.organization(organization_id)
        fields = {**wanted.fields, "spatial": self._spatial(wanted.zone)}
        if wanted.zone is not None and fields["spatial"] is None:
            # Unresolved: udata's spatial is left as it is (empty on a new dataset), and another
            # fingerprint makes the next sync try again.
            del fields["spatial"]
            fingerprint = f"{fingerprint}:{SPATIAL_MISSING}"
        remote = self._find(wanted.package_id, organization_id, row)
        if remote is None:
            outcome.result = "created"
            remote = self._create(tk._("create the udata dataset"),
                                  lambda: self.client.create_dataset({**fields, "organization": organization_id}),
                                  lambda: self._listed(wanted.package_id, organization_id, fresh=True),
                                  lambda duplicate: self.client.delete_dataset(duplicate["id"]))
            if remote is None:  # dry run: the creation would bring every resource
                for item in wanted.resources:
                    self._note(_creation(item))
                return
        else:
            self._update_dataset(remote, fields, organization_id)
        recorder.dataset(remote["id"])
        outcome.udata_id = remote["id"]
        self._sync_resources(remote, wanted, recorder)
        if outcome.result == "unchanged" and outcome.operations:
            outcome.result = "updated"
        recorder.succeeded(fingerprint, outcome.message)

    def _check_api_key(self) -> None:
        if not self.dry_run and not self.settings.datagouv.api_key:
            raise SyncError(OPTION + "api_key", Message("synchroniser_no_data_gouv_fr_api",
                datagouv_api_key_env=DATAGOUV_API_KEY_ENV))

    # ------------------------------------------------------------ datasets

    def _tied_organization(self, dataset: dict[str, Any]) -> str | None:
        """The udata organisation the sysadmins tied to the dataset's portal organisation, if any."""
        owner = dataset.get("organization") or {}
        names = {owner.get("name"), owner.get("id"), dataset.get("owner_org")} - {None, ""}
        return next((udata for portal, udata in self._tied if portal in names), None)

    def _permitted(self, dataset: dict[str, Any], named: str) -> str:
        """The udata organisation ``named`` (by the dataset's source or extra) when it is the one the
        sysadmins tied to the dataset's portal organisation; else SyncError. Without a call to
        udata when both are written alike."""
        tied = self._tied_organization(dataset)
        owner = (dataset.get("organization") or {}).get("title") or (dataset.get("organization") or {}).get(
            "name") or dataset.get("owner_org") or "—"
        if tied is None:
            raise SyncError(dataset["name"], Message("synchroniser_no_data_gouv_fr_organisation",
                owner=owner, organizations_option=ORGANIZATIONS_OPTION))
        if named != tied and self._organization_id(named) != self._organization_id(tied):
            raise SyncError(dataset["name"], Message("synchroniser_data_gouv_fr_organisation_asked",
                named=named, owner=owner, tied=tied))
        return tied

    def _organization_id(self, reference: str) -> str:
        if reference not in self._organizations:
            organization = self.client.get_organization(reference)
            if organization is None:
                raise SyncError(reference, Message("synchroniser_organisation_not_found_on_data"))
            self._organizations[reference] = organization
        return cast(str, self._organizations[reference]["id"])

    def _spatial(self, zone: tuple[str, str] | None) -> dict[str, Any] | None:
        """The dataset's ``spatial``; None, with the outcome's warning, when udata cannot say the
        zone (unknown, or the spatial API failing): the rest is published all the same."""
        if zone is None:
            return None
        if zone not in self._zones:
            self._zones[zone] = self._zone_id(*zone)  # once per run, found or not
        zone_id, problem = self._zones[zone]
        if zone_id is None:
            assert problem is not None, "a zone not found says why"
            self._outcome.message = both_languages(Message("synchroniser_spatial_zone_not_resolved_data",
                                                           level=zone[0], code=zone[1], problem=problem))
            log.warning("data.gouv.fr sync of %s: zone %s %s not resolved (%s)",
                        self._outcome.package_name, *zone, problem.render("en"))
            return None
        return {"zones": [zone_id], "granularity": f"fr:{zone[0]}"}

    def _zone_id(self, level: str, code: str) -> tuple[str | None, Message | None]:
        try:
            found = self.client.spatial_zone(code, level)
        except UdataError as error:
            return None, error.description
        if found is None:
            return None, Message("synchroniser_unknown_zone")
        return found["id"], None

    def _listed(self, package_id: str, organization_id: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        """The organisation's datasets carrying ``package_id`` as key, oldest first."""
        if fresh or organization_id not in self._listings:
            found: dict[str, list[dict[str, Any]]] = {}
            for remote in self.client.iter_organization_datasets(organization_id):
                if extra_of(remote, KEY_DATASET):
                    found.setdefault(extra_of(remote, KEY_DATASET), []).append(remote)
            self._listings[organization_id] = found
        return _oldest_first(self._listings[organization_id].get(package_id, []))

    def _find(self, package_id: str, organization_id: str, row: state.DatagouvSync | None) -> dict[str, Any] | None:
        """The udata dataset of ``package_id`` — present, or soft-deleted (to restore) — or None.

        Without a usable stored id the organisation is searched, and copies beyond the oldest
        (left by a lost state) are deleted.
        """
        if row is not None and row.udata_dataset_id:
            lookup = self.client.lookup_dataset(row.udata_dataset_id)
            if lookup.dataset is not None and extra_of(lookup.dataset, KEY_DATASET) == package_id:
                return lookup.dataset
        return self._keep_one(self._listed(package_id, organization_id))

    def _keep_one(self, copies: list[dict[str, Any]]) -> dict[str, Any] | None:
        for duplicate in copies[1:]:
            self._write(tk._("delete the duplicate udata dataset {id}").format(id=duplicate["id"]),
                        functools.partial(self.client.delete_dataset, duplicate["id"]))
        return copies[0] if copies else None

    def _update_dataset(self, remote: dict[str, Any], fields: dict[str, Any], organization_id: str) -> None:
        payload = merged(remote, fields)
        if remote.get("deleted"):
            payload["organization"] = organization_id
            self._write(tk._("restore the deleted udata dataset"),
                        lambda: self.client.restore_dataset(remote["id"], payload))
            return
        changed = differences(remote, fields)
        if (remote.get("organization") or {}).get("id") != organization_id:
            payload["organization"] = organization_id
            changed.append("organization")
        if changed:
            self._write(tk._("update the udata dataset ({fields})").format(fields=", ".join(changed)),
                        lambda: self.client.update_dataset(remote["id"], payload))

    def _take_down(self, organization: str | None, recorder: _Recorder) -> None:
        """The CKAN dataset is deleted or purged: delete (or archive) its udata dataset."""
        outcome, row = self._outcome, recorder.row
        done = _takedown_hash(self.settings.datagouv.on_delete)
        if row is not None and row.content_hash == done and row.status != state.STATUS_ERROR:
            recorder.succeeded(done)
            return
        stored_id = row.udata_dataset_id if row is not None else None
        organization_id = (row.udata_organization if row is not None and row.udata_organization
                           else self._organization_id(organization) if organization else None)
        if stored_id is None and organization_id is None:
            outcome.result = "skipped"  # never published, and no organisation to look in
            recorder.forget()
            return
        if stored_id is not None:
            remote = self.client.get_dataset(stored_id)
            copies = [remote] if remote is not None else []
        else:
            assert organization_id is not None, "no organisation to look in is skipped above"
            copies = self._listed(outcome.package_id, organization_id)
        if not copies and row is None:
            return  # never published: nothing to take down, nothing to remember
        self._check_api_key()
        recorder.begin()
        for remote in copies:
            outcome.udata_id = remote["id"]
            if self.settings.datagouv.on_delete == "archive":
                if not remote.get("archived"):
                    payload = merged(remote, {"archived": state.utcnow().isoformat(timespec="seconds")})
                    self._write(tk._("archive the udata dataset {id}").format(id=remote["id"]),
                                functools.partial(self.client.update_dataset, remote["id"], payload))
            else:
                self._write(tk._("delete the udata dataset {id}").format(id=remote["id"]),
                            functools.partial(self.client.delete_dataset, remote["id"]))
        if outcome.operations:
            outcome.result = "archived" if self.settings.datagouv.on_delete == "archive" else "deleted"
        if copies:
            recorder.dataset(copies[0]["id"])
        recorder.succeeded(done)

    # ------------------------------------------------------------ resources

    def _sync_resources(self, remote: dict[str, Any], wanted: Wanted, recorder: _Recorder) -> None:
        dataset_id = remote["id"]
        stored = recorder.stored_resources()
        available = list(remote.get("resources") or [])
        for item in wanted.resources:
            known = stored.get(item.ckan_id, {})
            chosen, copies = _claim(item, available, known.get("id"))
            for resource in [chosen, *copies]:
                if resource is not None:
                    available.remove(resource)
            self._delete_resources(dataset_id, copies)
            if chosen is None:
                chosen = self._create(
                    _creation(item), functools.partial(self._send_new_resource, dataset_id, item),
                    functools.partial(self._claimed_again, dataset_id, item),
                    lambda duplicate: self.client.delete_resource(dataset_id, duplicate["id"]))
                if chosen is None:  # dry run
                    continue
                recorder.resource(item.ckan_id, chosen["id"])
            chosen = self._refresh_file(dataset_id, chosen, item, known.get("file"))
            self._update_resource(dataset_id, chosen, item)
            recorder.resource(item.ckan_id, chosen["id"], item.sha1)
        # What is left and carries our key belongs to removed documents.
        self._delete_resources(dataset_id, [resource for resource in available
                                            if extra_of(resource, KEY_RESOURCE)])
        for ckan_id in set(stored) - {item.ckan_id for item in wanted.resources}:
            recorder.resource(ckan_id, None)

    def _send_new_resource(self, dataset_id: str, item: WantedResource) -> dict[str, Any]:
        if item.file_path:
            assert item.filename is not None, "a file to upload has its name"
            return _resource_of(self.client.upload_resource(dataset_id, item.file_path, item.filename))
        return self.client.create_resource(dataset_id, item.fields)

    def _claimed_again(self, dataset_id: str, item: WantedResource) -> list[dict[str, Any]]:
        """After a create of unknown outcome: the copies of ``item`` udata now holds, best first."""
        dataset = self.client.get_dataset(dataset_id)
        chosen, copies = _claim(item, list((dataset or {}).get("resources") or []), None)
        return [chosen, *copies] if chosen is not None else copies

    def _delete_resources(self, dataset_id: str, resources: list[dict[str, Any]]) -> None:
        for resource in resources:
            self._write(tk._("delete the resource {title}").format(title=resource.get("title") or resource["id"]),
                        functools.partial(self.client.delete_resource, dataset_id, resource["id"]))

    def _refresh_file(self, dataset_id: str, resource: dict[str, Any], item: WantedResource,
                      stored_sha1: str | None) -> dict[str, Any]:
        """Replace the udata file when ours differs (by udata's checksum, else the one we stored)."""
        if not item.file_path or (checksum_of(resource) or stored_sha1) == item.sha1:
            return resource
        assert item.filename is not None, "a file to upload has its name"
        replaced = self._write(
            tk._("replace the file of {title}").format(title=item.fields["title"]),
            functools.partial(self.client.upload_resource_file, dataset_id, resource["id"], item.file_path,
                              item.filename))
        return _resource_of(replaced) if replaced else resource

    def _update_resource(self, dataset_id: str, resource: dict[str, Any], item: WantedResource) -> None:
        fields = {name: value for name, value in item.fields.items() if name != "filetype"}
        changed = differences(resource, fields)
        if changed:
            payload = merged(resource, fields)
            self._write(tk._("update the resource {title} ({fields})").format(
                title=item.fields["title"], fields=", ".join(changed)),
                lambda: self.client.update_resource(dataset_id, resource["id"], payload))

    # ------------------------------------------------------------ writes

    def _note(self, description: str) -> None:
        self._outcome.operations.append(description)

    def _write(self, description: str, call: Callable[[], _T]) -> _T | None:
        """Run a write — on a dry run, only say it. Every write is listed in the outcome."""
        self._note(description)
        return None if self.dry_run else call()

    def _create(self, description: str, create: Callable[[], dict[str, Any]],
                copies: Callable[[], list[dict[str, Any]]],
                discard: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
        """A create udata may or may not have applied when it fails: look for the object (``copies``,
        best first) before sending it again; keep the best copy, ``discard`` the others."""
        self._note(description)
        if self.dry_run:
            return None
        tries = 1
        while True:
            try:
                return create()
            except AmbiguousWriteError:
                found = copies()
                if found:
                    for duplicate in found[1:]:
                        self._write(tk._("delete the duplicate {id}").format(id=duplicate["id"]),
                                    functools.partial(discard, duplicate))
                    return found[0]
                if tries >= AMBIGUOUS_CREATE_TRIES:
                    raise
                tries += 1


def _resource_of(uploaded: dict[str, Any]) -> dict[str, Any]:
    """The resource an upload answers with, without the answer's own "success" flag."""
    return {name: value for name, value in uploaded.items() if name != "success"}


def _creation(item: WantedResource) -> str:
    if item.file_path:
        return cast(str, tk._("upload {title}").format(title=item.fields["title"]))
    return cast(str, tk._("link {title}").format(title=item.fields["title"]))


def _claim(item: WantedResource, available: list[dict[str, Any]],
           stored_id: str | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The udata resource that is ``item``, and the other copies of it, to delete.

    Candidates, best first: the resources carrying its key, the one whose id was stored, and for an
    upload the files an interrupted run sent without writing their metadata (no key, the upload's
    file name as title, or its checksum). A candidate of the wrong kind (a link where a file is
    wanted, or the reverse) is a copy to delete.
    """
    keyed = [resource for resource in available if extra_of(resource, KEY_RESOURCE) == item.ckan_id]
    unkeyed = [resource for resource in available if not extra_of(resource, KEY_RESOURCE)]
    stored = [resource for resource in unkeyed if resource["id"] == stored_id]
    orphans = [resource for resource in unkeyed
               if item.file_path and resource.get("filetype") == "file" and resource not in stored
               and (resource.get("title") == item.filename or checksum_of(resource) == item.sha1)]
    candidates = keyed + stored + orphans
    fitting = [resource for resource in candidates if resource.get("filetype") == item.filetype]
    same_file = [resource for resource in fitting if item.file_path and checksum_of(resource) == item.sha1]
    chosen = next(iter(same_file or fitting), None)
    return chosen, [resource for resource in candidates if resource is not chosen]
