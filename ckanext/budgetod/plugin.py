"""The `budgetod` CKAN plugin: configuration, translations, actions and the `ckan budgetod` CLI.

Everything here is a thin layer over the pure domain in `ckanext.budgetod.totem`."""
from __future__ import annotations

from pathlib import Path

import ckan.plugins as plugins
import ckan.plugins.toolkit as tk
from ckan.lib.plugins import DefaultTranslation

from ckanext.budgetod import cli
from ckanext.budgetod.logic import action, auth

_PACKAGE_DIR = Path(__file__).resolve().parent


@tk.blanket.config_declarations
@tk.blanket.actions(action.get_actions)
@tk.blanket.auth_functions(auth.get_auth_functions)
@tk.blanket.cli(cli.get_commands)
class BudgetodPlugin(plugins.SingletonPlugin, DefaultTranslation):
    plugins.implements(plugins.ITranslation)

    def i18n_directory(self) -> str:
        # An installed wheel carries the compiled catalogues inside the package (see setup.py);
        # a source checkout (editable install) uses the top-level i18n/ directory.
        packaged = _PACKAGE_DIR / "i18n"
        if packaged.is_dir():
            return str(packaged)
        return str(_PACKAGE_DIR.parents[1] / "i18n")
