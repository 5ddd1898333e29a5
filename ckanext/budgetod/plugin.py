"""The `budgetod` CKAN plugin: configuration, translations, actions, the `ckan budgetod` CLI, the
conversion of hand-uploaded TOTEM documents (see ``portal/uploads.py``), and the data.gouv.fr sync
queued when a dataset changes (see ``datagouv/jobs.py``).

Everything here is a thin layer over the pure domain in `ckanext.budgetod.core`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
from ckan.common import CKANConfig
from ckan.lib.plugins import DefaultTranslation

from ckanext.budgetod import cli
from ckanext.budgetod.datagouv import helpers as datagouv_helpers
from ckanext.budgetod.datagouv import jobs as datagouv_jobs
from ckanext.budgetod.logic import action, auth
from ckanext.budgetod.portal import uploads

_PACKAGE_DIR = Path(__file__).resolve().parent


@tk.blanket.config_declarations
@tk.blanket.actions(action.get_actions)
@tk.blanket.auth_functions(auth.get_auth_functions)
@tk.blanket.cli(cli.get_commands)
@tk.blanket.blueprints(uploads.get_blueprints)
@tk.blanket.helpers(lambda: {**datagouv_helpers.get_helpers(), **uploads.get_helpers()})
class BudgetodPlugin(plugins.SingletonPlugin, DefaultTranslation):  # type: ignore[misc]
    plugins.implements(plugins.ITranslation)
    plugins.implements(plugins.IConfigurer)
    plugins.implements(plugins.IConfigurable)
    plugins.implements(plugins.IPackageController, inherit=True)
    plugins.implements(plugins.IResourceController, inherit=True)

    # IConfigurer

    def update_config(self, config: CKANConfig) -> None:
        tk.add_template_directory(config, str(_PACKAGE_DIR / "templates"))

    # IConfigurable

    def configure(self, config: CKANConfig) -> None:
        datagouv_jobs.listen_to_commits()

    # IPackageController: each change of a dataset (its resources' included) may need a sync.

    def after_dataset_create(self, context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
        datagouv_jobs.dataset_changed(pkg_dict["id"])

    def after_dataset_update(self, context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
        datagouv_jobs.dataset_changed(pkg_dict["id"])

    def after_dataset_delete(self, context: dict[str, Any], pkg_dict: dict[str, Any]) -> None:
        datagouv_jobs.dataset_changed(pkg_dict["id"])

    # IResourceController: an XML resource added or changed by hand may be a TOTEM document: its new
    # file is pending (not served) from the request that saves it until its job occulted it.

    def before_resource_create(self, context: dict[str, Any], resource: dict[str, Any]) -> None:
        uploads.mark_new_file(resource)

    def before_resource_update(self, context: dict[str, Any], current: dict[str, Any],
                               resource: dict[str, Any]) -> None:
        uploads.carry_occultation(current, resource)

    def after_resource_create(self, context: dict[str, Any], resource: dict[str, Any]) -> None:
        uploads.enqueue_if_pending(resource)

    def after_resource_update(self, context: dict[str, Any], resource: dict[str, Any]) -> None:
        uploads.enqueue_if_pending(resource)

    def i18n_directory(self) -> str:
        # An installed wheel carries the compiled catalogues inside the package (see setup.py);
        # a source checkout (editable install) uses the top-level i18n/ directory.
        packaged = _PACKAGE_DIR / "i18n"
        if packaged.is_dir():
            return str(packaged)
        return str(_PACKAGE_DIR.parents[1] / "i18n")
