"""The extension's settings: one frozen object, built once and passed whole to every layer.

The portal builds it from its ini file (``ckanext/budgetod/settings.py``: ``current()``); the offline
command line from the environment and its flags (``Settings.from_environment``). Each limit has one
default, here, equal to the default ``config_declaration.yaml`` declares for its ini key (a test
compares them); ``INI_KEYS`` maps every ``ckanext.budgetod.*`` key to its field.

This module imports nothing from the package, so that every module may take its defaults from it.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MIB = 2**20

DEFAULT_PLANS_BASE = "http://odm-budgetaire.org/composants/normes"
DEFAULT_SCHEMA_URL = "https://schema.data.gouv.fr/schemas/scdl/budget/0.8.3/schema.json"
DEFAULT_MAX_DOCUMENT_SIZE = 100 * MIB
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_OBJECT_TIME_BUDGET = 600
DEFAULT_DATAGOUV_URL = "https://www.data.gouv.fr"
# Where downloaded plans de comptes and schemas are kept when no cache directory is set.
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "budgetod")
ON_DELETE_CHOICES = ("delete", "archive")

# The offline command line's environment (the portal reads its ini file instead).
PLANS_ENV = "BUDGETOD_PLANS_DE_COMPTES"
SCHEMA_ENV = "BUDGETOD_SCDL_SCHEMA"
CACHE_DIR_ENV = "BUDGETOD_CACHE_DIR"
OCCULTATION_RULES_ENV = "BUDGETOD_OCCULTATION_RULES"
# Read by the portal too, when the ini leaves ckanext.budgetod.datagouv.api_key empty.
DATAGOUV_API_KEY_ENV = "BUDGETOD_DATAGOUV_API_KEY"


@dataclass(frozen=True)
class NetworkLimits:
    """Limits and permissions of every outbound request (nomenclatures, schema, harvested sources).

    ``timeout`` bounds each connection and read; ``allow_private`` lets requests reach loopback and
    private addresses (development and tests only). The harvest limits: ``max_page_bytes`` caps
    index pages and API responses, ``listing_page_size`` is the page size asked of catalogue APIs,
    ``max_documents`` the most documents one source may list, the ``max_archive_*`` and
    ``max_compression_ratio`` limits refuse hostile archives as a whole, ``archive_cache_bytes``
    bounds the archives kept in the cache directory.
    """

    timeout: float = DEFAULT_HTTP_TIMEOUT
    allow_private: bool = False
    max_documents: int = 5_000
    archive_cache_bytes: int = 2**30
    max_page_bytes: int = 16 * MIB
    listing_page_size: int = 100
    max_archive_entries: int = 1_000
    max_archive_total_bytes: int = 2**30
    max_compression_ratio: float = 200.0


@dataclass(frozen=True)
class DatagouvSettings:
    """The data.gouv.fr sync. ``api_key`` is a secret: never in a repr, a log or a traceback.

    ``organizations`` and ``on_delete`` are kept as written: a mistake there stops the sync (which
    says why), not the rest of the extension; ``organization_pairs()`` reads the former."""

    enabled: bool = False
    url: str = DEFAULT_DATAGOUV_URL
    api_key: str | None = field(default=None, repr=False)
    upload_all: bool = False
    on_delete: str = "delete"
    organizations: str = ""

    @property
    def api_url(self) -> str:
        return f"{self.url.rstrip('/')}/api/1"

    def organization_pairs(self) -> tuple[tuple[str, str], ...]:
        """(portal organisation name or id, udata organisation id or slug) pairs, set by the portal's
        sysadmins. Raises OrganizationsError."""
        return parse_organizations(self.organizations)


@dataclass(frozen=True)
class Settings:
    """Everything the extension's behaviour depends on.

    ``cache_dir`` None means downloads are kept in ``~/.cache/budgetod`` and harvested archives
    are not kept (the portal always gives one); ``occultation_rules`` and ``metadata_template``
    empty mean the files shipped with the extension.
    """

    plans_de_comptes: str = DEFAULT_PLANS_BASE
    scdl_schema: str = DEFAULT_SCHEMA_URL
    cache_dir: str | None = None
    max_document_size: int = DEFAULT_MAX_DOCUMENT_SIZE
    occultation_rules: str = ""
    metadata_template: str = ""
    dashboard_page_size: int = 200
    # Seconds a harvest object's document work (reading, occultation, conversion, validation) may take.
    object_time_budget: int = DEFAULT_OBJECT_TIME_BUDGET
    network: NetworkLimits = NetworkLimits()
    datagouv: DatagouvSettings = DatagouvSettings()

    @property
    def download_cache_dir(self) -> str:
        """Where downloaded plans de comptes and schemas are kept."""
        return self.cache_dir or os.path.expanduser(DEFAULT_CACHE_DIR)

    @property
    def archive_cache_dir(self) -> str | None:
        """Where harvested archives are kept between listing and retrieval (None: not kept)."""
        return os.path.join(self.cache_dir, "archives") if self.cache_dir else None

    def replace(self, **changes: Any) -> Settings:
        """A copy with the given fields changed; a dict given for ``network`` or ``datagouv`` changes
        those of its fields only (``replace(network={"timeout": 5})``)."""
        for group in ("network", "datagouv"):
            if isinstance(changes.get(group), dict):
                changes[group] = dataclasses.replace(getattr(self, group), **changes[group])
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_ini(cls, get: Callable[[str], Any], *, default_cache_dir: str | None = None) -> Settings:
        """The settings of a configuration whose ``get(key)`` returns each declared key's value
        (already typed, defaults applied, as CKAN's config does)."""
        values: dict[str, Any] = {}
        for key, name in INI_KEYS.items():
            values[name] = get(key)
        # An empty key means its default, as an unset one.
        values["plans_de_comptes"] = values["plans_de_comptes"] or DEFAULT_PLANS_BASE
        values["scdl_schema"] = values["scdl_schema"] or DEFAULT_SCHEMA_URL
        values["cache_dir"] = values["cache_dir"] or default_cache_dir
        values["occultation_rules"] = values["occultation_rules"] or ""
        values["metadata_template"] = values["metadata_template"] or ""
        values["network.timeout"] = float(values["network.timeout"])
        values["datagouv.url"] = (values["datagouv.url"] or DEFAULT_DATAGOUV_URL).rstrip("/")
        values["datagouv.api_key"] = values["datagouv.api_key"] or os.environ.get(DATAGOUV_API_KEY_ENV) or None
        organizations = values["datagouv.organizations"]
        # CKAN parses a list-like option into a list.
        values["datagouv.organizations"] = (organizations if isinstance(organizations, str)
                                            else " ".join(map(str, organizations or [])))
        return _with_fields(cls(), values)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """The offline command line's settings: its flags (those not None), else the environment,
        else the defaults. The only reading of the environment the core does, but for the language
        of messages (``messages.LANGUAGE_ENV``) and the portal's data.gouv.fr API key."""
        environ = os.environ if environ is None else environ
        xdg_cache_home = environ.get("XDG_CACHE_HOME")
        values: dict[str, Any] = {
            "plans_de_comptes": environ.get(PLANS_ENV) or DEFAULT_PLANS_BASE,
            "scdl_schema": environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA_URL,
            "cache_dir": (environ.get(CACHE_DIR_ENV)
                          or (os.path.join(xdg_cache_home, "budgetod") if xdg_cache_home else None)),
            "occultation_rules": environ.get(OCCULTATION_RULES_ENV) or "",
        }
        values.update({name: value for name, value in flags.items() if value is not None})
        return _with_fields(cls(), values)


# Every ckanext.budgetod.* key of config_declaration.yaml, and the field it sets.
INI_KEYS = {
    "ckanext.budgetod.plans_de_comptes": "plans_de_comptes",
    "ckanext.budgetod.scdl_schema": "scdl_schema",
    "ckanext.budgetod.cache_dir": "cache_dir",
    "ckanext.budgetod.max_document_size": "max_document_size",
    "ckanext.budgetod.max_documents_per_source": "network.max_documents",
    "ckanext.budgetod.archive_cache_size": "network.archive_cache_bytes",
    "ckanext.budgetod.http_timeout": "network.timeout",
    "ckanext.budgetod.allow_private_urls": "network.allow_private",
    "ckanext.budgetod.occultation_rules": "occultation_rules",
    "ckanext.budgetod.metadata_template": "metadata_template",
    "ckanext.budgetod.dashboard_page_size": "dashboard_page_size",
    "ckanext.budgetod.object_time_budget": "object_time_budget",
    "ckanext.budgetod.datagouv.enabled": "datagouv.enabled",
    "ckanext.budgetod.datagouv.organizations": "datagouv.organizations",
    "ckanext.budgetod.datagouv.url": "datagouv.url",
    "ckanext.budgetod.datagouv.api_key": "datagouv.api_key",
    "ckanext.budgetod.datagouv.upload_all": "datagouv.upload_all",
    "ckanext.budgetod.datagouv.on_delete": "datagouv.on_delete",
}


def _with_fields(settings: Settings, values: dict[str, Any]) -> Settings:
    """``settings`` with the fields named as in ``INI_KEYS`` ("network.timeout") set."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        group, _, attribute = name.rpartition(".")
        if group:
            changes.setdefault(group, {})[attribute] = value
        else:
            changes[name] = value
    return settings.replace(**changes)


SECRET_KEYS = frozenset({"ckanext.budgetod.datagouv.api_key"})


def described(settings: Settings) -> dict[str, Any]:
    """The settings by ini key less its "ckanext.budgetod." prefix, secrets left out (for
    administrators diagnosing a portal)."""
    return {key.removeprefix("ckanext.budgetod."): field_value(settings, name)
            for key, name in INI_KEYS.items() if key not in SECRET_KEYS}


def field_value(settings: Settings, name: str) -> Any:
    """The value of a field by its name in ``INI_KEYS`` ("network.timeout")."""
    value: Any = settings
    for part in name.split("."):
        value = getattr(value, part)
    return value


class OrganizationsError(ValueError):
    """``ckanext.budgetod.datagouv.organizations`` is badly written; ``item`` is the wrong item."""

    def __init__(self, item: str):
        super().__init__(item)
        self.item = item


def parse_organizations(value: str | Iterable[object] | None) -> tuple[tuple[str, str], ...]:
    """``portal-org=udata-org`` pairs separated by spaces (or a list of such pairs, as CKAN parses a
    list option), each portal organisation once. Raises OrganizationsError."""
    items = value.split() if isinstance(value, str) else list(value or [])
    pairs: list[tuple[str, str]] = []
    for item in items:
        portal, equals, udata = str(item).partition("=")
        portal, udata = portal.strip(), udata.strip()
        if not equals or not portal or not udata or portal in dict(pairs):
            raise OrganizationsError(str(item))
        pairs.append((portal, udata))
    return tuple(pairs)
