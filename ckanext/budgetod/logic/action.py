from __future__ import annotations

import os
from typing import Any

from flask import has_request_context

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.lib import uploader

from ckanext.budgetod import __version__, settings
from ckanext.budgetod.datagouv import sync as datagouv_sync
from ckanext.budgetod.totem import summary


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
            "budgetod_datagouv_status": budgetod_datagouv_status}
