"""What a budget dataset becomes on data.gouv.fr (``Wanted``), and how a udata object is compared with it.

One udata dataset per CKAN dataset, recognised by its extra ``budgetod:dataset`` (the CKAN
dataset id); each CKAN resource becomes one udata resource recognised by ``budgetod:resource`` (the
CKAN resource id). The SCDL CSV is uploaded with its ``schema``; the other resources are remote
links to the portal, or uploads too with ``ckanext.budgetod.datagouv.upload_all``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, cast

import ckan.plugins.toolkit as tk
from ckan.lib import uploader

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.fetch import file_digest
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.datagouv.sync.targets import SyncError, extras_of
from ckanext.budgetod.portal import publish

KEY_DATASET = "budgetod:dataset"


KEY_PORTAL_URL = "budgetod:portal_url"


KEY_RESOURCE = "budgetod:resource"


KEY_DOCUMENT = "budgetod:document"


KEY_ROLE = "budgetod:role"


# The licence ids udata knows (GET /datasets/licenses/); any other CKAN licence is "notspecified".
UDATA_LICENSES = frozenset({"cc-by", "cc-by-sa", "cc-zero", "fr-lo", "lov2", "notspecified", "odc-by",
                            "odc-odbl", "odc-pddl", "other-at", "other-open", "other-pd"})


DEFAULT_FREQUENCY = "annual"


# Marks the fingerprint of a dataset published without its spatial zone.
SPATIAL_MISSING = "spatial-missing"


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


_NOT_STORED_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def udata_tag(tag: str) -> str:
    """A tag as udata stores it (ASCII, lower case, words joined by "-"), so that comparing works."""
    ascii_text = unicodedata.normalize("NFKD", tag).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")


def udata_zone(insee: str) -> tuple[str, str] | None:
    """(level, code) of a TOTEM CodInseeColl: a commune's INSEE code, or a groupement's SIREN."""
    code = (insee or "").strip().upper()
    if re.fullmatch(r"\d[\dAB]\d{3}", code):  # 2A/2B: Corsica
        return "commune", code
    if re.fullmatch(r"\d{9}", code):  # EPCI budgets carry their SIREN there
        return "epci", code
    return None


def stored_name(filename: str) -> str:
    """The file name udata keeps of an upload (and gives the new resource as title)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    return _NOT_STORED_NAME.sub("_", ascii_name).strip("._") or "file"


def _schema(resource: dict[str, Any]) -> dict[str, Any] | None:
    value = resource.get("schema")
    try:
        value = json.loads(value) if isinstance(value, str) and value else value
    except ValueError:
        return None
    if not isinstance(value, dict) or not value.get("name"):
        return None
    schema = {"name": str(value["name"])}
    if value.get("version"):
        schema["version"] = str(value["version"])
    return schema


@dataclass(frozen=True)
class WantedResource:
    ckan_id: str
    fields: dict[str, Any]  # title, description, type, format, schema, extras; url and filetype when remote
    file_path: str | None = None  # uploaded when set
    filename: str | None = None
    sha1: str | None = None

    @property
    def filetype(self) -> str:
        return "file" if self.file_path else "remote"


@dataclass(frozen=True)
class Wanted:
    """What udata should hold for one CKAN dataset."""

    package_id: str
    organization: str
    fields: dict[str, Any]  # the dataset fields we own, spatial excepted
    zone: tuple[str, str] | None
    resources: tuple[WantedResource, ...]

    def fingerprint(self) -> str:
        content = {"organization": self.organization, "fields": self.fields, "zone": self.zone,
                   "resources": [(item.ckan_id, item.fields, item.filename, item.sha1)
                                 for item in self.resources]}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def portal_url(name: str) -> str:
    return f"{tk.config.get('ckan.site_url').rstrip('/')}/dataset/{name}"


