"""The public coverage dashboard: which budgets are published, by collectivité, year and stage;
for the administrators of harvest sources, how the last harvests went and the data.gouv.fr sync."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import ckan.model as model
import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
from ckan.lib.pagination import Page

from ckanext.budgetod.core import contract
from ckanext.budgetod.view import helpers

DATAGOUV_STATUS_ACTION = "budgetod_datagouv_status"

_PATTERNS = {
    "departement": re.compile(r"^(?:\d{2,3}|2[AB])$"),
    "norme": re.compile(r"^M\d{1,3}$"),
    "exercice": re.compile(r"^\d{4}$"),
}


@dataclass(frozen=True)
class Filters:
    departement: str = ""
    norme: str = ""
    exercice: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        """The filters of the query string; a malformed value is ignored rather than searched for."""
        values = {}
        for name, pattern in _PATTERNS.items():
            value = (args.get(name) or "").strip().upper()
            values[name] = value if pattern.match(value) else ""
        return cls(**values)

    def fq(self) -> str:
        clauses = [f"+{contract.BUDGET_DATASETS_QUERY}"]
        for field, value in ((contract.INDEX_DEPARTEMENT, self.departement), (contract.INDEX_NORME, self.norme),
                             (contract.EXTRA_EXERCICE, self.exercice)):
            if value:
                clauses.append(f'+{field}:"{value}"')
        return " ".join(clauses)

    def as_args(self) -> dict[str, str]:
        return {name: value for name, value in asdict(self).items() if value}


def _facet_options(search_facets: dict[str, Any], field: str, reverse: bool = False) -> list[str]:
    items = (search_facets.get(field) or {}).get("items") or []
    return sorted((item["name"] for item in items if item.get("name")), reverse=reverse)


def coverage(datasets: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The years present and one row per budget (owning organisation, SIRET and budget name), each
    with its datasets by year; the rows keep the search's order. The organisation is part of a row's
    identity: extras are set by any editor, so another organisation's dataset carrying the same
    SIRET and name never joins the row."""
    years: set[str] = set()
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for dataset in datasets:
        siret = helpers.extra(dataset, contract.EXTRA_SIRET)
        name = helpers.extra(dataset, contract.EXTRA_BUDGET) or helpers.extra(dataset, contract.EXTRA_COLLECTIVITE)
        year = helpers.extra(dataset, contract.EXTRA_EXERCICE)
        owner = dataset.get("organization") or {}
        years.add(year)
        row = rows.setdefault((dataset.get("owner_org") or "", siret, name), {
            "siret": siret,
            "organization": owner.get("title") or owner.get("name") or "",
            "organization_name": owner.get("name") or "",
            "name": name or dataset.get("title") or dataset["name"],
            "departement": helpers.departement_of(helpers.extra(dataset, contract.EXTRA_INSEE)),
            "nomenclature": helpers.extra(dataset, contract.EXTRA_NOMENCLATURE),
            "years": {},
        })
        row["years"].setdefault(year, []).append({
            "dataset": dataset,
            "documents": helpers.budget_documents(dataset, with_totals=False),
        })
    return sorted(years), list(rows.values())


def search(filters: Filters, page_number: int, page_size: int) -> dict[str, Any]:
    search_action = tk.get_action("package_search")
    facets = [contract.INDEX_DEPARTEMENT, contract.INDEX_NORME, contract.EXTRA_EXERCICE]
    result = search_action(helpers.user_context(), {
        "q": "*:*",
        "fq": filters.fq(),
        "rows": page_size,
        "start": (page_number - 1) * page_size,
        "sort": f"{contract.EXTRA_COLLECTIVITE} asc, {contract.EXTRA_SIRET} asc, {contract.EXTRA_EXERCICE} asc",
        "include_private": True,
    })
    # The filters offer every value of the published budgets, not only those of the current selection.
    choices = search_action(helpers.user_context(), {
        "q": "*:*", "fq": f"+{contract.BUDGET_DATASETS_QUERY}", "rows": 0, "facet.field": facets, "facet.limit": -1,
        "include_private": True,
    })["search_facets"]
    years, rows = coverage(result["results"])
    page = Page(collection=result["results"], page=page_number, item_count=result["count"],
                items_per_page=page_size, presliced_list=True,
                url=lambda page=None, **_ignored: tk.h.url_for("budgetod_budgets.index", page=page,
                                                              **filters.as_args()))
    return {
        "filters": filters,
        "count": result["count"],
        "datasets": result["results"],
        "years": years,
        "rows": rows,
        "page": page,
        "options": {
            "departement": _facet_options(choices, contract.INDEX_DEPARTEMENT),
            "norme": _facet_options(choices, contract.INDEX_NORME),
            "exercice": _facet_options(choices, contract.EXTRA_EXERCICE, reverse=True),
        },
    }


# ---------------------------------------------------------------- administrators

def is_administrator() -> bool:
    """A sysadmin, or an administrator of an organisation (who may run its harvest sources)."""
    user = tk.current_user
    if not user or not user.is_authenticated:
        return False
    if user.sysadmin:
        return True
    return bool(tk.get_action("organization_list_for_user")(helpers.user_context(),
                                                            {"id": user.id, "permission": "admin"}))


def harvest_status() -> list[dict[str, Any]]:
    """The budget harvest sources the current user may update, each with its last job."""
    if not plugins.plugin_loaded("harvest"):
        return []
    # Imported here: the dashboard works on a portal without ckanext-harvest.
    from ckanext.harvest.model import HarvestSource

    sources = (model.Session.query(HarvestSource)
               .filter(HarvestSource.type == contract.SOURCE_TYPE, HarvestSource.active.is_(True))
               .order_by(HarvestSource.title).all())
    status = []
    for source in sources:
        try:
            tk.check_access("harvest_source_update", helpers.user_context(), {"id": source.id})
        except (tk.NotAuthorized, tk.ObjectNotFound):
            continue
        source_status = tk.get_action("harvest_source_show_status")(helpers.user_context(),
                                                                    {"id": source.id})
        dataset = model.Package.get(source.id)
        status.append({
            "name": dataset.name if dataset else source.id,
            "title": source.title or source.url,
            "last_job": source_status.get("last_job"),
            "total_datasets": source_status.get("total_datasets", 0),
        })
    return status


def datagouv_states(datasets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The data.gouv.fr sync state of the listed datasets, for those the user may see it: whether
    the sync is enabled, the count of datasets by state and the failures. None when the sync is
    not installed on this portal (no such action) or the user may see no state."""
    try:
        action = tk.get_action(DATAGOUV_STATUS_ACTION)
    except KeyError:
        return None
    states = []
    for dataset in datasets:
        try:
            states.append({"dataset": dataset, **action(helpers.user_context(), {"id": dataset["id"]})})
        except (tk.NotAuthorized, tk.ObjectNotFound, tk.ValidationError):
            continue
    if not states:
        return None
    counts = Counter(state.get("status") or "never" for state in states)
    return {
        "enabled": any(state.get("enabled") for state in states),
        "counts": [(status, counts[status]) for status in ("ok", "pending", "error", "never") if counts[status]],
        "failures": [state for state in states if state.get("status") == "error"],
    }
