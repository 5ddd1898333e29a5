"""The actions of the `budgetod` plugin: the configuration for sysadmins, a budget's visualisation
summary, a collectivité's summary across its years with its peers (the portal's budgets kept per
permission labels, each budget's summary cached on disk by its files' identity), and a dataset's
data.gouv.fr sync state."""
from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

import ckan.authz as authz
import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib import uploader
from ckan.lib.plugins import get_permission_labels
from flask import has_request_context

from ckanext.budgetod import __version__, settings
from ckanext.budgetod.core import contract
from ckanext.budgetod.core.errors import BudgetodError
from ckanext.budgetod.core.messages import Message
from ckanext.budgetod.core.scdl import collectivite, summary
from ckanext.budgetod.core.settings import described
from ckanext.budgetod.datagouv import sync as datagouv_sync
from ckanext.budgetod.portal import publish

log = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Any])
# CKAN is untyped (Any): its decorator, typed here, keeps the decorated action's type.
_side_effect_free: Callable[[_F], _F] = tk.side_effect_free


@_side_effect_free
def budgetod_config_show(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """The extension's effective configuration, for administrators diagnosing a portal."""
    tk.check_access("budgetod_config_show", context, data_dict)
    return {"version": __version__, **described(settings.current())}


def summary_cache_dir() -> str:
    return settings.cache_dir("summaries")


@_side_effect_free
def budgetod_budget_summary(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
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


_SEARCH_PAGE = 1000  # CKAN's default ckan.search.rows_max


def collectivite_cache_dir() -> str:
    return settings.cache_dir("collectivites")


class _Recent:
    """The last ``size`` results made in this process, by what they depend on. A page's summary
    compares a budget with every other of the portal: listing them all (a search returning every
    dataset whole) and reading their summaries would take most of a second on a regional portal at
    each view. Locked: the web server may run requests in threads."""

    def __init__(self, size: int):
        self._size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


# The portal's whole list, which every main budget's page reads, and one SIRET's, which its annex
# pages read, are kept apart: requests for annexes of many SIRETs never evict the portal's list.
_PORTAL_LISTINGS = _Recent(16)
_SIRET_LISTINGS = _Recent(16)
_PEER_CARDS = _Recent(4096)


def _published_budgets(context: dict[str, Any], fq: str, recent: _Recent) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The budgets of the datasets the user may see among ``fq``'s (see ``_list_budgets``), kept
    in ``recent`` and made again only when that set of datasets changes: what the user may see
    (their permission labels), how many datasets it has and when the last of them changed (a
    dataset created or changed takes the latest time, one deleted or hidden lowers the count). A
    file replaced alone is seen by ``_budget_identity``, which reads the files' sizes and times at
    each call. An empty set is not kept: anyone may ask for SIRETs nobody publishes, and such
    answers must not evict what real pages need."""
    if context.get("ignore_auth") or authz.is_sysadmin(context.get("user")):
        visibility = "*"
    else:
        user = model.User.get(context["user"]) if context.get("user") else None
        visibility = " ".join(sorted(get_permission_labels().get_user_dataset_labels(user)))
    latest = tk.get_action("package_search")(dict(context), {
        "q": "*:*", "fq": fq, "rows": 1, "fl": "id,metadata_modified", "sort": "metadata_modified desc",
        "include_private": True})
    if not latest["count"]:
        return {}
    key = json.dumps([fq, visibility, latest["count"], latest["results"][0]["metadata_modified"]])
    return cast("dict[tuple[str, str, str], dict[str, Any]]", recent.get(key, lambda: _list_budgets(dict(context), fq)))


def _list_budgets(context: dict[str, Any], fq: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The budgets of the datasets the user may see among ``fq``'s, by (owning organisation's id,
    SIRET, annex suffix): their ``name``, ``organization`` (id, name, title), ``first_published``
    (the earliest creation of its datasets) and ``documents`` (document key → the CSV's and the TOTEM
    document's resource id and SHA-256, their files). The organisation is part of a budget's
    identity, as on the /budgets dashboard: two organisations' datasets carrying the same SIRET are
    never merged."""
    budgets: dict[tuple[str, str, str], dict[str, Any]] = {}
    start = 0
    while True:
        page = tk.get_action("package_search")(context, {
            "q": "*:*", "fq": fq, "rows": _SEARCH_PAGE, "start": start,
            "sort": f"{contract.EXTRA_SIRET} asc, {contract.EXTRA_EXERCICE} asc", "include_private": True})
        for dataset in page["results"]:
            extras = {extra["key"]: extra["value"] for extra in dataset.get("extras", [])}
            owner = dataset.get("organization") or {}
            resources = dataset.get("resources") or []
            for resource in resources:
                key = resource.get(contract.RESOURCE_DOCUMENT) or ""
                parts = contract.parse_document_key(key)
                if (resource.get(contract.RESOURCE_ROLE) != contract.ROLE_SCDL or parts is None
                        or parts.siret != extras.get(contract.EXTRA_SIRET)):
                    continue
                budget = budgets.setdefault(
                    (dataset.get("owner_org") or "", parts.siret, parts.annex_suffix),
                    {"name": "", "documents": {}, "first_published": dataset.get("metadata_created") or "",
                     "organization": {"id": dataset.get("owner_org") or "", "name": owner.get("name") or "",
                                      "title": owner.get("title") or owner.get("name") or ""}})
                budget["first_published"] = min(budget["first_published"], dataset.get("metadata_created") or "")
                totem = next((candidate for candidate in resources
                              if candidate.get(contract.RESOURCE_ROLE) == contract.ROLE_TOTEM
                              and candidate.get(contract.RESOURCE_DOCUMENT) == key), None)
                csv_path, totem_path = publish.stored_path(resource), totem and publish.stored_path(totem)
                if totem is not None and csv_path and totem_path and key not in budget["documents"]:
                    # Only what identifies the files: the listing is kept between views.
                    budget["documents"][key] = (_file_identity(resource), _file_identity(totem), csv_path, totem_path)
                    budget["name"] = extras.get(contract.EXTRA_BUDGET) or budget["name"]
        start += len(page["results"])
        if not page["results"] or start >= page["count"]:
            return budgets


def _publishers(budgets: dict[tuple[str, str, str], dict[str, Any]], siret: str,
                annex_suffix: str) -> list[dict[str, Any]]:
    """The organisations' budgets of one SIRET and annex, the default one first: among those with
    stored documents, the organisation that published it first (then the one with the most
    documents, then by name). Not the most documents first: the page of a budget does not change
    hands when another organisation's editors later publish more datasets under its SIRET."""
    return sorted((budget for (_owner, candidate, suffix), budget in budgets.items()
                   if candidate == siret and suffix == annex_suffix),
                  key=lambda budget: (not budget["documents"], budget["first_published"],
                                      -len(budget["documents"]), budget["organization"]["name"]))


def _file_identity(resource: dict[str, Any]) -> tuple[str, str]:
    return resource["id"], resource.get(contract.RESOURCE_SHA256) or ""


def _budget_identity(budget: dict[str, Any]) -> list[list[Any]]:
    """What a budget's summary is made of: its files (ids, checksums, sizes and times) and the plans."""
    identity = []
    for key in sorted(budget["documents"]):
        for (resource_id, sha256), path in zip(budget["documents"][key][:2], budget["documents"][key][2:],
                                               strict=True):
            stat = os.stat(path)
            identity.append([resource_id, sha256, stat.st_size, stat.st_mtime_ns])
    identity.append(["plans", settings.current().plans_de_comptes])
    return identity


def _summary_key(siret: str, annex_suffix: str, budget: dict[str, Any]) -> str:
    return f'{budget["organization"]["id"]}-{siret}' + (f"-{annex_suffix}" if annex_suffix else "")


def _peer_card(siret: str, budget: dict[str, Any]) -> dict[str, Any]:
    """What comparing with another main budget reads of it, kept in this process while its files stay."""
    identity = _budget_identity(budget)
    return cast("dict[str, Any]", _PEER_CARDS.get(
        json.dumps([_summary_key(siret, "", budget), identity]),
        lambda: collectivite.peer_card(_budget_summary(siret, "", budget, identity))))


def _budget_summary(siret: str, annex_suffix: str, budget: dict[str, Any], identity: list[list[Any]]) -> dict[str, Any]:
    """The cached ``collectivite_summary`` of one budget's documents, with ``skipped``: the
    documents that could not be read (one unreadable document leaves the others' figures)."""
    portal_settings = settings.current()

    def build() -> dict[str, Any]:
        documents, skipped = [], []
        for key in sorted(budget["documents"]):
            _csv, _totem, csv_path, totem_path = budget["documents"][key]
            try:
                if not summary.has_scdl_header(csv_path):
                    raise summary.NotScdlBudget(csv_path, Message("summary_header_not_scdl_budget_schema"))
                documents.append(collectivite.describe_document(totem_path, csv_path,
                                                                max_bytes=portal_settings.max_document_size))
            except BudgetodError as error:
                skipped.append({"document": key, "message_fr": error.localized_cause("fr"),
                                "message_en": error.localized_cause("en")})
            except Exception:  # one unreadable document never fails its budget's page (logged)
                log.exception("document %s of budget %s left out of its summary", key, siret)
                unreadable = Message("action_document_unreadable")
                skipped.append({"document": key, "message_fr": unreadable.render("fr"),
                                "message_en": unreadable.render("en")})
        summarised = collectivite.collectivite_summary(documents, portal_settings)
        return {**summarised, "skipped": skipped + summarised["skipped"]}

    return collectivite.cached_summary(collectivite_cache_dir(), _summary_key(siret, annex_suffix, budget),
                                       identity, build)


@_side_effect_free
def budgetod_collectivite_summary(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """A budget across every exercice published on this portal: series by year, execution,
    population and per-inhabitant figures, the document's ratios, nomenclature breaks, peers (see
    ``ckanext.budgetod.core.scdl.collectivite``); amounts are decimal strings. Only the documents the
    user may see count, the budget's and its peers'.

    A budget is one organisation's: when two organisations publish datasets of the same SIRET, the
    summary is made of one organisation's datasets only, ``organization`` when given, else the one
    that published the budget first (then the one with the most of its documents);
    ``organization`` in the result says whose, ``other_organizations`` who else publishes it.

    :param id: the budget's SIRET
    :param annexe: the budget code of an annex budget (``06`` for ``/budgets/<siret>/annexe-06``), or
        ``true`` for an annex budget without a code (``/budgets/<siret>/annexe``)
    :param organization: the id or name of the organisation whose datasets to summarise
    :returns: also ``unreadable_peers``, how many other budgets could not be read and are left out
        of the comparison (never an error of this budget's page)
    """
    siret = str(tk.get_or_bust(data_dict, "id")).strip()
    annex = data_dict.get("annexe")
    annex_code = "" if annex is True else str(annex or "").strip().lower()
    organization = str(data_dict.get("organization") or "").strip()
    tk.check_access("budgetod_collectivite_summary", context, {"id": siret, "annexe": annex_code})
    not_found = tk.ObjectNotFound(tk._("No budget is published for this SIRET."))
    if not contract.is_siret(siret) or (annex_code and not contract.is_annex_code(annex_code)):
        raise not_found
    annex_suffix = contract.annex_suffix(annex_code) if annex is True or annex_code else ""
    # A main budget is compared with every other: one search gives it and its peers.
    everyone = None if annex_suffix else _published_budgets(context, f"+{contract.BUDGET_DATASETS_QUERY}",
                                                                  _PORTAL_LISTINGS)
    publishers = _publishers(everyone if everyone is not None else _published_budgets(
        context, f'+{contract.EXTRA_SIRET}:"{siret}"', _SIRET_LISTINGS), siret, annex_suffix)
    budget = next((candidate for candidate in publishers
                   if not organization or organization in (candidate["organization"]["id"],
                                                           candidate["organization"]["name"])), None)
    if budget is None:
        raise not_found
    own = _budget_summary(siret, annex_suffix, budget, _budget_identity(budget))
    # Peers are main budgets: an annex (a water service, a housing estate) has no like. A SIRET
    # published by two organisations counts once, as its default organisation's budget.
    others, unreadable_peers = [], 0
    if everyone is not None:
        for other_siret in sorted({candidate for (_owner, candidate, suffix) in everyone
                                   if not suffix and candidate != siret}):
            # Another organisation's data never fails this page: a budget that cannot be read
            # (a CSV that is no SCDL table, a file gone from the filestore) is left out, and counted.
            try:
                others.append(_peer_card(other_siret, _publishers(everyone, other_siret, "")[0]))
            except (BudgetodError, OSError, ArithmeticError, ValueError) as error:
                log.warning("budget %s left out of the peers of %s: %s", other_siret, siret, error)
                unreadable_peers += 1
    return {"siret": siret, "annexe": annex_code if annex_suffix else None, "name": budget["name"],
            "organization": budget["organization"],
            "other_organizations": [candidate["organization"] for candidate in publishers if candidate is not budget],
            **(collectivite.peer_comparison(own, others) if not annex_suffix else own),
            "unreadable_peers": unreadable_peers}


@_side_effect_free
def budgetod_datagouv_status(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
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


def get_actions() -> dict[str, Callable[..., Any]]:
    return {"budgetod_config_show": budgetod_config_show,
            "budgetod_budget_summary": budgetod_budget_summary,
            "budgetod_collectivite_summary": budgetod_collectivite_summary,
            "budgetod_datagouv_status": budgetod_datagouv_status}