def wanted_dataset(dataset: dict[str, Any], organization: str, settings: Settings) -> Wanted:
    extras = extras_of(dataset)
    exercice = extras.get(contract.EXTRA_EXERCICE, "")
    tags = sorted({udata_tag(tag["name"]) for tag in dataset.get("tags", [])})
    fields = {
        "title": dataset.get("title") or dataset["name"],
        "description": dataset.get("notes") or dataset.get("title") or dataset["name"],
        "tags": [tag for tag in tags if 3 <= len(tag) <= 96],  # udata refuses other lengths
        "license": dataset.get("license_id") if dataset.get("license_id") in UDATA_LICENSES else "notspecified",
        "frequency": extras.get("frequency") or DEFAULT_FREQUENCY,
        "temporal_coverage": ({"start": f"{exercice}-01-01", "end": f"{exercice}-12-31"}
                              if re.fullmatch(r"\d{4}", exercice) else None),
        "private": bool(dataset.get("private")),
        "archived": None,
        "extras": {KEY_DATASET: dataset["id"], KEY_PORTAL_URL: portal_url(dataset["name"])},
    }
    # A file not occulted yet, or that could not be, never leaves the portal (portal/uploads.py).
    resources = tuple(_wanted_resource(resource, settings) for resource in dataset.get("resources", [])
                      if publish.released(resource))
    return Wanted(dataset["id"], organization, fields,
                  udata_zone(extras.get(contract.EXTRA_INSEE, "")), resources)


def _wanted_resource(resource: dict[str, Any], settings: Settings) -> WantedResource:
    role = resource.get(contract.RESOURCE_ROLE) or ""
    filename = stored_name((resource.get("url") or "").rsplit("/", 1)[-1] or resource["id"])
    extras = {KEY_RESOURCE: resource["id"]}
    if resource.get(contract.RESOURCE_DOCUMENT):
        extras[KEY_DOCUMENT] = resource[contract.RESOURCE_DOCUMENT]
    if role:
        extras[KEY_ROLE] = role
    fields = {
        "title": resource.get("name") or filename,
        "description": resource.get("description") or "",
        "type": "documentation" if role == contract.ROLE_REPORT else "main",
        "format": (resource.get("format") or os.path.splitext(filename)[1].lstrip(".")).lower(),
        "schema": _schema(resource),
        "extras": extras,
    }
    uploaded = resource.get("url_type") == "upload" and (role == contract.ROLE_SCDL or settings.datagouv.upload_all)
    if not uploaded:
        return WantedResource(resource["id"], {**fields, "filetype": "remote", "url": resource["url"]})
    path = uploader.get_resource_uploader(resource).get_path(resource["id"])
    if not os.path.isfile(path):
        raise SyncError(resource["id"], Message("mapping_resource_s_file_missing_from"))
    return WantedResource(resource["id"], fields, path, filename, file_digest(path, "sha1"))


def _blank(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _same(name: str, remote: Any, wanted: Any) -> bool:
    """Whether udata's value of a field we own equals ours, as udata stores it."""
    if _blank(remote) or _blank(wanted):
        return _blank(remote) and _blank(wanted)
    if name == "extras":
        return all(remote.get(key) == value for key, value in wanted.items())
    if name == "tags":
        return sorted(remote) == sorted(wanted)
    if name == "temporal_coverage":
        return all(str(remote.get(end) or "")[:10] == wanted[end] for end in ("start", "end"))
    if name == "spatial":
        return (sorted(remote.get("zones") or []) == sorted(wanted["zones"])
                and remote.get("granularity") == wanted["granularity"])
    if name == "schema":
        return all(remote.get(key) == value for key, value in wanted.items())
    if name == "archived":
        return bool(remote) == bool(wanted)
    return cast(bool, remote == wanted)


def differences(remote: dict[str, Any], fields: dict[str, Any]) -> list[str]:
    return [name for name, value in fields.items() if not _same(name, remote.get(name), value)]


def merged(remote: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The whole object to PUT: what udata holds, our fields over it, extras merged key by key."""
    return {**remote, **fields, "extras": {**(remote.get("extras") or {}), **fields.get("extras", {})}}


def extra_of(document: dict[str, Any], key: str) -> Any:
    return (document.get("extras") or {}).get(key)


def checksum_of(resource: dict[str, Any]) -> str | None:
    checksum = resource.get("checksum") or {}
    return checksum.get("value") if checksum.get("type") == "sha1" else None
