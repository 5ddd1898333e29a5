from __future__ import annotations

import os
import re
from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib import uploader
from flask import has_request_context

from ckanext.budgetod import __version__, settings
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Bilingual
from ckanext.budgetod.core.scdl import collectivite, summary
from ckanext.budgetod.datagouv import sync as datagouv_sync
from ckanext.budgetod.portal import publish


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
    this portal (see ``ckanext.budgetod.core.scdl.summary``); amounts are decimal strings.

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
    except summary.UnusableBudget as error:
        cause = error.localized_cause(_language())
        raise tk.ValidationError({"resource_id": [
            tk._("This budget table cannot be summarised: {cause}").format(cause=cause)]}) from None
    except summary.NotScdlBudget:
        raise tk.ValidationError({"resource_id": [
            tk._("This file is not an SCDL budget table.")]}) from None


def _language() -> str:
    """The request's language for a domain message; English outside a request, as tk._ leaves it."""
    return "fr" if has_request_context() and tk.h.lang() != "en" else "en"


_SIRET = re.compile(r"[0-9]{14}")
_ANNEX_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_ANNEX_SUFFIX = re.compile(r"-(annexe(?:-[a-z0-9-]+)?)$")
_SEARCH_PAGE = 1000  # CKAN's default ckan.search.rows_max


def collectivite_cache_dir() -> str:
    return os.path.join(settings.current().cache_dir, "collectivites")


def _published_budgets(context: dict, fq: str) -> dict[tuple[str, str], dict]:
    """The budgets of the datasets the user may see among ``fq``'s, by (SIRET, annex suffix):
    their ``name`` and ``documents`` (document key → CSV resource, TOTEM resource, their files)."""
    budgets: dict[tuple[str, str], dict] = {}
    start = 0
    while True:
        page = tk.get_action("package_search")(context, {
            "q": "*:*", "fq": fq, "rows": _SEARCH_PAGE, "start": start,
            "sort": "budgetod_siret asc, budgetod_exercice asc", "include_private": True})
        for dataset in page["results"]:
            extras = {extra["key"]: extra["value"] for extra in dataset.get("extras", [])}
            resources = dataset.get("resources") or []
            for resource in resources:
                key = resource.get("budgetod_document") or ""
                if resource.get("budgetod_role") != "scdl" or not key.startswith(extras.get("budgetod_siret", "-")):
                    continue
                # The document key starts with the SIRET and ends with the annex suffix (DocumentHeader).
                suffix = _ANNEX_SUFFIX.search(key)
                budget = budgets.setdefault((key[:14], suffix.group(1) if suffix else ""),
                                            {"name": "", "documents": {}})
                totem = next((candidate for candidate in resources if candidate.get("budgetod_role") == "totem"
                              and candidate.get("budgetod_document") == key), None)
                csv_path, totem_path = publish.stored_path(resource), totem and publish.stored_path(totem)
                if csv_path and totem_path and key not in budget["documents"]:
                    budget["documents"][key] = (resource, totem, csv_path, totem_path)
                    budget["name"] = extras.get("budgetod_budget") or budget["name"]
        start += len(page["results"])
        if not page["results"] or start >= page["count"]:
            return budgets


def _budget_summary(siret: str, annex_suffix: str, budget: dict) -> dict:
    """The cached ``collectivite_summary`` of one budget's documents, with ``skipped``: the
    documents that could not be read (one unreadable document leaves the others' figures)."""
    identity = []
    for key in sorted(budget["documents"]):
        for resource, path in zip(budget["documents"][key][:2], budget["documents"][key][2:], strict=True):
            stat = os.stat(path)
            identity.append([resource["id"], resource.get("budgetod_sha256") or "", stat.st_size, stat.st_mtime_ns])

    def build() -> dict:
        documents, skipped = [], []
        for key in sorted(budget["documents"]):
            _csv_resource, _totem_resource, csv_path, totem_path = budget["documents"][key]
            try:
                if not summary.has_scdl_header(csv_path):
                    raise summary.NotScdlBudget(csv_path, Bilingual(
                        "l'en-tête n'est pas celui du schéma SCDL budget",
                        "the header is not the SCDL budget schema's"))
                documents.append(collectivite.describe_document(
                    totem_path, csv_path, max_bytes=settings.current().max_document_size))
            except BudgetodError as error:
                skipped.append({"document": key, "message_fr": error.localized_cause("fr"),
                                "message_en": error.localized_cause("en")})
        return {**collectivite.collectivite_summary(documents), "skipped": skipped}

    cache_key = siret + (f"-{annex_suffix}" if annex_suffix else "")
    return collectivite.cached_summary(collectivite_cache_dir(), cache_key, identity, build)


@tk.side_effect_free
def budgetod_collectivite_summary(context: dict, data_dict: dict) -> dict[str, Any]:
    """A budget across every exercice published on this portal: series by year, execution,
    population and per-inhabitant figures, the document's ratios, nomenclature breaks, peers (see
    ``ckanext.budgetod.core.scdl.collectivite``); amounts are decimal strings. Only the documents the
    user may see count, the budget's and its peers'.

    :param id: the budget's SIRET
    :param annexe: the budget code of an annex budget (``06`` for ``/budgets/<siret>/annexe-06``)
    """
    siret = str(tk.get_or_bust(data_dict, "id")).strip()
    annex_code = str(data_dict.get("annexe") or "").strip().lower()
    tk.check_access("budgetod_collectivite_summary", context, {"id": siret, "annexe": annex_code})
    not_found = tk.ObjectNotFound(tk._("No budget is published for this SIRET."))
    if not _SIRET.fullmatch(siret) or (annex_code and not _ANNEX_CODE.fullmatch(annex_code)):
        raise not_found
    annex_suffix = f"annexe-{annex_code}" if annex_code else ""
    budget = _published_budgets(context, f'+budgetod_siret:"{siret}"').get((siret, annex_suffix))
    if budget is None:
        raise not_found
    own = _budget_summary(siret, annex_suffix, budget)
    # Peers are main budgets: an annex (a water service, a housing estate) has no like.
    others = [] if annex_suffix else [
        _budget_summary(other_siret, other_suffix, other)
        for (other_siret, other_suffix), other in _published_budgets(context, "+budgetod_siret:[* TO *]").items()
        if not other_suffix and other_siret != siret]
    return {"siret": siret, "annexe": annex_code or None, "name": budget["name"],
            **(collectivite.peer_comparison(own, others) if not annex_suffix else own)}


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
