from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.budgetod import __version__, settings


@tk.side_effect_free
def budgetod_config_show(context: dict, data_dict: dict) -> dict[str, Any]:
    """The extension's effective configuration, for administrators diagnosing a portal."""
    tk.check_access("budgetod_config_show", context, data_dict)
    return {"version": __version__, **settings.current().as_dict()}


def get_actions() -> dict:
    return {"budgetod_config_show": budgetod_config_show}
