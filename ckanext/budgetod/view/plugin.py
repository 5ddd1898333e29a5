"""The `budgetod_view` plugin: the budget visualisation (resource view `budgetod_view`), the
budget summary card of dataset pages, the public coverage dashboard (/budgets) and the readable
validation report page. Needs the `budgetod` plugin (translations and the summary action)."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
from ckan.common import CKANConfig
from ckan.lib import uploader
from flask import Blueprint

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.scdl import summary
from ckanext.budgetod.view import collectivite_page, helpers
from ckanext.budgetod.view.blueprint import budgets

VIEW_NAME = "budgetod_view"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BudgetodViewPlugin(plugins.SingletonPlugin):  # type: ignore[misc]
    plugins.implements(plugins.IConfigurable)
    plugins.implements(plugins.IConfigurer)
    plugins.implements(plugins.IResourceView, inherit=True)
    plugins.implements(plugins.IBlueprint)
    plugins.implements(plugins.ITemplateHelpers)
    plugins.implements(plugins.IPackageController, inherit=True)

    # IConfigurable

    def configure(self, config: CKANConfig) -> None:
        if not plugins.plugin_loaded("budgetod"):
            raise RuntimeError("budgetod_view needs the budgetod plugin: add both to ckan.plugins")

    # IConfigurer

    def update_config(self, config: CKANConfig) -> None:
        tk.add_template_directory(config, os.path.join(_PACKAGE_DIR, "templates"))
        # The overrides of CKAN pages (dataset page card, navigation link) live apart from the
        # shared templates directory: they must apply only when this plugin is loaded.
        tk.add_template_directory(config, os.path.join(_PACKAGE_DIR, "templates", "budgetod", "view_overrides"))
        # The ECharts bundle is copied there by the build (devstack/stack.sh assets).
        tk.add_public_directory(config, os.path.join(_PACKAGE_DIR, "public"))
        tk.add_resource(os.path.join(_PACKAGE_DIR, "assets"), "budgetod")
        # Every SCDL budget resource gets the view by default (can_view picks them).
        default_views = config.get("ckan.views.default_views")
        if isinstance(default_views, str):
            default_views = default_views.split()
        if VIEW_NAME not in default_views:
            config["ckan.views.default_views"] = [*default_views, VIEW_NAME]

    # IResourceView

    def info(self) -> dict[str, Any]:
        return {
            "name": VIEW_NAME,
            "title": tk._("Budget visualisation"),
            "default_title": tk._("Budget visualisation"),
            "icon": "chart-column",
            "iframed": False,
            "always_available": False,
        }

    def can_view(self, data_dict: dict[str, Any]) -> bool:
        resource = data_dict["resource"]
        if resource.get(contract.RESOURCE_ROLE) == contract.ROLE_SCDL:
            return True
        # Any other CSV stored here whose header is the SCDL budget one.
        if resource.get("url_type") != "upload" or (resource.get("format") or "").lower() != "csv":
            return False
        return summary.has_scdl_header(uploader.get_resource_uploader(resource).get_path(resource["id"]))

    def view_template(self, context: dict[str, Any], data_dict: dict[str, Any]) -> str:
        return "budgetod/view/budget_view.html"

    def setup_template_variables(self, context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
        return {"summary": helpers.resource_summary(data_dict["resource"])}

    # IBlueprint

    def get_blueprint(self) -> Blueprint:
        return budgets

    # ITemplateHelpers

    def get_helpers(self) -> dict[str, Callable[..., Any]]:
        return {**helpers.get_helpers(), "budgetod_collectivite_url": collectivite_page.collectivite_url}

    # IPackageController

    def before_dataset_index(self, pkg_dict: dict[str, Any]) -> dict[str, Any]:
        # Filters of the dashboard, as exact-match index fields (their values are not stored).
        if pkg_dict.get(contract.EXTRA_SIRET):
            departement = helpers.departement_of(pkg_dict.get(contract.EXTRA_INSEE) or "")
            norme = helpers.norme_of(pkg_dict.get(contract.EXTRA_NOMENCLATURE) or "")
            if departement:
                pkg_dict[contract.INDEX_DEPARTEMENT] = departement
            if norme:
                pkg_dict[contract.INDEX_NORME] = norme
        return pkg_dict
