"""Which datasets go to data.gouv.fr, and to which udata organisation; the checks of the sync's settings.

A dataset goes where sysadmins tied its portal organisation (``ckanext.budgetod.datagouv.organizations``),
else where its extra or its harvest source's ``datagouv.organization`` says."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ckan.model as model
import ckan.plugins as plugins
import sqlalchemy as sa

from ckanext.budgetod.core import contract, source_config
from ckanext.budgetod.core import settings as core_settings
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.net.udata import UdataClient
from ckanext.budgetod.core.settings import ON_DELETE_CHOICES, Settings
from ckanext.budgetod.datagouv.sync import state

OPTION = "ckanext.budgetod.datagouv."


# Sysadmins tie each portal organisation to the one udata organisation its datasets may go to.
ORGANIZATIONS_OPTION = OPTION + "organizations"


class SyncError(BudgetodError):
    """The dataset cannot be synced as it is (configuration, missing file...)."""


def checked(settings: Settings) -> Settings:
    """The settings when the sync can work with them; else SyncError naming the wrong ini key."""
    on_delete = settings.datagouv.on_delete
    if on_delete not in ON_DELETE_CHOICES:
        raise SyncError(OPTION + "on_delete", Message("targets_unknown_value_possible_values",
            on_delete=on_delete, choices=', '.join(ON_DELETE_CHOICES)))
    parse_organizations(settings.datagouv.organizations)
    return settings


def client(settings: Settings, **overrides: Any) -> UdataClient:
    """A client of the udata API the settings name, with their key and network limits."""
    return UdataClient(settings.datagouv.api_url, settings.datagouv.api_key, timeout=settings.network.timeout,
                       allow_private=settings.network.allow_private, **overrides)


def parse_organizations(value: str | Iterable[object] | None) -> tuple[tuple[str, str], ...]:
    """``portal-org=udata-org`` pairs separated by spaces (or a list of such pairs, as CKAN parses a
    list option), each portal organisation once."""
    try:
        return core_settings.parse_organizations(value)
    except core_settings.OrganizationsError as error:
        raise SyncError(ORGANIZATIONS_OPTION, Message("targets_each_item_reads_portal_organisation",
            item=error.item)) from None


def extras_of(dataset: dict[str, Any]) -> dict[str, Any]:
    return {extra["key"]: extra["value"] for extra in dataset.get("extras", [])}


def is_candidate(package: model.Package) -> bool:
    """A dataset the sync looks at: a budget dataset, or one given a udata organisation."""
    extras = package.extras
    return bool(extras.get(contract.EXTRA_SIRET) or extras.get(contract.EXTRA_DATAGOUV_ORGANIZATION))


def target_organization(dataset: dict[str, Any]) -> str | None:
    """The udata organisation (id or slug) the dataset goes to, or None when it goes nowhere.

    The dataset extra ``budgetod_datagouv_organization`` first; else the ``datagouv.organization``
    of the harvest source that publishes it: linked by its harvest objects, or — while the first
    import is still running — by the document URLs its resources come from, among the sources of
    the dataset's organisation.
    """
    configured = (extras_of(dataset).get(contract.EXTRA_DATAGOUV_ORGANIZATION) or "").strip()
    if configured or not plugins.plugin_loaded("harvest"):
        return configured or None
    from ckanext.harvest.model import HarvestObject, HarvestSource

    guids = {resource.get(contract.RESOURCE_SOURCE) for resource in dataset.get("resources", [])} - {None, ""}
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
        return source_config.parse_source_config("", config_text).datagouv_organization
    except source_config.SourceConfigError:
        return None  # the harvester reports a broken configuration itself


def candidate_ids() -> list[str]:
    """Every dataset ``sync --all`` looks at: the candidates, whatever their state, and the datasets
    that have a state row (a purged dataset whose udata dataset is still to take down)."""
    keys = (contract.EXTRA_SIRET, contract.EXTRA_DATAGOUV_ORGANIZATION)
    if hasattr(model, "PackageExtra"):  # CKAN 2.11: one package_extra row per extra
        extras = model.Session.query(model.PackageExtra.package_id).filter(
            model.PackageExtra.key.in_(keys), model.PackageExtra.value != "")
    else:  # CKAN 2.12: the extras are a JSONB column of package
        extras = model.Session.query(model.Package.id).filter(
            sa.or_(*(model.Package.extras[key].astext != "" for key in keys)))
    return sorted({package_id for (package_id,) in extras} | {row.package_id for row in state.all_rows()})
