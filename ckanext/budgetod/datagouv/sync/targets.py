"""Which datasets go to data.gouv.fr, and to which udata organisation; the sync's settings.

A dataset goes where sysadmins tied its portal organisation (``ckanext.budgetod.datagouv.organizations``),
else where its extra or its harvest source's ``datagouv.organization`` says."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import ckan.model as model
import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
import sqlalchemy as sa

from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Bilingual
from ckanext.budgetod.datagouv.client import UdataClient

from . import state

OPTION = "ckanext.budgetod.datagouv."


API_KEY_ENV = "BUDGETOD_DATAGOUV_API_KEY"


# A dataset extra naming the udata organisation, for datasets no harvest source publishes.
ORGANIZATION_EXTRA = "budgetod_datagouv_organization"


# Sysadmins tie each portal organisation to the one udata organisation its datasets may go to.
ORGANIZATIONS_OPTION = OPTION + "organizations"


ON_DELETE = ("delete", "archive")


class SyncError(BudgetodError):
    """The dataset cannot be synced as it is (configuration, missing file...)."""


def bilingual(text: Bilingual) -> str:
    """One stored message for both audiences, as the harvest reports do."""
    return f"{text.fr} / {text.en}"


@dataclass(frozen=True)
class Options:
    url: str
    api_key: str | None = field(repr=False)  # a secret: never in a repr, a log or a traceback
    enabled: bool = False
    upload_all: bool = False
    on_delete: str = "delete"
    timeout: float = 30
    allow_private: bool = False
    # (portal organisation name or id, udata organisation id or slug) pairs, set by sysadmins.
    organizations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_config(cls) -> Options:
        on_delete = tk.config.get(OPTION + "on_delete")
        if on_delete not in ON_DELETE:
            raise SyncError(OPTION + "on_delete", Bilingual(
                f"valeur « {on_delete} » inconnue ; valeurs possibles : {', '.join(ON_DELETE)}",
                f"unknown value '{on_delete}'; possible values: {', '.join(ON_DELETE)}"))
        return cls(
            url=tk.config.get(OPTION + "url").rstrip("/"),
            api_key=tk.config.get(OPTION + "api_key") or os.environ.get(API_KEY_ENV) or None,
            enabled=tk.config.get(OPTION + "enabled"),
            upload_all=tk.config.get(OPTION + "upload_all"),
            on_delete=on_delete,
            timeout=float(tk.config.get("ckanext.budgetod.http_timeout")),
            allow_private=tk.config.get("ckanext.budgetod.allow_private_urls"),
            organizations=parse_organizations(tk.config.get(ORGANIZATIONS_OPTION)),
        )

    def tied_organization(self, dataset: dict) -> str | None:
        """The udata organisation the sysadmins tied to the dataset's portal organisation, if any."""
        owner = dataset.get("organization") or {}
        names = {owner.get("name"), owner.get("id"), dataset.get("owner_org")} - {None, ""}
        return next((udata for portal, udata in self.organizations if portal in names), None)

    def client(self, **overrides) -> UdataClient:
        return UdataClient(f"{self.url}/api/1", self.api_key, timeout=self.timeout,
                           allow_private=self.allow_private, **overrides)


def parse_organizations(value) -> tuple[tuple[str, str], ...]:
    """``portal-org=udata-org`` pairs separated by spaces (or a list of such pairs, as CKAN parses a
    list option), each portal organisation once."""
    items = value.split() if isinstance(value, str) else list(value or [])
    pairs: list[tuple[str, str]] = []
    for item in items:
        portal, equals, udata = str(item).partition("=")
        portal, udata = portal.strip(), udata.strip()
        if not equals or not portal or not udata or portal in dict(pairs):
            raise SyncError(ORGANIZATIONS_OPTION, Bilingual(
                f"« {item} » : chaque élément s'écrit organisation-du-portail=organisation-udata, "
                "une fois par organisation du portail",
                f"'{item}': each item reads portal-organisation=udata-organisation, once per portal organisation"))
        pairs.append((portal, udata))
    return tuple(pairs)


def _extras(dataset: dict) -> dict:
    return {extra["key"]: extra["value"] for extra in dataset.get("extras", [])}


def is_candidate(package: model.Package) -> bool:
    """A dataset the sync looks at: a budget dataset, or one given a udata organisation."""
    extras = package.extras
    return bool(extras.get("budgetod_siret") or extras.get(ORGANIZATION_EXTRA))


def target_organization(dataset: dict) -> str | None:
    """The udata organisation (id or slug) the dataset goes to, or None when it goes nowhere.

    The dataset extra ``budgetod_datagouv_organization`` first; else the ``datagouv.organization``
    of the harvest source that publishes it: linked by its harvest objects, or — while the first
    import is still running — by the document URLs its resources come from, among the sources of
    the dataset's organisation.
    """
    configured = (_extras(dataset).get(ORGANIZATION_EXTRA) or "").strip()
    if configured or not plugins.plugin_loaded("harvest"):
        return configured or None
    from ckanext.harvest.model import HarvestObject, HarvestSource

    guids = {resource.get("budgetod_source") for resource in dataset.get("resources", [])} - {None, ""}
    linked = HarvestObject.package_id == dataset["id"]
    rows = (model.Session.query(HarvestSource, HarvestObject.package_id)
            .join(HarvestObject, HarvestObject.harvest_source_id == HarvestSource.id)
            .filter(sa.or_(linked, HarvestObject.guid.in_(guids)) if guids else linked)
            .order_by(HarvestObject.gathered.desc()).all())
    for source, package_id in rows:
        if package_id != dataset["id"]:
            source_dataset = model.Package.get(source.id)
            if source_dataset is None or source_dataset.owner_org != dataset.get("owner_org"):
                continue
        organization = _source_organization(source.config)
        if organization:
            return organization
    return None


def _source_organization(config_text: str | None) -> str | None:
    try:
        section = json.loads(config_text or "{}").get("datagouv") or {}
    except (ValueError, AttributeError):
        return None  # the harvester reports a broken configuration itself
    organization = section.get("organization") if isinstance(section, dict) else None
    return organization.strip() if isinstance(organization, str) and organization.strip() else None


def candidate_ids() -> list[str]:
    """Every dataset ``sync --all`` looks at: the candidates, whatever their state, and the datasets
    that have a state row (a purged dataset whose udata dataset is still to take down)."""
    keys = ("budgetod_siret", ORGANIZATION_EXTRA)
    if hasattr(model, "PackageExtra"):  # CKAN 2.11: one package_extra row per extra
        extras = model.Session.query(model.PackageExtra.package_id).filter(
            model.PackageExtra.key.in_(keys), model.PackageExtra.value != "")
    else:  # CKAN 2.12: the extras are a JSONB column of package
        extras = model.Session.query(model.Package.id).filter(
            sa.or_(*(model.Package.extras[key].astext != "" for key in keys)))
    return sorted({package_id for (package_id,) in extras} | {row.package_id for row in state.all_rows()})
