"""Who may call the `budgetod` actions, and the budget dataset names reserved to the extension
(chained to CKAN's ``package_create`` and ``package_update``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan import authz

from ckanext.budgetod.core import contract

_F = TypeVar("_F", bound=Callable[..., Any])
# CKAN is untyped (Any): its decorators, typed here, keep the decorated function's type.
_auth_allow_anonymous_access: Callable[[_F], _F] = tk.auth_allow_anonymous_access
_chained_auth_function: Callable[[_F], _F] = tk.chained_auth_function


def budgetod_config_show(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    # Sysadmins pass every auth check before this function is called.
    return {
        "success": False,
        "msg": tk._("Only system administrators may see the budgets extension's configuration."),
    }


@_auth_allow_anonymous_access
def budgetod_budget_summary(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    # Whoever may see the resource may see its summary.
    try:
        tk.check_access("resource_show", context, {"id": data_dict.get("resource_id")})
    except tk.NotAuthorized:
        return {"success": False, "msg": tk._("You may not see this resource.")}
    return {"success": True}


@_auth_allow_anonymous_access
def budgetod_collectivite_summary(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    # The action counts only the datasets the user may see (package_search's own rules).
    return {"success": True}


def budgetod_datagouv_status(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    # Sysadmins pass every auth check before this function is called; anonymous users are refused
    # before too (not allowed here).
    package = model.Package.get(data_dict.get("id") or "")
    if package is not None and package.owner_org and authz.has_user_permission_for_group_or_org(
            package.owner_org, context.get("user"), "update_dataset"):
        return {"success": True}
    return {"success": False, "msg": tk._(
        "Only the editors and administrators of the dataset's organisation may see its "
        "data.gouv.fr sync state.")}


def _reserved_name_refusal(new_name: object, current_name: str | None) -> dict[str, Any] | None:
    if not isinstance(new_name, str) or new_name == current_name or not contract.is_budget_dataset_name(new_name):
        return None
    return {"success": False, "msg": tk._(
        "The name {name} is reserved: names budget-<SIRET>-<year>… are given by the budgets extension to the "
        "datasets it publishes. Choose another name; a budget document uploaded into a dataset of any "
        "other name is converted all the same.").format(name=new_name)}


# Sysadmins pass every auth check before these are called: they may give any name.
@_chained_auth_function
def package_create(next_auth: Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]],
                   context: dict[str, Any], data_dict: dict[str, Any] | None) -> dict[str, Any]:
    return _reserved_name_refusal((data_dict or {}).get("name"), None) or next_auth(context, data_dict)


@_chained_auth_function
def package_update(next_auth: Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]],
                   context: dict[str, Any], data_dict: dict[str, Any] | None) -> dict[str, Any]:
    data_dict = data_dict or {}
    package = model.Package.get(data_dict.get("id") or data_dict.get("name") or "")
    current_name = package.name if package is not None else None
    return _reserved_name_refusal(data_dict.get("name"), current_name) or next_auth(context, data_dict)


def get_auth_functions() -> dict[str, Callable[..., Any]]:
    return {"package_create": package_create,
            "package_update": package_update,
            "budgetod_config_show": budgetod_config_show,
            "budgetod_budget_summary": budgetod_budget_summary,
            "budgetod_collectivite_summary": budgetod_collectivite_summary,
            "budgetod_datagouv_status": budgetod_datagouv_status}
