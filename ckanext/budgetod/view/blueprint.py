"""Pages of the budget visualisation: the public coverage dashboard (/budgets) and the readable
validation report of a budget document (/budgets/report/<resource id>)."""
from __future__ import annotations

import json
from collections import OrderedDict

import ckan.plugins.toolkit as tk
from ckan.lib import uploader
from flask import Blueprint, request

from ckanext.budgetod import settings
from ckanext.budgetod.core import contract
from ckanext.budgetod.core.pipeline import upgrade_report
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
def frame_policy(response):
    if request.endpoint in EMBED_ENDPOINTS:
        response.headers.pop("X-Frame-Options", None)
        response.headers["Content-Security-Policy"] = "frame-ancestors *"
    else:
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    return response


@budgets.route("/budgets")
def index():
    try:
        page_number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page_number = 1
    page_size = settings.current().dashboard_page_size
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


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _messages(items) -> list[dict]:
    return [{"message_fr": _text(item.get("message_fr")), "message_en": _text(item.get("message_en"))}
            for item in (items if isinstance(items, list) else []) if isinstance(item, dict)]


def readable_report(content) -> tuple[dict, dict] | None:
    """The report (and its "validation" part) with every value the page shows of the type it
    expects; None when it is not shaped like a report at all. A report resource may be uploaded by
    any editor: the page must never fail on what it holds."""
    if not isinstance(content, dict):
        return None
    content = upgrade_report(content)
    error, validation = content.get("error"), content.get("validation")
    if (error is not None and not isinstance(error, dict)) or (
            validation is not None and not isinstance(validation, dict)):
        return None
    validation = validation or {}
    schema = _dict(validation.get("schema"))
    by_field = validation.get("errors_by_field")
    issues = validation.get("first_errors")
    conversion = _dict(content.get("conversion"))
    clean_validation = {
        "valid": validation.get("valid") is True,
        "rows": _count(validation.get("rows")),
        "error_count": _count(validation.get("error_count")),
        "error_limit_reached": validation.get("error_limit_reached") is True,
        "schema": {"name": _text(schema.get("name")), "version": _text(schema.get("version"))},
        "errors_by_field": {field: _count(count) for field, count in by_field.items()
                            if isinstance(field, str)} if isinstance(by_field, dict) else {},
        "first_errors": [{
            "field": _text(issue.get("field")),
            "row": _count(issue.get("row")) if isinstance(issue.get("row"), int) else None,
            "cell": str(issue["cell"]) if isinstance(issue.get("cell"), (str, int, float)) else "",
            **_messages([issue])[0],
        } for issue in (issues if isinstance(issues, list) else []) if isinstance(issue, dict)],
        "warnings": _messages(validation.get("warnings")),
    } if validation else {}
    occultation = _dict(content.get("occultation"))
    rules = _dict(occultation.get("rules"))
    clean = {"error": _messages([error])[0] if error else None,
             "conversion": {"warnings": _messages(conversion.get("warnings"))},
             "occultation": {
                 "total": _count(occultation.get("total")),
                 "replacement": _text(occultation.get("replacement"))[:200],
                 "rules": {rule[:100]: _count(count) for rule, count in list(rules.items())[:100]
                           if isinstance(rule, str)},
             } if occultation else None}
    return clean, clean_validation


@budgets.route("/budgets/report/<resource_id>")
def report(resource_id: str):
    not_found = tk._("Validation report not found")
    try:
        resource = tk.get_action("resource_show")(helpers.user_context(), {"id": resource_id})
        dataset = tk.get_action("package_show")(helpers.user_context(), {"id": resource["package_id"]})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return tk.abort(404, not_found)
    if resource.get(contract.RESOURCE_ROLE) != contract.ROLE_REPORT or resource.get("url_type") != "upload":
        return tk.abort(404, not_found)
    try:
        with open(uploader.get_resource_uploader(resource).get_path(resource["id"]), "rb") as stream:
            data = stream.read(MAX_REPORT_BYTES + 1)
    except OSError:
        return tk.abort(404, not_found)
    try:
        # Bounded above; a nesting deep enough to exhaust the stack is a RecursionError.
        readable = readable_report(json.loads(data)) if len(data) <= MAX_REPORT_BYTES else None
    except (ValueError, RecursionError):
        readable = None
    english = tk.h.lang() == "en"
    content, validation = readable or ({}, {})
    return tk.render("budgetod/validation_report.html", {
        "pkg_dict": dataset,
        "resource": resource,
        "unreadable": readable is None,
        "content": content,
        "validation": validation,
        "english": english,
        "groups": errors_by_field(validation, english),
        "csv_resource": helpers.csv_of(dataset["resources"], resource),
    })
