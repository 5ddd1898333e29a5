from __future__ import annotations

import os
import re
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib import uploader

from ckanext.budgetod import __version__, settings
from ckanext.budgetod.datagouv import sync as datagouv_sync
from ckanext.budgetod.totem import collectivite, summary
from ckanext.budgetod.totem.errors import BudgetodError
from ckanext.budgetod.totem.messages import Bilingual


@tk.side_effect_free
def budgetod_config_show(context: dict, data_dict: dict) -> dict[str, Any]:
    """The extension's effective configuration, for administrators diagnosing a portal."""
    tk.check_access("budgetod_config_show", context, data_dict)
    return {"version": __version__, **settings.current().as_dict()}


def summary_cache_dir() -> str:
    return os.path.join(settings.current().cache_dir, "summaries")


@tk.side_effect_free
def budgetod_budget_summary(context: dict, data_dict: dict) -> dict[str, Any]:
    """The aggregates a budget visualisation shows, computed from an SCDL budget CSV stored on
    this portal (see ``ckanext.budgetod.totem.summary``); amounts are decimal strings.

    :param resource_id: the CSV resource
    """
    resource_id = tk.get_or_bust(data_dict, "resource_id")
    tk.check_access("budgetod_budget_summary", context, {"resource_id": resource_id})
    resource = tk.get_action("resource_show")(context, {"id": resource_id})
    if resource.get("url_type") != "upload":
        raise tk.ValidationError({"resource_id": [
            tk._("Only files stored on this portal can be summarised.")]})
    path = uploader.get_resource_uploader(resource).get_path(resource["id"])
    try:
        return summary.cached_summary(path, summary_cache_dir(), resource["id"])
    except FileNotFoundError:
        raise tk.ObjectNotFound(tk._("The resource's file is missing.")) from None
    except summary.NotScdlBudget:
        raise tk.ValidationError({"resource_id": [
            tk._("This file is not an SCDL budget table.")]}) from None


_SIRET = re.compile(r"[0-9]{14}")
_ANNEX_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Enough for every year of one budget: one dataset per exercice.
_BUDGET_DATASETS_MAX = 1000


def collectivite_cache_dir() -> str:
    return os.path.join(settings.current().cache_dir, "collectivites")


def _stored_file(resource: dict) -> str | None:
    if resource.get("url_type") != "upload":
        return None
    path = uploader.get_resource_uploader(resource).get_path(resource["id"])
    return path if os.path.isfile(path) else None


def _budget_documents(context: dict, siret: str, annex_suffix: str) -> tuple[list[tuple], str]:
    """(CSV resource, TOTEM resource, CSV path, TOTEM path) of every document of the budget the
    user may see, one per document key; and the budget's name."""
    result = tk.get_action("package_search")(context, {
        "q": "*:*", "fq": f'+budgetod_siret:"{siret}"', "rows": _BUDGET_DATASETS_MAX,
        "sort": "budgetod_exercice asc", "include_private": True})
    documents: dict[str, tuple] = {}
    name = ""
    for dataset in result["results"]:
        resources = dataset.get("resources") or []
        for resource in resources:
            key = resource.get("budgetod_document") or ""
            if resource.get("budgetod_role") != "scdl" or not key or key in documents:
                continue
            # The document key ends with the annex suffix for an annex budget (see DocumentHeader).
            if not (key.endswith(f"-{annex_suffix}") if annex_suffix else "-annexe" not in key):
                continue
            totem = next((candidate for candidate in resources if candidate.get("budgetod_role") == "totem"
                          and candidate.get("budgetod_document") == key), None)
            csv_path, totem_path = _stored_file(resource), totem and _stored_file(totem)
            if csv_path and totem_path:
                documents[key] = (resource, totem, csv_path, totem_path)
                extras = {extra["key"]: extra["value"] for extra in dataset.get("extras", [])}
                name = extras.get("budgetod_budget") or name
    return [documents[key] for key in sorted(documents)], name


@tk.side_effect_free
def budgetod_collectivite_summary(context: dict, data_dict: dict) -> dict[str, Any]:
    """A budget across every exercice published on this portal: series by year, execution,
    population and per-inhabitant figures, the document's ratios, nomenclature breaks (see
    ``ckanext.budgetod.totem.collectivite``); amounts are decimal strings. Only the documents the
    user may see count.

    :param id: the budget's SIRET
    :param annexe: the budget code of an annex budget (``06`` for ``/budgets/<siret>/annexe-06``)
    """
    siret = str(tk.get_or_bust(data_dict, "id")).strip()
    annex_code = str(data_dict.get("annexe") or "").strip().lower()
    tk.check_access("budgetod_collectivite_summary", context, {"id": siret, "annexe": annex_code})
    if not _SIRET.fullmatch(siret) or (annex_code and not _ANNEX_CODE.fullmatch(annex_code)):
        raise tk.ObjectNotFound(tk._("No budget is published for this SIRET."))
    annex_suffix = f"annexe-{annex_code}" if annex_code else ""
    found, name = _budget_documents(context, siret, annex_suffix)
    documents, identity, skipped = [], [], []
    for csv_resource, totem_resource, csv_path, totem_path in found:
        key = csv_resource["budgetod_document"]
        try:
            if not summary.has_scdl_header(csv_path):
                raise summary.NotScdlBudget(csv_path, Bilingual(
                    "l'en-tête n'est pas celui du schéma SCDL budget", "the header is not the SCDL budget schema's"))
            documents.append(collectivite.describe_document(
                totem_path, csv_path, max_bytes=settings.current().max_document_size))
        except BudgetodError as error:
            # One unreadable document leaves the others' figures: it is named, with why.
            skipped.append({"document": key, "message_fr": error.localized_cause("fr"),
                            "message_en": error.localized_cause("en")})
            continue
        for resource, path in ((csv_resource, csv_path), (totem_resource, totem_path)):
            stat = os.stat(path)
            identity.append([resource["id"], resource.get("budgetod_sha256") or "", stat.st_size, stat.st_mtime_ns])
    if not documents and not skipped:
        raise tk.ObjectNotFound(tk._("No budget is published for this SIRET."))
    cache_key = siret + (f"-{annex_suffix}" if annex_suffix else "")
    result = collectivite.cached_collectivite_summary(documents, collectivite_cache_dir(), cache_key, identity)
    return {"siret": siret, "annexe": annex_code or None, "name": name, **result, "skipped": skipped}


@tk.side_effect_free
def budgetod_datagouv_status(context: dict, data_dict: dict) -> dict[str, Any]:
    """The data.gouv.fr sync state of a dataset (sysadmins, editors and admins of its organisation).

    :param id: the dataset's id or name
    :returns: ``status`` (``pending``, ``ok``, ``error``, or null before any sync), ``message``
        (French / English), ``attempts`` since the last success, ``last_attempt``, ``last_success``,
        ``udata_dataset_id``, ``udata_url``, ``udata_resources`` (CKAN resource id → udata resource
        id and the SHA-1 of the file sent), ``enabled``
    """
    dataset_id = tk.get_or_bust(data_dict, "id")
    tk.check_access("budgetod_datagouv_status", context, {"id": dataset_id})
    package = model.Package.get(dataset_id)
    if package is None:
        raise tk.ObjectNotFound(tk._("Dataset not found"))
    return datagouv_sync.status(package)


def get_actions() -> dict:
    return {"budgetod_config_show": budgetod_config_show,
            "budgetod_budget_summary": budgetod_budget_summary,
            "budgetod_collectivite_summary": budgetod_collectivite_summary,
            "budgetod_datagouv_status": budgetod_datagouv_status}
