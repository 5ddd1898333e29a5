"""Pages of the budget visualisation: the public coverage dashboard (/budgets) and the readable
validation report of a budget document (/budgets/report/<resource id>)."""
from __future__ import annotations

import json
from collections import OrderedDict

from flask import Blueprint, request

import ckan.plugins.toolkit as tk
from ckan.lib import uploader

from ckanext.budgetod.view import collectivite_page, dashboard, helpers

budgets = Blueprint("budgetod_budgets", __name__)
# One budget across the years (view/collectivite_page.py).
budgets.add_url_rule("/budgets/<siret>", "collectivite", collectivite_page.page)
budgets.add_url_rule("/budgets/<siret>/annexe-<code>", "collectivite_annex", collectivite_page.page)


@budgets.route("/budgets")
def index():
    try:
        page_number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page_number = 1
    page_size = tk.config.get("ckanext.budgetod.dashboard_page_size")
    results = dashboard.search(dashboard.Filters.from_args(request.args), page_number, page_size)
    administrator = dashboard.is_administrator()
    return tk.render("budgetod/dashboard.html", {
        **results,
        "administrator": administrator,
        "harvest_sources": dashboard.harvest_status() if administrator else [],
        "datagouv": dashboard.datagouv_states(results["datasets"]) if administrator else None,
    })


def errors_by_field(validation: dict, english: bool) -> list[dict]:
    """The listed errors grouped by column (errors about whole rows or the file last), each group
    with its total count, its row numbers and its errors in the page's language."""
    counts = validation.get("errors_by_field") or {}
    groups: OrderedDict[str, dict] = OrderedDict()
    for issue in validation.get("first_errors") or []:
        field = issue.get("field") or ""
        group = groups.setdefault(field, {"field": field, "count": counts.get(field, 0), "errors": []})
        group["errors"].append({
            "row": issue.get("row"),
            "cell": issue.get("cell"),
            "message": issue.get("message_en" if english else "message_fr") or "",
        })
    for group in groups.values():
        group["listed"] = len(group["errors"])
        group["count"] = max(group["count"], group["listed"])
        group["rows"] = sorted({error["row"] for error in group["errors"] if error["row"] is not None})
    return sorted(groups.values(), key=lambda group: (group["field"] == "", -group["count"], group["field"]))


@budgets.route("/budgets/report/<resource_id>")
def report(resource_id: str):
    not_found = tk._("Validation report not found")
    try:
        resource = tk.get_action("resource_show")(helpers.user_context(), {"id": resource_id})
        dataset = tk.get_action("package_show")(helpers.user_context(), {"id": resource["package_id"]})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, not_found)
    if resource.get("budgetod_role") != helpers.ROLE_REPORT or resource.get("url_type") != "upload":
        return tk.abort(404, not_found)
    try:
        with open(uploader.get_resource_uploader(resource).get_path(resource["id"]), encoding="utf-8") as stream:
            content = json.load(stream)
    except (OSError, ValueError):
        return tk.abort(404, not_found)
    english = tk.h.lang() == "en"
    validation = content.get("validation") or {}
    return tk.render("budgetod/validation_report.html", {
        "pkg_dict": dataset,
        "resource": resource,
        "content": content,
        "validation": validation,
        "english": english,
        "groups": errors_by_field(validation, english),
        "csv_resource": helpers.csv_of(dataset["resources"], resource),
    })
