from __future__ import annotations

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan import authz


def budgetod_config_show(context: dict, data_dict: dict) -> dict:
    # Sysadmins pass every auth check before this function is called.
    return {
        "success": False,
        "msg": tk._("Only system administrators may see the budgets extension's configuration."),
    }


@tk.auth_allow_anonymous_access
def budgetod_budget_summary(context: dict, data_dict: dict) -> dict:
    # Whoever may see the resource may see its summary.
    try:
        tk.check_access("resource_show", context, {"id": data_dict.get("resource_id")})
    except tk.NotAuthorized:
        return {"success": False, "msg": tk._("You may not see this resource.")}
    return {"success": True}


@tk.auth_allow_anonymous_access
def budgetod_collectivite_summary(context: dict, data_dict: dict) -> dict:
    # The action counts only the datasets the user may see (package_search's own rules).
    return {"success": True}


def budgetod_datagouv_status(context: dict, data_dict: dict) -> dict:
    # Sysadmins pass every auth check before this function is called; anonymous users are refused
    # before too (not allowed here).
    package = model.Package.get(data_dict.get("id") or "")
    if package is not None and package.owner_org and authz.has_user_permission_for_group_or_org(
            package.owner_org, context.get("user"), "update_dataset"):
        return {"success": True}
    return {"success": False, "msg": tk._(
        "Only the editors and administrators of the dataset's organisation may see its "
        "data.gouv.fr sync state.")}


def get_auth_functions() -> dict:
    return {"budgetod_config_show": budgetod_config_show,
            "budgetod_budget_summary": budgetod_budget_summary,
            "budgetod_collectivite_summary": budgetod_collectivite_summary,
            "budgetod_datagouv_status": budgetod_datagouv_status}
