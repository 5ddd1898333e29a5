"""Pages of the budget visualisation: the public coverage dashboard (/budgets) and the readable
validation report of a budget document (/budgets/report/<resource id>)."""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, NoReturn, cast

import ckan.plugins.toolkit as tk
from ckan.lib import uploader
from flask import Blueprint, Response, request

from ckanext.budgetod import settings
from ckanext.budgetod.core import contract
from ckanext.budgetod.core.report import ValidationPart, from_untrusted
from ckanext.budgetod.view import collectivite_page, dashboard, helpers

budgets = Blueprint("budgetod_budgets", __name__)
# A report the harvester writes lists at most 100 errors: anything near this size is no such report.
MAX_REPORT_BYTES = 10 * 2**20
# One budget across the years (view/collectivite_page.py).
budgets.add_url_rule("/budgets/<siret>", "collectivite", collectivite_page.page)
budgets.add_url_rule("/budgets/<siret>/annexe-<code>", "collectivite_annex", collectivite_page.page)
budgets.add_url_rule("/budgets/<siret>/embed", "collectivite_embed", collectivite_page.embed)
budgets.add_url_rule("/budgets/<siret>/annexe-<code>/embed", "collectivite_annex_embed", collectivite_page.embed)
budgets.add_url_rule("/budgets/<siret>/<table>.csv", "collectivite_csv", collectivite_page.table_download)
budgets.add_url_rule("/budgets/<siret>/annexe-<code>/<table>.csv", "collectivite_annex_csv",
                     collectivite_page.table_download)
# An annex without a budget code: its document key ends with a bare "annexe" (contract.annex_suffix).
budgets.add_url_rule("/budgets/<siret>/annexe", "collectivite_annex", collectivite_page.page,
                     defaults={"code": ""})
budgets.add_url_rule("/budgets/<siret>/annexe/embed", "collectivite_annex_embed", collectivite_page.embed,
                     defaults={"code": ""})
budgets.add_url_rule("/budgets/<siret>/annexe/<table>.csv", "collectivite_annex_csv",
                     collectivite_page.table_download, defaults={"code": ""})
# The embeddable page is made to be framed by the collectivités' own sites; the other pages are not.
EMBED_ENDPOINTS = {"budgetod_budgets.collectivite_embed", "budgetod_budgets.collectivite_annex_embed"}


@budgets.after_request
def frame_policy(response: Response) -> Response:
    if request.endpoint in EMBED_ENDPOINTS:
        response.headers.pop("X-Frame-Options", None)
        response.headers["Content-Security-Policy"] = "frame-ancestors *"
    else:
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    return response


@budgets.route("/budgets")
def index() -> str:
    try:
        page_number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page_number = 1
    page_size = settings.current().dashboard_page_size
    results = dashboard.search(dashboard.Filters.from_args(request.args), page_number, page_size)
    administrator = dashboard.is_administrator()
    return cast(str, tk.render("budgetod/dashboard.html", {
        **results,
        "administrator": administrator,
        "harvest_sources": dashboard.harvest_status() if administrator else [],
        "datagouv": dashboard.datagouv_states(results["datasets"]) if administrator else None,
    }))


def errors_by_field(validation: ValidationPart | None, english: bool) -> list[dict[str, Any]]:
    """The listed errors grouped by column (errors about whole rows or the file last), each group
    with its total count, its row numbers and its errors in the page's language."""
    if validation is None:
        return []
    counts = validation["errors_by_field"]
    groups: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for issue in validation["first_errors"]:
        field = issue["field"] or ""
        group = groups.setdefault(field, {"field": field, "count": counts.get(field, 0), "errors": []})
        group["errors"].append({
            "row": issue["row"],
            "cell": issue["cell"],
            "message": issue["message_en" if english else "message_fr"],
        })
    for group in groups.values():
        group["listed"] = len(group["errors"])
        group["count"] = max(group["count"], group["listed"])
        group["rows"] = sorted({error["row"] for error in group["errors"] if error["row"] is not None})
    return sorted(groups.values(), key=lambda group: (group["field"] == "", -group["count"], group["field"]))


@budgets.route("/budgets/report/<resource_id>")
def report(resource_id: str) -> str:
    not_found = tk._("Validation report not found")
    try:
        resource = tk.get_action("resource_show")(helpers.user_context(), {"id": resource_id})
        dataset = tk.get_action("package_show")(helpers.user_context(), {"id": resource["package_id"]})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return cast(NoReturn, tk.abort(404, not_found))
    if resource.get(contract.RESOURCE_ROLE) != contract.ROLE_REPORT or resource.get("url_type") != "upload":
        return cast(NoReturn, tk.abort(404, not_found))
    try:
        with open(uploader.get_resource_uploader(resource).get_path(resource["id"]), "rb") as stream:
            data = stream.read(MAX_REPORT_BYTES + 1)
    except OSError:
        return cast(NoReturn, tk.abort(404, not_found))
    try:
        # Bounded above; a nesting deep enough to exhaust the stack is a RecursionError.
        readable = from_untrusted(json.loads(data)) if len(data) <= MAX_REPORT_BYTES else None
    except (ValueError, RecursionError):
        readable = None
    english = tk.h.lang() == "en"
    validation = readable["validation"] if readable is not None else None
    return cast(str, tk.render("budgetod/validation_report.html", {
        "pkg_dict": dataset,
        "resource": resource,
        "unreadable": readable is None,
        "content": readable or {},
        "validation": validation,
        "english": english,
        "groups": errors_by_field(validation, english),
        "csv_resource": helpers.csv_of(dataset["resources"], resource),
    }))
